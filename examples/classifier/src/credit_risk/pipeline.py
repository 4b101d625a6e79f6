"""The one entry point: ``make train`` runs every stage in order (``python -m`` this module).

``STAGES`` names the stage modules in the order the README walks through them; a stage
imports only earlier ones (``tests/test_layout.py`` checks it). Training is one MLflow
run: split, cross-validate, score the test split, register, and move ``champion`` only
by the rule in ``register.py``. ``make evaluate`` runs
``python -m credit_risk.pipeline evaluate``:
it re-scores what ``make serve`` serves on the test split, and logs and decides nothing.
"""

from __future__ import annotations

import argparse

from .config import Settings
from .data import load_split
from .evaluate import Report, evaluate, print_report, score, write_metrics
from .ops import leakage, learning_curve, overfitting, slices
from .ops.plots import write_plots
from .predict import load_model
from .register import log_and_register
from .train import TrainResult, train

STAGES = ("config", "data", "features", "train", "evaluate", "register", "predict", "serve")


def run_training(settings: Settings) -> None:
    """``make train``: every batch stage, printing the test table and the champion's fate,
    and the leakage screen's verdict (``ops/leakage.py``: a question, not a stage). The
    other ``ops/`` questions (overfitting, learning curve, slices) write their evidence
    to ``reports/``, logged with the run. ``ENGINE=dask`` swaps only train and evaluate
    for their cluster form (``ops/scale_out.py``); the questions then read its bounded
    sample of rows."""
    if settings.engine == "dask":
        result, report = _on_cluster(settings)
    else:
        result = train(settings)
        report = evaluate(result)
    screened = leakage.screen(result, settings)
    print(leakage.verdict_line(screened))
    print_report(report)
    write_metrics(report, settings)
    test = result.split.test
    reports = settings.path(settings.reports_dir)
    plots = write_plots(
        result.model,
        result.schema.labels(test),
        result.model.predict_proba(result.schema.features_frame(test)),
        result.schema,
        result.threshold,
        reports,
        rows=test,
        train=result.split.train,
    )
    files = plots + leakage.write(screened, reports)
    files += overfitting.write(overfitting.boosting_curve(result, settings), reports)
    curve = learning_curve.learning_curve(result, settings)
    files += learning_curve.write(curve, result.selected, reports)
    files += slices.write(slices.slice_report(result), reports)
    print(log_and_register(result, report, settings, files).message)


def _on_cluster(settings: Settings) -> tuple[TrainResult, Report]:
    try:  # dask is an optional extra: the default install does not carry it
        from .ops import scale_out
    except ModuleNotFoundError as missing:
        raise SystemExit(f'ENGINE=dask needs {missing.name}: pip install -e ".[dask]"') from None
    return scale_out.train_on_cluster(settings)


def rescore_served(settings: Settings) -> None:
    """``make evaluate``: the served model (its compiled form) on the test split."""
    served = load_model(settings)
    schema, test = served.schema, load_split(settings).test
    metrics = score(schema.labels(test), served.predict_frame(test), schema, served.threshold)
    name = f"served v{served.version}"
    report = Report(name, served.threshold, {name: metrics}, cv_pr_auc={})
    print_report(report)
    print(f"written: {write_metrics(report, settings)}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", nargs="?", choices=["train", "evaluate"], default="train")
    settings = Settings()
    if parser.parse_args(argv).step == "evaluate":
        rescore_served(settings)
    else:
        run_training(settings)


if __name__ == "__main__":
    main()
