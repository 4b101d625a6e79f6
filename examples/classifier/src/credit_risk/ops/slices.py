"""Where does the model fail? Its error rate per slice of the test split, and its worst mistakes.

A single test PR-AUC hides the groups the model serves badly. Each level of a
categorical feature, and each quartile of a numeric one (each value, for four or fewer),
with at least ``MIN_ROWS`` test rows is a slice; a slice whose error rate (share of wrong
labels at the service's threshold) is ``FLAG_RATIO`` times the overall one or more is
flagged. The most confident mistakes (wrong, with the highest probability on the wrong
label) are the rows to read first. Test split only, reported and never used to decide
anything. Writes ``reports/slices.md`` and ``slices.json``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..data import Schema
from ..train import TrainResult, pr_auc
from .readme_blocks import markdown_table

MIN_ROWS = 30
FLAG_RATIO = 1.25
MISTAKES = 10


@dataclass(frozen=True)
class Slice:
    feature: str
    level: str
    rows: int
    error_rate: float
    pr_auc: float | None  # None when the slice holds one class only
    flagged: bool


@dataclass(frozen=True)
class SliceReport:
    overall_error_rate: float
    slices: list[Slice]  # worst error rate first
    mistakes: list[dict[str, str]]  # the most confident wrong predictions

    @property
    def worst(self) -> Slice | None:
        return self.slices[0] if self.slices else None


def slice_report(result: TrainResult) -> SliceReport:
    """Error rate and PR-AUC per slice of the test split, and the most confident mistakes."""
    schema, test = result.schema, result.split.test
    features, labels = schema.features_frame(test), schema.labels(test)
    proba = result.model.predict_proba(features)
    predicted = schema.predict_labels(proba, result.threshold)
    wrong = predicted != labels
    overall = float(wrong.mean())
    slices = []
    for feature, levels in _levels(features, schema).items():
        for level in levels.dropna().unique():
            rows = (levels == level).to_numpy()
            if rows.sum() < MIN_ROWS or rows.all():  # too few rows, or the whole split
                continue
            present = len(set(labels[rows])) == len(schema.classes)
            score = pr_auc(labels[rows], proba[rows], schema) if present else None
            error = float(wrong[rows].mean())
            flagged = overall > 0 and error >= FLAG_RATIO * overall
            slices.append(Slice(feature, str(level), int(rows.sum()), error, score, flagged))
    slices.sort(key=lambda item: -item.error_rate)
    confidence = proba[np.arange(len(labels)), [schema.classes.index(p) for p in predicted]]
    worst = [i for i in np.argsort(-confidence, kind="stable") if wrong[i]][:MISTAKES]
    mistakes = [
        {"row": str(test.index[i]), "true": str(labels[i]), "predicted": str(predicted[i]),
         "probability": f"{confidence[i]:.3f}"}
        for i in worst
    ]  # fmt: skip
    return SliceReport(overall, slices, mistakes)


def _levels(features: pd.DataFrame, schema: Schema) -> dict[str, pd.Series]:
    """The slicing of each feature: its categories, its values when a number takes at most
    four (a 1/2 code is two groups, not one quartile), or the quartile its number falls in."""
    levels = {name: features[name].where(features[name] != "nan") for name in schema.categorical}
    for name in schema.numeric:
        if features[name].nunique() <= 4:
            levels[name] = features[name].map(lambda value: f"{value:g}", na_action="ignore")
            continue
        quartile, edges = pd.qcut(features[name], 4, labels=False, retbins=True, duplicates="drop")
        names = {q: f"{edges[q]:g} to {edges[q + 1]:g}" for q in range(len(edges) - 1)}
        levels[name] = quartile.map(names)
    return levels


def summary_line(report: SliceReport) -> str:
    """One line for the README: the worst slice beside the overall error rate."""
    worst = report.worst
    if worst is None:
        return f"No slice has {MIN_ROWS} test rows; overall error {report.overall_error_rate:.1%}"
    flagged = sum(item.flagged for item in report.slices)
    return (
        f"Worst `{worst.feature}` {worst.level}: {worst.error_rate:.1%} errors vs "
        f"{report.overall_error_rate:.1%}; {flagged} flagged"
    )


def write(report: SliceReport, folder: Path) -> list[Path]:
    """``slices.md`` (both tables) and ``slices.json``."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [
        [item.feature, item.level, str(item.rows), f"{item.error_rate:.1%}",
         "n/a" if item.pr_auc is None else f"{item.pr_auc:.3f}", "worse" if item.flagged else ""]
        for item in report.slices
    ]  # fmt: skip
    header = ["feature", "slice", "test rows", "error rate", "PR-AUC", "flag"]
    mistakes = [list(row.values()) for row in report.mistakes]
    line = summary_line(report)
    markdown = folder / "slices.md"
    markdown.write_text(
        f"# Where does it fail?\n\n{line}.\n\nTest split, threshold as served; a slice is "
        f"flagged at {FLAG_RATIO}x the overall error rate or more ([why and how]"
        "(../docs/DESIGN.md#where-does-it-fail)).\n\n"
        f"{markdown_table(header, rows)}\n\n## Most confident mistakes\n\n"
        f"{markdown_table(['test row', 'true', 'predicted', 'P(predicted)'], mistakes)}\n",
        encoding="utf-8",
    )
    data = folder / "slices.json"
    data.write_text(json.dumps({"summary": line, **asdict(report)}, indent=2) + "\n")
    return [markdown, data]
