"""Data tests: the file has the expected schema and the splits never leak."""

from __future__ import annotations

import pandas as pd
import pytest

from review_sentiment import data
from review_sentiment.config import Settings


def test_the_project_data_file_has_text_and_at_least_two_labels() -> None:
    frame = data.load(Settings())
    assert list(frame.columns) == [data.TEXT, data.LABEL]
    assert frame[data.LABEL].nunique() >= 2
    assert frame[data.TEXT].str.len().min() > 0


def test_splits_are_disjoint_and_cover_every_label(settings: Settings) -> None:
    splits = data.split(data.load(settings), settings)
    train, val, test = (set(part[data.TEXT]) for part in (splits.train, splits.val, splits.test))
    assert not (train & test) and not (train & val) and not (val & test)
    for part in (splits.train, splits.val, splits.test):
        assert sorted(part[data.LABEL].unique()) == splits.labels


def test_the_split_is_the_same_on_every_call(settings: Settings) -> None:
    frame = data.load(settings)
    first, second = data.split(frame, settings), data.split(frame, settings)
    pd.testing.assert_frame_equal(first.test, second.test)


def test_caps_limit_split_sizes(settings: Settings) -> None:
    capped = settings.model_copy(update={"train_size": 12, "max_test_size": 9})
    splits = data.split(data.load(capped), capped)
    assert len(splits.train) == 12 and len(splits.test) == 9


def test_duplicate_texts_are_dropped_so_they_cannot_leak(settings: Settings) -> None:
    frame = pd.read_csv(settings.data_file)
    pd.concat([frame, frame]).to_csv(settings.data_file, index=False)
    assert len(data.load(settings)) == len(frame)


def test_a_missing_column_is_a_clear_error(settings: Settings) -> None:
    with pytest.raises(data.DataError, match="not in"):
        data.load(settings.model_copy(update={"text_col": "nope"}))


def test_an_empty_text_column_is_named_in_the_error(settings: Settings) -> None:
    frame = pd.read_csv(settings.data_file)
    frame["review"] = ""
    frame.to_csv(settings.data_file, index=False)
    with pytest.raises(data.DataError, match="'review' is empty in .*_TEXT_COL"):
        data.load(settings)


def test_a_label_too_rare_to_split_is_named_in_the_error(settings: Settings) -> None:
    frame = pd.read_csv(settings.data_file)
    extra = pd.DataFrame({"review": ["a one-off text"], "verdict": ["rare"]})
    pd.concat([frame, extra]).to_csv(settings.data_file, index=False)
    with pytest.raises(data.DataError, match=r"\{'rare': 1\}"):
        data.load(settings)
