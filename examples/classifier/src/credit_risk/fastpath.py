"""The serving fast path: the fitted pipeline compiled to dictionary look-ups and numpy.

``Pipeline.predict_proba`` on one row pays for a DataFrame, a ``ColumnTransformer`` and
input validation: milliseconds, most of a request's latency. Here the same fitted
parameters (category codes, medians, scales, coefficients, the LightGBM booster) are
read out once and applied directly. ``tests/test_model.py`` proves the result equals
the pipeline's within 1e-9 on the whole holdout, so the speed costs no correctness.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.special import expit, softmax
from sklearn.pipeline import Pipeline

from .data import Schema

Record = Mapping[str, Any]


class FastModel:
    """``predict_proba`` for records (dicts keyed by column name), without pandas."""

    def __init__(self, pipeline: Pipeline, schema: Schema) -> None:
        self.schema = schema
        self.classes = list(schema.classes)
        self._numeric = list(schema.numeric)
        self._codes = [
            (name, {level: float(code) for code, level in enumerate(levels)})
            for name, levels in schema.categorical.items()
        ]
        estimator = pipeline.named_steps["model"]
        if hasattr(estimator, "booster_"):
            self._scorer = _BoosterScorer(estimator)
        else:
            self._scorer = _LinearScorer(pipeline, schema)

    def encode(self, records: Sequence[Record]) -> np.ndarray:
        """Numbers as floats (missing -> NaN), categories as level codes (unknown -> NaN).

        Column by column: one list comprehension per feature is several times faster
        than a Python loop over every cell, and ``float`` arrays turn ``None`` into NaN.
        """
        columns = [np.array([r.get(name) for r in records], dtype=float) for name in self._numeric]
        for name, codes in self._codes:
            values = [r.get(name) for r in records]
            columns.append(np.array([_code(codes, value) for value in values], dtype=float))
        return np.column_stack(columns) if columns else np.empty((len(records), 0))

    def predict_proba(self, records: Sequence[Record]) -> np.ndarray:
        """Class probabilities, one row per record, columns in ``classes`` order."""
        return self._scorer(self.encode(records))


def _code(codes: dict[str, float], value: Any) -> float:
    """The level's code; NaN for missing or unseen. ``7`` and ``"7"`` are the same level."""
    if value is None:
        return np.nan
    return codes.get(value if isinstance(value, str) else str(value), np.nan)


class _BoosterScorer:
    """LightGBM's booster on the encoded matrix: what ``LGBMClassifier`` does inside."""

    def __init__(self, estimator: Any) -> None:
        self._booster = estimator.booster_
        self._binary = len(estimator.classes_) == 2

    def __call__(self, matrix: np.ndarray) -> np.ndarray:
        # One thread: a single row is cheaper than waking an OpenMP pool, and a web server
        # scales with processes; threads fighting them for cores spin instead of working.
        raw = self._booster.predict(matrix, num_threads=1)
        return np.column_stack([1 - raw, raw]) if self._binary else raw


class _LinearScorer:
    """Impute, standardise and one-hot with the fitted statistics, then the logistic link."""

    def __init__(self, pipeline: Pipeline, schema: Schema) -> None:
        preprocess = pipeline.named_steps["preprocess"]
        estimator = pipeline.named_steps["model"]
        n_numeric = len(schema.numeric)
        if n_numeric:
            numeric = preprocess.named_transformers_["num"]
            self._median = numeric.named_steps["impute"].statistics_
            self._mean = numeric.named_steps["scale"].mean_
            self._scale = numeric.named_steps["scale"].scale_
        self._n_numeric = n_numeric
        self._widths = [len(levels) for levels in schema.categorical.values()]
        self._coef = estimator.coef_.T  # (inputs, outputs)
        self._intercept = estimator.intercept_
        self._binary = len(estimator.classes_) == 2

    def __call__(self, matrix: np.ndarray) -> np.ndarray:
        numeric = matrix[:, : self._n_numeric]
        if self._n_numeric:
            numeric = np.where(np.isnan(numeric), self._median, numeric)
            numeric = (numeric - self._mean) / self._scale
        blocks = [numeric]
        for column, width in enumerate(self._widths, start=self._n_numeric):
            codes = matrix[:, column]
            onehot = np.zeros((len(matrix), width))
            known = ~np.isnan(codes)
            onehot[np.flatnonzero(known), codes[known].astype(int)] = 1.0
            blocks.append(onehot)
        decision = np.hstack(blocks) @ self._coef + self._intercept
        if self._binary:
            positive = expit(decision[:, 0])
            return np.column_stack([1 - positive, positive])
        return softmax(decision, axis=1)
