"""Stage 4, evaluate: holdout metrics for every model beside the majority-class baseline.

This is the only stage that reads the holdout, and it only reports: nothing computed
here feeds back into model choice. PR-AUC is the headline metric because with a rare
positive class ROC-AUC looks good even for models that raise mostly false alarms.
Run ``python -m <package>.evaluate`` (``make evaluate``) to re-score the served model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    ConfusionMatrixDisplay,
    PrecisionRecallDisplay,
    average_precision_score,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)
from sklearn.pipeline import Pipeline

from .config import Settings
from .data import Schema

if TYPE_CHECKING:
    from .train import TrainResult

MAJORITY = "majority_class"


@dataclass
class Report:
    """Holdout metrics per model (selected model first) and the plot files written."""

    selected: str
    threshold: float | None
    metrics: dict[str, dict[str, float]]
    cv_pr_auc: dict[str, float]
    plots: list[Path] = field(default_factory=list)

    @property
    def selected_metrics(self) -> dict[str, float]:
        return self.metrics[self.selected]


def positive_scores(proba: np.ndarray, schema: Schema) -> np.ndarray:
    """P(positive class) from a ``predict_proba`` matrix (columns in ``schema.classes``)."""
    assert schema.positive_class is not None
    return proba[:, schema.classes.index(schema.positive_class)]


def pr_auc(labels: np.ndarray, proba: np.ndarray, schema: Schema) -> float:
    """Average precision of the positive class; macro one-vs-rest for multiclass."""
    if schema.is_binary:
        positive = labels == schema.positive_class
        return float(average_precision_score(positive, positive_scores(proba, schema)))
    onehot = labels[:, None] == np.array(schema.classes)[None, :]
    return float(average_precision_score(onehot, proba, average="macro"))


def predict_labels(proba: np.ndarray, schema: Schema, threshold: float | None) -> np.ndarray:
    """Labels from probabilities: the threshold for binary, the most likely class otherwise."""
    classes = np.array(schema.classes, dtype=object)
    if threshold is None or not schema.is_binary:
        return classes[np.argmax(proba, axis=1)]
    negative = next(name for name in schema.classes if name != schema.positive_class)
    return np.where(positive_scores(proba, schema) >= threshold, schema.positive_class, negative)


def holdout_metrics(
    labels: np.ndarray, proba: np.ndarray, schema: Schema, threshold: float | None
) -> dict[str, float]:
    """PR-AUC, ROC-AUC, F1/precision/recall at the threshold, and the Brier score."""
    predicted = predict_labels(proba, schema, threshold)
    onehot = (labels[:, None] == np.array(schema.classes)[None, :]).astype(float)
    if schema.is_binary:
        positive = labels == schema.positive_class
        scores = positive_scores(proba, schema)
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


def evaluate(result: TrainResult, settings: Settings) -> Report:
    """Score every model and the majority baseline on the holdout; write the plots."""
    schema = result.schema
    features, labels = schema.features_frame(result.split.test), schema.labels(result.split.test)
    probabilities = {name: model.predict_proba(features) for name, model in result.models.items()}
    probabilities[MAJORITY] = majority_proba(schema.labels(result.split.train), len(labels), schema)
    order = [result.selected, *sorted(set(probabilities) - {result.selected})]
    metrics = {
        name: holdout_metrics(labels, probabilities[name], schema, result.threshold)
        for name in order
    }
    plots = write_plots(
        result.model,
        labels,
        probabilities[result.selected],
        schema,
        result.threshold,
        settings.path(settings.reports_dir),
    )
    report = Report(result.selected, result.threshold, metrics, result.cv_pr_auc, plots)
    metrics_file = settings.path(settings.reports_dir) / "metrics.json"
    metrics_file.write_text(
        json.dumps(
            {"selected": report.selected, "threshold": report.threshold, "holdout": metrics},
            indent=2,
        )
        + "\n"
    )
    return report


def write_plots(
    model: Pipeline,
    labels: np.ndarray,
    proba: np.ndarray,
    schema: Schema,
    threshold: float | None,
    folder: Path,
) -> list[Path]:
    """PR curve, calibration curve, confusion matrix and feature importance as PNGs."""
    folder.mkdir(parents=True, exist_ok=True)
    # Binary: curves for the positive class. Multiclass: for the first class vs the rest.
    focus = schema.positive_class or schema.classes[0]
    is_focus = labels == focus
    scores = proba[:, schema.classes.index(focus)]
    paths = []

    figure = Figure(figsize=(5, 4))  # no pyplot: no global state, no display
    axis = figure.subplots()
    PrecisionRecallDisplay.from_predictions(is_focus, scores, ax=axis, name=focus)
    axis.set_title(f"Precision-recall on the holdout ({focus!r})")
    paths.append(_save(figure, folder / "pr_curve.png"))

    figure = Figure(figsize=(5, 4))
    axis = figure.subplots()
    observed, predicted = calibration_curve(is_focus, scores, n_bins=10, strategy="quantile")
    axis.plot(predicted, observed, marker="o", label="model")
    axis.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    axis.set(xlabel="predicted probability", ylabel="observed frequency", title="Calibration")
    axis.legend()
    paths.append(_save(figure, folder / "calibration.png"))

    figure = Figure(figsize=(5, 4))
    axis = figure.subplots()
    ConfusionMatrixDisplay.from_predictions(
        labels, predict_labels(proba, schema, threshold), labels=schema.classes, ax=axis
    )
    axis.set_title("Confusion matrix (holdout)")
    paths.append(_save(figure, folder / "confusion_matrix.png"))

    names, importance = feature_importance(model, schema)
    top = np.argsort(importance)[-15:]
    figure = Figure(figsize=(6, 4))
    axis = figure.subplots()
    axis.barh([names[i] for i in top], importance[top])
    is_tree = hasattr(model.named_steps["model"], "booster_")
    axis.set_title(f"Feature importance ({'gain' if is_tree else '|coefficient|'})")
    paths.append(_save(figure, folder / "feature_importance.png"))
    return paths


def feature_importance(model: Pipeline, schema: Schema) -> tuple[list[str], np.ndarray]:
    """Gain for LightGBM, mean |coefficient| of standardised inputs for the linear model."""
    estimator = model.named_steps["model"]
    names = [str(name) for name in model.named_steps["preprocess"].get_feature_names_out()]
    if hasattr(estimator, "booster_"):
        gain = estimator.booster_.feature_importance(importance_type="gain")
        return schema.features, np.asarray(gain, dtype=float)
    return names, np.abs(estimator.coef_).mean(axis=0)


def _save(figure: Figure, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    return path


def print_report(report: Report) -> None:
    """The holdout table: the selected model, the other candidate and the baseline."""
    columns = ["pr_auc", "roc_auc", "f1", "precision", "recall", "brier"]
    threshold = "argmax" if report.threshold is None else f"{report.threshold:.4f}"
    print(f"selected by CV PR-AUC: {report.selected} (threshold {threshold})")
    print(f"{'holdout':<22}" + "".join(f"{name:>10}" for name in columns))
    for name, values in report.metrics.items():
        print(f"{name:<22}" + "".join(f"{values[c]:>10.4f}" for c in columns))


def main() -> None:
    """``make evaluate``: re-score the served model (``model_uri``) on the holdout."""
    from .data import load_split
    from .register import load_model

    settings = Settings()
    served = load_model(settings.model_uri, settings)
    split = load_split(settings)
    schema = served.schema
    features, labels = schema.features_frame(split.test), schema.labels(split.test)
    metrics = holdout_metrics(
        labels, served.pipeline.predict_proba(features), schema, served.threshold
    )
    print(f"model {settings.model_uri} (version {served.version}) on the holdout:")
    print(json.dumps(metrics, indent=2))


if __name__ == "__main__":
    main()
