"""Stage 5, evaluate: test-split metrics for every model beside the majority-class baseline.

The only stage whose test-split numbers are the reported metrics; they decide nothing (model
choice, threshold and promotion use ``train.py``'s cross-validation), nor does the ops
evidence that reads the same split (``make evaluate``, plots, slices, the drift reference).
The majority-class baseline is the floor: its PR-AUC is the positive rate. Each model's F1,
precision and recall use its own threshold, chosen the same way on its own out-of-fold
scores (a cut-off fits one model's scores only); the selected model's is the one served.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score

from .config import Settings
from .data import Schema
from .train import TrainResult, pr_auc

MAJORITY = "majority_class"
COLUMNS = ("pr_auc", "roc_auc", "f1", "precision", "recall", "brier")


@dataclass
class Report:
    """Test-split metrics per model (selected model first) and the CV scores they came with."""

    selected: str
    threshold: float | None  # the selected model's: the service's
    metrics: dict[str, dict[str, float]]
    cv_pr_auc: dict[str, float]
    thresholds: dict[str, float | None]  # each model's own

    @property
    def selected_metrics(self) -> dict[str, float]:
        return self.metrics[self.selected]


def score(
    labels: np.ndarray, proba: np.ndarray, schema: Schema, threshold: float | None
) -> dict[str, float]:
    """PR-AUC, ROC-AUC, F1/precision/recall at the threshold, and the Brier score."""
    predicted = schema.predict_labels(proba, threshold)
    onehot = (labels[:, None] == np.array(schema.classes)[None, :]).astype(float)
    if schema.is_binary:
        positive = labels == schema.positive_class
        scores = schema.positive_scores(proba)
        roc_auc = roc_auc_score(positive, scores) if 0 < positive.sum() < len(positive) else 0.5
        averaging = {"average": "binary", "pos_label": schema.positive_class}
        brier = np.mean((scores - positive) ** 2)
    else:
        roc_auc = roc_auc_score(labels, proba, multi_class="ovr", labels=schema.classes)
        averaging = {"average": "macro", "labels": schema.classes}
        brier = np.mean(np.sum((proba - onehot) ** 2, axis=1))
    return {
        "pr_auc": pr_auc(labels, proba, schema),
        "roc_auc": float(roc_auc),
        "f1": float(f1_score(labels, predicted, zero_division=0, **averaging)),
        "precision": float(precision_score(labels, predicted, zero_division=0, **averaging)),
        "recall": float(recall_score(labels, predicted, zero_division=0, **averaging)),
        "brier": float(brier),
    }


def majority_proba(train_labels: np.ndarray, n_rows: int, schema: Schema) -> np.ndarray:
    """The baseline every model must beat: always predict the training class frequencies."""
    frequencies = np.array([np.mean(train_labels == name) for name in schema.classes])
    return np.tile(frequencies, (n_rows, 1))


def evaluate(result: TrainResult) -> Report:
    """Score every trained model and the majority baseline on the test split."""
    schema = result.schema
    features, labels = schema.features_frame(result.split.test), schema.labels(result.split.test)
    probabilities = {name: model.predict_proba(features) for name, model in result.models.items()}
    probabilities[MAJORITY] = majority_proba(schema.labels(result.split.train), len(labels), schema)
    order = [result.selected, *sorted(set(probabilities) - {result.selected})]
    thresholds = {name: result.thresholds.get(name) for name in order}  # majority: None
    metrics = {name: score(labels, probabilities[name], schema, thresholds[name]) for name in order}
    return Report(result.selected, result.threshold, metrics, result.cv_pr_auc, thresholds)


def write_metrics(report: Report, settings: Settings) -> Path:
    """``reports/metrics.json``: the table below, for scripts and CI."""
    path = settings.path(settings.reports_dir) / "metrics.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"selected": report.selected, "thresholds": report.thresholds, "test": report.metrics}
    path.write_text(json.dumps(body, indent=2) + "\n")
    return path


def print_report(report: Report) -> None:
    """The test-split table: the selected model, the other candidates and the baseline."""
    own = [f"{name} {t:.4f}" for name, t in report.thresholds.items() if t is not None]
    chosen = "selected by CV PR-AUC: " if report.cv_pr_auc else ""
    print(f"{chosen}{report.selected} (each model's threshold: {', '.join(own) or 'argmax'})")
    print(f"{'test split':<22}" + "".join(f"{name:>10}" for name in COLUMNS))
    for name, values in report.metrics.items():
        print(f"{name:<22}" + "".join(f"{values[c]:>10.4f}" for c in COLUMNS))
