"""How fast is the service, and compared with what? ``make bench``: one model, served five ways.

Rows: the served model called in-process (the ONNX session, or the pipeline when no ONNX
was logged) and the scikit-learn pipeline on a one-row DataFrame, for the floor; our
``/predict``; ``mlflow models serve`` on the same model folder; a naive FastAPI endpoint
that builds a pandas DataFrame per request; an empty FastAPI endpoint, for the ceiling.
Columns: req/s, p50 and p99 latency for single records at concurrency 8, and rows/s for
1,000-row batches. The load comes from ``wrk`` (its own process, bounded duration), so
the Python client is never the bottleneck. Results depend on the machine: run it where
you quote it, and quote the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from fastapi import FastAPI

from ..config import PROJECT_ROOT, Settings
from ..data import load_split
from ..predict import ServedModel, load_model

CONCURRENCY = 8
BATCH_ROWS = 1000
_UNIT_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def sample_records(settings: Settings) -> list[dict[str, Any]]:
    """Test-split rows as JSON-ready records (missing values as null)."""
    served = load_model(settings)
    features = served.schema.features_frame(load_split(settings).test)
    return features.astype(object).where(features.notna(), None).to_dict("records")


def in_process(
    predict: Callable[..., Any], records: list[dict[str, Any]], seconds: float
) -> dict[str, float]:
    """``predict`` called directly: the floor any HTTP server adds its cost to."""
    latencies = []
    deadline = time.perf_counter() + seconds
    index = 0
    while time.perf_counter() < deadline:
        record = records[index % len(records)]
        start = time.perf_counter()
        predict([record])
        latencies.append(time.perf_counter() - start)
        index += 1
    batch = (records * (BATCH_ROWS // len(records) + 1))[:BATCH_ROWS]
    start, calls = time.perf_counter(), 0
    while time.perf_counter() - start < seconds / 2 or calls < 3:
        predict(batch)
        calls += 1
    batch_seconds = (time.perf_counter() - start) / calls
    ms = np.array(latencies) * 1e3
    return {
        "req_s": len(latencies) / sum(latencies),
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "rows_s": BATCH_ROWS / batch_seconds,
    }


def served_in_process(served: ServedModel) -> Callable[..., Any]:
    """What the service calls per request: feature columns in, probabilities out."""
    names = served.schema.features
    return lambda records: served.predict_proba({n: [r.get(n) for r in records] for n in names})


def _pipeline(settings: Settings) -> Any:
    return mlflow.sklearn.load_model(str(settings.path(settings.model_dir)))


def naive_app() -> FastAPI:
    """The endpoint most tutorials write: a DataFrame and the whole pipeline per request."""
    pipeline = _pipeline(Settings())
    app = FastAPI()

    @app.post("/predict")
    def predict(record: dict[str, Any]) -> dict[str, Any]:
        proba = pipeline.predict_proba(pd.DataFrame([record]))[0]
        return {
            "probabilities": dict(zip(map(str, pipeline.classes_), map(float, proba), strict=True))
        }

    @app.post("/predict/batch")
    def predict_batch(body: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        proba = pipeline.predict_proba(pd.DataFrame(body["records"]))
        return {"probabilities": proba.tolist()}

    return app


def empty_app() -> FastAPI:
    """The ceiling: FastAPI answering a constant, to show what the framework itself costs."""
    app = FastAPI()

    @app.post("/predict")
    async def predict(record: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True}

    return app


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _server(command: list[str], port: int, probe: str) -> Iterator[str]:
    """Start a server process, wait until ``probe`` answers, stop it afterwards."""
    # this interpreter's bin/ first: `mlflow models serve` starts `uvicorn` by name, which
    # must be the one beside this Python even when the virtual environment is not activated
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT / "src"), "PATH": path}
    process = subprocess.Popen(
        command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                error = process.stderr.read().decode()[-2000:] if process.stderr else ""
                raise RuntimeError(f"{' '.join(command[:4])} exited:\n{error}")
            try:
                with urllib.request.urlopen(url + probe, timeout=2):  # nosec B310 # scheme is http
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{command[:4]} did not start in 180 s") from None
                time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wrk(url: str, body: str, seconds: float, connections: int) -> dict[str, float]:
    """POST ``body`` to ``url`` for ``seconds`` with ``connections`` open; parse wrk's report."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(
            'wrk.method = "POST"\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
            f"wrk.body = {json.dumps(body)}\n"
        )
    threads = min(2, connections)
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:.0f}s", "--latency"]
    try:
        output = subprocess.run(
            [*command, "-s", script.name, url], capture_output=True, text=True, check=True
        ).stdout
    finally:
        Path(script.name).unlink()
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if errors:
        raise RuntimeError(f"{url} answered {errors.group(1)} requests with errors:\n{output}")
    return {
        "req_s": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),  # type: ignore[union-attr]
        "p50_ms": _latency(output, "50%"),
        "p99_ms": _latency(output, "99%"),
    }


def _latency(output: str, percentile: str) -> float:
    match = re.search(rf"^\s+{percentile}\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
    return float(match.group(1)) * _UNIT_MS[match.group(2)] if match else float("nan")


def http_rows(
    settings: Settings, records: list[dict[str, Any]], seconds: float
) -> dict[str, dict[str, float]]:
    """Single-record and batch load on each server, one server at a time."""
    python = sys.executable
    batch = (records * (BATCH_ROWS // len(records) + 1))[:BATCH_ROWS]
    uvicorn = [python, "-m", "uvicorn", "--factory", "--no-access-log", "--log-level", "warning"]
    package = __package__.rpartition(".")[0]  # the project's package, not .ops
    servers = {
        "our /predict": (
            [*uvicorn, f"{package}.serve:app_from_env"],
            "/ready",
            ("/predict", records[0]),
            ("/predict/batch", {"records": batch}),
        ),
        "mlflow models serve": (
            [python, "-m", "mlflow", "models", "serve", "-m",
             str(settings.path(settings.model_dir)), "--env-manager", "local"],
            "/ping",
            ("/invocations", {"dataframe_records": [records[0]]}),
            ("/invocations", {"dataframe_records": batch}),
        ),
        "naive FastAPI + pandas": (
            [*uvicorn, f"{package}.ops.bench:naive_app"],
            "/docs",
            ("/predict", records[0]),
            ("/predict/batch", {"records": batch}),
        ),
        "empty FastAPI (ceiling)": (
            [*uvicorn, f"{package}.ops.bench:empty_app"],
            "/docs",
            ("/predict", records[0]),
            ("/predict", {"records": batch}),
        ),
    }  # fmt: skip
    rows = {}
    for name, (command, probe, single, many) in servers.items():
        port = _free_port()
        print(f"  {name} ...", file=sys.stderr, flush=True)
        with _server([*command, "--host", "127.0.0.1", "--port", str(port)], port, probe) as url:
            row = wrk(url + single[0], json.dumps(single[1]), seconds, CONCURRENCY)
            batched = wrk(url + many[0], json.dumps(many[1]), seconds, 2)
            row["rows_s"] = batched["req_s"] * BATCH_ROWS
        rows[name] = row
    return rows


def print_table(rows: dict[str, dict[str, float]]) -> None:
    header = f"{'':<24}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'batch rows/s':>14}"
    print(
        f"\nsingle record at concurrency {CONCURRENCY}; batches of {BATCH_ROWS} rows, 2 connections"
    )
    print(header)
    for name, row in rows.items():
        print(
            f"{name:<24}{row['req_s']:>10.0f}{row['p50_ms']:>10.2f}"
            f"{row['p99_ms']:>10.2f}{row['rows_s']:>14.0f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10, help="duration of each load run")
    args = parser.parse_args()
    settings = Settings()
    records = sample_records(settings)
    served, pipeline, seconds = load_model(settings), _pipeline(settings), min(args.seconds, 5)
    rows = {
        "in-process, served": in_process(served_in_process(served), records, seconds),
        "in-process, sklearn": in_process(
            lambda batch: pipeline.predict_proba(served.schema.features_frame(pd.DataFrame(batch))),
            records,
            seconds,
        ),
    }
    if shutil.which("wrk") is None:
        print_table(rows)
        print(
            "\nwrk is not installed: install it (Debian/Ubuntu: sudo apt-get install wrk;"
            " macOS: brew install wrk) and run `make bench` again for the HTTP rows."
        )
        raise SystemExit(1)
    rows |= http_rows(settings, records, args.seconds)
    print_table(rows)
    print(f"\n{os.cpu_count()} CPUs; server and wrk share them, so compare rows, not machines.")


if __name__ == "__main__":
    main()
