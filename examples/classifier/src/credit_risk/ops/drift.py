"""How would you know the model is going stale? Compare live data with the training data.

``make drift`` compares a current sample (the service's prediction log, or any CSV given
as ``INPUT=...``) with the training split, one feature at a time, by the statistics of
``drift_stats.py`` (a PSI and a two-sample test that must agree, and the share of unseen
categories). The model's own output is compared the same way, against its scores on the
test split (rows it never saw), because a shifted score distribution is what the business
notices first. The report goes to ``reports/drift.md`` and ``drift.json``; the exit code
is 1 when anything alarms, so a scheduler or CI job can act on it.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from ..config import Settings
from ..data import Schema, read_table
from ..predict import ServedModel, load_model
from .drift_stats import FeatureDrift, Thresholds, categorical_drift, numeric_drift
from .predictions import read_log
from .readme_blocks import markdown_table

PREDICTION = "(model score)"


class DriftError(Exception):
    """The comparison cannot run (no reference, no current data, wrong columns)."""


@dataclass(frozen=True)
class DriftReport:
    """Every feature compared, plus the sizes and where the current sample came from."""

    source: str
    n_reference: int
    n_current: int
    thresholds: Thresholds
    features: list[FeatureDrift]

    @property
    def alarms(self) -> list[FeatureDrift]:
        return [row for row in self.features if row.alarm]

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "alarms": [row.feature for row in self.alarms]}


def compare(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    schema: Schema,
    limits: Thresholds,
    scores: tuple[pd.Series, pd.Series] | None = None,
    source: str = "current",
) -> DriftReport:
    """Compare every feature present in ``current``, and the model's scores if given.

    Both frames hold raw values as text (as read from CSV); features missing from
    ``current`` (e.g. left out of the prediction log as personal data) are skipped.
    """
    if len(current) < limits.min_rows:
        raise DriftError(
            f"{source} has {len(current)} rows; a drift check needs at least "
            f"{limits.min_rows} (collect more, or lower drift_min_rows)"
        )
    present = [name for name in schema.features if name in current.columns]
    if not present:
        raise DriftError(
            f"{source} has none of the model's features ({', '.join(schema.features)})"
        )
    rows = []
    for name in present:
        if name in schema.categorical:
            levels = schema.categorical[name]
            rows.append(categorical_drift(name, reference[name], current[name], levels, limits))
        else:
            ref = pd.to_numeric(reference[name], errors="coerce")
            cur = pd.to_numeric(current[name], errors="coerce")
            rows.append(numeric_drift(name, ref, cur, limits))
    if scores is not None and pd.api.types.is_numeric_dtype(scores[0]):
        rows.append(numeric_drift(PREDICTION, *scores, limits, "prediction"))
    elif scores is not None:  # multiclass: the predicted label
        rows.append(categorical_drift(PREDICTION, *scores, schema.classes, limits, "prediction"))
    return DriftReport(source, len(reference), len(current), limits, rows)


def read_text_csv(path: Path, sep: str = ",", decimal: str = ".") -> pd.DataFrame:
    """A CSV as text, read the way the training data was."""
    if not path.is_file():
        raise DriftError(f"{path} does not exist: pass a CSV of recent requests as INPUT=...")
    try:
        return read_table(path, sep, decimal)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise DriftError(f"cannot read {path} as CSV ({error}); export it as UTF-8 CSV") from None


def as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Logged JSON values as the text a CSV would hold (None stays missing)."""
    return frame.apply(lambda column: column.map(lambda v: None if v is None or v != v else str(v)))


def model_scores(frame: pd.DataFrame, served: ServedModel) -> pd.Series:
    """The model's output on ``frame``: P(positive) for binary, else the predicted label."""
    schema, proba = served.schema, served.predict_frame(frame)
    if schema.positive_class is not None:
        return pd.Series(schema.positive_scores(proba))
    return pd.Series(schema.predict_labels(proba, threshold=None))


def markdown(report: DriftReport) -> str:
    """The report as a Markdown page: the verdict, the rule, one row per feature."""
    names = ", ".join(row.feature for row in report.alarms)
    verdict = f"ALARM: {names}" if report.alarms else "no drift over the thresholds"
    limits = report.thresholds
    rows = [
        [row.feature, row.kind, f"{row.psi:.3f}", row.test, f"{row.p_value:.2g}",
         f"{row.unseen_share:.1%}", "ALARM" if row.alarm else ""]
        for row in report.features
    ]  # fmt: skip
    header = ["feature", "kind", "PSI", "test", "p-value", "unseen", "alarm"]
    return (
        f"# Drift report: {verdict}\n\n"
        f"{report.source} ({report.n_current} rows) against the training split "
        f"({report.n_reference} rows). Alarm when PSI >= {limits.psi} and p < {limits.alpha}, "
        f"or when over {limits.unseen_share:.0%} of a column's values were never seen in "
        f"training.\n\n{markdown_table(header, rows)}\n"
    )


def run(settings: Settings, input_path: Path | None = None) -> DriftReport:
    """Compare the prediction log (or ``input_path``) with the training split; write reports."""
    reference_path = settings.path(settings.processed_dir) / "train.csv"
    if not reference_path.is_file():
        raise DriftError(f"no training split at {reference_path}: run `make train` first")
    reference = read_text_csv(reference_path)
    if input_path is not None:
        current = read_text_csv(input_path, settings.csv_sep, settings.csv_decimal)
        source = str(input_path)
    else:
        log_dir = settings.path(settings.prediction_log_dir)
        current, source = as_text(read_log(log_dir)), f"prediction log {log_dir}"
    served = load_model(settings)
    # Scores on rows the model never saw: on its own training rows they are overconfident,
    # and live scores would look shifted against them even with no drift at all.
    unseen = read_text_csv(settings.path(settings.processed_dir) / "test.csv")
    limits = Thresholds(
        psi=settings.drift_psi,
        alpha=settings.drift_alpha,
        unseen_share=settings.drift_unseen_share,
        min_rows=settings.drift_min_rows,
    )
    scores = (model_scores(unseen, served), model_scores(current, served))
    report = compare(reference, current, served.schema, limits, scores, source)
    out = settings.path(settings.reports_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "drift.md").write_text(markdown(report), encoding="utf-8")
    (out / "drift.json").write_text(json.dumps(report.to_dict(), indent=2) + "\n")
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, help="CSV of recent requests (default: the log)")
    args = parser.parse_args()
    settings = Settings()
    try:
        report = run(settings, args.input)
    except (DriftError, FileNotFoundError) as error:
        sys.exit(f"error: {error}")
    print(markdown(report))
    print(f"report: {settings.reports_dir / 'drift.md'}")
    if report.alarms:
        names = ", ".join(row.feature for row in report.alarms)
        sys.exit(f"drift: {len(report.alarms)} over the thresholds: {names}")
    print("drift: nothing over the thresholds")


if __name__ == "__main__":
    main()
