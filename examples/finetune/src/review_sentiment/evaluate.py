"""Scores, pictures and examples that turn a run into evidence.

Everything here works on predictions that were already made, so the same functions score
all three models on the same test rows, and ``make evaluate`` can redraw the report from
what MLflow stored without retraining.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display needed: CI, containers, ssh
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score  # noqa: E402


def scores(y_true: Sequence[str], y_pred: Sequence[str]) -> dict[str, float]:
    """Accuracy, its 95% interval half-width, and macro F1 (every class counts the same).

    The interval (normal approximation to the binomial) says how much of a gap between two
    models the size of the test set can tell apart from luck.
    """
    accuracy = float(accuracy_score(y_true, y_pred))
    return {
        "test_accuracy": accuracy,
        "test_accuracy_ci95": 1.96 * math.sqrt(accuracy * (1 - accuracy) / max(len(y_true), 1)),
        "test_macro_f1": float(f1_score(y_true, y_pred, average="macro")),
    }


def confusion(y_true: Sequence[str], y_pred: Sequence[str], labels: list[str]) -> list[list[int]]:
    """Counts, rows = true label, columns = predicted label, in ``labels`` order."""
    return confusion_matrix(y_true, y_pred, labels=labels).tolist()


def plot_confusion(matrix: list[list[int]], labels: list[str], path: Path, title: str) -> Path:
    counts = np.array(matrix)
    fig, ax = plt.subplots(figsize=(1.2 * len(labels) + 2.5, 1.1 * len(labels) + 2))
    ax.imshow(counts, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    for (row, col), value in np.ndenumerate(counts):
        color = "white" if value > counts.max() / 2 else "black"
        ax.text(col, row, str(value), ha="center", va="center", color=color)
    return _save(fig, path)


def plot_learning_curves(
    epochs: dict[str, list[tuple[int, float]]],
    steps: list[tuple[int, float]],
    path: Path,
) -> Path:
    """Left: training loss per optimizer step. Right: loss per epoch and validation accuracy.

    Points are ``(step or epoch, value)`` pairs, as MLflow's metric history returns them.
    """
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    if steps:
        left.plot(*zip(*steps, strict=True), color="tab:gray", linewidth=1)
    left.set(xlabel="optimizer step", ylabel="training loss (batch)", title="training loss")
    for name in ("train_loss", "val_loss"):
        if epochs.get(name):
            right.plot(*zip(*epochs[name], strict=True), marker="o", label=name)
    right.set(xlabel="epoch", ylabel="loss", title="per epoch")
    right.xaxis.set_major_locator(MaxNLocator(integer=True))
    right.legend(loc="upper left")
    if epochs.get("val_accuracy"):
        accuracy = right.twinx()
        accuracy.plot(
            *zip(*epochs["val_accuracy"], strict=True),
            marker="s",
            color="tab:green",
            label="val_accuracy",
        )
        accuracy.set_ylabel("validation accuracy")
        accuracy.legend(loc="upper right")
    return _save(fig, path)


def _save(fig: plt.Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def worst_errors(
    texts: Sequence[str],
    y_true: Sequence[str],
    proba: np.ndarray,
    labels: list[str],
    n: int = 10,
) -> list[dict[str, object]]:
    """The ``n`` test texts the model got wrong with the most confidence: real failure cases
    to read, not a cherry-picked success."""
    predicted = proba.argmax(axis=1)
    wrong = [i for i, p in enumerate(predicted) if labels[p] != y_true[i]]
    wrong.sort(key=lambda i: -float(proba[i].max()))
    return [
        {
            "text": texts[i],
            "true": y_true[i],
            "predicted": labels[int(predicted[i])],
            "confidence": round(float(proba[i].max()), 3),
        }
        for i in wrong[:n]
    ]


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run a block with ``n`` torch threads, then restore the previous number."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def latency_ms(
    predict: Callable[..., object], texts: Sequence[str], threads: int = 1
) -> dict[str, float]:
    """Per-text latency, one text per call (how an API sees it): p50, p99 in ms, texts/s.

    Measured with ``threads`` torch threads, as the service runs (``serve_threads``): on a
    busy machine, more threads than free cores makes single-text latency erratic.
    """
    timings = []
    with torch_threads(threads):
        predict([texts[0]])  # warm-up: first call pays for lazy initialisation
        for text in texts:
            start = time.perf_counter()
            predict([text])
            timings.append((time.perf_counter() - start) * 1000)
    return {
        "latency_p50_ms": statistics.median(timings),
        "latency_p99_ms": float(np.percentile(timings, 99)),
        "texts_per_s_single": 1000 * len(timings) / sum(timings),
    }
