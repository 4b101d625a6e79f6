"""Distillation: can a model a thousand times cheaper learn what the fine-tune learned?

The fine-tuned model (the teacher) labels the training texts; a TF-IDF + logistic
regression student learns from those labels instead of the human ones. ``make bench``
scores it on the same test rows as the teacher and as the TF-IDF baseline trained on the
human labels, with the same latency and size columns, so the question "could you serve
something cheaper?" has this run's answer:

- student above the baseline: the teacher's labels taught TF-IDF something the human
  labels did not (they are consistent, and smooth over noisy ones);
- student near the teacher: serve the student, at its latency and size;
- student near the baseline: the fine-tune's gain lives in what TF-IDF cannot represent
  (word order, negation), and only a smaller transformer could carry it.

The student's C is chosen on the validation split against the human labels, as the
baseline's is (``baselines.best_on_validation``); the test split only reports.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from sklearn.pipeline import Pipeline

from .. import baselines, data, model
from ..config import Settings
from ..data import Splits


def teacher_labels(teacher: model.Predictor, texts: list[str]) -> list[str]:
    """What the fine-tuned model predicts for ``texts``: the student's training labels."""
    return teacher.predict(texts)


def fit_tfidf(texts: list[str], labels: list[str], splits: Splits, settings: Settings) -> Pipeline:
    """TF-IDF + LR on ``labels``, its C chosen on the human validation labels."""
    fitted, _ = baselines.best_on_validation(
        lambda c: baselines.tfidf_lr(settings.seed, c).fit(texts, labels),
        lambda pipeline: pipeline.predict(splits.val[data.TEXT]).tolist(),
        splits.val[data.LABEL],
    )
    return fitted  # type: ignore[no-any-return]


def student_and_baseline(
    teacher: model.Predictor, splits: Splits, settings: Settings
) -> tuple[Pipeline, Pipeline]:
    """The distilled student and the baseline, both TF-IDF + LR on the training texts."""
    texts = splits.train[data.TEXT].tolist()
    student = fit_tfidf(texts, teacher_labels(teacher, texts), splits, settings)
    baseline = fit_tfidf(texts, splits.train[data.LABEL].tolist(), splits, settings)
    return student, baseline


def size_mb(pipeline: Pipeline) -> float:
    """What serving the pipeline ships: the vocabulary, the idf weights and the
    coefficients (the same measure as the encoder's weights: bytes written out)."""
    vectorizer, classifier = pipeline[0], pipeline[-1]
    vocabulary = sum(len(term.encode()) + 4 for term in vectorizer.vocabulary_)
    arrays = (vectorizer.idf_, classifier.coef_, classifier.intercept_)
    return (vocabulary + sum(np.asarray(array).nbytes for array in arrays)) / 1e6


def agreement(student: list[str], teacher: list[str]) -> float:
    """Share of test texts where the student predicts what the teacher predicts."""
    return float(np.mean([a == b for a, b in zip(student, teacher, strict=True)]))


def write(record: dict[str, object], reports_dir: Path) -> Path:
    """``reports/distill.json``: the model run id and the three models' test numbers."""
    reports_dir.mkdir(parents=True, exist_ok=True)
    path = reports_dir / "distill.json"
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return path
