"""Load the labelled texts and cut the splits every model shares.

The before/after comparison is only honest if every model is scored on the *same*
test rows and trained on the *same* examples, so the split lives here, once, seeded.
The test split is cut first, from the whole file, and nothing downstream ever trains on it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import pandas as pd
from sklearn.model_selection import train_test_split

from .config import ENV_PREFIX, Settings

TEXT, LABEL = "text", "label"
MIN_ROWS_PER_LABEL = 4


class DataError(ValueError):
    """The data file cannot be used as it is; the message says what to fix."""


@dataclass(frozen=True)
class Splits:
    """Train, validation (every decision) and test (reported, decides nothing) frames."""

    train: pd.DataFrame
    val: pd.DataFrame
    test: pd.DataFrame
    labels: list[str]

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}

    def fingerprint(self, name: str) -> str:
        """SHA-256 of one split's rows, in order: equal only when two runs used the same
        rows, which is when their scores on that split can be compared."""
        frame = getattr(self, name)
        digest = hashlib.sha256()
        for text, label in zip(frame[TEXT], frame[LABEL], strict=True):
            digest.update(json.dumps([text, label]).encode())
        return digest.hexdigest()


def load(settings: Settings) -> pd.DataFrame:
    """Read the CSV into two columns, ``text`` and ``label`` (both strings).

    Rows without text or label are dropped, and so are exact duplicate texts: a duplicate
    that lands in both train and test would inflate every score.
    """
    if not settings.data_file.exists():
        raise DataError(
            f"data file {settings.data_file} not found: put the CSV there or set "
            f"{ENV_PREFIX}DATA_FILE"
        )
    frame = pd.read_csv(settings.data_file, sep=settings.csv_sep, dtype=str, keep_default_na=False)
    for column in (settings.text_col, settings.label_col):
        if column not in frame.columns:
            raise DataError(
                f"column {column!r} not in {settings.data_file.name} (columns: {list(frame)}): "
                f"set {ENV_PREFIX}TEXT_COL and {ENV_PREFIX}LABEL_COL"
            )
    frame = frame.loc[:, [settings.text_col, settings.label_col]]
    frame = frame.set_axis([TEXT, LABEL], axis=1)
    frame[TEXT] = frame[TEXT].str.strip()
    frame[LABEL] = frame[LABEL].str.strip()
    settings_of = {TEXT: ("TEXT_COL", settings.text_col), LABEL: ("LABEL_COL", settings.label_col)}
    for column, (setting, name) in settings_of.items():
        empty = int((frame[column] == "").sum())
        if empty > len(frame) / 2:
            raise DataError(
                f"column {name!r} is empty in {empty} of {len(frame)} rows: set "
                f"{ENV_PREFIX}{setting} to the column that holds the {column}"
            )
    frame = frame[(frame[TEXT] != "") & (frame[LABEL] != "")]
    frame = frame.drop_duplicates(subset=TEXT).reset_index(drop=True)
    counts = frame[LABEL].value_counts()
    if len(counts) < 2:
        raise DataError(
            f"need at least two labels, found {counts.to_dict()}: check {ENV_PREFIX}LABEL_COL"
        )
    rare = counts[counts < MIN_ROWS_PER_LABEL].to_dict()
    if rare:
        raise DataError(
            f"every label needs {MIN_ROWS_PER_LABEL}+ rows (one per split at least), these "
            f"have fewer: {rare}; add examples or drop those rows"
        )
    return frame


def split(frame: pd.DataFrame, settings: Settings) -> Splits:
    """Stratified, seeded train/val/test split, then the size caps from ``settings``."""
    labels = sorted(frame[LABEL].unique())
    rest, test = _stratified(frame, settings.test_size, len(labels), settings.seed)
    val_share = settings.val_size / (1 - settings.test_size)
    train, val = _stratified(rest, val_share, len(labels), settings.seed)
    return Splits(
        train=_cap(train, settings.train_size, settings.seed),
        val=_cap(val, settings.max_val_size, settings.seed),
        test=_cap(test, settings.max_test_size, settings.seed),
        labels=labels,
    )


def _stratified(
    frame: pd.DataFrame, share: float, n_labels: int, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split off ``share`` of the rows, at least one per label so every split sees them all."""
    size = max(n_labels, round(share * len(frame)))
    kept, held = train_test_split(frame, test_size=size, stratify=frame[LABEL], random_state=seed)
    return kept.reset_index(drop=True), held.reset_index(drop=True)


def _cap(frame: pd.DataFrame, limit: int | None, seed: int) -> pd.DataFrame:
    """A stratified sample of ``limit`` rows (all rows when ``limit`` is None or larger)."""
    if limit is None or len(frame) <= limit:
        return frame
    try:
        sample, _ = train_test_split(
            frame, train_size=limit, stratify=frame[LABEL], random_state=seed
        )
    except ValueError:  # a label too rare to stratify: a plain seeded sample instead
        sample = frame.sample(n=limit, random_state=seed)
    return sample.reset_index(drop=True)
