"""``make bench``: how fast is an answer? p50/p99 of retrieval alone and of ``POST /ask``.

Retrieval alone is timed in-process (question embedding included for dense and hybrid:
it is part of their cost). ``/ask`` is timed over HTTP against the real app, served by
uvicorn on 127.0.0.1 in this process, one request at a time, so the number is what one
user waits (no queueing). Torch runs ``torch_threads`` threads, as a server process does:
unset, one per core (``make serve``); the image's workers use 1 (``ops/gunicorn_conf.py``).
Questions are the eval set's, cycled. Results go to ``reports/bench.json`` and
``reports/bench.md``; ``make report`` quotes them.
"""

from __future__ import annotations

import json
import statistics
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import uvicorn

from ..answer import Assistant, build_assistant
from ..config import Mode, Settings
from ..embeddings import limit_threads
from ..evaluate import MODES, load_questions
from ..retrieval import IndexMissingError
from ..serve import create_app
from .clients import free_port
from .synthetic import synthetic_questions

REQUESTS = 200
WARMUP = 10


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    """p50 and p99 in milliseconds."""
    values = np.asarray(samples_ms)
    return {
        "p50_ms": round(float(np.percentile(values, 50)), 2),
        "p99_ms": round(float(np.percentile(values, 99)), 2),
        "mean_ms": round(statistics.fmean(samples_ms), 2),
    }


def time_retrieval(assistant: Assistant, questions: list[str], mode: Mode) -> dict[str, float]:
    """Retrieval alone (top 5), in-process."""
    samples = []
    for i in range(WARMUP + REQUESTS):
        question = questions[i % len(questions)]
        started = time.perf_counter()
        assistant.retriever.search(question, assistant.settings.top_k, mode)
        if i >= WARMUP:
            samples.append((time.perf_counter() - started) * 1000)
    return percentiles(samples)


def time_ask(assistant: Assistant, settings: Settings, questions: list[str]) -> dict[str, float]:
    """``POST /ask`` over HTTP, sequential requests."""
    port = free_port()
    app = create_app(settings, assistant)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    samples = []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            for i in range(WARMUP + REQUESTS):
                question = questions[i % len(questions)]
                started = time.perf_counter()
                response = client.post("/ask", json={"question": question})
                response.raise_for_status()
                if i >= WARMUP:
                    samples.append((time.perf_counter() - started) * 1000)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    return percentiles(samples)


def bench(settings: Settings) -> dict[str, dict[str, float]]:
    """Every mode: retrieval alone and /ask."""
    limit_threads(settings.torch_threads)  # as serve.app_from_env does
    assistant = build_assistant(settings)
    questions = [q.question for q in load_questions(settings.path(settings.eval_file))]
    if not questions:
        passages = assistant.retriever.index.passages
        questions = [row[0] for row in synthetic_questions(passages, 100, settings.seed)]
    results: dict[str, dict[str, float]] = {}
    for mode in MODES:
        mode_settings = settings.model_copy(
            update={"retriever": mode, "answer_backend": "extractive"}
        )
        mode_assistant = Assistant(assistant.retriever, mode_settings)
        results[f"retrieval_{mode}"] = time_retrieval(mode_assistant, questions, mode)
        results[f"ask_{mode}"] = time_ask(mode_assistant, mode_settings, questions)
        print(f"{mode}: done", file=sys.stderr)
    results["setup"] = {
        "requests": REQUESTS,
        "passages": len(assistant.retriever.index.passages),
        "cpu_threads": float(_torch_threads()),
    }
    return results


def table(results: dict[str, dict[str, float]]) -> str:
    """The results as a Markdown table."""
    lines = ["| retriever | retrieval p50 ms | retrieval p99 ms | /ask p50 ms | /ask p99 ms |",
             "|---|---|---|---|---|"]  # fmt: skip
    for mode in MODES:
        retrieval, ask = results[f"retrieval_{mode}"], results[f"ask_{mode}"]
        lines.append(
            f"| {mode} | {retrieval['p50_ms']:.1f} | {retrieval['p99_ms']:.1f} "
            f"| {ask['p50_ms']:.1f} | {ask['p99_ms']:.1f} |"
        )
    setup = results["setup"]
    lines.append(
        f"\n{int(setup['requests'])} sequential requests per row over "
        f"{int(setup['passages']):,} passages, top 5, extractive answers, "
        f"torch threads: {int(setup['cpu_threads'])}."
    )
    return "\n".join(lines)


def _torch_threads() -> int:
    import torch

    return int(torch.get_num_threads())


def main() -> None:
    """``make bench``: print the table and write it under reports/."""
    settings = Settings()
    try:
        results = bench(settings)
    except IndexMissingError as error:
        sys.exit(f"error: {error}")
    reports = settings.path(settings.reports_dir)
    reports.mkdir(parents=True, exist_ok=True)
    (reports / "bench.json").write_text(json.dumps(results, indent=2) + "\n")
    Path(reports / "bench.md").write_text(table(results) + "\n")
    print(table(results))


if __name__ == "__main__":
    main()
