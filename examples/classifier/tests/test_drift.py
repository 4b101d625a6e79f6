"""Drift checks: quiet on data like training, loud and specific on shifted data."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from credit_risk.config import Settings
from credit_risk.data import Schema
from credit_risk.ops.drift import (
    PREDICTION,
    DriftError,
    Thresholds,
    compare,
    model_scores,
)
from credit_risk.ops.drift_stats import psi
from credit_risk.ops.predictions import PredictionLog, logged_columns, read_log
from credit_risk.predict import ServedModel
from credit_risk.serve import create_app
from credit_risk.train import TrainResult


def _drift(trained: TrainResult, served: ServedModel, current: pd.DataFrame) -> set[str]:
    reference = trained.split.train
    scores = (model_scores(reference, served), model_scores(current, served))
    # min_rows=1: small user data sets have small test splits; the p-values still guard
    report = compare(reference, current, trained.schema, Thresholds(min_rows=1), scores)
    return {row.feature for row in report.alarms}


def _widest_numeric(schema: Schema, frame: pd.DataFrame) -> str:
    """The numeric feature with the most distinct values (scaling it must show)."""
    return max(schema.numeric, key=lambda name: frame[name].nunique())


def _most_unequal_categorical(schema: Schema, frame: pd.DataFrame) -> tuple[str, str, str] | None:
    """The categorical whose two commonest levels differ most in share, if a swap shows."""
    gaps = []
    for name in schema.categorical:
        shares = frame[name].value_counts(normalize=True)
        if len(shares) > 1:
            gaps.append((shares.iloc[0] - shares.iloc[1], name, *map(str, shares.index[:2])))
    if not gaps or max(gaps)[0] < 0.2:
        return None  # swapping two levels of similar share is not a shift worth an alarm
    _, name, first, second = max(gaps)
    return name, first, second


def test_psi_is_zero_for_equal_histograms_and_grows_with_the_shift() -> None:
    same = psi(pd.Series([10, 20, 70]).to_numpy(float), pd.Series([1, 2, 7]).to_numpy(float))
    small = psi(pd.Series([10, 20, 70]).to_numpy(float), pd.Series([12, 20, 68]).to_numpy(float))
    large = psi(pd.Series([10, 20, 70]).to_numpy(float), pd.Series([70, 20, 10]).to_numpy(float))
    assert same == pytest.approx(0.0)
    assert 0 < small < 0.1 < large


def test_test_split_raises_no_alarm(trained: TrainResult, served: ServedModel) -> None:
    assert _drift(trained, served, trained.split.test) == set()


def test_scaled_number_and_swapped_category_are_named(
    trained: TrainResult, served: ServedModel
) -> None:
    schema, shifted = trained.schema, trained.split.test.copy()
    expected = set()
    if schema.numeric:
        number = _widest_numeric(schema, shifted)
        shifted[number] = (pd.to_numeric(shifted[number]) * 2).astype("str")
        expected.add(number)
    swap = _most_unequal_categorical(schema, shifted)
    if swap is not None:
        category, first, second = swap
        shifted[category] = shifted[category].replace({first: second, second: first})
        expected.add(category)
    assert _drift(trained, served, shifted) - {PREDICTION} == expected


def test_unseen_categories_alarm(trained: TrainResult, served: ServedModel) -> None:
    if not trained.schema.categorical:
        pytest.skip("no categorical features")
    current = trained.split.test.copy()
    name = next(iter(trained.schema.categorical))
    current.loc[current.index[: len(current) // 10], name] = "a value never seen"
    assert name in _drift(trained, served, current)


def test_too_few_rows_give_no_verdict(trained: TrainResult) -> None:
    with pytest.raises(DriftError, match="at least"):
        compare(trained.split.train, trained.split.test.head(3), trained.schema, Thresholds())


def test_prediction_log_round_trips_and_leaves_out_personal_columns(tmp_path: Path) -> None:
    assert logged_columns(["age", "email", "full_name", "income"]) == ["age", "income"]
    assert logged_columns(["age", "email"], allow=["email"]) == ["age", "email"]
    log = PredictionLog(tmp_path, ["age", "city"])
    prediction = {"label": "yes", "label_probability": 0.9, "model_version": "3"}
    log.write([{"age": 41, "city": None, "email": "a@b.c"}], [prediction])
    log.close()
    frame = read_log(tmp_path)
    assert frame.loc[0, "age"] == 41
    assert frame.loc[0, "model_version"] == "3"
    assert "email" not in frame.columns
    assert "a@b.c" not in "".join(path.read_text() for path in tmp_path.iterdir())


def test_prediction_log_stays_within_its_size_budget(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path, ["x"], max_file_bytes=2_000, max_total_bytes=10_000)
    prediction = {"label": "a", "label_probability": 0.5, "model_version": "1"}
    for i in range(2_000):
        log.write([{"x": i}], [prediction])
    log.close()
    files = list(tmp_path.glob("predictions-*.jsonl"))
    assert len(files) > 1
    assert sum(path.stat().st_size for path in files) <= 10_000 + 2_000
    last = read_log(tmp_path)
    assert last["x"].max() == 1_999  # the newest rows are the ones kept
    assert json.loads(files[0].read_text().splitlines()[0])["label"] == "a"


def test_service_logs_each_prediction_only_when_asked(
    settings: Settings, served: ServedModel, trained: TrainResult, tmp_path: Path
) -> None:
    features = served.schema.features_frame(trained.split.test.head(3))
    records = features.astype(object).where(features.notna(), None).to_dict("records")
    for enabled, folder in ((False, tmp_path / "off"), (True, tmp_path / "on")):
        options = {"prediction_log": enabled, "prediction_log_dir": folder}
        app = create_app(settings.model_copy(update=options), model=served)
        with TestClient(app) as client:
            assert client.post("/predict", json=records[0]).status_code == 200
            assert client.post("/predict/batch", json={"records": records[1:]}).status_code == 200
        assert folder.exists() is enabled
    logged = read_log(tmp_path / "on")
    assert len(logged) == 3
    assert set(logged["model_version"]) == {"test"}
    assert set(logged_columns(served.schema.features)) <= set(logged.columns)
