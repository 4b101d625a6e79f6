"""Write WRITEUP.md from an MLflow run: every number is read back from the tracking store.

Nothing in the write-up is typed by hand, so it cannot drift from the run it describes:
retrain, and ``make evaluate`` (or ``make train`` itself) rewrites it with the new run's
numbers, plots and error examples, and names the run id they came from.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import mlflow
from mlflow.tracking import MlflowClient

from . import evaluate, tracking
from .config import Settings

MODELS = {
    "tfidf_lr": "TF-IDF + logistic regression (baseline)",
    "frozen_lr": "MiniLM frozen embeddings + LR (**before**)",
    "finetuned": "MiniLM fine-tuned end to end (**after**)",
    "lora": "MiniLM + LoRA adapters (cheaper fine-tune)",
}
GAIN_WORTH_IT = 0.01  # one accuracy point: below this, the cheaper frozen model wins


def champion_run_id(settings: Settings) -> str:
    """The run of the saved model (``models/finetuned/run.json``), else the newest run."""
    marker = settings.model_dir / "run.json"
    if marker.exists():
        return json.loads(marker.read_text())["run_id"]
    runs = mlflow.search_runs(experiment_names=[tracking.EXPERIMENT], max_results=1)
    if runs.empty:
        raise SystemExit("no MLflow run yet: run `make train` first")
    return str(runs.iloc[0]["run_id"])


def write(settings: Settings, run_id: str) -> Path:
    """Draw the plots into ``reports/`` and write the markdown file; return its path."""
    client = MlflowClient()
    run = client.get_run(run_id)
    metrics, params = run.data.metrics, run.data.params
    confusion = mlflow.artifacts.load_dict(f"{run.info.artifact_uri}/evaluation/confusion.json")
    errors = mlflow.artifacts.load_dict(f"{run.info.artifact_uri}/evaluation/errors.json")
    figures = settings.reports_dir / "figures"  # committed with WRITEUP.md, unlike reports/*.png
    evaluate.plot_confusion(
        confusion["matrix"], confusion["labels"], figures / "confusion_matrix.png",
        "fine-tuned model, test split",
    )  # fmt: skip
    history = {
        name: [(m.step, m.value) for m in client.get_metric_history(run_id, name)]
        for name in ("train_loss", "val_loss", "val_accuracy")
    }
    steps = [(m.step, m.value) for m in client.get_metric_history(run_id, "train_loss_step")]
    evaluate.plot_learning_curves(history, steps, figures / "learning_curves.png")
    client.log_artifacts(run_id, str(figures), "figures")  # the curves beside the metrics
    relative = _relative(figures, settings.writeup_file.parent)
    text = render(run_id, metrics, params, errors["errors"], relative, history, _llm_run())
    settings.writeup_file.write_text(text, encoding="utf-8")
    return settings.writeup_file


def _llm_run() -> dict[str, object] | None:
    """The newest LLM-track run (``make train-llm``), if there is one."""
    runs = mlflow.search_runs(
        experiment_names=[tracking.EXPERIMENT],
        filter_string="tags.mlflow.runName = 'llm' and attributes.status = 'FINISHED'",
        max_results=1,
        output_format="list",
    )
    if not runs:
        return None
    run = runs[0]
    return {"run_id": run.info.run_id, **run.data.params, **run.data.metrics}


def _relative(path: Path, start: Path) -> str:
    try:
        return path.resolve().relative_to(start.resolve()).as_posix()
    except ValueError:
        return path.resolve().as_posix()


def _m(metrics: dict[str, float], model: str, key: str) -> float:
    return metrics.get(f"{model}.{key}", float("nan"))


def render(
    run_id: str,
    metrics: dict[str, float],
    params: dict[str, str],
    errors: list[dict[str, object]],
    figures: str,
    history: dict[str, list[tuple[int, float]]],
    llm_run: dict[str, object] | None = None,
) -> str:
    """The markdown itself, from plain values (easy to test without MLflow)."""
    rows = "\n".join(
        f"| {title} | {_m(metrics, key, 'test_accuracy'):.3f} "
        f"± {_m(metrics, key, 'test_accuracy_ci95'):.3f} "
        f"| {_m(metrics, key, 'test_macro_f1'):.3f} "
        f"| {_m(metrics, key, 'train_seconds'):.1f} "
        f"| {int(_m(metrics, key, 'trainable_params')):,} "
        f"| {_m(metrics, key, 'latency_p50_ms'):.2f} |"
        for key, title in MODELS.items()
        if f"{key}.test_accuracy" in metrics
    )
    before = _m(metrics, "frozen_lr", "test_accuracy")
    after = _m(metrics, "finetuned", "test_accuracy")
    gain = after - before
    epochs = "\n".join(
        f"| {step} | {loss:.4f} | {val_loss:.4f} | {accuracy:.4f} |"
        for (step, loss), (_, val_loss), (_, accuracy) in zip(
            history["train_loss"], history["val_loss"], history["val_accuracy"], strict=False
        )
    )
    budget = _budget_note(metrics, params)
    error_rows = "\n".join(
        f"| {_cell(str(e['text']))} | {e['true']} | {e['predicted']} | {e['confidence']} |"
        for e in errors
    )
    return f"""# Write-up: fine-tuning MiniLM for this text task

_Generated by `make train` / `make evaluate` from MLflow run `{run_id}`. Every number below is
read from that run; rerun to refresh. Labels: {params.get("labels", "?").replace(",", ", ")}._

## The task and the set-up

Classify each text into one of its labels. Every model trains on the same
{_count(params, "n_train")} examples and is scored once on the same {_count(params, "n_test")}
held-out test texts; {_count(params, "n_val")} validation texts decide early stopping.
Encoder: {params.get("encoder", "?")}, max {params.get("max_length", "?")} tokens, seed
{params.get("seed", "?")}.

{_recipe(metrics, params)}

## Before / after

| model | test accuracy (± 95% CI) | test macro F1 | train s | trainable params | p50 ms/text |
|---|---|---|---|---|---|
{rows}

Fine-tuning changed test accuracy by **{gain:+.3f}** over the frozen encoder
({before:.3f} → {after:.3f}). The ± is the 95% interval that the test-set size alone
allows: a gap inside it could be luck. Train time is wall-clock on this machine (embedding
the training texts included for the frozen model); latency is one text per call on CPU.

## Learning curves

![learning curves]({figures}/learning_curves.png)

| epoch | train loss | val loss | val accuracy |
|---|---|---|---|
{epochs}

Training ran {_int(metrics, "finetuned.epochs_run")} of {_int(metrics, "finetuned.planned_epochs")}
planned epoch(s), {_int(metrics, "finetuned.steps_run")} optimizer steps (early stopping:
patience {params.get("patience", "?")}); the weights of epoch
{_int(metrics, "finetuned.best_epoch")}, the best on validation, were kept.{budget}

## Confusion matrix (fine-tuned model, test split)

![confusion matrix]({figures}/confusion_matrix.png)

## Ten real errors

The test texts the fine-tuned model got wrong with the most confidence:

| text | true | predicted | confidence |
|---|---|---|---|
{error_rows}

## Cost

- The whole pipeline (data, every model, scoring) took {metrics.get("pipeline_seconds", 0):.0f} s
  wall-clock, training with {params.get("threads", "?")} CPU thread(s).
- Training: {_m(metrics, "finetuned", "train_seconds"):.0f} s for the fine-tune against
  {_m(metrics, "frozen_lr", "train_seconds"):.0f} s for frozen embeddings + LR and
  {_m(metrics, "tfidf_lr", "train_seconds"):.1f} s for TF-IDF + LR.
- Trainable parameters: {int(_m(metrics, "finetuned", "trainable_params")):,} fine-tuned against
  {int(_m(metrics, "frozen_lr", "trainable_params")):,} for the frozen model's linear head.
- Inference on CPU, one text per call with {params.get("serve_threads", "?")} thread(s):
  p50 {_m(metrics, "finetuned", "latency_p50_ms"):.2f} ms and
  p99 {_m(metrics, "finetuned", "latency_p99_ms"):.2f} ms for the fine-tuned model. The frozen
  model runs the same encoder, so it costs about the same per text
  (p50 {_m(metrics, "frozen_lr", "latency_p50_ms"):.2f} ms): fine-tuning adds training cost,
  not serving cost. `make bench` measures throughput and an int8-quantised variant.

## Why fine-tune here, rather than prompt or RAG

{_decision(gain, metrics, llm_run)}
"""


def _decision(gain: float, metrics: dict[str, float], llm_run: dict[str, object] | None) -> str:
    """The recommendation follows from the measured gain, not from a preference."""
    after = _m(metrics, "finetuned", "test_accuracy")
    rag = (
        "- **RAG** adds knowledge the model lacks by retrieving documents. This task needs no "
        "outside facts: the label is a judgement about the text itself, so there is nothing "
        "to retrieve."
    )
    params = int(_m(metrics, "finetuned", "trainable_params"))
    prompt = (
        "- **Prompting** a general model costs no training, but even the small LLM of the "
        f"optional LLM track (SmolLM2-135M) has about {135e6 / params:.0f}x the {params:,} "
        "parameters of this encoder, so every prediction costs several times the compute. "
        "Prompting was not measured in this run (`make train-llm` measures it): the frozen "
        "encoder + LR row is the no-fine-tuning reference measured here."
    )
    if llm_run is not None:
        prompt = (
            f"- **Prompting** was measured by `make train-llm` (MLflow run `{llm_run['run_id']}`, "
            f"{llm_run.get('n_test', '?')} test texts): {llm_run.get('base_model')} scored "
            f"{float(llm_run['llm_prompted.test_accuracy']):.3f} accuracy with "
            f"{llm_run.get('shots', '?')}-shot prompting and "
            f"{float(llm_run['llm_lora.test_accuracy']):.3f} after LoRA, against {after:.3f} "
            f"for the fine-tuned encoder on the full test split."
        )
    return "\n".join([_verdict(gain, metrics), *_lora(metrics), prompt, rag])


def _verdict(gain: float, metrics: dict[str, float]) -> str:
    """The cheapest model within ``GAIN_WORTH_IT`` accuracy of the best one wins: TF-IDF
    (sub-millisecond), then frozen + LR (no fine-tuning), then the fine-tuned encoder."""
    tfidf = _m(metrics, "tfidf_lr", "test_accuracy")
    after = _m(metrics, "finetuned", "test_accuracy")
    frozen = after - gain
    best = max(tfidf, frozen, after)
    moved = f"Fine-tuning moved the encoder {gain:+.3f} against frozen."
    if tfidf >= best - GAIN_WORTH_IT:
        ranking = "beat" if tfidf > after else "came within a point of"
        return (
            f"- **TF-IDF + LR {ranking} the fine-tuned encoder**: {tfidf:.3f} accuracy against "
            f"{after:.3f}, at {_m(metrics, 'tfidf_lr', 'latency_p50_ms'):.2f} ms per text "
            f"against {_m(metrics, 'finetuned', 'latency_p50_ms'):.2f}. On this data it is the "
            "better production model (this service serves the fine-tuned one: switching is "
            "the change to make): the exact words that decide these labels matter as much as "
            f"the sentence meaning the encoder was pre-trained on. {moved} More data, training "
            "steps or longer inputs may change the ranking; this table is how you would know."
        )
    if frozen >= best - GAIN_WORTH_IT:
        return (
            f"- **Fine-tuning** changed accuracy by only {gain:+.3f} over the frozen encoder "
            f"(threshold {GAIN_WORTH_IT}): on this data the frozen encoder + LR is the better "
            "trade, cheaper to train and to retrain. More data or epochs may change that."
        )
    return (
        f"- **Fine-tuning** bought {gain:+.3f} accuracy over the frozen encoder at the same "
        f"inference cost per text, and {after - tfidf:+.3f} over TF-IDF. A one-off training "
        "cost for a gain on every prediction: fine-tune."
    )


def _lora(metrics: dict[str, float]) -> list[str]:
    """LoRA against full fine-tuning, when the run trained both."""
    if "lora.test_accuracy" not in metrics:
        return []
    full_params = _m(metrics, "finetuned", "trainable_params")
    lora_params = _m(metrics, "lora", "trainable_params")
    return [
        f"- **LoRA** trained {int(lora_params):,} weights ({lora_params / full_params:.2%} of "
        f"the full fine-tune's) and reached {_m(metrics, 'lora', 'test_accuracy'):.3f} "
        f"against {_m(metrics, 'finetuned', 'test_accuracy'):.3f}, in "
        f"{_m(metrics, 'lora', 'train_seconds'):.0f} s against "
        f"{_m(metrics, 'finetuned', 'train_seconds'):.0f} s. Its saving is optimizer memory "
        "and a small adapter per task; each step still runs the whole encoder."
    ]


def _recipe(metrics: dict[str, float], params: dict[str, str]) -> str:
    """How the fine-tune was trained, and why, with this run's values."""
    return (
        "Fine-tuning uses AdamW with linear warm-up and decay. The pre-trained encoder "
        f"learns at {params.get('learning_rate', '?')} and the new classification head, "
        f"which starts random, at {params.get('head_learning_rate', '?')}: one rate for both "
        "would leave the head untrained or make the encoder forget. Training length is set "
        f"in optimizer steps, not epochs: at least {params.get('min_train_steps', '?')} "
        f"steps of {params.get('batch_size', '?')} texts, here "
        f"{_int(metrics, 'finetuned.planned_epochs')} planned epoch(s), so a small data set "
        "gets more passes instead of too few updates; early stopping on validation and a "
        f"time budget of {params.get('max_train_seconds', '?')} s can end it sooner. LoRA "
        f"trains its adapters at {params.get('lora_learning_rate', '?')} and the head at the "
        "head's rate, on the same plan."
    )


def _int(metrics: dict[str, float], key: str) -> str:
    """A whole-number metric for prose, or ``?`` when the run did not log it."""
    return f"{metrics[key]:.0f}" if key in metrics else "?"


def _count(params: dict[str, str], key: str) -> str:
    value = params.get(key, "?")
    return f"{int(value):,}" if value.isdigit() else value


def _budget_note(metrics: dict[str, float], params: dict[str, str]) -> str:
    if not metrics.get("finetuned.stopped_by_time_budget"):
        return ""
    return (
        f" Training hit its time budget ({params.get('max_train_seconds', '?')} s) and stopped"
        " before the last planned epoch ended: on a less busy machine it would train longer."
    )


def _cell(text: str, limit: int = 200) -> str:
    """A table cell: one line, pipes escaped, long texts cut."""
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Rewrite WRITEUP.md from an MLflow run")
    parser.add_argument("--run-id", help="MLflow run (default: the saved champion's run)")
    args = parser.parse_args(argv)
    settings = Settings()
    tracking.configure()
    path = write(settings, args.run_id or champion_run_id(settings))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
