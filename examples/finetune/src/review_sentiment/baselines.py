"""The two "before" models: TF-IDF + logistic regression, and frozen MiniLM embeddings + LR.

TF-IDF + LR is the baseline any text model must beat. Frozen embeddings + LR is the
"before" of the before/after: the same pre-trained encoder as the fine-tuned model, used
as-is, with only a linear layer trained on top. The gap between it and the fine-tuned model
is what training the encoder itself bought. Both weight classes "balanced", as the
fine-tune's loss does (``train.class_weights``): the comparison is of models, not weightings.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.pipeline import Pipeline, make_pipeline
from tqdm.auto import tqdm

from .model import Predictor, mean_pool

# Inverse regularisation strengths tried for both baselines (1.0 is scikit-learn's default);
# the one with the best validation macro-F1 is kept, so the test split never sees the choice.
C_GRID = (0.25, 1.0, 4.0, 16.0)


def tfidf_lr(seed: int, c: float = 1.0) -> Pipeline:
    """Word 1-2 grams, sublinear tf, balanced LR: a strong, cheap bag-of-words baseline."""
    return make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True),
        LogisticRegression(max_iter=2000, C=c, class_weight="balanced", random_state=seed),
    )


def best_on_validation(
    fit: Callable[..., Any], predict_val: Callable[..., list[str]], val_labels: Sequence[str]
) -> tuple[Any, float]:
    """The model of ``C_GRID`` with the best validation macro-F1, and its C (ties: smaller C)."""
    best: tuple[Any, float, float] | None = None
    for c in C_GRID:
        fitted = fit(c)
        score = float(f1_score(val_labels, predict_val(fitted), average="macro"))
        if best is None or score > best[1]:
            best = (fitted, score, c)
    assert best is not None
    return best[0], best[2]


@torch.inference_mode()
def embed(predictor: Predictor, texts: list[str], batch_size: int = 64) -> np.ndarray:
    """L2-normalised mean-pooled sentence embeddings from the encoder, untouched by training."""
    vectors = []
    starts = range(0, len(texts), batch_size)
    for start in tqdm(starts, desc="embed", leave=False, unit="batch", disable=len(starts) < 4):
        batch = predictor.tokenize(texts[start : start + batch_size])
        hidden = predictor.model.encoder(**batch).last_hidden_state
        pooled = mean_pool(hidden, batch["attention_mask"])
        vectors.append(torch.nn.functional.normalize(pooled, dim=-1).numpy())
    return np.concatenate(vectors) if vectors else np.zeros((0, 0), dtype=np.float32)


def frozen_lr(seed: int, c: float = 1.0) -> LogisticRegression:
    """LR over the embeddings (C chosen by ``best_on_validation``)."""
    return LogisticRegression(max_iter=2000, C=c, class_weight="balanced", random_state=seed)
