"""What did the service see and answer? The prediction log, the input of ``make drift``.

Opt-in: ``CREDIT_RISK_PREDICTION_LOG=true``.
Each worker process appends JSON lines to its own file under ``logs/predictions/``, so
workers never interleave half-lines. A file rolls over at ``prediction_log_file_mb`` and
the oldest files are deleted once the folder passes ``prediction_log_max_mb``: the log
can never fill the disk. Columns whose names look
personal (name, email, phone, ...) are left out unless ``prediction_log_allow`` lists them.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

import pandas as pd

from ..config import Settings
from ..data import Schema

_MB = 1024 * 1024
# Column names that usually hold personal data: kept out of the log unless allowed.
PERSONAL = re.compile(
    r"name|e-?mail|phone|mobile|ssn|social|passport|address|street|zip|postcode|"
    r"birth|dob|\bip\b|ip_?addr",
    re.IGNORECASE,
)


def logged_columns(features: Iterable[str], allow: Iterable[str] = ()) -> list[str]:
    """The features the log records: all but personal-looking names not in ``allow``."""
    allowed = set(allow)
    return [name for name in features if name in allowed or not PERSONAL.search(name)]


class PredictionLog:
    """Append-only JSON-lines log of requests and predictions, bounded in size."""

    def __init__(
        self,
        directory: Path,
        columns: list[str],
        max_file_bytes: int = 10 * _MB,
        max_total_bytes: int = 100 * _MB,
    ) -> None:
        self.directory = directory
        self.columns = columns
        self.max_file_bytes = max_file_bytes
        self.max_total_bytes = max_total_bytes
        self._lock = threading.Lock()
        self._file: IO[str] | None = None
        self._part = 0

    @classmethod
    def from_settings(cls, settings: Settings, schema: Schema) -> PredictionLog | None:
        """The log the settings ask for, or None when logging is off (the default)."""
        if not settings.prediction_log:
            return None
        return cls(
            settings.path(settings.prediction_log_dir),
            logged_columns(schema.features, settings.prediction_log_allow),
            max_file_bytes=int(settings.prediction_log_file_mb * _MB),
            max_total_bytes=int(settings.prediction_log_max_mb * _MB),
        )

    def write(self, records: list[Mapping[str, Any]], predictions: list[Mapping[str, Any]]) -> None:
        """Record each request with its answer (label, P(label), model version) and IDs."""
        now = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
        lines = "".join(
            json.dumps(
                {
                    "time": now,
                    "model_version": prediction["model_version"],
                    "label": prediction["label"],
                    "label_probability": prediction["label_probability"],
                    "ids": prediction.get("ids", {}),
                    "features": {name: record.get(name) for name in self.columns},
                }
            )
            + "\n"
            for record, prediction in zip(records, predictions, strict=True)
        )
        with self._lock:
            file = self._open()
            file.write(lines)
            file.flush()
            if file.tell() >= self.max_file_bytes:
                self._roll()

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def _open(self) -> IO[str]:
        if self._file is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
            path = self.directory / f"predictions-{stamp}-{os.getpid()}-{self._part}.jsonl"
            self._file = path.open("a", encoding="utf-8")
        return self._file

    def _roll(self) -> None:
        """Start a new file and delete the oldest ones beyond the total budget."""
        assert self._file is not None
        self._file.close()
        self._file = None
        self._part += 1
        files = sorted(self.directory.glob("predictions-*.jsonl"), key=lambda p: p.stat().st_mtime)
        total = sum(path.stat().st_size for path in files)
        for path in files:
            if total <= self.max_total_bytes:
                break
            total -= path.stat().st_size
            path.unlink(missing_ok=True)


def read_log(directory: Path) -> pd.DataFrame:
    """Every logged request as one row of features (plus ``time`` and ``model_version``)."""
    rows = []
    for path in sorted(directory.glob("predictions-*.jsonl")):
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                if not line.endswith("\n"):
                    continue  # a line still being written by a live worker
                entry = json.loads(line)
                context = {"time": entry["time"], "model_version": entry["model_version"]}
                rows.append(entry["features"] | context)
    return pd.DataFrame(rows)
