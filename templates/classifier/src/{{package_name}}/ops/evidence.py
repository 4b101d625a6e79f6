"""What does ``make train`` leave beside the model? The evidence for the interview questions.

After the stages have trained and scored, ``pipeline.py`` calls ``write_evidence``: the
plots (``plots.py``), the leakage screen (``leakage.py``), the boosting curve
(``overfitting.py``), the learning curve (``learning_curve.py``) and the slices
(``slices.py``) go to ``reports/``; ``register.py`` logs them with the run, and
``make report`` answers the README's questions from them. None of them decides anything.
"""

from __future__ import annotations

from pathlib import Path

from ..config import Settings
from ..train import TrainResult
from . import leakage, learning_curve, overfitting, slices
from .plots import write_plots


def write_evidence(result: TrainResult, settings: Settings) -> list[Path]:
    """Write every question's evidence to ``reports_dir``; print the leakage verdict."""
    screened = leakage.screen(result, settings)
    print(leakage.verdict_line(screened))
    test, schema = result.split.test, result.schema
    reports = settings.path(settings.reports_dir)
    files = write_plots(
        result.model,
        schema.labels(test),
        result.model.predict_proba(schema.features_frame(test)),
        schema,
        result.threshold,
        reports,
        rows=test,
        train=result.split.train,
    )
    files += leakage.write(screened, reports)
    files += overfitting.write(overfitting.boosting_curve(result, settings), reports)
    curve = learning_curve.learning_curve(result, settings)
    files += learning_curve.write(curve, result.selected, reports)
    files += slices.write(slices.slice_report(result), reports)
    return files
