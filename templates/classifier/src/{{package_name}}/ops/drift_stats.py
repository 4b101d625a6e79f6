"""How is drift measured? A size and a test per feature, both required for an alarm.

- PSI, the population stability index, over bins fixed on the reference (training) data:
  how far the distribution moved. Rule of thumb: under 0.1 stable, 0.1-0.2 watch, over 0.2
  act.
- A two-sample test, Kolmogorov-Smirnov for numbers and chi-squared for categories:
  whether the move is more than sampling noise.
- For categories, the share of values never seen in training (the model treats them as
  missing), which alarms on its own past ``unseen_share``.

A feature alarms only when the size AND the test agree (PSI over ``psi`` and p-value under
``alpha``), so a small sample's noise pages nobody. ``drift.py`` runs these per feature.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

MISSING = "(missing)"
UNSEEN = "(unseen)"
PREDICTION = "(model score)"
_EPSILON = 1e-4  # share given to an empty bin, so PSI stays finite


@dataclass(frozen=True)
class Thresholds:
    """When a feature alarms: PSI at least ``psi`` and p-value below ``alpha``."""

    psi: float = 0.2
    alpha: float = 0.01
    unseen_share: float = 0.05
    bins: int = 10
    min_rows: int = 50


@dataclass(frozen=True)
class FeatureDrift:
    """One row of the report."""

    feature: str
    kind: str  # numeric | categorical | prediction
    psi: float
    test: str
    statistic: float
    p_value: float
    unseen_share: float
    alarm: bool


def psi(reference: np.ndarray, current: np.ndarray) -> float:
    """Population stability index between two histograms over the same bins."""
    expected = np.maximum(reference / reference.sum(), _EPSILON)
    actual = np.maximum(current / current.sum(), _EPSILON)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def numeric_drift(
    name: str, reference: pd.Series, current: pd.Series, limits: Thresholds, kind: str = "numeric"
) -> FeatureDrift:
    """PSI over the reference's quantile bins (missing values get their own bin) and KS."""
    ref, cur = reference.dropna().to_numpy(float), current.dropna().to_numpy(float)
    quantiles = np.linspace(0, 1, limits.bins + 1)[1:-1]
    edges = np.unique(np.quantile(ref, quantiles)) if len(ref) else np.array([])

    def histogram(values: np.ndarray, series: pd.Series) -> np.ndarray:
        counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
        return np.append(counts, series.isna().sum())

    index = psi(histogram(ref, reference), histogram(cur, current))
    if len(ref) and len(cur):
        statistic, p_value = stats.ks_2samp(ref, cur)
    elif len(ref) or len(cur):  # all missing on one side: certainly a different distribution
        statistic, p_value = 1.0, 0.0
    else:
        statistic, p_value = 0.0, 1.0
    alarm = bool(index >= limits.psi and p_value < limits.alpha)
    return FeatureDrift(name, kind, index, "KS", float(statistic), float(p_value), 0.0, alarm)


def categorical_drift(
    name: str,
    reference: pd.Series,
    current: pd.Series,
    levels: list[str],
    limits: Thresholds,
    kind: str = "categorical",
) -> FeatureDrift:
    """PSI and chi-squared over the training levels plus "unseen" and "missing"."""
    categories = [*levels, UNSEEN, MISSING]

    def histogram(values: pd.Series) -> np.ndarray:
        known = values.where(values.isin(levels) | values.isna(), UNSEEN).fillna(MISSING)
        return known.value_counts().reindex(categories, fill_value=0).to_numpy(float)

    ref, cur = histogram(reference), histogram(current)
    index = psi(ref, cur)
    table = np.vstack([ref, cur])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] > 1:
        statistic, p_value, _, _ = stats.chi2_contingency(table)
    else:
        statistic, p_value = 0.0, 1.0
    unseen = float(cur[categories.index(UNSEEN)] / max(cur.sum(), 1))
    alarm = bool((index >= limits.psi and p_value < limits.alpha) or unseen > limits.unseen_share)
    return FeatureDrift(
        name, kind, index, "chi-squared", float(statistic), float(p_value), unseen, alarm
    )
