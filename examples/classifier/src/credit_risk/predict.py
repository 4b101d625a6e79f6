"""Stage 7, predict: load the served model and turn feature columns into probabilities.

The model is the folder ``models/champion`` that ``ops/export.py`` fills (``model_dir``),
or a registry URI such as ``models:/NAME@champion`` (``model_uri``). It runs the
pipeline compiled to ONNX by onnxruntime: no DataFrame and no ``ColumnTransformer`` per
request, and ``register.py`` logged the ONNX file only if it equals the pipeline within
1e-6 on every training row. Without one the scikit-learn pipeline serves: slower, same
answers. The service, ``make evaluate``, ``make drift`` and ``make bench`` all use it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import onnxruntime
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from .config import Settings
from .data import ONNX_PROBABILITIES, Schema
from .ops import tracking
from .ops.reason_codes import EXPLAINER_FILE, Explainer

ONNX_FILE = "model.onnx"  # in the model folder, and under onnx/ in the run (register.py)


@dataclass(frozen=True)
class ServedModel:
    """A loaded model and what the service reports about it. ``session`` runs the ONNX file;
    ``pipeline`` (the scikit-learn original) is loaded only when the run logged no ONNX."""

    schema: Schema
    threshold: float | None
    metrics: dict[str, float]
    version: str
    run_id: str
    session: onnxruntime.InferenceSession | None = None
    pipeline: Any = None
    explainer: Explainer | None = None  # None for a run registered without explainer.json

    def predict_proba(self, columns: Mapping[str, Sequence[Any]]) -> np.ndarray:
        """Class probabilities (columns in ``schema.classes`` order) for feature columns."""
        if self.session is not None:
            inputs = [item.name for item in self.session.get_inputs()]
            feed = self.schema.onnx_feed(inputs, columns)
            return np.asarray(self.session.run([ONNX_PROBABILITIES], feed)[0])
        frame = pd.DataFrame({name: list(columns[name]) for name in self.schema.features})
        return np.asarray(self.pipeline.predict_proba(self.schema.features_frame(frame)))

    def predict(
        self, records: Sequence[Mapping[str, Any]], explain: bool = False
    ) -> list[dict[str, Any]]:
        """The answer per record: label, P(label), every class's P, version, IDs, and with
        ``explain`` the top feature contributions (``ops/reason_codes.py``). The label is
        ``Schema.predict_labels``'s rule, so a binary P(label) can be under 0.5."""
        columns = {name: [record.get(name) for record in records] for name in self.schema.features}
        proba = self.predict_proba(columns)
        labels = self.schema.predict_labels(proba, self.threshold).tolist()
        classes = self.schema.classes
        answers = [
            {
                "label": label,
                "label_probability": row[classes.index(label)],
                "probabilities": dict(zip(classes, row, strict=True)),
                "model_version": self.version,
                "ids": {name: record[name] for name in self.schema.ids if name in record},
            }
            for record, label, row in zip(records, labels, proba.tolist(), strict=True)
        ]
        if explain and self.explainer is not None:
            for answer, why in zip(answers, self.explainer.explain(columns, labels), strict=True):
                answer["explanation"] = why.as_json()
        return answers

    def predict_frame(self, frame: pd.DataFrame) -> np.ndarray:
        """Class probabilities for raw rows as read from a CSV (extra columns are ignored)."""
        features = self.schema.features_frame(frame.reindex(columns=self.schema.features))
        return self.predict_proba({name: features[name].tolist() for name in self.schema.features})

    def answers(self) -> bool:
        """Readiness: finite probabilities for a record with every feature missing."""
        proba = self.predict_proba({name: [None] for name in self.schema.features})
        return bool(np.isfinite(proba).all())


def onnx_session(model: bytes) -> onnxruntime.InferenceSession:
    """One thread per session: a web server scales with processes, not with threads."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def load_model(settings: Settings) -> ServedModel:
    """The model ``model_uri`` names if set, else the exported folder ``model_dir``."""
    folder = settings.path(settings.model_dir)
    if not settings.model_uri and not (folder / "MLmodel").exists():
        raise FileNotFoundError(f"no MLflow model in {folder}: run `make train` first")
    version, run_id = _version_and_run(settings)
    if settings.model_uri:
        source = settings.model_uri
        onnx = _run_file(run_id, f"onnx/{ONNX_FILE}")
        explainer = _run_file(run_id, f"explain/{EXPLAINER_FILE}")
    else:
        source, onnx, explainer = str(folder), folder / ONNX_FILE, folder / EXPLAINER_FILE
    metadata = mlflow.models.get_model_info(source).metadata or {}
    schema = Schema.from_dict(metadata["schema"])
    runtime: dict[str, Any] = {}
    if onnx is not None and onnx.exists():
        runtime["session"] = onnx_session(onnx.read_bytes())
    else:  # the run logged no ONNX (not exact enough): serve the pipeline
        runtime["pipeline"] = mlflow.sklearn.load_model(source)
    if explainer is not None and explainer.exists():
        runtime["explainer"] = Explainer(json.loads(explainer.read_text()), schema)
    threshold, metrics = metadata["threshold"], metadata["test_metrics"]
    return ServedModel(schema, threshold, metrics, version, run_id, **runtime)


def source_version(settings: Settings) -> str:
    """``<version>@<run id>`` the source points at now: cheap, so every worker can poll it."""
    return "@".join(_version_and_run(settings))


def _version_and_run(settings: Settings) -> tuple[str, str]:
    """The version and run id in ``registry.json``, or behind ``model_uri`` in the registry."""
    if not settings.model_uri:
        registry = json.loads((settings.path(settings.model_dir) / "registry.json").read_text())
        return str(registry["version"]), str(registry["run_id"])
    tracking.configure()
    name, _, alias = settings.model_uri.removeprefix("models:/").partition("@")
    client = MlflowClient()
    if alias:
        found = client.get_model_version_by_alias(name, alias)
    else:
        name, _, number = name.partition("/")
        found = client.get_model_version(name, number)
    return str(found.version), str(found.run_id)


def _run_file(run_id: str, path: str) -> Path | None:
    """A file the run logged, downloaded; None if it logged none."""
    try:
        return Path(mlflow.artifacts.download_artifacts(f"runs:/{run_id}/{path}"))
    except (MlflowException, OSError):
        return None
