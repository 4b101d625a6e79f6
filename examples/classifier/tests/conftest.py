"""One small model trained per test session, so tests never need `make train` first.

Everything is written under a temporary folder: the tests leave the project untouched.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from credit_risk.config import Settings
from credit_risk.evaluate import Report, evaluate
from credit_risk.ops.onnx_compile import compile_onnx
from credit_risk.ops.reason_codes import Explainer, describe
from credit_risk.predict import ServedModel, onnx_session
from credit_risk.train import TrainResult, train


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    out = tmp_path_factory.mktemp("run")
    return Settings(
        processed_dir=out / "processed",
        model_dir=out / "models" / "champion",
        reports_dir=out / "reports",
        cv_folds=3,
        n_estimators=100,
    )


@pytest.fixture(scope="session")
def trained(settings: Settings) -> TrainResult:
    return train(settings)


@pytest.fixture(scope="session")
def report(trained: TrainResult) -> Report:
    return evaluate(trained)


@pytest.fixture(scope="session")
def served(trained: TrainResult, report: Report) -> ServedModel:
    """The selected model as the service sees it (compiled to ONNX), without MLflow."""
    onnx, error = compile_onnx(trained.model, trained.schema, trained.split.train)
    assert onnx is not None, f"ONNX differs from the pipeline by {error}"
    return ServedModel(
        schema=trained.schema,
        threshold=trained.threshold,
        metrics=report.selected_metrics,
        version="test",
        run_id="test",
        session=onnx_session(onnx),
        explainer=Explainer(
            describe(trained.model, trained.schema, trained.split.train), trained.schema
        ),
    )


@pytest.fixture(scope="session")
def project_root() -> Path:
    return Path(__file__).resolve().parents[1]
