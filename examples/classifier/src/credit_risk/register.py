"""Stage 6, register: log the run to MLflow, register the model, move ``champion`` if better.

A run records parameters, CV and test-split metrics, plots, the data file's SHA-256 and the
git commit. The model is saved with skops (no pickle) with the metadata the service needs
(schema, threshold, test metrics), beside its ONNX form (``ops/onnx_compile.py``), which
``predict.py`` runs. ``champion`` moves only on cross-validated PR-AUC, by more than
``promotion_margin``: over the base rate (a model that learned nothing) for the first
champion, over the champion's for every later one. The test split decides nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any

import mlflow
import mlflow.sklearn
import pandas as pd
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient

from .config import Settings
from .data import Schema, file_sha256
from .evaluate import Report
from .ops import champion, tracking
from .ops.answers import log_reports
from .ops.export import export_champion
from .ops.onnx_compile import log_onnx
from .ops.reason_codes import EXPLAINER_FILE, describe
from .train import TrainResult, base_rate_pr_auc

# skops refuses to load types it does not know: these are LightGBM's and numpy's dtype
# (a plain data type). MLflow checks the saved file against this list.
TRUSTED_TYPES = [
    "collections.OrderedDict",
    "numpy.dtype",
    "lightgbm.basic.Booster",
    "lightgbm.sklearn.LGBMClassifier",
]
# Logged params that change what CV PR-AUC measures: the training split (seed, test_size)
# and the folds (5 folds train on more rows than 3, so score higher on the same data).
SPLIT_PARAMS = ("seed", "test_size", "cv_folds")


@dataclass(frozen=True)
class Registration:
    """The registered version and what happened to the ``champion`` alias."""

    run_id: str
    version: str
    promoted: bool
    message: str


def log_and_register(
    result: TrainResult, report: Report, settings: Settings, files: list[Path]
) -> Registration:
    """Log one MLflow run for this training, register its model, maybe promote it."""
    tracking.configure()
    schema = result.schema
    example = schema.features_frame(_example_rows(result.split.train, schema))
    data_sha256 = file_sha256(settings.path(settings.data_file))
    metadata = {
        "schema": schema.to_dict(),
        "threshold": result.threshold,
        "test_metrics": report.selected_metrics,
        "model_family": result.selected,
    }
    with mlflow.start_run() as run:
        mlflow.log_params(_params(result, settings))
        mlflow.set_tags(
            {
                "git_commit": tracking.git_commit(),
                "data_sha256": data_sha256,
                "engine": settings.engine,
                "selected_model": result.selected,
            }
        )
        mlflow.log_metric("cv_pr_auc", result.cv_pr_auc[result.selected])
        mlflow.log_metrics({f"cv_pr_auc_{name}": value for name, value in result.cv_pr_auc.items()})
        for model_name, values in report.metrics.items():
            suffix = "" if model_name == report.selected else f"_{model_name}"
            mlflow.log_metrics({f"test_{key}{suffix}": value for key, value in values.items()})
        log_reports(files, run.info.run_id)  # the evidence of ops/evidence.py
        log_onnx(result.model, schema, result.split.train)
        explainer = describe(result.model, schema, result.split.train)
        mlflow.log_dict(explainer, f"explain/{EXPLAINER_FILE}")
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
    cv = result.cv_pr_auc[result.selected]
    floor = base_rate_pr_auc(schema.labels(result.split.train), schema)
    promoted, message = promote_if_better(settings, version, cv, floor, data_sha256)
    if promoted:
        export_champion(settings, version)
    return Registration(run.info.run_id, version, promoted, message)


def _example_rows(train: pd.DataFrame, schema: Schema, n_rows: int = 5) -> pd.DataFrame:
    """The first training rows, plus one row for each feature they leave empty.

    The signature is inferred from these rows: a column empty in all of them would get no
    type, and MLflow would then refuse the example it validates against that signature.
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
        **result.facts,  # ops/scale_out.py: the engine and the rows it saw (not the sample)
    }


def promote_if_better(
    settings: Settings, version: str, cv_pr_auc: float, floor: float, data_sha256: str
) -> tuple[bool, str]:
    """Point ``champion`` at ``version`` if its CV PR-AUC clears the bar by the margin.

    The bar is ``floor`` (the base rate) while there is no champion, so a model that learned
    nothing is never served; then the champion's CV PR-AUC. Both are pooled out-of-fold
    scores on the training split, so they compare only when both runs saw the same data file
    split and folded the same way (``engine`` and ``SPLIT_PARAMS``): else the champion stays.
    """
    client, name, margin = MlflowClient(), settings.model_name, settings.promotion_margin
    current = champion.champion_version(client, name)
    if current is None:
        if cv_pr_auc <= floor + margin:
            return False, (
                f"{name} v{version} is registered, not served: its CV PR-AUC {cv_pr_auc:.4f} "
                f"is not {margin} above the base rate {floor:.4f} (a model that learned nothing)"
            )
        reason = (
            f"{name} v{version} is the first champion: CV PR-AUC {cv_pr_auc:.4f}, "
            f"base rate {floor:.4f}"
        )
        champion.promote(client, name, version, reason)
        return True, reason
    run = client.get_run(str(client.get_model_version(name, current).run_id))
    best = run.data.metrics.get("cv_pr_auc", float("-inf"))
    stays = f"champion stays v{current} (CV PR-AUC {best:.4f}); v{version} is registered"
    theirs = {"engine": "local"} | run.data.tags | run.data.params
    ours = {"data_sha256": data_sha256, "engine": settings.engine}
    ours |= {key: str(getattr(settings, key)) for key in SPLIT_PARAMS}  # MLflow params are text
    if differs := [key for key in ours if theirs.get(key) != ours[key]]:
        why = f"CV scores do not compare (other {', '.join(differs)})"
        return False, f"{stays}: {why}; compare them and `make rollback VERSION=N`"
    if cv_pr_auc > best + margin:
        reason = (
            f"{name} v{version} is the new champion: CV PR-AUC {cv_pr_auc:.4f} beats "
            f"v{current}'s {best:.4f} by more than {margin}"
        )
        champion.promote(client, name, version, reason)
        return True, reason
    return False, f"{stays} without the alias: its CV PR-AUC {cv_pr_auc:.4f} is not {margin} above"
