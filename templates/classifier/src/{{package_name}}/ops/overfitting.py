"""Is the model overfitting? LightGBM's train and validation PR-AUC after every boosting round.

``train.py`` fits a fixed ``n_estimators`` rounds and no early stopping, and
``cross_val_predict`` keeps none of its fold models, so no per-round record exists to reuse.
One extra fit on the first cross-validation fold (the same folds, a fraction of the CV
cost) records both curves with LightGBM's ``record_evaluation``: where validation peaks,
and how far train has pulled ahead at the round the model stops. A gap that keeps growing
while validation falls is overfitting; a flat validation curve means more rounds buy
nothing. Writes ``reports/overfitting.png``, ``.md`` and ``.json``, logged with the run.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold

from ..config import Settings
from ..features import categorical_indices
from ..train import LIGHTGBM, TrainResult


@dataclass(frozen=True)
class BoostingCurve:
    """The metric after each round on the fold's training and validation rows."""

    metric: str
    train: list[float]
    validation: list[float]

    @property
    def rounds(self) -> int:
        """The round the model stops at: ``n_estimators``, no early stopping."""
        return len(self.validation)

    @property
    def best_round(self) -> int:
        """The round where validation is best (1-based)."""
        values = np.array(self.validation)
        best = np.argmax(values) if self.higher_is_better else np.argmin(values)
        return int(best) + 1

    @property
    def higher_is_better(self) -> bool:
        return self.metric == "average_precision"

    @property
    def gap(self) -> float:
        """Train minus validation at the stopping round (positive: train looks better)."""
        sign = 1 if self.higher_is_better else -1
        return sign * (self.train[-1] - self.validation[-1])


def boosting_curve(result: TrainResult, settings: Settings) -> BoostingCurve:
    """Refit LightGBM on the first CV fold, recording both curves every round."""
    schema, train = result.schema, result.split.train
    features, labels = schema.features_frame(train), schema.labels(train)
    folds = StratifiedKFold(settings.cv_folds, shuffle=True, random_state=settings.seed)
    fit_rows, valid_rows = next(folds.split(features, labels))
    pipeline = result.models[LIGHTGBM]
    preprocess = clone(pipeline.named_steps["preprocess"]).fit(features.iloc[fit_rows])
    fit_x, valid_x = (preprocess.transform(features.iloc[rows]) for rows in (fit_rows, valid_rows))
    metric = "average_precision" if schema.is_binary else "multi_logloss"
    model = clone(pipeline.named_steps["model"])
    codes = np.unique(labels, return_inverse=True)[1]  # LightGBM's eval_y takes no strings
    model.fit(
        fit_x,
        codes[fit_rows],
        eval_X=(fit_x, valid_x),
        eval_y=(codes[fit_rows], codes[valid_rows]),
        eval_names=["train", "valid"],
        eval_metric=metric,
        categorical_feature=categorical_indices(schema),
    )
    history = model.evals_result_
    return BoostingCurve(metric, list(history["train"][metric]), list(history["valid"][metric]))


def summary_line(curve: BoostingCurve) -> str:
    """One line for the README: the best round, the stopping round and the gap there."""
    return (
        f"Validation peaks at round {curve.best_round} of {curve.rounds}; "
        f"train-validation gap {curve.gap:.3f}"
    )


def write(curve: BoostingCurve, folder: Path) -> list[Path]:
    """``overfitting.png`` (both curves), ``overfitting.md`` and ``overfitting.json``."""
    folder.mkdir(parents=True, exist_ok=True)
    figure = Figure(figsize=(6, 4))  # no pyplot: no global state, no display
    axis = figure.subplots()
    rounds = np.arange(1, curve.rounds + 1)
    axis.plot(rounds, curve.train, label="train (fold 1)")
    axis.plot(rounds, curve.validation, label="validation (fold 1)")
    axis.axvline(curve.best_round, color="grey", linestyle="--", label="best validation round")
    axis.set(xlabel="boosting round", ylabel=curve.metric, title="LightGBM per boosting round")
    axis.legend()
    figure.tight_layout()
    plot = folder / "overfitting.png"
    figure.savefig(plot, dpi=100)
    line = summary_line(curve)
    markdown = folder / "overfitting.md"
    markdown.write_text(
        f"# Is LightGBM overfitting?\n\n{line}.\n\nOne refit on the first CV fold of the "
        f"training split, {curve.metric} after every round ([why and how](../docs/DESIGN.md"
        "#is-the-model-overfitting)).\n\n![curves](overfitting.png)\n",
        encoding="utf-8",
    )
    data = folder / "overfitting.json"
    fields = {"summary": line, "rounds": curve.rounds, "best_round": curve.best_round}
    data.write_text(json.dumps({**fields, "gap": curve.gap, **asdict(curve)}, indent=2) + "\n")
    return [plot, markdown, data]
