"""``make evaluate``: re-score the model ``make serve`` serves, on the test split.

It loads ``models/champion`` the way the service does, cuts the test split again (seeded:
the same rows), and writes the scores to ``reports/metrics.json`` beside those the run
logged. It decides nothing: it answers "does the artifact being served score what the run
says?", which catches a wrong export or a changed tokenizer. Refused when the data file
changed since that model was trained: its test rows could then include training texts.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from . import data, metrics, model
from .config import Settings
from .data import LABEL, TEXT
from .ops import tracking


class EvaluateError(RuntimeError):
    """There is no served model, or the data no longer matches it."""


def served_model(settings: Settings) -> tuple[model.Predictor, dict[str, Any]]:
    """The model in ``settings.model_dir`` and its ``run.json`` (run id, rows, test scores);
    refused when there is none or the data file changed since it was trained."""
    served = settings.model_dir
    if not (served / model.WEIGHTS).exists():
        raise EvaluateError(f"no served model in {served}: run `make train` first")
    if not trained_on_this_data(settings):
        raise EvaluateError(
            f"{settings.data_file.name} changed since the served model was trained, so its "
            "test rows may include texts it trained on: serve a run trained on this file "
            "(`make train` names it; `make rollback VERSION=N` promotes it) or restore the file"
        )
    return model.load(served), _run_record(settings)


def trained_on_this_data(settings: Settings) -> bool:
    """Whether the served model was trained on today's data file (no record: assume so)."""
    trained_on = _run_record(settings).get("data_sha256")
    return not trained_on or trained_on == tracking.fingerprint(settings.data_file)


def _run_record(settings: Settings) -> dict[str, Any]:
    run_file = settings.model_dir / model.RUN_FILE
    return json.loads(run_file.read_text()) if run_file.exists() else {}


def evaluate(settings: Settings) -> dict[str, Any]:
    """Score ``settings.model_dir`` on the test split; write and return the report."""
    predictor, run = served_model(settings)
    splits = data.split(data.load(settings), settings)
    texts, y_true = splits.test[TEXT].tolist(), splits.test[LABEL].tolist()
    registry_file = settings.model_dir / model.REGISTRY_FILE
    registry = json.loads(registry_file.read_text()) if registry_file.exists() else {}
    report = {
        "model_version": registry.get("version"),
        "run_id": run.get("run_id"),
        "n_test": len(texts),
        "same_rows_as_training_run": splits.fingerprint("test") == run.get("test_split_sha256"),
        "test_metrics": metrics.scores(y_true, predictor.predict(texts), "test"),
        "logged_test_metrics": run.get("test_metrics", {}),
    }
    path = settings.reports_dir / "metrics.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def rows_note(report: dict[str, Any]) -> str:
    """Whether these test rows are the ones the served model's run was tested on."""
    if report["same_rows_as_training_run"]:
        return "the rows its training run logged"
    return (
        "not the rows its run logged (other split settings, so some may be texts it trained "
        "on): compare with care"
    )


def table(report: dict[str, Any]) -> str:
    """The scores now next to those logged at training time, one row per metric."""
    lines = [f"{'metric':<20} {'now':>8} {'logged':>8}"]
    for key, value in report["test_metrics"].items():
        logged = report["logged_test_metrics"].get(key)
        lines.append(f"{key:<20} {value:>8.4f} {'' if logged is None else f'{logged:.4f}':>8}")
    return "\n".join(lines)


def main() -> None:
    settings = Settings()
    try:
        report = evaluate(settings)
    except (EvaluateError, data.DataError) as error:
        sys.exit(f"error: {error}")
    version, rows = report["model_version"], rows_note(report)
    print(f"model v{version}, {report['n_test']} test texts, {rows}")
    print(table(report))
    print(f"wrote {settings.reports_dir / 'metrics.json'}")


if __name__ == "__main__":
    main()
