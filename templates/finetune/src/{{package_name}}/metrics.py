"""How every model is scored: the same functions, on the same rows, for every candidate.

Everything here works on predictions already made, so one function scores every model on
validation (where decisions are made) and on test (what is reported). ``mcnemar`` answers
what a single test score cannot: is the gap between two models on the same rows bigger
than luck? What a prediction costs in time is measured under serving conditions, by
``make bench`` (``ops/bench.py``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import binom
from sklearn.metrics import accuracy_score, f1_score


def scores(y_true: Sequence[str], y_pred: Sequence[str], split: str) -> dict[str, float]:
    """Accuracy, its 95% interval half-width, and macro F1 (every label counts the same),
    named ``<split>_<metric>``. A label never predicted has precision 0 (``zero_division``):
    the majority-class baseline predicts one label only.

    The interval (normal approximation to the binomial) says how big a gap between two
    models the size of the split can tell apart from luck.
    """
    accuracy = float(accuracy_score(y_true, y_pred))
    half_width = 1.96 * math.sqrt(accuracy * (1 - accuracy) / max(len(y_true), 1))
    return {
        f"{split}_accuracy": accuracy,
        f"{split}_accuracy_ci95": half_width,
        f"{split}_macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
    }


@dataclass(frozen=True)
class McNemar:
    """Two models on the same rows: where only one of them was right, and the p-value.

    ``only_a`` rows model A got right and B wrong, ``only_b`` the reverse. Rows both got
    right or both got wrong say nothing about which model is better, so only the
    disagreements count.
    """

    only_a: int
    only_b: int
    p_value: float


def mcnemar(y_true: Sequence[str], pred_a: Sequence[str], pred_b: Sequence[str]) -> McNemar:
    """McNemar's exact test with the mid-p correction, two-sided.

    Under "both models are equally good", each disagreement is a fair coin flip, so the
    smaller of the two counts follows Binomial(n, 1/2). The exact p-value doubles its tail;
    the mid-p version counts the observed count itself only half, which keeps the test's
    error rate near 5% instead of well under it (the exact test is conservative).
    """
    right_a = np.asarray(pred_a) == np.asarray(y_true)
    right_b = np.asarray(pred_b) == np.asarray(y_true)
    only_a, only_b = int((right_a & ~right_b).sum()), int((right_b & ~right_a).sum())
    n, low = only_a + only_b, min(only_a, only_b)
    if n == 0:
        return McNemar(only_a, only_b, 1.0)
    exact = 2 * binom.cdf(low, n, 0.5)
    mid_p = exact - binom.pmf(low, n, 0.5)
    return McNemar(only_a, only_b, float(min(1.0, mid_p)))


def worst_errors(
    texts: Sequence[str],
    y_true: Sequence[str],
    proba: np.ndarray,
    labels: list[str],
    n: int = 10,
) -> list[dict[str, object]]:
    """The ``n`` texts the model got wrong with the highest probability: real failure
    cases to read, not a cherry-picked success."""
    predicted = proba.argmax(axis=1)
    wrong = [i for i, p in enumerate(predicted) if labels[p] != y_true[i]]
    wrong.sort(key=lambda i: -float(proba[i].max()))
    return [
        {
            "text": texts[i],
            "true": y_true[i],
            "predicted": labels[int(predicted[i])],
            "probability": round(float(proba[i].max()), 3),
        }
        for i in wrong[:n]
    ]
