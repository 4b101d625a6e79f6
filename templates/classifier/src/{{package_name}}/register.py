"""Stage 5, register: log the run to MLflow, register the model, move ``champion`` if better.

A run records what an interviewer asks about: parameters, CV and holdout metrics, plots,
the data file's SHA-256 and the git commit. The model is saved with skops (no pickle),
with its signature, an input example and the metadata the service needs (schema,
threshold, metrics). The alias ``champion`` moves only when the new model's holdout
PR-AUC beats the current champion's, so a worse retrain can never replace it silently.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow
import mlflow.sklearn
import pandas as pd
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient
from sklearn.pipeline import Pipeline

from . import champion, tracking
from .config import Settings
from .data import Schema

if TYPE_CHECKING:
    from .evaluate import Report
    from .train import TrainResult

# skops refuses to load types it does not know: these are LightGBM's and numpy's dtype
# (a plain data type). MLflow checks the saved file against this list.
TRUSTED_TYPES = [
    "collections.OrderedDict",
    "numpy.dtype",
    "lightgbm.basic.Booster",
    "lightgbm.sklearn.LGBMClassifier",
]


@dataclass(frozen=True)
class Registration:
    """The registered version and what happened to the ``champion`` alias."""

    run_id: str
    version: str
    promoted: bool
    message: str


@dataclass(frozen=True)
class ServedModel:
    """A loaded model with everything the service reports about it."""

    pipeline: Pipeline
    schema: Schema
    threshold: float | None
    metrics: dict[str, float]
    version: str
    run_id: str


def log_and_register(result: TrainResult, report: Report, settings: Settings) -> Registration:
    """Log one MLflow run for this training, register its model, maybe promote it."""
    tracking.configure()
    schema = result.schema
    example = schema.features_frame(_example_rows(result.split.train, schema))
    holdout = report.selected_metrics
    metadata = {
        "schema": schema.to_dict(),
        "threshold": result.threshold,
        "holdout_metrics": holdout,
        "model_family": result.selected,
    }
    with mlflow.start_run() as run:
        mlflow.log_params(_params(result, settings))
        mlflow.set_tags(
            {
                "git_commit": tracking.git_commit(),
                "data_sha256": tracking.fingerprint(settings.path(settings.data_file)),
                "selected_model": result.selected,
            }
        )
        mlflow.log_metrics({f"cv_pr_auc_{name}": value for name, value in result.cv_pr_auc.items()})
        for model_name, values in report.metrics.items():
            prefix = "holdout" if model_name == report.selected else f"holdout_{model_name}"
            mlflow.log_metrics({f"{prefix}_{key}": value for key, value in values.items()})
        for plot in report.plots:
            mlflow.log_artifact(str(plot), artifact_path="plots")
        info = mlflow.sklearn.log_model(
            result.model,
            name="model",
            serialization_format="skops",
            skops_trusted_types=TRUSTED_TYPES,
            signature=infer_signature(example, result.model.predict_proba(example)),
            input_example=example,
            pyfunc_predict_fn="predict_proba",
            pip_requirements=_requirements(),
            metadata=metadata,
            registered_model_name=settings.model_name,
        )
    version = str(info.registered_model_version)
    promoted, message = promote_if_better(settings.model_name, version, holdout["pr_auc"])
    if promoted:
        export_champion(settings, version)
    return Registration(run.info.run_id, version, promoted, message)


def _example_rows(train: pd.DataFrame, schema: Schema, n_rows: int = 5) -> pd.DataFrame:
    """The first training rows, plus one row for each feature they leave empty.

    A column that is empty in every example row gets no type in the signature, and
    MLflow then fails to validate the example; real rows that show a value fix that.
    """
    rows = list(train.index[:n_rows])
    for name in schema.features:
        if train.loc[rows, name].isna().all() and train[name].notna().any():
            rows.append(train[name].first_valid_index())  # adds a row not yet in `rows`
    return train.loc[rows]


def _requirements() -> list[str]:
    """Pin what loading the model needs; listing it skips MLflow's slow import scan."""
    names = ["scikit-learn", "lightgbm", "skops", "pandas", "numpy", "scipy", "mlflow"]
    return [f"{name}=={installed_version(name)}" for name in names]


def _params(result: TrainResult, settings: Settings) -> dict[str, Any]:
    estimator = result.model.named_steps["model"]
    params = {f"model__{key}": value for key, value in estimator.get_params().items()}
    return {
        **params,
        "selected_model": result.selected,
        "threshold": result.threshold,
        "threshold_objective": settings.threshold_objective,
        "cv_folds": settings.cv_folds,
        "seed": settings.seed,
        "test_size": settings.test_size,
        "n_train": len(result.split.train),
        "n_test": len(result.split.test),
        "classes": ",".join(result.schema.classes),
    }


def promote_if_better(model_name: str, version: str, pr_auc: float) -> tuple[bool, str]:
    """Point ``champion`` at ``version`` if its holdout PR-AUC beats the current champion."""
    client = MlflowClient()
    current = champion.champion_version(client, model_name)
    if current is None:
        reason = f"{model_name} v{version} is the first champion (holdout PR-AUC {pr_auc:.4f})"
        champion.promote(client, model_name, version, reason)
        return True, reason
    current_run = client.get_model_version(model_name, current).run_id
    best = client.get_run(current_run).data.metrics.get("holdout_pr_auc", float("-inf"))
    if pr_auc > best:
        reason = (
            f"{model_name} v{version} is the new champion: holdout PR-AUC {pr_auc:.4f} "
            f"beats v{current}'s {best:.4f}"
        )
        champion.promote(client, model_name, version, reason)
        return True, reason
    return False, (
        f"champion stays v{current} (holdout PR-AUC {best:.4f}); "
        f"v{version} scored {pr_auc:.4f} and is registered without the alias"
    )


def export_champion(settings: Settings, version: str) -> Path:
    """Copy a registered version's MLflow model folder to ``models/champion`` for the service.

    A container then needs only this folder, not the tracking server. ``registry.json``
    names the version (a running service watches it to follow promotions and rollbacks) and
    ``example_request.json`` is a ready request body (``curl -d @models/champion/...``).
    The folder is staged beside the target and renamed into place, so a reader never sees
    half a model.
    """
    client = MlflowClient()
    run_id = str(client.get_model_version(settings.model_name, version).run_id)
    target = settings.path(settings.models_dir) / "champion"
    staging = target.with_name("champion.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    mlflow.artifacts.download_artifacts(
        f"models:/{settings.model_name}/{version}", dst_path=str(staging)
    )
    (staging / "example_request.json").write_text(json.dumps(_example(staging), indent=2) + "\n")
    registry = {"model_name": settings.model_name, "version": version, "run_id": run_id}
    (staging / "registry.json").write_text(json.dumps(registry) + "\n")
    old = target.with_name("champion.old")
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


def model_version_at(uri: str, settings: Settings) -> str:
    """``<version>@<run id>`` that ``uri`` points at now: cheap, so a service can poll it."""
    local = _local_folder(uri, settings)
    if local is not None:
        registry = json.loads((local / "registry.json").read_text())
        return f"{registry['version']}@{registry['run_id']}"
    tracking.configure()
    return "@".join(_registry_version(uri))


def load_model(uri: str, settings: Settings) -> ServedModel:
    """Load a model folder (``models/champion``) or a registry URI (``models:/NAME@champion``)."""
    local = _local_folder(uri, settings)
    if local is not None:
        if not (local / "MLmodel").exists():
            raise FileNotFoundError(f"no MLflow model in {local}: run `make train` first")
        source = str(local)
        registry = json.loads((local / "registry.json").read_text())
        version, run_id = registry["version"], registry["run_id"]
    else:
        tracking.configure()
        source = uri
        version, run_id = _registry_version(uri)
    metadata = mlflow.models.get_model_info(source).metadata or {}
    return ServedModel(
        pipeline=mlflow.sklearn.load_model(source),
        schema=Schema.from_dict(metadata["schema"]),
        threshold=metadata["threshold"],
        metrics=metadata["holdout_metrics"],
        version=version,
        run_id=run_id,
    )


def _local_folder(uri: str, settings: Settings) -> Path | None:
    if "://" in uri or uri.startswith("models:"):
        return None
    return settings.path(Path(uri))


def _registry_version(uri: str) -> tuple[str, str]:
    name, _, alias = uri.removeprefix("models:/").partition("@")
    client = MlflowClient()
    if alias:
        found = client.get_model_version_by_alias(name, alias)
    else:
        name, _, number = name.partition("/")
        found = client.get_model_version(name, number)
    return str(found.version), str(found.run_id)
