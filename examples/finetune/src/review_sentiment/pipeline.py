"""``make train``: every batch stage, in the order the README walks through them.

``python -m review_sentiment.pipeline`` loads and splits the data (``data.py``),
trains and scores every candidate into one MLflow run (``experiment.py``), registers the
fine-tuned model and moves ``champion`` only by the rule in ``register.py``, then
re-scores what is now served (``evaluate.py``). ``--smoke`` runs the same code on a tiny
subset in seconds (what CI runs).
"""

from __future__ import annotations

import argparse
import sys

import torch

from . import data, evaluate, experiment, register
from .config import Settings
from .ops import tracking
from .train import seed_everything

STAGES: tuple[str, ...] = (
    "config", "data", "model", "baselines", "metrics", "train", "experiment", "register",
    "evaluate", "serve",
)  # fmt: skip


def run(settings: Settings, run_name: str = "train") -> str:
    """Run the batch stages in order; return the MLflow run id."""
    seed_everything(settings.seed)
    torch.set_num_threads(settings.threads)
    tracking.configure()
    splits = data.split(data.load(settings), settings)
    print(f"data: {splits.sizes()} labels={splits.labels}")
    run_id = experiment.run(settings, splits, run_name)
    registration = register.register(run_id, settings)
    print(registration.message)
    if evaluate.trained_on_this_data(settings):
        served = evaluate.evaluate(settings)
        rows = evaluate.rows_note(served)
        print(f"served model v{served['model_version']} on the test split, {rows}:")
        print(evaluate.table(served))
    else:  # the champion was validated on another data file: these test rows are not its
        print("the served model was trained on another data file, so it is not re-scored")
    print(f"MLflow run {run_id}; `make report` writes README's blocks and WRITEUP.md")
    return run_id


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny subset, seconds (CI)")
    args = parser.parse_args(argv)
    settings = Settings()
    try:
        name = experiment.SMOKE_RUN if args.smoke else "train"
        run(settings.smoke() if args.smoke else settings, name)
    except (data.DataError, evaluate.EvaluateError) as error:
        sys.exit(f"error: {error}")


if __name__ == "__main__":
    main()
