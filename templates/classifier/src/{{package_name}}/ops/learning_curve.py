"""More data or a bigger model? CV PR-AUC of both models on growing shares of the training split.

Each model is cross-validated on the same folds as ``train.py``, but fitted on only 10%,
25% or 50% of every training fold (a stratified sample) and scored on the whole
validation fold; the 100% point is the CV PR-AUC ``train.py`` already computed. If the
curve still climbs over the last doubling, more rows would help; if it is flat, the
model has learned what these features hold, and the next gain needs new features or a
different model. Writes ``reports/learning_curve.png``, ``.md`` and ``.json``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold, train_test_split

from ..config import Settings
from ..train import TrainResult, candidates, pr_auc

SHARES = (0.1, 0.25, 0.5)  # and 1.0, from train.py's cross-validation


@dataclass(frozen=True)
class LearningCurve:
    shares: list[float]
    pr_auc: dict[str, list[float]]  # model -> pooled out-of-fold PR-AUC at each share

    def last_doubling(self, model: str) -> float:
        """PR-AUC gained from 50% to 100% of the training rows."""
        return self.pr_auc[model][-1] - self.pr_auc[model][-2]


def learning_curve(result: TrainResult, settings: Settings) -> LearningCurve:
    """Pooled out-of-fold PR-AUC per model at each share of every training fold."""
    schema = result.schema
    features, labels = schema.features_frame(result.split.train), schema.labels(result.split.train)
    folds = StratifiedKFold(settings.cv_folds, shuffle=True, random_state=settings.seed)
    scores: dict[str, list[float]] = {}
    for candidate in candidates(schema, settings):
        curve = []
        for share in SHARES:
            proba = np.zeros((len(labels), len(schema.classes)))
            for fit_rows, valid_rows in folds.split(features, labels):
                sample, _ = train_test_split(
                    fit_rows,
                    train_size=share,
                    stratify=labels[fit_rows],
                    random_state=settings.seed,
                )
                model = clone(candidate.pipeline).fit(
                    features.iloc[sample], labels[sample], **candidate.fit_params
                )
                proba[valid_rows] = model.predict_proba(features.iloc[valid_rows])
            curve.append(pr_auc(labels, proba, schema))
        scores[candidate.name] = [*curve, result.cv_pr_auc[candidate.name]]
    return LearningCurve([*SHARES, 1.0], scores)


def summary_line(curve: LearningCurve, selected: str) -> str:
    """One line for the README: the selected model's last doubling, and the other's."""
    others = ", ".join(
        f"{name} {curve.last_doubling(name):+.3f}" for name in curve.pr_auc if name != selected
    )
    return f"50%→100% rows: {selected} {curve.last_doubling(selected):+.3f}, {others}"


def write(curve: LearningCurve, selected: str, folder: Path) -> list[Path]:
    """``learning_curve.png``, ``learning_curve.md`` and ``learning_curve.json``."""
    folder.mkdir(parents=True, exist_ok=True)
    figure = Figure(figsize=(6, 4))  # no pyplot: no global state, no display
    axis = figure.subplots()
    for name, values in curve.pr_auc.items():
        axis.plot(curve.shares, values, marker="o", label=name)
    axis.set(
        xscale="log",
        xlabel="share of each training fold",
        ylabel="CV PR-AUC",
        title="Learning curve",
    )
    axis.legend()
    figure.tight_layout()
    plot = folder / "learning_curve.png"
    figure.savefig(plot, dpi=100)
    line = summary_line(curve, selected)
    rows = "\n".join(
        f"| {name} | " + " | ".join(f"{value:.3f}" for value in values) + " |"
        for name, values in curve.pr_auc.items()
    )
    header = " | ".join(f"{share:.0%}" for share in curve.shares)
    markdown = folder / "learning_curve.md"
    markdown.write_text(
        f"# More data or a bigger model?\n\n{line} (CV PR-AUC).\n\n[Why and how](../docs/DESIGN.md"
        f"#more-data-or-a-bigger-model).\n\n| model | {header} |\n"
        f"|---|{'---|' * len(curve.shares)}\n{rows}\n\n![learning curve](learning_curve.png)\n",
        encoding="utf-8",
    )
    data = folder / "learning_curve.json"
    data.write_text(json.dumps({"summary": line, **asdict(curve)}, indent=2) + "\n")
    return [plot, markdown, data]
