"""The two figures of WRITEUP.md: the confusion matrix and the learning curves.

The only module that imports matplotlib, so the serving process (which never imports the
report) does not load a plotting library.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display needed: CI, containers, ssh
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator


def confusion(matrix: list[list[int]], labels: list[str], path: Path) -> None:
    counts = np.array(matrix)
    fig, ax = plt.subplots(figsize=(1.2 * len(labels) + 2.5, 1.1 * len(labels) + 2))
    ax.imshow(counts, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set(xlabel="predicted", ylabel="true", title="fine-tuned model, test split")
    for (row, col), value in np.ndenumerate(counts):
        color = "white" if value > counts.max() / 2 else "black"
        ax.text(col, row, str(value), ha="center", va="center", color=color)
    _save(fig, path)


def learning_curves(history: dict[str, list[tuple[int, float]]], path: Path) -> None:
    """Left: training loss per optimizer step. Right: loss per epoch, validation accuracy."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    if history["train_loss_step"]:
        left.plot(*zip(*history["train_loss_step"], strict=True), color="tab:gray", linewidth=1)
    left.set(xlabel="optimizer step", ylabel="training loss (batch)", title="training loss")
    for name in ("train_loss", "val_loss"):
        if history[name]:
            right.plot(*zip(*history[name], strict=True), marker="o", label=name)
    right.set(xlabel="epoch", ylabel="loss", title="per epoch")
    right.xaxis.set_major_locator(MaxNLocator(integer=True))
    right.legend(loc="upper left")
    if history["val_accuracy"]:
        accuracy = right.twinx()
        accuracy.plot(*zip(*history["val_accuracy"], strict=True), marker="s", color="tab:green")
        accuracy.set_ylabel("validation accuracy")
    _save(fig, path)


def _save(fig: plt.Figure, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
