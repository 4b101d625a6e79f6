"""Stage 2, data: read the raw CSV, infer its schema, and split off the test split once.

The test split is written to ``data/processed/`` the first time and read back every time
after, with the SHA-256 of the file it came from, so no decision (features, model,
threshold, promotion) can ever be tuned on it: it is read for reports and evidence only.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from .config import Settings

# The spellings of "no value" seen in public CSVs, read as missing in lower, UPPER or Title case.
NULL_TOKENS = ["", "na", "n/a", "nan", "null", "none", "?", "-", "#n/a"]
NA_VALUES = sorted(
    {spelling for token in NULL_TOKENS for spelling in (token, token.upper(), token.title())}
)
# "007" is a code, not the number 7: leading zeros mark a numeric-looking categorical.
_LEADING_ZERO = re.compile(r"^-?0\d")
SPLIT_FILES = ("train.csv", "test.csv", "split.json")
ONNX_PROBABILITIES = "probabilities"  # skl2onnx's name for P(class) ("label" ignores thresholds)


@dataclass(frozen=True)
class Schema:
    """What the model expects: feature types, category levels, classes. Inferred from the
    training split only and saved with the model; the service builds its request models
    from it, so training and serving cannot disagree. ``onnx_feed`` lives here too: the ONNX
    inputs are these columns with these types, fed the same way by ``ops/onnx_compile.py``'s
    equality check and by ``predict.py``."""

    target: str
    classes: list[str]
    positive_class: str | None  # None for multiclass: the label is the most likely class
    numeric: list[str]
    categorical: dict[str, list[str]]
    nullable: list[str]
    # Columns dropped before training (row IDs): a request may send them, and the service
    # echoes them and logs them, so an outcome learned later can be joined to its prediction.
    ids: list[str] = field(default_factory=list)

    @property
    def features(self) -> list[str]:
        """Feature columns in the order the model sees them."""
        return [*self.numeric, *self.categorical]

    @property
    def is_binary(self) -> bool:
        return len(self.classes) == 2

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Schema:
        return cls(**data)

    def positive_scores(self, proba: np.ndarray) -> np.ndarray:
        """P(positive class) from a ``predict_proba`` matrix (columns in ``classes`` order)."""
        assert self.positive_class is not None
        return proba[:, self.classes.index(self.positive_class)]

    def predict_labels(self, proba: np.ndarray, threshold: float | None) -> np.ndarray:
        """Labels: P(positive) against the threshold if binary, else the likeliest class.
        Training, evaluation and the service all call this one rule."""
        classes = np.array(self.classes, dtype=object)
        if threshold is None or self.positive_class is None:
            return classes[np.argmax(proba, axis=1)]
        negative = next(name for name in self.classes if name != self.positive_class)
        positive = self.positive_scores(proba) >= threshold
        return np.where(positive, self.positive_class, negative)

    def features_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The feature columns with model dtypes: floats, and strings for categories. Missing
        stays NaN in both (pandas 2 spelled a category's "nan"); either encodes as unknown."""
        columns = {name: pd.to_numeric(frame[name], errors="coerce") for name in self.numeric}
        columns |= {name: frame[name].astype("str") for name in self.categorical}
        features = pd.DataFrame(columns, index=frame.index)[self.features]
        return features.astype({name: "float64" for name in self.numeric})

    def onnx_feed(
        self, inputs: Sequence[str], columns: Mapping[str, Sequence[Any]]
    ) -> dict[str, np.ndarray]:
        """The features as the ONNX model's ``inputs`` read them: numbers as float32, missing
        as NaN; categories as text, missing as ``"nan"`` (ONNX string tensors hold no null): a
        level no category has, so encoded as unknown, as the pipeline encodes the NaN that
        ``features_frame`` keeps. Names come from the model (``a/b`` is renamed ``a_b``)."""
        arrays = [np.asarray(columns[name], dtype=np.float32) for name in self.numeric]
        for name in self.categorical:
            text = ["nan" if value is None else str(value) for value in columns[name]]
            arrays.append(np.asarray(text, dtype=object))
        return {name: array.reshape(-1, 1) for name, array in zip(inputs, arrays, strict=True)}

    def labels(self, frame: pd.DataFrame) -> np.ndarray:
        """The target as strings, so "1" from a CSV and 1 from JSON mean the same class."""
        return frame[self.target].astype("str").to_numpy(dtype=object)


@dataclass(frozen=True)
class Split:
    """Raw train and test rows (all columns as read) and the schema of train."""

    train: pd.DataFrame
    test: pd.DataFrame
    schema: Schema


def read_table(path: Path, sep: str = ",", decimal: str = ".") -> pd.DataFrame:
    """A CSV as text (no type guessing yet), every spelling of "missing" as NaN, and with
    ``decimal=","`` ``1234,56`` as ``1234.56``: a number, not one of thousands of levels."""
    frame = pd.read_csv(
        path, sep=sep, dtype=str, keep_default_na=False, na_values=NA_VALUES, skipinitialspace=True
    )
    frame.columns = [str(name).strip() for name in frame.columns]
    if decimal != ".":
        frame = frame.apply(_with_decimal_point, decimal=decimal)
    return frame


def _with_decimal_point(column: pd.Series, decimal: str) -> pd.Series:
    if column.dropna().str.fullmatch(rf"[-+]?\d+({re.escape(decimal)}\d+)?").all():
        return column.str.replace(decimal, ".", regex=False)
    return column


def read_raw(settings: Settings) -> pd.DataFrame:
    """The data file as text, less ``drop_columns`` (row IDs) and unlabeled rows."""
    path = settings.path(settings.data_file)
    frame = read_table(path, settings.csv_sep, settings.csv_decimal)
    if settings.target not in frame.columns:
        raise ValueError(f"target column {settings.target!r} is not in {path.name}")
    frame = frame.drop(columns=[c for c in settings.drop_columns if c in frame.columns])
    return frame.dropna(subset=[settings.target]).reset_index(drop=True)


def infer_schema(train: pd.DataFrame, settings: Settings) -> Schema:
    """Decide numeric vs categorical per column and record levels and nulls seen in train."""
    numeric: list[str] = []
    categorical: dict[str, list[str]] = {}
    for name in train.columns:
        if name == settings.target:
            continue
        values = train[name].dropna()
        if name not in settings.categorical_columns and looks_numeric(values):
            numeric.append(name)
        else:
            categorical[name] = sorted(values.astype("str").unique().tolist())
    classes = sorted(train[settings.target].astype("str").unique().tolist())
    positive: str | None = None
    if len(classes) == 2:
        if settings.positive_class not in classes:
            raise ValueError(
                f"positive class {settings.positive_class!r} is not a value of "
                f"{settings.target!r} (values: {classes})"
            )
        positive = settings.positive_class
    nullable = [name for name in [*numeric, *categorical] if train[name].isna().any()]
    ids = list(settings.drop_columns)
    return Schema(settings.target, classes, positive, numeric, categorical, nullable, ids)


def looks_numeric(values: pd.Series) -> bool:
    """Every value parses as a number and none is a zero-padded code (``ops/scale_out.py``
    applies the same rule to each partition)."""
    if values.empty:
        return False
    text = values.astype("str")
    parsed = pd.to_numeric(text, errors="coerce")
    return bool(parsed.notna().all()) and not text.str.match(_LEADING_ZERO).any()


def load_split(settings: Settings) -> Split:
    """The train/test split: created (stratified, seeded) the first time, then reused, less
    the ``drop_columns`` of now (added ones included), as ``read_raw`` drops them."""
    folder = settings.path(settings.processed_dir)
    train_path, test_path, meta_path = (folder / name for name in SPLIT_FILES)
    source = file_sha256(settings.path(settings.data_file))
    wanted = {"source_sha256": source, "seed": settings.seed, "test_size": settings.test_size}
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        changed = [key for key, value in wanted.items() if meta.get(key, value) != value]
        if changed:
            what = "the data file" if "source_sha256" in changed else " and ".join(changed)
            raise ValueError(
                f"{what} changed after the test split was written; delete "
                f"{settings.processed_dir} to split again (old results are then not comparable)"
            )
        # drop_columns may have grown since the split was written (a leaky column found)
        train, test = (
            _read_text_csv(path).drop(columns=settings.drop_columns, errors="ignore")
            for path in (train_path, test_path)
        )
    else:
        raw = read_raw(settings)
        train, test = train_test_split(
            raw,
            test_size=settings.test_size,
            random_state=settings.seed,
            stratify=raw[settings.target],
        )
        folder.mkdir(parents=True, exist_ok=True)
        train.to_csv(train_path, index=False)
        test.to_csv(test_path, index=False)
        meta_path.write_text(json.dumps(wanted, indent=2) + "\n")
    train, test = train.reset_index(drop=True), test.reset_index(drop=True)
    return Split(train, test, infer_schema(train, settings))


def _read_text_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, or of a folder's files in name order (a Parquet data set): the
    split and every MLflow run record exactly which data they saw."""
    digest = hashlib.sha256()
    for file in sorted(f for f in path.rglob("*") if f.is_file()) if path.is_dir() else [path]:
        with file.open("rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
    return digest.hexdigest()
