"""``make train``: every batch stage in order, recorded as one MLflow run.

1. ingest: read, chunk and embed ``data/corpus`` into the index (kept when the corpus and
   the model did not change, so a second run embeds nothing);
2. evaluate: the fusion weight chosen on the dev questions, then BM25, dense and hybrid
   on the test questions, and the served assistant's answers;
3. log the run (settings, the fusion weight and why, index manifest, metrics, the refusal
   tradeoff) and write its record beside the index, so the service fuses with that
   weight and its ``/metadata`` names the run that scored what it serves.

The only setting fitted here is the fusion weight, on the dev questions. Every other
setting is fixed in ``config.py`` (a few were set once by reading the bundled dev split's
numbers: DESIGN.md says which), and none by the test questions, so the test numbers are a
report, not a selection.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import mlflow

from .config import Settings
from .embeddings import ModelError
from .evaluate import EvalSetError, Evaluation, evaluate, summary, write_metrics
from .ingest import CorpusError, ingest
from .ops import refusal, tracking
from .retrieval import EVALUATION_FILE, IndexMissingError

STAGES: tuple[str, ...] = ("config", "documents", "chunking", "embeddings", "retrieval",
                           "ingest", "answer", "evaluate", "serve")  # fmt: skip


def train(settings: Settings) -> tuple[dict[str, Any], Evaluation, str]:
    """Ingest, evaluate and log; return the index manifest, the evaluation and the run id."""
    manifest = ingest(settings)
    evaluation = evaluate(settings)
    tracking.configure()
    with mlflow.start_run(run_name=f"index-{manifest['version']}") as run:
        mlflow.log_params(_params(settings, evaluation, manifest))
        mlflow.log_metrics(evaluation.metrics)
        mlflow.set_tags({"stage": "train", "git_commit": tracking.git_commit()})
        mlflow.log_dict(manifest, "index_manifest.json")
        for path in refusal.write(evaluation.refusal, settings, run.info.run_id):
            mlflow.log_artifact(str(path), "evaluation")
    path = settings.path(settings.index_dir) / EVALUATION_FILE
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(evaluation.record(run.info.run_id), indent=2) + "\n")
    partial.replace(path)  # a service starting now reads the old record or the new one
    write_metrics(settings, evaluation, run.info.run_id)
    return manifest, evaluation, run.info.run_id


def _params(settings: Settings, evaluation: Evaluation, manifest: dict[str, Any]) -> dict[str, Any]:
    """Every setting the run scored with (the API key left out), then what it chose."""
    return {
        **settings.model_dump(mode="json", exclude={"llm_api_key"}),
        "dense_weight": evaluation.fusion.dense_weight,  # chosen on dev, unless set
        "fusion_choice": evaluation.fusion.reason,
        "eval_set": evaluation.eval_set,
        "eval_file": settings.eval_file.as_posix(),
        "eval_skipped": evaluation.skipped,
        "index_version": manifest["version"],
        "corpus_key": manifest["key"]["corpus"],
        "model_key": manifest["key"]["model"],
    }


def main() -> None:
    """Print what each stage did, or one line of error."""
    try:
        manifest, evaluation, run_id = train(Settings())
    except (CorpusError, IndexMissingError, EvalSetError, ModelError) as error:
        sys.exit(f"error: {error}")
    state = (
        "up to date" if manifest.get("up_to_date") else f"built in {manifest['ingest_seconds']} s"
    )
    print(f"index {manifest['version']}: {manifest['passages']:,} passages, {state}")
    print(f"{summary(Settings(), evaluation)}\nMLflow run {run_id}")


if __name__ == "__main__":
    main()
