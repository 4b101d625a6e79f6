"""Why did the model say that for this row? Each feature's signed share of the score.

A contribution is in raw-score units (log-odds for a binary label): the row's raw score
is ``base_value`` plus the sum of its features' contributions, exactly (the test checks
it against the served probability). LightGBM computes them itself (TreeSHAP,
``pred_contrib=True``) from its booster text; for the logistic model a feature's
contribution is its coefficients times how far the row's encoded value sits from the
training mean, so ``base_value`` is the score of an average row. ``describe`` runs at
registration and saves what is needed as ``explainer.json`` beside the served model;
``Explainer`` reads it back with numpy alone (and LightGBM's booster for the tree model),
so the service explains without the training code or scikit-learn pipeline. The service
adds the top features on request (``/predict?explain=true``); ``ops/plots.py`` averages
their absolute values over the test split for the global importance plot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from ..data import Schema

EXPLAINER_FILE = "explainer.json"
TOP_REASONS = 5


def describe(pipeline: Any, schema: Schema, train: pd.DataFrame) -> dict[str, Any]:
    """What ``Explainer`` needs from a fitted pipeline, as JSON types."""
    estimator = pipeline.named_steps["model"]
    if hasattr(estimator, "booster_"):
        return {"kind": "lightgbm", "booster": estimator.booster_.model_to_string()}
    preprocess = pipeline.named_steps["preprocess"]
    numeric = preprocess.named_transformers_["num"]
    encoded = preprocess.transform(schema.features_frame(train))
    return {
        "kind": "linear",
        "median": numeric.named_steps["impute"].statistics_.tolist(),
        "mean": numeric.named_steps["scale"].mean_.tolist(),
        "scale": numeric.named_steps["scale"].scale_.tolist(),
        "coef": estimator.coef_.tolist(),
        "intercept": estimator.intercept_.tolist(),
        "column_mean": encoded.mean(axis=0).tolist(),
    }


class Contribution(BaseModel):
    feature: str
    contribution: float = Field(description="Signed, in raw-score units (log-odds if binary)")


class Explanation(BaseModel):
    """The ``explanation`` of an answer: ``raw_score`` = ``base_value`` + the contributions."""

    explained_class: str = Field(description="The class whose raw score is explained")
    base_value: float = Field(description="The raw score of an average training row")
    raw_score: float = Field(description="This record's raw score for explained_class")
    top_features: list[Contribution] = Field(description="The largest contributions by size")


@dataclass(frozen=True)
class Reasons:
    """One row's raw score for ``explained_class``, split into feature contributions."""

    explained_class: str
    base_value: float
    contributions: dict[str, float]  # every feature, in schema order

    @property
    def raw_score(self) -> float:
        return self.base_value + sum(self.contributions.values())

    def top(self, count: int = TOP_REASONS) -> list[dict[str, Any]]:
        """The ``count`` largest contributions by size, with their sign."""
        ranked = sorted(self.contributions.items(), key=lambda item: -abs(item[1]))
        return [{"feature": name, "contribution": value} for name, value in ranked[:count]]

    def as_json(self) -> dict[str, Any]:
        """The answer's ``explanation`` (the ``Explanation`` above), as JSON types."""
        return {
            "explained_class": self.explained_class,
            "base_value": self.base_value,
            "raw_score": self.raw_score,
            "top_features": self.top(),
        }


class Explainer:
    """Feature contributions from ``explainer.json``, for feature columns as the service has."""

    def __init__(self, description: Mapping[str, Any], schema: Schema) -> None:
        self.schema = schema
        self.description = dict(description)

    @cached_property
    def _booster(self) -> Any:
        """The LightGBM booster, loaded at the first explained request: a service nobody asks
        to explain (or a linear champion) never imports LightGBM."""
        if self.description["kind"] != "lightgbm":
            return None
        import lightgbm

        return lightgbm.Booster(model_str=self.description["booster"])

    def explain(self, columns: Mapping[str, Sequence[Any]], labels: Sequence[str]) -> list[Reasons]:
        """Explain the positive class (binary) or each row's predicted label (multiclass)."""
        per_class = self.contributions(columns)  # rows x classes x (features + base)
        names, classes = self.schema.features, self.schema.classes
        explained = [self.schema.positive_class or label for label in labels]
        rows = []
        for row, name in zip(per_class, explained, strict=True):
            values = row[classes.index(name)]
            contributions = dict(zip(names, values[:-1].tolist(), strict=True))
            rows.append(Reasons(name, float(values[-1]), contributions))
        return rows

    def contributions(self, columns: Mapping[str, Sequence[Any]]) -> np.ndarray:
        """Rows x classes x (features, then the base value), in raw-score units."""
        if self._booster is not None:
            # One thread: on a few rows, starting OpenMP threads costs more than the work.
            inputs = self._tree_input(columns)
            raw = self._booster.predict(inputs, pred_contrib=True, num_threads=1)
        else:
            raw = self._linear(columns)
        n_rows, width = len(raw), len(self.schema.features) + 1
        by_class = np.asarray(raw, dtype=float).reshape(n_rows, -1, width)
        if by_class.shape[1] == 1:  # binary: the score of classes[1]; classes[0] is its negative
            by_class = np.concatenate([-by_class, by_class], axis=1)
        return by_class

    def _tree_input(self, columns: Mapping[str, Sequence[Any]]) -> np.ndarray:
        """What ``features.tree_preprocessor`` feeds LightGBM: numbers, category codes."""
        arrays = [_numbers(columns[name]) for name in self.schema.numeric]
        for name, levels in self.schema.categorical.items():
            codes = {level: float(code) for code, level in enumerate(levels)}
            arrays.append(np.array([codes.get(_text(value), np.nan) for value in columns[name]]))
        return np.column_stack(arrays)

    def _linear(self, columns: Mapping[str, Sequence[Any]]) -> np.ndarray:
        """coef x (encoded value - training mean), summed over each feature's columns."""
        spec = self.description
        blocks, owner = [], []
        for index, name in enumerate(self.schema.numeric):
            values = _numbers(columns[name])
            values = np.where(np.isnan(values), spec["median"][index], values)
            blocks.append(((values - spec["mean"][index]) / spec["scale"][index])[:, None])
            owner.append(index)
        for offset, (name, levels) in enumerate(self.schema.categorical.items()):
            text = np.array([_text(value) for value in columns[name]], dtype=object)
            blocks.append((text[:, None] == np.array(levels, dtype=object)[None, :]).astype(float))
            owner += [len(self.schema.numeric) + offset] * len(levels)
        coef, mean = np.array(spec["coef"]), np.array(spec["column_mean"])
        per_column = (np.hstack(blocks) - mean)[:, None, :] * coef[None, :, :]
        membership = np.eye(len(self.schema.features))[owner]  # column -> its feature
        base = np.array(spec["intercept"]) + coef @ mean  # the score of an average row
        bases = np.broadcast_to(base[None, :, None], (len(per_column), len(base), 1))
        summed = np.concatenate([per_column @ membership, bases], axis=2)
        return summed.reshape(len(summed), -1)


def _numbers(values: Sequence[Any]) -> np.ndarray:
    return np.array([np.nan if value is None else value for value in values], dtype=float)


def _text(value: Any) -> str:
    """A category as ``Schema.onnx_feed`` spells it (missing: "nan", a level no category has)."""
    return "nan" if value is None else str(value)
