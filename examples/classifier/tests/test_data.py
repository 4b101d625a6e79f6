"""Data tests: the schema matches the CSV, the target never leaks, the splits are disjoint."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from credit_risk.config import Settings
from credit_risk.data import load_split, read_raw, read_table
from credit_risk.train import TrainResult


def test_schema_covers_every_column_but_target_and_ids(settings: Settings) -> None:
    raw = read_raw(settings)
    schema = load_split(settings).schema
    assert set(schema.features) == set(raw.columns) - {settings.target}
    assert not set(settings.drop_columns) & set(schema.features)
    assert settings.target not in schema.features
    assert len(schema.classes) >= 2


def test_features_hold_numbers_and_strings_only(trained: TrainResult) -> None:
    features = trained.schema.features_frame(trained.split.train)
    assert trained.schema.target not in features.columns
    for name in trained.schema.numeric:
        assert pd.api.types.is_float_dtype(features[name])
    for name in trained.schema.categorical:
        assert not pd.api.types.is_numeric_dtype(features[name])


def test_train_and_test_splits_are_disjoint_and_complete(settings: Settings) -> None:
    split = load_split(settings)
    raw = read_raw(settings)
    assert len(split.train) + len(split.test) == len(raw)
    overlap = _rows(split.train) & _rows(split.test)
    duplicates_in_source = len(raw) - len(_rows(raw))  # identical rows in the CSV itself
    assert len(overlap) <= duplicates_in_source


def _rows(frame: pd.DataFrame) -> set[tuple[str, ...]]:
    return set(map(tuple, frame.fillna("<na>").astype("str").to_numpy()))


def test_test_split_is_written_once(settings: Settings) -> None:
    first = load_split(settings).test
    again = load_split(settings).test
    pd.testing.assert_frame_equal(first, again)


def test_a_column_added_to_drop_columns_leaves_the_reused_split(
    settings: Settings, tmp_path: Path
) -> None:
    first = settings.model_copy(update={"processed_dir": tmp_path / "processed"})
    leaky = load_split(first).schema.features[0]
    retrain = first.model_copy(update={"drop_columns": [*first.drop_columns, leaky]})
    split = load_split(retrain)  # the split written above, reused
    assert leaky not in split.schema.features
    assert leaky not in {*split.train.columns, *split.test.columns}
    assert split.schema.ids == retrain.drop_columns


def test_split_is_stratified(settings: Settings) -> None:
    split = load_split(settings)
    train_share = split.train[settings.target].value_counts(normalize=True)
    test_share = split.test[settings.target].value_counts(normalize=True)
    assert (train_share - test_share).abs().max() < 0.02


def test_decimal_commas_become_numbers_and_text_stays_text(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("amount;city;code\n1234,5;Lyon;07\n-3;Paris, centre;12\nNA;Nice;\n")
    frame = read_table(path, sep=";", decimal=",")
    assert frame["amount"].tolist()[:2] == ["1234.5", "-3"]
    assert frame["amount"].isna().tolist() == [False, False, True]
    assert frame["city"].tolist() == ["Lyon", "Paris, centre", "Nice"]
    assert frame["code"].tolist()[:2] == ["07", "12"]
