"""Which feature could leak the label, and how do you know none does? A screen at train time.

Each feature is scored alone: a small gradient-boosted model on that one column,
cross-validated on the training split, and its out-of-fold PR-AUC compared with the
selected model's. A column recorded after the outcome (a follow-up time, a late
measurement) or computed from it predicts the label almost as well as the whole model,
or outright perfectly; a real input rarely does. A column is flagged when, alone, it
- reaches a PR-AUC of ``NEAR_PERFECT`` or more, or
- earns ``CARRIES`` or more of the model's lift over the base rate (the PR-AUC a model
  that learned nothing scores): the model's score then rests on that one column.
A flag is a question to answer, not a verdict: "was this known when the prediction is
made?". If not, add the column to ``drop_columns`` and train again. Columns with a
time-like name are marked as well, since "when was it recorded?" is the question to ask.
The screen writes ``reports/leakage.md`` and ``leakage.json``, logged with the MLflow run
(``pipeline.py``); ``make report`` puts the verdict in the README.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.preprocessing import OrdinalEncoder

from ..config import Settings
from ..train import TrainResult, pr_auc
from .readme_blocks import markdown_table

NEAR_PERFECT = 0.95  # PR-AUC of one column alone
CARRIES = 0.8  # share of the model's lift over the base rate earned by one column alone
MAX_ROWS = 20_000  # a random sample of the training split bounds the time on large data
TIME_LIKE = re.compile(r"date|time|day|month|year|_at$|duration|follow|since|until", re.I)


@dataclass(frozen=True)
class FeatureScore:
    """One feature alone: its out-of-fold PR-AUC, its share of the model's lift, why flagged."""

    feature: str
    pr_auc: float
    lift_share: float
    time_like: bool
    flag: str  # "" when the column looks like an ordinary input


@dataclass(frozen=True)
class LeakageReport:
    base_rate_pr_auc: float
    model_pr_auc: float
    features: list[FeatureScore]  # best single feature first

    @property
    def flagged(self) -> list[FeatureScore]:
        return [row for row in self.features if row.flag]


def screen(result: TrainResult, settings: Settings) -> LeakageReport:
    """Score every feature alone by cross-validation on the training split."""
    schema, train = result.schema, result.split.train
    if len(train) > MAX_ROWS:
        train = train.sample(n=MAX_ROWS, random_state=settings.seed)
    features, labels = schema.features_frame(train), schema.labels(train)
    folds = StratifiedKFold(3, shuffle=True, random_state=settings.seed)
    base = pr_auc(labels, np.tile(_prevalence(labels, schema.classes), (len(labels), 1)), schema)
    model = result.cv_pr_auc[result.selected]
    rows = []
    for name in schema.features:
        column = _one_column(features[name], categorical=name in schema.categorical)
        alone = HistGradientBoostingClassifier(
            max_iter=50, max_depth=3, categorical_features=[name in schema.categorical]
        )
        proba = cross_val_predict(alone, column, labels, cv=folds, method="predict_proba")
        score = pr_auc(labels, proba, schema)
        share = (score - base) / (model - base) if model > base else 0.0
        flag = ""
        if score >= NEAR_PERFECT:
            flag = f"alone it scores PR-AUC {score:.3f}: near-perfect"
        elif share >= CARRIES:
            flag = f"alone it earns {share:.0%} of the model's lift over the base rate"
        rows.append(FeatureScore(name, score, share, bool(TIME_LIKE.search(name)), flag))
    rows.sort(key=lambda row: -row.pr_auc)
    return LeakageReport(base, model, rows)


def _prevalence(labels: np.ndarray, classes: list[str]) -> np.ndarray:
    """Each class's share: the probabilities of a model that learned nothing."""
    return np.array([(labels == name).mean() for name in classes])


def _one_column(values: pd.Series, categorical: bool) -> np.ndarray:
    """One feature as the model's input: numbers as they are, categories as codes."""
    if not categorical:
        return values.to_numpy(float).reshape(-1, 1)
    encoder = OrdinalEncoder(
        handle_unknown="use_encoded_value", unknown_value=np.nan, max_categories=250
    )
    return encoder.fit_transform(values.to_frame())


def write(report: LeakageReport, folder: Path) -> list[Path]:
    """``leakage.md`` (a table to read) and ``leakage.json`` (for MLflow and the README)."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [
        [row.feature, f"{row.pr_auc:.3f}", f"{row.lift_share:.0%}",
         "yes" if row.time_like else "", row.flag]
        for row in report.features
    ]  # fmt: skip
    header = ["feature", "PR-AUC alone", "share of the model's lift", "time-like name", "flag"]
    verdict = verdict_line(report)
    text = (
        f"# Leakage screen\n\n{verdict}\n\nEach feature alone, 3-fold CV on the training "
        f"split; the model's CV PR-AUC is {report.model_pr_auc:.3f}, a model that learned "
        f"nothing scores {report.base_rate_pr_auc:.3f}.\n\n{markdown_table(header, rows)}\n"
    )
    markdown, data = folder / "leakage.md", folder / "leakage.json"
    markdown.write_text(text, encoding="utf-8")
    flagged = [row.feature for row in report.flagged]
    summary = {"verdict": verdict, "flagged": flagged, **asdict(report)}
    data.write_text(json.dumps(summary, indent=2) + "\n")
    return [markdown, data]


def verdict_line(report: LeakageReport) -> str:
    """One sentence for the terminal and the README."""
    if report.flagged:
        names = ", ".join(f"`{row.feature}`" for row in report.flagged)
        return (
            f"Possible leak: {names} (see reports/leakage.md); check each was known "
            "before the outcome, or add it to drop_columns."
        )
    best, model = report.features[0], report.model_pr_auc
    return (
        f"No single column carries the model: the strongest alone, `{best.feature}`, earns "
        f"{best.lift_share:.0%} of its lift (PR-AUC {best.pr_auc:.3f} vs {model:.3f})."
    )
