"""How would this scale to 100x the data? The same comparison, trained on a Dask cluster.

``make train ENGINE=dask`` runs ``train_on_cluster`` in place of ``train`` and ``evaluate``;
it returns the same ``TrainResult`` holding the same kind of ``Pipeline``, so MLflow, the
registry, ``champion`` and the service see no difference. No process holds the data set:
workers read it in partitions (a CSV or a Parquet folder) and make every pass over it.
A seeded hash of each row picks its split and CV fold, whatever the partitioning or the
cluster's size. LightGBM trains with ``lightgbm.dask``; scores come back as ``Counts``, summed
over partitions. The linear baseline, a yardstick, fits on at most ``dask_sample_rows`` rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from operator import add
from typing import Any

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
from distributed import Client
from lightgbm.dask import DaskLGBMClassifier
from sklearn.base import clone
from sklearn.dummy import DummyClassifier
from sklearn.metrics import average_precision_score, confusion_matrix, roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline

from ..config import Settings
from ..data import NA_VALUES, Schema, Split, looks_numeric
from ..evaluate import COLUMNS, MAJORITY, Report
from ..features import categorical_indices
from ..train import LIGHTGBM, LINEAR, TrainResult, candidates, choose_threshold

BINS = 10_000  # score histogram resolution: thresholds are multiples of 1 / BINS
FOLD = "__fold"  # the column the hash adds: the CV fold, or -1 for the test split


def connect(settings: Settings) -> Client:
    """The cluster at ``DASK_SCHEDULER_ADDRESS``, else a LocalCluster (closed with the client)
    of ``dask_workers`` processes, each limited to ``dask_worker_memory``."""
    if settings.dask_scheduler_address:
        return Client(settings.dask_scheduler_address)
    limits = {"threads_per_worker": 1, "memory_limit": settings.dask_worker_memory}
    return Client(
        n_workers=settings.dask_workers, host="127.0.0.1", dashboard_address=None, **limits
    )


def read_lazily(settings: Settings) -> dd.DataFrame:
    """The data as text partitions, as ``read_raw`` reads it: a CSV or a Parquet folder."""
    path = str(settings.path(settings.data_file))
    if path.endswith(".csv"):
        options = {"keep_default_na": False, "na_values": NA_VALUES, "skipinitialspace": True}
        frame = dd.read_csv(path, sep=settings.csv_sep, dtype=str, **options)
    else:  # Parquet keeps types: text like a CSV's, missing values still missing
        frame = dd.read_parquet(path).map_partitions(
            lambda part: part.astype("string").astype(object).where(part.notna(), np.nan)
        )
    frame.columns = [str(name).strip() for name in frame.columns]
    frame = frame.drop(columns=[c for c in settings.drop_columns if c in frame.columns])
    return frame.dropna(subset=[settings.target])


def hash_split(frame: dd.DataFrame, settings: Settings) -> tuple[dd.DataFrame, dd.DataFrame]:
    """Train (``FOLD`` = its CV fold) and test rows, ``test_size`` of them, by row hash."""

    def assign(part: pd.DataFrame) -> pd.DataFrame:
        key = f"{settings.seed:016d}"[-16:]
        digest = pd.util.hash_pandas_object(part, index=False, hash_key=key).to_numpy()
        fold = ((digest // 10_000) % settings.cv_folds).astype("int64")
        return part.assign(**{FOLD: np.where(digest % 10_000 < settings.test_size * 1e4, -1, fold)})

    split = frame.map_partitions(assign)
    return split[split[FOLD] >= 0], split[split[FOLD] < 0]


def infer_schema(train: dd.DataFrame, settings: Settings, classes: list[str]) -> Schema:
    """``data.infer_schema`` by partition: a column is numeric if it is in every partition."""
    names = [name for name in train.columns if name not in (settings.target, FOLD)]

    def kinds(part: pd.DataFrame) -> dict[str, tuple[bool, bool, bool]]:  # seen, numeric, null
        values = {name: part[name].dropna() for name in names}
        return {n: (len(v) > 0, looks_numeric(v), len(v) < len(part)) for n, v in values.items()}

    parts = dask.compute(*[dask.delayed(kinds)(part) for part in train.to_delayed()])
    verdicts = {name: [part[name][1] for part in parts if part[name][0]] for name in names}
    forced = settings.categorical_columns
    numeric = [name for name, v in verdicts.items() if v and all(v) and name not in forced]
    other = [name for name in names if name not in numeric]
    levels = dask.compute(*[train[n].dropna().astype(str).unique(split_out=1) for n in other])
    categorical = {name: sorted(v.tolist()) for name, v in zip(other, levels, strict=True)}
    nullable = [name for name in [*numeric, *other] if any(part[name][2] for part in parts)]
    positive = settings.positive_class if len(classes) == 2 else None
    if positive is not None and positive not in classes:
        raise ValueError(f"positive class {positive!r} is not a value of {settings.target!r}")
    ids = list(settings.drop_columns)
    return Schema(settings.target, classes, positive, numeric, categorical, nullable, ids)


@dataclass
class Counts:
    """What the metrics need from scored rows: small, and they add across partitions."""

    histogram: np.ndarray  # [class, 0 other rows | 1 rows of the class, score bin]: rows
    confusion: np.ndarray  # [true class, predicted class]: rows, at the threshold
    squared_error: float  # the Brier score's numerator

    def __add__(self, other: Counts) -> Counts:
        pairs = zip(vars(self).values(), vars(other).values(), strict=True)
        return Counts(*(mine + theirs for mine, theirs in pairs))


def tally(labels: np.ndarray, proba: np.ndarray, schema: Schema, threshold: float | None) -> Counts:
    """The counts of rows with these labels and ``predict_proba`` matrix."""
    truth = labels[:, None] == np.array(schema.classes)[None, :]
    bins = np.minimum((proba * BINS).astype(int), BINS - 1)
    histogram = np.zeros((len(schema.classes), 2, BINS))
    for k in range(len(schema.classes)):
        for is_k in (0, 1):
            histogram[k, is_k] = np.bincount(bins[truth[:, k] == is_k, k], minlength=BINS)
    predicted = schema.predict_labels(proba, threshold)
    confusion = confusion_matrix(labels, predicted, labels=schema.classes)
    errors = ((proba - truth) ** 2).sum() / (2 if schema.is_binary else 1)  # binary: p(positive)
    return Counts(histogram, confusion, float(errors))


def counts_of(model: Any, frame: dd.DataFrame, schema: Schema, threshold: float | None) -> Counts:
    """``model`` scores every partition where it lies; only the counts travel, summed."""

    def score(part: pd.DataFrame) -> Counts:
        proba = model.predict_proba(schema.features_frame(part))
        return tally(schema.labels(part), proba, schema, threshold)

    return dask.delayed(reduce)(add, [dask.delayed(score)(p) for p in frame.to_delayed()]).compute()


def one_vs_rest(counts: Counts, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Class ``k`` against the rest as (is k, bin's lowest score, rows in the bin)."""
    weights = counts.histogram[k].ravel()
    keep = weights > 0
    scores = np.tile(np.arange(BINS) / BINS, 2)
    return np.repeat([0.0, 1.0], BINS)[keep], scores[keep], weights[keep]


def metrics(counts: Counts, schema: Schema) -> dict[str, float]:
    """``evaluate.score``'s metrics, averaged the same way (binary: the positive class)."""
    ks = list(range(len(schema.classes)))
    if schema.is_binary:
        ks = [schema.classes.index(str(schema.positive_class))]
    curves = [one_vs_rest(counts, k) for k in ks]
    pr = [average_precision_score(y, s, sample_weight=w) for y, s, w in curves]
    roc = [
        roc_auc_score(y, s, sample_weight=w) if 0 < y.sum() < len(y) else 0.5 for y, s, w in curves
    ]
    hits = np.diag(counts.confusion)[ks]
    precision = hits / np.maximum(counts.confusion.sum(axis=0)[ks], 1)
    recall = hits / np.maximum(counts.confusion.sum(axis=1)[ks], 1)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    means = [np.mean(pr), np.mean(roc), f1.mean(), precision.mean(), recall.mean()]
    brier = counts.squared_error / counts.confusion.sum()
    return dict(zip(COLUMNS, [*map(float, means), float(brier)], strict=True))


def train_on_cluster(
    settings: Settings, frames: tuple[dd.DataFrame, dd.DataFrame] | None = None
) -> tuple[TrainResult, Report]:
    """``train`` and ``evaluate`` on the cluster: the same candidates, rule and thresholds.
    ``frames`` (train with a ``FOLD`` column, test) fix the split, as the equivalence test does."""
    with connect(settings) as client:
        train, test = frames or hash_split(read_lazily(settings), settings)
        by_class, n_test = dask.compute(
            train[settings.target].value_counts(split_out=1), test.shape[0]
        )
        schema = infer_schema(train, settings, sorted(map(str, by_class.index)))
        sample = _sample(train, int(by_class.sum()), settings)
        features, labels = schema.features_frame(sample), schema.labels(sample)
        linear, boosted = (candidate.pipeline for candidate in candidates(schema, settings))
        folds = StratifiedKFold(settings.cv_folds, shuffle=True, random_state=settings.seed)
        out_of_fold = cross_val_predict(linear, features, labels, cv=folds, method="predict_proba")
        lightgbm = OnCluster(client, boosted, clone(boosted[0]).fit(features), schema, by_class)
        counts = {LINEAR: tally(labels, out_of_fold, schema, None)}
        counts[LIGHTGBM] = lightgbm.cv(train, settings.cv_folds)
        cv = {name: metrics(c, schema)["pr_auc"] for name, c in counts.items()}
        selected = max(cv, key=lambda name: cv[name])
        thresholds: dict[str, float | None] = dict.fromkeys(counts)  # each model its own
        if schema.is_binary:
            positive = schema.classes.index(str(schema.positive_class))
            for name, tallied in counts.items():
                truth, scores, rows = one_vs_rest(tallied, positive)
                thresholds[name] = choose_threshold(truth, scores, settings, rows)
        models = {LINEAR: clone(linear).fit(features, labels), LIGHTGBM: lightgbm.fit(train)}
        prior = DummyClassifier(strategy="prior").fit(
            by_class.to_frame(), by_class.index, sample_weight=by_class
        )
        table = {
            name: metrics(counts_of(model, test, schema, thresholds.get(name)), schema)
            for name, model in {**models, MAJORITY: prior}.items()
        }
        split = Split(sample, _sample(test, int(n_test), settings), schema)
        facts = {"engine": "dask", "dask_workers": len(client.scheduler_info()["workers"])}
    facts |= {"n_train": int(by_class.sum()), "n_test": n_test, "linear_rows": len(sample)}
    order = [selected, *sorted(set(table) - {selected})]
    report = Report(selected, thresholds[selected], {k: table[k] for k in order}, cv, thresholds)
    return TrainResult(split, models, cv, selected, thresholds, facts), report


def _sample(frame: dd.DataFrame, rows: int, settings: Settings) -> pd.DataFrame:
    """At most ``dask_sample_rows`` random rows, collected: the linear model's, the plots'."""
    share = min(1.0, settings.dask_sample_rows / max(rows, 1))
    sample = frame.sample(frac=share, random_state=settings.seed).compute()
    return sample.drop(columns=[FOLD], errors="ignore").reset_index(drop=True)


@dataclass
class OnCluster:
    """``train.py``'s LightGBM pipeline, trained by LightGBM's own distributed learner."""

    client: Client
    pipeline: Pipeline  # the local candidate: its parameters are used as they are
    preprocess: Any  # its fitted preprocessor: fixed category levels, so fitting learns nothing
    schema: Schema
    by_class: pd.Series  # training rows per class: the exact "balanced" weights

    def fit(self, rows: dd.DataFrame) -> Pipeline:
        """Train on ``rows``; ``to_local`` hands back the plain ``LGBMClassifier``, so the
        pipeline serves, compiles to ONNX and logs exactly as ``train.py``'s does."""
        width = len(self.schema.features)
        x = rows.map_partitions(_encode, self.preprocess, self.schema, meta=np.empty((0, width)))
        y = rows[self.schema.target]
        params = self.pipeline.named_steps["model"].get_params()
        params.pop("n_jobs")  # a worker's threads decide
        weights = None
        if params.pop("class_weight") == "balanced":
            balanced = self.by_class.sum() / (len(self.by_class) * self.by_class)
            weights = y.map(balanced.to_dict(), meta=(y.name, "float64"))
        model = DaskLGBMClassifier(client=self.client, **params)
        model.fit(x, y, sample_weight=weights, categorical_feature=categorical_indices(self.schema))
        return Pipeline([("preprocess", self.preprocess), ("model", model.to_local())])

    def cv(self, train: dd.DataFrame, folds: int) -> Counts:
        """Out-of-fold counts: one distributed fit per ``FOLD``, scored on that fold."""
        fits = ((self.fit(train[train[FOLD] != k]), train[train[FOLD] == k]) for k in range(folds))
        return reduce(add, (counts_of(model, rows, self.schema, None) for model, rows in fits))


def _encode(part: pd.DataFrame, preprocess: Any, schema: Schema) -> np.ndarray:
    return np.asarray(preprocess.transform(schema.features_frame(part)), dtype="float64")
