"""``make train ENGINE=dask`` trains the same model as the single process (ops/scale_out.py).

The cluster tests start a 2-worker LocalCluster on the bundled data; they are skipped only
where the dask extra is missing (``pip install -e ".[dask]"``), and ``make install`` and
CI install it, so CI always runs them.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest
from lightgbm import LGBMClassifier

from credit_risk import ops, pipeline
from credit_risk.config import Settings
from credit_risk.evaluate import Report, score
from credit_risk.ops.onnx_compile import compile_onnx
from credit_risk.register import log_and_register
from credit_risk.train import LIGHTGBM, LINEAR, TrainResult, candidates

TOLERANCE = 0.02  # the largest holdout PR-AUC gap the issue allows between the engines


@pytest.fixture(scope="module")
def scale_out() -> ModuleType:
    pytest.importorskip("distributed", reason='the dask extra: pip install -e ".[dask]"')
    from credit_risk.ops import scale_out

    return scale_out


def test_a_two_worker_cluster_matches_the_single_process(
    scale_out: ModuleType, settings: Settings, trained: TrainResult, report: Report
) -> None:
    """The local run's split, 2 partitions on 2 workers: the same schema, holdout PR-AUC
    within ``TOLERANCE`` for both candidates, and a LightGBM pipeline that compiles to ONNX."""
    import dask.dataframe as dd

    train, test = trained.split.train, trained.split.test
    leaf = candidates(trained.schema, settings)[1].pipeline.named_steps["model"].min_child_samples
    if len(train) // 2 < 2 * leaf:  # docs/DESIGN.md: a worker's rows must fill two leaves
        pytest.skip(f"{len(train)} training rows: too few for 2 workers and {leaf}-row leaves")
    folds = np.arange(len(train)) % settings.cv_folds  # train_test_split shuffled the rows
    frames = (
        dd.from_pandas(train.assign(**{scale_out.FOLD: folds}), npartitions=2),
        dd.from_pandas(test, npartitions=2),
    )
    on_cluster, cluster_report = scale_out.train_on_cluster(
        settings.model_copy(update={"dask_workers": 2}), frames
    )
    assert on_cluster.schema == trained.schema
    for name in (LINEAR, LIGHTGBM):
        local, dask = report.metrics[name]["pr_auc"], cluster_report.metrics[name]["pr_auc"]
        print(f"{name}: holdout PR-AUC local {local:.4f}, dask {dask:.4f}")
        assert abs(local - dask) <= TOLERANCE, name
    booster = on_cluster.models[LIGHTGBM]
    assert isinstance(booster.named_steps["model"], LGBMClassifier)
    onnx, error = compile_onnx(booster, on_cluster.schema, train)
    assert onnx is not None, f"ONNX differs from the pipeline by {error}"


def test_metrics_from_counts_equal_the_evaluate_stage(
    scale_out: ModuleType, trained: TrainResult
) -> None:
    """Histogram counts give ``evaluate.score``'s numbers: to 1e-3 for the curves, exact
    for what a confusion matrix and a sum hold."""
    schema, test = trained.schema, trained.split.test
    labels, proba = schema.labels(test), trained.model.predict_proba(schema.features_frame(test))
    expected = score(labels, proba, schema, trained.threshold)
    counted = scale_out.metrics(scale_out.tally(labels, proba, schema, trained.threshold), schema)
    assert counted == pytest.approx(expected, abs=1e-3)


def test_the_hash_split_ignores_partitioning(scale_out: ModuleType, settings: Settings) -> None:
    """A row's side depends on its values and the seed only: 1 or 3 partitions agree."""
    import dask.dataframe as dd

    rows = pd.DataFrame({"x": [str(i) for i in range(2000)], settings.target: "good"})
    sides = [
        scale_out.hash_split(dd.from_pandas(rows, npartitions=n), settings)[1].compute()["x"]
        for n in (1, 3)
    ]
    assert set(sides[0]) == set(sides[1])
    assert abs(len(sides[0]) / len(rows) - settings.test_size) < 0.03


def test_without_the_extra_the_error_names_the_fix(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "dask", None)  # as if it were not installed
    monkeypatch.delitem(sys.modules, "credit_risk.ops.scale_out", raising=False)
    monkeypatch.delattr(ops, "scale_out", raising=False)
    with pytest.raises(SystemExit, match=r'ENGINE=dask needs dask: pip install -e "\.\[dask\]"'):
        pipeline.run_training(settings.model_copy(update={"engine": "dask"}))


def test_a_run_of_the_other_engine_never_takes_the_champion_alias(
    settings: Settings,
    trained: TrainResult,
    report: Report,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The engines split differently, so their CV scores do not compare: even a far higher
    one from the other engine leaves ``champion`` where it is."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    local = settings.model_copy(update={"model_dir": tmp_path / "champion"})
    assert log_and_register(trained, report, local, files=[]).promoted
    better = replace(trained, cv_pr_auc={name: 1.0 for name in trained.cv_pr_auc})
    on_dask = local.model_copy(update={"engine": "dask"})
    registration = log_and_register(better, report, on_dask, files=[])
    assert not registration.promoted
    assert "(other engine)" in registration.message
