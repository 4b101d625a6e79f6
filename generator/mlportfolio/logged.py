"""What a project logged to MLflow, read through MLflow's client API.

mlportfolio itself does not depend on MLflow (the projects it renders do), so the read runs
in the project's own Python: the active virtual environment, the project's ``.venv``, or
this interpreter, the first that can import MLflow. Runs come from ``MLFLOW_TRACKING_URI``
when set (a tracking server), else from the project's ``mlflow.db``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

_READ_METRICS = """
import json, sys
from mlflow.tracking import MlflowClient

client = MlflowClient(tracking_uri=sys.argv[1])
metrics = {}
for experiment in client.search_experiments():
    for run in client.search_runs([experiment.experiment_id], max_results=1000):
        for key, value in run.data.metrics.items():
            metrics[f"{run.info.run_id}:{key}"] = value
print(json.dumps(metrics))
"""


def tracking_uri(project: Path) -> str | None:
    """Where the project's runs are: the configured server, or its SQLite file if any."""
    if uri := os.environ.get("MLFLOW_TRACKING_URI"):
        return uri
    database = project / "mlflow.db"
    return f"sqlite:///{database}" if database.is_file() else None


def interpreters(project: Path) -> list[Path]:
    """Pythons that may have the project's dependencies, most specific first."""
    candidates = [
        Path(os.environ["VIRTUAL_ENV"]) / "bin" / "python" if "VIRTUAL_ENV" in os.environ else None,
        project / ".venv" / "bin" / "python",
        Path(sys.executable),
    ]
    return [path for path in dict.fromkeys(candidates) if path is not None and path.is_file()]


def logged_metrics(project: Path) -> dict[str, float] | None:
    """Every metric of every run as ``{"<run id>:<key>": value}``.

    ``{}`` when the project has logged nothing yet; ``None`` when no Python with MLflow
    could read the runs (the project is not installed).
    """
    uri = tracking_uri(project)
    if uri is None:
        return {}
    for python in interpreters(project):
        try:
            result = subprocess.run(
                [str(python), "-c", _READ_METRICS, uri],
                capture_output=True,
                text=True,
                timeout=120,
                cwd=project,
                env={**os.environ, "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"},
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if result.returncode == 0:
            return {key: float(value) for key, value in json.loads(result.stdout).items()}
    return None
