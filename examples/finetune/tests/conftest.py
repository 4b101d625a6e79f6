"""Fixtures that make every test offline and fast: a toy data set, a tiny random encoder.

The real MiniLM takes minutes to fine-tune; a 2-layer, 32-wide BERT with the same
tokenizer runs the same code paths (tokenize, pool, train, save, serve) in milliseconds.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer, BertConfig, BertModel

from review_sentiment import pipeline
from review_sentiment.config import Settings
from review_sentiment.model import bundled_encoder

WORDS = {
    "good": ["great", "moving", "funny", "brilliant", "charming"],
    "bad": ["dull", "boring", "clumsy", "tedious", "awful"],
    "meh": ["average", "ordinary", "forgettable", "passable", "so-so"],
}


def write_toy_csv(path: Path, n_per_label: int = 40, seed: int = 0) -> Path:
    """Three labels a model can learn from one word each: proves learning, not luck."""
    rng = random.Random(seed)
    rows = []
    for label, words in WORDS.items():
        for i in range(n_per_label):
            rows.append((f"a {rng.choice(words)} film, scene {i} of {rng.randint(1, 999)}", label))
    rng.shuffle(rows)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["review", "verdict"])
        writer.writerows(rows)
    return path


@pytest.fixture(scope="session")
def tiny_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised 2-layer BERT saved with MiniLM's tokenizer (no download)."""
    folder = tmp_path_factory.mktemp("tiny-encoder")
    tokenizer = AutoTokenizer.from_pretrained(bundled_encoder())
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    torch.manual_seed(0)  # the same random encoder whichever test asks for it first
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def toy_settings(folder: Path, encoder: Path) -> Settings:
    """Settings that train the tiny encoder on the toy data, every output in ``folder``."""
    return Settings(
        data_file=write_toy_csv(folder / "toy.csv"),
        text_col="review",
        label_col="verdict",
        encoder=str(encoder),
        train_size=None,
        max_val_size=None,
        max_test_size=None,
        max_length=16,
        batch_size=16,
        learning_rate=1e-2,
        head_learning_rate=1e-2,
        max_epochs=5,
        patience=2,
        lora=False,
        model_dir=folder / "models" / "champion",
        reports_dir=folder / "reports",
        writeup_file=folder / "WRITEUP.md",
    )


@pytest.fixture
def settings(tmp_path: Path, tiny_encoder: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings pointing every input and output into ``tmp_path``, MLflow included."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    return toy_settings(tmp_path, tiny_encoder)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory, tiny_encoder: Path) -> Iterator[Settings]:
    """A throwaway registry holding two trained versions of the tiny model (both trained
    on the same rows; each test crowns the version it starts from)."""
    folder = tmp_path_factory.mktemp("registry")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{folder / 'mlflow.db'}")
        trained = toy_settings(folder, tiny_encoder)
        pipeline.run(trained)
        pipeline.run(trained)
        yield trained
