"""MLflow set-up shared by every stage: where runs go and what each run records.

Tracking defaults to a local SQLite file so the project works offline with no server;
set ``MLFLOW_TRACKING_URI`` (e.g. ``http://127.0.0.1:5000``) to use a tracking server.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import mlflow

# this file is src/review_sentiment/ops/tracking.py: three folders below the project
PROJECT_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_TRACKING_URI = f"sqlite:///{PROJECT_ROOT / 'mlflow.db'}"
EXPERIMENT = "review_sentiment"
MODEL_NAME = "review_sentiment"
CHAMPION = "champion"


def configure() -> str:
    """Point MLflow at ``MLFLOW_TRACKING_URI`` (or the local SQLite file); return the URI."""
    uri = os.environ.get("MLFLOW_TRACKING_URI", DEFAULT_TRACKING_URI)
    # each stage prints one line of its own; MLflow's per-download progress bars add noise
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    mlflow.set_tracking_uri(uri)
    if mlflow.get_experiment_by_name(EXPERIMENT) is None:
        mlflow.create_experiment(EXPERIMENT, artifact_location=artifact_root(uri))
    mlflow.set_experiment(EXPERIMENT)
    return uri


def artifact_root(uri: str) -> str | None:
    """Where a new experiment keeps its artifacts: beside a SQLite file (not wherever the
    command happened to run), or wherever a tracking server decides (None)."""
    if not uri.startswith("sqlite:///"):
        return None
    database = Path(uri.removeprefix("sqlite:///")).resolve()
    return (database.parent / "mlruns").as_uri()


def git_commit() -> str:
    """The commit the code was run from, ``+dirty`` when files were changed since."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit}+dirty" if dirty else commit


def fingerprint(path: Path) -> str:
    """SHA-256 of a data file: the run records exactly which data it saw."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
