"""Why does the model decide what it decides? Four PNGs from the test-split predictions.

The precision-recall curve, the calibration curve, the confusion matrix at the chosen
threshold and the feature importance (mean |SHAP|, from ``reason_codes.py``, also as
``feature_importance.json``), written to ``reports/`` by ``make train`` and logged with
the run. Plotting lives here, apart from the stages, so the serving process never imports
matplotlib. ``Figure`` objects, not ``pyplot``: no global state, no display.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.calibration import calibration_curve
from sklearn.metrics import ConfusionMatrixDisplay, PrecisionRecallDisplay
from sklearn.pipeline import Pipeline

from ..data import Schema
from .reason_codes import Explainer, describe


def write_plots(
    model: Pipeline,
    labels: np.ndarray,
    proba: np.ndarray,
    schema: Schema,
    threshold: float | None,
    folder: Path,
    *,
    rows: pd.DataFrame,
    train: pd.DataFrame,
) -> list[Path]:
    """PR curve, calibration, confusion matrix, feature importance (PNGs and its JSON).

    ``rows`` are the scored test rows (for the importance), ``train`` the training split
    (the linear model's contributions are measured from its mean).
    """
    folder.mkdir(parents=True, exist_ok=True)
    # Binary: curves for the positive class. Multiclass: for the first class vs the rest.
    focus = schema.positive_class or schema.classes[0]
    is_focus = labels == focus
    scores = proba[:, schema.classes.index(focus)]
    paths = []

    figure = Figure(figsize=(5, 4))  # no pyplot: no global state, no display
    axis = figure.subplots()
    PrecisionRecallDisplay.from_predictions(is_focus, scores, ax=axis, name=focus)
    axis.set_title(f"Precision-recall on the test split ({focus!r})")
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
        labels, schema.predict_labels(proba, threshold), labels=schema.classes, ax=axis
    )
    axis.set_title("Confusion matrix (test split)")
    paths.append(_save(figure, folder / "confusion_matrix.png"))

    features = schema.features_frame(rows)
    importance = mean_abs_contribution(model, schema, features, train)
    top = np.argsort(importance)[-15:]
    figure = Figure(figsize=(6, 4))
    axis = figure.subplots()
    axis.barh([schema.features[i] for i in top], importance[top])
    axis.set(xlabel="mean |contribution| to the raw score, test split")
    axis.set_title("Feature importance (mean |SHAP|)")
    paths.append(_save(figure, folder / "feature_importance.png"))
    ranked = sorted(zip(schema.features, importance.tolist(), strict=True), key=lambda p: -p[1])
    summary = folder / "feature_importance.json"
    summary.write_text(json.dumps({"mean_abs_contribution": dict(ranked)}, indent=2) + "\n")
    return [*paths, summary]


def mean_abs_contribution(
    model: Pipeline, schema: Schema, features: pd.DataFrame, train: pd.DataFrame
) -> np.ndarray:
    """Each feature's mean |contribution| (``reason_codes.py``) to the explained class.

    Unlike split counts or gain, it is in the units of the score, it is comparable between
    the tree and the linear model, and it sums the reasons the service returns per row.
    """
    explainer = Explainer(describe(model, schema, train), schema)
    columns = {name: features[name].tolist() for name in schema.features}
    labels = schema.predict_labels(model.predict_proba(features), None).tolist()
    explained = explainer.explain(columns, labels)
    sizes = np.array([list(row.contributions.values()) for row in explained])
    return np.abs(sizes).mean(axis=0)


def _save(figure: Figure, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    return path
