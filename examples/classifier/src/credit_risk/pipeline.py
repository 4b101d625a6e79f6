"""The one entry point: ``make train`` runs the batch stages in order; ``make evaluate`` re-scores.

``STAGES`` names the stage modules in the order the README tells them; a stage imports
only earlier ones (``tests/test_layout.py``). Training is one MLflow run: split,
cross-validate, score the test split, register, and move ``champion`` by the rule in
``register.py``. ``make evaluate`` re-scores what ``make serve`` serves on the test split
and logs and decides nothing.
"""

from __future__ import annotations

import argparse

from .config import Settings
from .data import load_split
from .evaluate import Report, evaluate, print_report, score, write_metrics
from .ops.evidence import write_evidence
from .predict import load_model
from .register import log_and_register
from .train import TrainResult, train

STAGES = ("config", "data", "features", "train", "evaluate", "register", "predict", "serve")


def run_training(settings: Settings) -> None:
    """``make train``: the stages, with the evidence for the ``ops/`` questions logged in the
    run (``ops/evidence.py``). ``ENGINE=dask`` swaps train and evaluate for their cluster
    form (``ops/scale_out.py``)."""
    if settings.engine == "dask":
        result, report = _on_cluster(settings)
    else:
        result = train(settings)
        report = evaluate(result)
    files = write_evidence(result, settings)
    print_report(report)
    write_metrics(report, settings)
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
    report = Report(name, served.threshold, {name: metrics}, {}, {name: served.threshold})
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
