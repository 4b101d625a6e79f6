"""Stage 4, train: cross-validate a linear baseline and LightGBM, pick one, refit on train.

Only the training split is seen here. Each model is one ``Pipeline`` (preprocessing +
estimator) and ``cross_val_predict`` fits a fresh copy inside every fold, so nothing of a
validation fold leaks into the model scored on it. The model is chosen on those out-of-fold
predictions, and each model's threshold on its own. PR-AUC is the yardstick: with a minority
positive class, ROC-AUC looks good even for a model that raises mostly false alarms.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from lightgbm import LGBMClassifier
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline

from .config import Settings
from .data import Schema, Split, load_split
from .features import categorical_indices, linear_preprocessor, tree_preprocessor

LINEAR, LIGHTGBM = "logistic_regression", "lightgbm"


@dataclass(frozen=True)
class Candidate:
    """A model family: its pipeline (unfitted) and the fit parameters it needs."""

    name: str
    pipeline: Pipeline
    fit_params: dict[str, Any]


@dataclass
class TrainResult:
    """What training decided, for evaluation and logging."""

    split: Split
    models: dict[str, Pipeline]  # every candidate, refitted on the whole training split
    cv_pr_auc: dict[str, float]  # pooled out-of-fold PR-AUC per candidate
    selected: str
    thresholds: dict[str, float | None]  # per candidate; None for multiclass (likeliest class)
    facts: dict[str, Any] = field(default_factory=dict)  # logged params, e.g. the engine

    @property
    def schema(self) -> Schema:
        return self.split.schema

    @property
    def model(self) -> Pipeline:
        return self.models[self.selected]

    @property
    def threshold(self) -> float | None:
        """The selected model's threshold: the one the service applies."""
        return self.thresholds[self.selected]


def candidates(schema: Schema, settings: Settings) -> list[Candidate]:
    """The linear baseline and LightGBM, both weighting classes to handle imbalance."""
    weight = None if settings.class_weight == "none" else "balanced"
    linear = Pipeline(
        [
            ("preprocess", linear_preprocessor(schema)),
            ("model", LogisticRegression(max_iter=2000, class_weight=weight)),
        ]
    )
    lightgbm = Pipeline(
        [
            ("preprocess", tree_preprocessor(schema)),
            (
                "model",
                # Hand-picked, not searched: small shallow trees, row and column
                # subsampling and an L2 penalty, conservative choices for a few thousand
                # rows. No hyper-parameter search runs in this project (docs/DESIGN.md).
                LGBMClassifier(
                    n_estimators=settings.n_estimators,
                    learning_rate=0.05,
                    num_leaves=7,
                    min_child_samples=50,
                    subsample=0.8,
                    subsample_freq=1,
                    colsample_bytree=0.8,
                    reg_lambda=1.0,
                    class_weight=weight,
                    random_state=settings.seed,
                    n_jobs=settings.n_jobs,
                    verbose=-1,
                ),
            ),
        ]
    )
    tree_params = {"model__categorical_feature": categorical_indices(schema)}
    return [Candidate(LINEAR, linear, {}), Candidate(LIGHTGBM, lightgbm, tree_params)]


def pr_auc(labels: np.ndarray, proba: np.ndarray, schema: Schema) -> float:
    """Average precision of the positive class; macro one-vs-rest for multiclass."""
    if schema.is_binary:
        positive = labels == schema.positive_class
        return float(average_precision_score(positive, schema.positive_scores(proba)))
    onehot = labels[:, None] == np.array(schema.classes)[None, :]
    return float(average_precision_score(onehot, proba, average="macro"))


def base_rate_pr_auc(labels: np.ndarray, schema: Schema) -> float:
    """What a model that learned nothing scores (a constant score's PR-AUC): the positive
    share, or 1/classes for multiclass. ``register.py`` never serves a model below it."""
    if schema.is_binary:
        return float(np.mean(labels == schema.positive_class))
    return 1 / len(schema.classes)


def choose_threshold(
    y_true: np.ndarray, scores: np.ndarray, settings: Settings, weights: np.ndarray | None = None
) -> float:
    """The cut-off on P(positive) that maximises F1 or minimises the configured cost.

    ``y_true`` is 1 for the positive class; out-of-fold predictions only. Sorting once gives
    the confusion counts at every threshold; ``weights`` counts a row that many times.
    """
    order = np.argsort(-scores, kind="stable")
    ranked, positives = scores[order], y_true[order].astype(float)
    counts = np.ones(len(order)) if weights is None else weights[order]
    tp, fp = np.cumsum(positives * counts), np.cumsum((1 - positives) * counts)
    distinct = np.r_[ranked[1:] != ranked[:-1], True]  # last row of each tied score
    thresholds, tp, fp = ranked[distinct], tp[distinct], fp[distinct]
    fn = (positives * counts).sum() - tp
    if settings.threshold_objective == "f1":
        value = 2 * tp / np.maximum(2 * tp + fp + fn, 1)
    else:
        value = -(fn * settings.cost_false_negative + fp * settings.cost_false_positive)
    return float(thresholds[np.argmax(value)])


def train(settings: Settings) -> TrainResult:
    """Cross-validate every candidate, select by CV PR-AUC, pick thresholds, refit all."""
    split = load_split(settings)
    schema = split.schema
    features, labels = schema.features_frame(split.train), schema.labels(split.train)
    folds = StratifiedKFold(settings.cv_folds, shuffle=True, random_state=settings.seed)
    out_of_fold: dict[str, np.ndarray] = {}
    cv_scores: dict[str, float] = {}
    models: dict[str, Pipeline] = {}
    for candidate in candidates(schema, settings):
        out_of_fold[candidate.name] = cross_val_predict(
            candidate.pipeline,
            features,
            labels,
            cv=folds,
            method="predict_proba",
            params=candidate.fit_params,
        )
        cv_scores[candidate.name] = pr_auc(labels, out_of_fold[candidate.name], schema)
        models[candidate.name] = clone(candidate.pipeline).fit(
            features, labels, **candidate.fit_params
        )
    selected = max(cv_scores, key=lambda name: cv_scores[name])
    thresholds: dict[str, float | None] = dict.fromkeys(out_of_fold)
    if schema.is_binary:  # each model its own cut-off, so F1s compare two models at their best
        is_positive = (labels == schema.positive_class).astype(int)
        for name, oof in out_of_fold.items():
            thresholds[name] = choose_threshold(is_positive, schema.positive_scores(oof), settings)
    return TrainResult(split, models, cv_scores, selected, thresholds)
