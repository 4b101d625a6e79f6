"""Why does the model decide what it decides? Four PNGs from the test-split predictions.

The precision-recall curve, the calibration curve, the confusion matrix at the chosen
threshold and the feature importance, written to ``reports/`` by ``make train`` and
logged with the run. Plotting lives here, apart from the stages, so the serving process
never imports matplotlib. ``Figure`` objects, not ``pyplot``: no global state, no display.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from sklearn.calibration import calibration_curve
from sklearn.metrics import ConfusionMatrixDisplay, PrecisionRecallDisplay
from sklearn.pipeline import Pipeline

from ..data import Schema


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
