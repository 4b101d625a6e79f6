"""``make bench``: what one prediction costs, and what a cheaper model gives up.

Five ways to serve the same task, on the same test texts:

- frozen MiniLM embeddings + LR (the "before"),
- the fine-tuned model in fp32 (the "after", what ``serve`` runs),
- the fine-tuned model with dynamic int8 quantization of its linear layers: weights stored
  in 8 bits, activations quantized on the fly. No retraining, one line of code; the table
  shows what it saves in time and size and what it costs in accuracy;
- TF-IDF + LR on the human labels (the baseline),
- the same TF-IDF pipeline trained on the fine-tuned model's labels instead: a distilled
  student (``ops/distill.py``), with how often it agrees with its teacher
  (``reports/distill.json``).

Latency is measured one text per call (how the API sees a single request); throughput with
batches of ``--batch`` texts. CPU timings are noisy on a shared machine: rerun to compare.
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import mlflow
import numpy as np
import torch
from sklearn.metrics import accuracy_score
from sklearn.pipeline import Pipeline
from tqdm.auto import tqdm

from .. import baselines, data, model
from ..config import Settings
from . import distill, tracking

Predict = Callable[..., list[str]]  # texts in, labels out
STUDENT = "TF-IDF student (distilled)"


@dataclass(frozen=True)
class Result:
    name: str
    accuracy: float
    p50_ms: float
    p99_ms: float
    texts_per_s: float
    size_mb: float
    agreement: float | None = None  # a student's test predictions that match its teacher's


def measure(
    name: str, predict: Predict, texts: list[str], labels: list[str], n_latency: int, batch: int
) -> Result:
    """Accuracy on all ``texts``, single-text latency on the first ``n_latency``, and
    batched throughput over all of them."""
    start = time.perf_counter()
    predicted: list[str] = []
    for i in tqdm(range(0, len(texts), batch), desc=f"{name}: batches", leave=False):
        predicted += predict(texts[i : i + batch])
    throughput = len(texts) / (time.perf_counter() - start)
    predict(texts[:1])  # warm-up
    timings = []
    for text in tqdm(texts[:n_latency], desc=f"{name}: one by one", leave=False):
        tick = time.perf_counter()
        predict([text])
        timings.append((time.perf_counter() - tick) * 1000)
    return Result(
        name=name,
        accuracy=float(accuracy_score(labels, predicted)),
        p50_ms=statistics.median(timings),
        p99_ms=float(np.percentile(timings, 99)),
        texts_per_s=throughput,
        size_mb=0.0,
    )


def serialized_mb(module: torch.nn.Module) -> float:
    """Size of the weights once written out (int8 weights take a quarter of fp32)."""
    buffer = io.BytesIO()
    torch.save(module.state_dict(), buffer)
    return buffer.tell() / 1e6


def quantize(predictor: model.Predictor) -> model.Predictor:
    """Dynamic int8 quantization of every nn.Linear (most of a transformer's compute).

    torch marks ``torch.ao.quantization`` as deprecated in favour of the separate
    ``torchao`` package; it still works and needs nothing extra, so its warnings are muted.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantized = torch.ao.quantization.quantize_dynamic(
            copy.deepcopy(predictor.model), {torch.nn.Linear}, dtype=torch.qint8
        )
    return model.Predictor(quantized, predictor.tokenizer, predictor.max_length)


def run(settings: Settings, n_latency: int, batch: int, threads: int = 1) -> list[Result]:
    torch.set_num_threads(threads)
    splits = data.split(data.load(settings), settings)
    texts, labels = splits.test[data.TEXT].tolist(), splits.test[data.LABEL].tolist()
    finetuned = model.load(settings.model_dir)
    int8 = quantize(finetuned)
    base, tokenizer = model.build(settings.encoder, finetuned.labels)
    frozen = model.Predictor(base, tokenizer, settings.max_length)
    # the frozen baseline on the same split, seed and encoder, at C=1 (experiment.py picks C
    # on validation; C changes its accuracy a little and its latency not at all)
    vectors = baselines.embed(frozen, splits.train[data.TEXT].tolist())
    head = baselines.frozen_lr(settings.seed).fit(vectors, splits.train[data.LABEL])

    def frozen_predict(batch_texts: list[str]) -> list[str]:
        return head.predict(baselines.embed(frozen, batch_texts)).tolist()

    results = []
    for name, predict, net in (
        ("frozen MiniLM + LR", frozen_predict, base.encoder),
        ("fine-tuned fp32", finetuned.predict, finetuned.model),
        ("fine-tuned int8 (dynamic)", int8.predict, int8.model),
    ):
        result = measure(name, predict, texts, labels, n_latency, batch)
        results.append(Result(**{**result.__dict__, "size_mb": serialized_mb(net)}))
    student, baseline = distill.student_and_baseline(finetuned, splits, settings)
    teacher = finetuned.predict(texts)
    for name, fitted in (("TF-IDF + LR (human labels)", baseline), (STUDENT, student)):
        result = measure(name, _predict_with(fitted), texts, labels, n_latency, batch)
        agrees = distill.agreement(fitted.predict(texts).tolist(), teacher)
        results.append(
            Result(**{**result.__dict__, "size_mb": distill.size_mb(fitted), "agreement": agrees})
        )
    return results


def _predict_with(pipeline: Pipeline) -> Predict:
    return lambda batch_texts: pipeline.predict(batch_texts).tolist()


def table(results: list[Result], n_test: int, n_latency: int, threads: int) -> str:
    rows = "\n".join(
        f"| {r.name} | {r.accuracy:.3f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} "
        f"| {r.texts_per_s:.0f} | {r.size_mb:.1f} |"
        + (f" {r.agreement:.3f} |" if r.agreement is not None else " |")
        for r in results
    )
    return (
        f"Test accuracy on {n_test} texts; latency one text per call over {n_latency} texts; "
        f"throughput in batches; {threads} CPU thread(s).\n\n"
        "| model | accuracy | p50 ms/text | p99 ms/text | texts/s (batched) | weights MB "
        "| agrees with fine-tuned |\n|---|---|---|---|---|---|---|\n" + rows + "\n"
    )


def _model_run_id(settings: Settings) -> str:
    """The training run of the benchmarked model: `make report` matches the two."""
    marker = settings.model_dir / model.RUN_FILE
    return str(json.loads(marker.read_text())["run_id"]) if marker.exists() else "unknown"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Latency, throughput, accuracy per variant")
    parser.add_argument("--latency-texts", type=int, default=200, help="texts timed one by one")
    parser.add_argument("--batch", type=int, default=32, help="batch size for throughput")
    parser.add_argument("--threads", type=int, help="torch threads (default: serve_threads)")
    args = parser.parse_args(argv)
    settings = Settings()
    if not (settings.model_dir / model.WEIGHTS).exists():
        sys.exit(f"error: no fine-tuned model in {settings.model_dir}: run `make train` first")
    threads = args.threads or settings.serve_threads
    results = run(settings, args.latency_texts, args.batch, threads)
    n_test = len(data.split(data.load(settings), settings).test)
    text = table(results, n_test, min(args.latency_texts, n_test), threads)
    settings.reports_dir.mkdir(parents=True, exist_ok=True)
    (settings.reports_dir / "bench.md").write_text(text)
    tracking.configure()
    with mlflow.start_run(run_name="bench"):
        model_run_id = _model_run_id(settings)
        mlflow.log_params({"model_run_id": model_run_id, "threads": threads})
        for r in results:
            key = r.name.split(" (")[0].replace(" ", "_").replace("+", "plus")
            mlflow.log_metrics(
                {
                    f"{key}.accuracy": r.accuracy,
                    f"{key}.p50_ms": r.p50_ms,
                    f"{key}.p99_ms": r.p99_ms,
                    f"{key}.texts_per_s": r.texts_per_s,
                    f"{key}.size_mb": r.size_mb,
                }
            )
            if r.agreement is not None:
                mlflow.log_metric(f"{key}.agreement", r.agreement)
        mlflow.log_text(text, "bench.md")
    distill.write(_distill_record(results, model_run_id), settings.reports_dir)
    print(text)


def _distill_record(results: list[Result], model_run_id: str) -> dict[str, object]:
    """The teacher, the baseline and the student, as ``reports/distill.json`` holds them."""
    named = {r.name: r for r in results}
    rows = ("fine-tuned fp32", "TF-IDF + LR (human labels)", STUDENT)
    return {"run_id": model_run_id, "models": [named[name].__dict__ for name in rows]}


if __name__ == "__main__":
    main()
