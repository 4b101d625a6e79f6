"""Stage 7, predict: load the served model and turn feature columns into probabilities.

The model is the folder ``models/champion`` that ``register.py`` exports (``model_dir``),
or a registry URI such as ``models:/credit_risk@champion`` in
``CREDIT_RISK_MODEL_URI``.
It runs the pipeline compiled to ONNX, by onnxruntime: no DataFrame and no
``ColumnTransformer`` per request, and ``register.py`` logged the ONNX file only after
checking it equals the pipeline within 1e-6 on every training row. A run without one is served
by the scikit-learn pipeline itself: slower, same answers. The service, ``make evaluate``,
``make drift`` and ``make bench`` all predict through ``ServedModel``.
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
from .data import Schema
from .ops import tracking
from .ops.reason_codes import EXPLAINER_FILE, Explainer

ONNX_FILE = "model.onnx"  # in the model folder, and under onnx/ in the run (register.py)


@dataclass(frozen=True)
class ServedModel:
    """A loaded model with everything the service reports about it.

    ``session`` runs the ONNX file; ``pipeline`` is the scikit-learn original, loaded only
    when the run logged no ONNX (its conversion was not exact enough to serve).
    """

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
            return np.asarray(self.session.run(None, self.schema.onnx_feed(inputs, columns))[1])
        frame = pd.DataFrame({name: list(columns[name]) for name in self.schema.features})
        return np.asarray(self.pipeline.predict_proba(self.schema.features_frame(frame)))

    def predict(
        self, records: Sequence[Mapping[str, Any]], explain: bool = False
    ) -> list[dict[str, Any]]:
        """The service's answer per record: label, P(label), every class's P, version, IDs.

        The label is the one rule ``Schema.predict_labels`` applies everywhere (binary:
        P(positive) against the threshold chosen on out-of-fold predictions), so
        ``label_probability`` can be under 0.5 for a binary label. ``explain`` adds the
        top feature contributions (``ops/reason_codes.py``).
        """
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
                answer["explanation"] = {
                    "explained_class": why.explained_class,
                    "base_value": why.base_value,
                    "raw_score": why.raw_score,
                    "top_features": why.top(),
                }
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
    onnx: Path | None
    if settings.model_uri:
        tracking.configure()
        source = settings.model_uri
        version, run_id = _registry_version(source)
        try:
            onnx = Path(mlflow.artifacts.download_artifacts(f"runs:/{run_id}/onnx/{ONNX_FILE}"))
        except (MlflowException, OSError):  # the run logged none: serve the pipeline
            onnx = None
    else:
        folder = settings.path(settings.model_dir)
        if not (folder / "MLmodel").exists():
            raise FileNotFoundError(f"no MLflow model in {folder}: run `make train` first")
        source = str(folder)
        registry = json.loads((folder / "registry.json").read_text())
        version, run_id = registry["version"], registry["run_id"]
        onnx = folder / ONNX_FILE if (folder / ONNX_FILE).exists() else None
    metadata = mlflow.models.get_model_info(source).metadata or {}
    schema = Schema.from_dict(metadata["schema"])
    runtime: dict[str, Any] = {"session": onnx_session(onnx.read_bytes())} if onnx else {}
    if onnx is None:
        runtime["pipeline"] = mlflow.sklearn.load_model(source)
    if explainer := _explainer(settings, run_id, Path(source)):
        runtime["explainer"] = Explainer(json.loads(explainer.read_text()), schema)
    threshold, metrics = metadata["threshold"], metadata["test_metrics"]
    return ServedModel(schema, threshold, metrics, version, run_id, **runtime)


def _explainer(settings: Settings, run_id: str, folder: Path) -> Path | None:
    """``explainer.json`` from the model folder or the run; None if it logged none."""
    if not settings.model_uri:
        return folder / EXPLAINER_FILE if (folder / EXPLAINER_FILE).exists() else None
    try:
        uri = f"runs:/{run_id}/explain/{EXPLAINER_FILE}"
        return Path(mlflow.artifacts.download_artifacts(uri))
    except (MlflowException, OSError):
        return None


def source_version(settings: Settings) -> str:
    """``<version>@<run id>`` the source points at now: cheap, so every worker can poll it."""
    if settings.model_uri:
        tracking.configure()
        return "@".join(_registry_version(settings.model_uri))
    registry = json.loads((settings.path(settings.model_dir) / "registry.json").read_text())
    return f"{registry['version']}@{registry['run_id']}"


def _registry_version(uri: str) -> tuple[str, str]:
    name, _, alias = uri.removeprefix("models:/").partition("@")
    client = MlflowClient()
    if alias:
        found = client.get_model_version_by_alias(name, alias)
    else:
        name, _, number = name.partition("/")
        found = client.get_model_version(name, number)
    return str(found.version), str(found.run_id)
