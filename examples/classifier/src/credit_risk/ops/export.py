"""Why can a container serve without the tracking server? The champion exported as a folder.

``register.py`` calls ``export_champion`` when ``champion`` moves, and ``make rollback``
(``ops/rollback.py``) when it moves back. The folder ``model_dir`` (``models/champion``)
holds everything ``predict.py`` loads: the MLflow model (its metadata carries the schema
and threshold), ``model.onnx`` when the run logged one, ``explainer.json``, ``registry.json``
naming the version and run (what a running service polls, ``ops/hot_reload.py``) and
``example_request.json``, a ready request body. The image copies only this folder.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import mlflow
from mlflow.tracking import MlflowClient

from ..config import Settings
from .onnx_compile import ONNX_FILE
from .reason_codes import EXPLAINER_FILE


def export_champion(settings: Settings, version: str) -> Path:
    """Copy a registered version, its ONNX and its explainer to ``model_dir``, to serve.

    Staged beside the target and renamed into place: a reader never sees half a model.
    """
    client = MlflowClient()
    run_id = str(client.get_model_version(settings.model_name, version).run_id)
    target = settings.path(settings.model_dir)
    staging = target.with_name(target.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    mlflow.artifacts.download_artifacts(
        f"models:/{settings.model_name}/{version}", dst_path=str(staging)
    )
    if f"onnx/{ONNX_FILE}" in [item.path for item in client.list_artifacts(run_id, "onnx")]:
        mlflow.artifacts.download_artifacts(
            f"runs:/{run_id}/onnx/{ONNX_FILE}", dst_path=str(staging)
        )
    mlflow.artifacts.download_artifacts(
        f"runs:/{run_id}/explain/{EXPLAINER_FILE}", dst_path=str(staging)
    )
    (staging / "example_request.json").write_text(json.dumps(_example(staging), indent=2) + "\n")
    registry = {"model_name": settings.model_name, "version": version, "run_id": run_id}
    (staging / "registry.json").write_text(json.dumps(registry) + "\n")
    old = target.with_name(target.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    return target


def _example(model_dir: Path) -> dict[str, Any]:
    """The first row of the input example saved with the model, as JSON types."""
    frame = mlflow.models.Model.load(str(model_dir)).load_input_example(str(model_dir))
    row = frame.head(1).astype(object)
    return dict(row.where(row.notna(), None).to_dict("records")[0])
