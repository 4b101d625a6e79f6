"""How fast is the service, and compared with what? ``make bench``: one model, served five ways.

Rows: the served model called in-process (the ONNX session, or the pipeline when no ONNX
was logged) and the scikit-learn pipeline on a one-row DataFrame, for the floor; the
service's whole answer in-process without and with reason codes (``?explain=true``); our
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
import shutil
import sys
import time
from collections.abc import Callable
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from fastapi import FastAPI

from ..config import Settings
from ..data import load_split
from ..predict import ServedModel, load_model
from .clients import serving, wrk

CONCURRENCY = 8
BATCH_ROWS = 1000


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


def http_rows(
    settings: Settings, records: list[dict[str, Any]], seconds: float
) -> dict[str, dict[str, float]]:
    """Single-record and batch load on each server, one server at a time."""
    batch = (records * (BATCH_ROWS // len(records) + 1))[:BATCH_ROWS]
    uvicorn = ["-m", "uvicorn", "--factory", "--no-access-log", "--log-level", "warning"]
    package = __package__.rpartition(".")[0]  # the project's package, not .ops
    servers = {
        "our /predict": (
            [*uvicorn, f"{package}.serve:app_from_env"],
            "/ready",
            ("/predict", records[0]),
            ("/predict/batch", {"records": batch}),
        ),
        "mlflow models serve": (
            ["-m", "mlflow", "models", "serve", "-m",
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
        print(f"  {name} ...", file=sys.stderr, flush=True)
        with serving(command, probe) as server:
            row = wrk(server.url + single[0], json.dumps(single[1]), seconds, CONCURRENCY)
            batched = wrk(server.url + many[0], json.dumps(many[1]), seconds, 2)
        if row["non_2xx"] or batched["non_2xx"] or row["socket_errors"]:
            raise RuntimeError(f"{name} answered with errors under load: {row}")
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
        # The cost of reason codes per request: the same answer without and with them.
        "in-process, predict()": in_process(served.predict, records, seconds),
        "in-process, explain": in_process(
            lambda batch: served.predict(batch, explain=True), records, seconds
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
