"""What did *your* data show? One line per README interview question, from the run.

``make report`` brings the reported run's ``reports/`` artifacts back into ``reports/``
(``restore_reports``), so every evidence link opens what that run wrote, then builds one
``Answer`` per question (``build``): a short answer quoting the run's number, and the
files that back it. The README's question table and ``reports/walkthrough.json`` are
filled from them (``readme_blocks.publish``); ``mlportfolio check`` flags a table or an
evidence file that no longer matches the run.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import mlflow
from mlflow.exceptions import MlflowException

from .readme_blocks import Answer

PACKAGE = __package__.rpartition(".")[0] if __package__ else "package"
DESIGN = "docs/DESIGN.md"


class Facts(Protocol):
    """What ``report.RunFacts`` holds (a protocol: ``ops/`` never imports ``report``)."""

    run_id: str
    source: str
    selected: str
    test: dict[str, dict[str, float]]
    cv_pr_auc: dict[str, float]
    params: dict[str, str]


def log_reports(files: list[Path], run_id: str) -> None:
    """Log the evidence files under the active run's ``reports/``, each JSON one stamped
    with ``run_id``, so ``restore_reports`` and ``mlportfolio check`` spot stale evidence."""
    for file in files:
        if file.suffix == ".json":
            body = {**json.loads(file.read_text(encoding="utf-8")), "run_id": run_id}
            file.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
        mlflow.log_artifact(str(file), artifact_path="reports")


def restore_reports(run_id: str, folder: Path) -> dict[str, dict[str, Any]]:
    """Copy the run's ``reports/`` artifacts into ``folder``; return its JSON files by name.

    A run logged before a report existed simply lacks it: its answer says to train again.
    """
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as staging:
        try:
            logged = mlflow.artifacts.download_artifacts(
                run_id=run_id, artifact_path="reports", dst_path=staging
            )
        except (MlflowException, OSError):
            return {}
        for file in Path(logged).iterdir():
            shutil.copy2(file, folder / file.name)
    return {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in folder.glob("*.json")
        if _written_by(path) == run_id
    }


def _written_by(path: Path) -> str | None:
    try:
        return str(json.loads(path.read_text(encoding="utf-8")).get("run_id"))
    except (OSError, ValueError, AttributeError):
        return None


def build(
    facts: Facts, metrics: Mapping[str, float], reports: Mapping[str, dict[str, Any]]
) -> list[Answer]:
    """One answer per interview question, each quoting this run's numbers."""
    ours, params = facts.test[facts.selected], facts.params
    base = facts.test.get("majority_class", {}).get("pr_auc", float("nan"))
    cv = facts.cv_pr_auc
    source = f"src/{PACKAGE}"
    pr_auc = f"PR-AUC {ours['pr_auc']:.3f} vs {base:.3f} base rate"
    if len(params.get("classes", "").split(",")) == 2:
        pr_auc += f"; majority-class accuracy {1 - base:.3f}"
    threshold = params.get("threshold", "None")
    chosen = (
        f"{float(threshold):.3f}, best {params.get('threshold_objective')} out-of-fold; "
        f"test recall {ours['recall']:.3f}"
        if threshold != "None"
        else "multiclass: the most likely class, no threshold"
    )
    linear, trees = cv.get("logistic_regression"), cv.get("lightgbm")
    versus = (
        f"CV PR-AUC: LightGBM {trees:.3f}, logistic {linear:.3f}"
        if linear is not None and trees is not None
        else f"{facts.selected} selected"
    )
    majority_brier = facts.test.get("majority_class", {}).get("brier", float("nan"))
    onnx = metrics.get("onnx_max_abs_diff", float("nan"))
    return [
        Answer("Why PR-AUC and not accuracy?", pr_auc,
               (f"{DESIGN}#why-pr-auc-not-accuracy", "reports/pr_curve.png")),
        Answer("How did you prevent data leakage?",
               f"{params.get('cv_folds')}-fold CV inside one Pipeline; "
               f"{params.get('n_test')} test rows scored once",
               (f"{DESIGN}#how-leakage-is-prevented", f"{source}/train.py")),
        Answer("Which feature could leak the label?", _leakage(reports),
               ("reports/leakage.json",
                f"{DESIGN}#which-feature-could-leak-the-label")),
        Answer("Why boosting over the linear model?", versus,
               (f"{DESIGN}#boosting-vs-the-linear-baseline",)),
        Answer("Is the model overfitting?", _summary(reports, "overfitting"),
               ("reports/overfitting.md", "reports/overfitting.json")),
        Answer("More data or a bigger model?", _summary(reports, "learning_curve"),
               ("reports/learning_curve.md", "reports/learning_curve.json")),
        Answer("How did you choose the threshold?", chosen,
               (f"{DESIGN}#choosing-the-threshold",)),
        Answer("Are the probabilities calibrated?",
               f"Brier {ours['brier']:.3f} vs {majority_brier:.3f} for the majority rule",
               ("reports/calibration.png", f"{DESIGN}#calibration")),
        Answer("Why did it predict that for this row?", _reasons(reports),
               ("reports/feature_importance.json",
                f"{DESIGN}#why-did-it-predict-that-for-this-row")),
        Answer("Where does it fail?", _summary(reports, "slices"),
               ("reports/slices.md", "reports/slices.json")),
        Answer("Which split decides what?",
               f"CV on {params.get('n_train')} rows decides; {params.get('n_test')} test rows "
               "only report",
               (f"{DESIGN}#which-split-decides-what",)),
        Answer("How would you know the model is going stale?",
               f"`make drift`: PSI per feature vs the {params.get('n_train')} training rows",
               (f"{DESIGN}#how-would-you-know-the-model-is-going-stale",
                f"{source}/ops/drift.py")),
        Answer("What do you do when the metric drops?",
               f"From test PR-AUC {ours['pr_auc']:.3f}: drift, labels, skew, alias",
               (f"{DESIGN}#when-the-metric-drops",)),
        Answer("How would you roll back a bad model?",
               f"Serving {facts.source}; `make rollback` reverts",
               ("DEPLOY.md#roll-back-a-bad-model", f"{source}/ops/champion.py")),
        Answer("How would you deploy it?", "Docker image holding `models/champion`, on Render",
               ("DEPLOY.md#deploy-to-render-step-by-step", "Dockerfile")),
        Answer("How would this scale to 100x the data?",
               f"{params.get('n_train')} rows trained {_engine(params)}; "
               "`make train ENGINE=dask` on a cluster",
               (f"{DESIGN}#how-would-this-scale-to-100x-the-data",
                "DEPLOY.md#train-on-a-dask-cluster")),
        Answer("How would you cut inference cost?",
               f"ONNX within {onnx:.0e} of the pipeline; `make bench`",
               (f"{DESIGN}#why-onnx-and-not-the-pipeline-per-request",
                f"{source}/predict.py")),
    ]  # fmt: skip


def _engine(params: Mapping[str, str]) -> str:
    if params.get("engine") == "dask":
        return f"on {params.get('dask_workers', '?')} Dask workers"
    return "in one process"


def _summary(reports: Mapping[str, dict[str, Any]], name: str) -> str:
    if name not in reports:
        return f"Not in this run: `make train` again for reports/{name}.md"
    return str(reports[name]["summary"])


def _leakage(reports: Mapping[str, dict[str, Any]]) -> str:
    screen = reports.get("leakage")
    if screen is None:
        return "Not in this run: `make train` again for the leakage screen"
    if screen["flagged"]:
        return "Flagged: " + ", ".join(f"`{name}`" for name in screen["flagged"])
    best = screen["features"][0]
    return f"None flagged; `{best['feature']}` alone earns {best['lift_share']:.0%} of the lift"


def _reasons(reports: Mapping[str, dict[str, Any]]) -> str:
    importance = reports.get("feature_importance")
    if importance is None:
        return "Not in this run: `make train` again for reports/feature_importance.json"
    top = list(importance["mean_abs_contribution"].items())[:2]
    named = ", ".join(f"`{name}` {value:.2f}" for name, value in top)
    return f"Mean abs SHAP: {named}; `?explain=true` per row"
