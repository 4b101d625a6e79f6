"""The leakage screen: a column planted from the label is flagged, and says why."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from credit_risk.config import Settings
from credit_risk.data import infer_schema
from credit_risk.ops import leakage
from credit_risk.train import TrainResult


def _with_column(
    trained: TrainResult, settings: Settings, name: str, values: object
) -> TrainResult:
    train = trained.split.train.assign(**{name: values})
    schema = infer_schema(train, settings)
    return replace(trained, split=replace(trained.split, train=train, schema=schema))


def test_a_column_recorded_after_the_outcome_is_flagged(
    trained: TrainResult, settings: Settings, tmp_path: Path
) -> None:
    # a follow-up time that differs by outcome (one value per class), with 5% of rows noise
    train, classes = trained.split.train, trained.schema.classes
    outcome = np.array([classes.index(label) for label in trained.schema.labels(train)])
    rng = np.random.default_rng(0)
    guess = rng.integers(len(classes), size=len(train))
    noisy = np.where(rng.random(len(train)) < 0.05, guess, outcome)
    follow_up = (30 + 300 * noisy).astype(str)
    report = leakage.screen(_with_column(trained, settings, "follow_up_days", follow_up), settings)
    flagged = {row.feature: row for row in report.flagged}  # a real column may be there too
    assert flagged["follow_up_days"].time_like
    files = leakage.write(report, tmp_path)
    written = json.loads(files[1].read_text())
    assert "follow_up_days" in written["flagged"]
    assert "follow_up_days" in written["verdict"] and "drop_columns" in written["verdict"]


def test_a_column_of_noise_is_not_flagged(trained: TrainResult, settings: Settings) -> None:
    noise = np.random.default_rng(1).normal(size=len(trained.split.train)).astype(str)
    report = leakage.screen(_with_column(trained, settings, "noise", noise), settings)
    assert "noise" not in {row.feature for row in report.flagged}
    assert not report.flagged, leakage.verdict_line(report)  # the bundled data is clean
