"""Where does one process stop, and what does the cluster cost? ``make bench-train ROWS=N``.

Writes a synthetic data set of this project's own schema (rows of the data file drawn with
replacement, each number scaled by a random factor in [0.9, 1.1] so rows seldom repeat) as a
folder of Parquet files, and the same rows as one CSV, which the local engine reads. Then it
trains on them with ``ENGINE=local`` and ``ENGINE=dask`` in turn, each in a fresh process, and
prints one table: wall time, rows/s, and the peak resident memory of the training process and
of the largest process it started (a Dask worker). ``--memory`` sets each Dask worker's limit
(else ``dask_worker_memory``) and gives the local process the same limit the way Dask's nanny
enforces it on a worker: it is stopped once its resident memory passes it. Each run covers
split, cross-validation, refit and the test-split metrics; the MLflow logging, plots and
ONNX compile of ``make train`` are left out (on Dask they read bounded samples). Results
belong to the machine: quote them with its cores, memory and load.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

from ..config import ENV_PREFIX, Settings
from ..data import infer_schema, read_raw
from ..evaluate import evaluate
from ..train import train

CHUNK_ROWS = 250_000  # rows per Parquet file, and per write: generation needs little memory
POLL_S = 0.2


@dataclass(frozen=True)
class Run:
    """One engine on one data set: what the table shows."""

    rows: int
    engine: str
    wall_s: float
    main_mb: float  # the process that trains (and, for dask, runs the scheduler and nannies)
    worker_mb: float  # the largest process it started: a Dask worker (0 for local)
    outcome: str  # the selected model's test PR-AUC, or why it did not finish

    def line(self) -> str:
        speed = f"{self.rows / self.wall_s:,.0f}" if self.outcome[0].isdigit() else "-"
        worker = f"{self.worker_mb:,.0f}" if self.worker_mb else "-"
        cells = [f"{self.rows:,}", self.engine, f"{self.wall_s:,.1f}", speed]
        return "| " + " | ".join([*cells, f"{self.main_mb:,.0f}", worker, self.outcome]) + " |"


def synthesize(settings: Settings, rows: int, folder: Path) -> tuple[Path, Path]:
    """``rows`` synthetic rows as a Parquet folder and a CSV (reused if already written)."""
    parquet, csv = folder / f"rows_{rows}", folder / f"rows_{rows}.csv"
    if parquet.is_dir() and csv.is_file():
        return parquet, csv
    raw = read_raw(settings)
    numeric = infer_schema(raw, settings).numeric
    rng = np.random.default_rng(settings.seed)
    parquet.mkdir(parents=True, exist_ok=True)
    csv.unlink(missing_ok=True)
    for part, start in enumerate(range(0, rows, CHUNK_ROWS)):
        size = min(CHUNK_ROWS, rows - start)
        chunk = raw.sample(size, replace=True, random_state=rng.integers(2**31)).reset_index(
            drop=True
        )
        for name in numeric:
            scale = rng.uniform(0.9, 1.1, size)
            chunk[name] = (pd.to_numeric(chunk[name]) * scale).round(2)
        chunk.to_parquet(parquet / f"part-{part:04d}.parquet", index=False)
        chunk.to_csv(csv, mode="a", header=part == 0, index=False)
    return parquet, csv


def measure(engine: str, data: Path, rows: int, memory: str | None, env: dict[str, str]) -> Run:
    """Train in a child process; poll the memory of it and its children until it ends."""
    with tempfile.TemporaryDirectory() as work:
        result, log = Path(work) / "result.json", Path(work) / "log.txt"
        child_env = {
            **env,
            f"{ENV_PREFIX}ENGINE": engine,
            f"{ENV_PREFIX}DATA_FILE": str(data),
            f"{ENV_PREFIX}PROCESSED_DIR": str(Path(work) / "processed"),
            f"{ENV_PREFIX}DASK_WORKER_MEMORY": memory or Settings().dask_worker_memory,
            "BENCH_RESULT": str(result),
        }
        command = [sys.executable, "-m", __spec__.name, "--child"]
        with log.open("w") as output:
            child = subprocess.Popen(command, env=child_env, stdout=output, stderr=output)
        limit, peaks, stopped = _bytes(memory) if memory else float("inf"), {}, ""
        started = time.perf_counter()
        main = psutil.Process(child.pid)
        while child.poll() is None:
            for process in [main, *main.children(recursive=True)]:
                try:
                    peaks[process.pid] = max(peaks.get(process.pid, 0), process.memory_info().rss)
                except psutil.Error:
                    continue  # it ended between the listing and the reading
            if engine == "local" and peaks[child.pid] > limit:
                child.kill()
                stopped = f"stopped: passed {memory}"
            time.sleep(POLL_S)
        wall = time.perf_counter() - started
        outcome = stopped or _outcome(result, log, child.returncode)
    workers = [peak for pid, peak in peaks.items() if pid != child.pid]
    mb = 1 / 2**20
    return Run(rows, engine, wall, peaks[child.pid] * mb, max(workers, default=0) * mb, outcome)


def _outcome(result: Path, log: Path, returncode: int) -> str:
    if returncode == 0 and result.is_file():
        body = json.loads(result.read_text())
        return f"{body['pr_auc']:.4f} ({body['selected']})"
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    return f"failed (exit {returncode}): {lines[-1][:80] if lines else ''}"


def _bytes(size: str) -> float:
    """'1.5GiB' -> bytes, with Dask's own parser, so both engines read the limit the same."""
    from dask.utils import parse_bytes

    return float(parse_bytes(size))


def child() -> None:
    """The measured process: one engine's train and test-split metrics, from settings."""
    settings = Settings()
    if settings.engine == "dask":
        from .scale_out import train_on_cluster

        report = train_on_cluster(settings)[1]
    else:
        report = evaluate(train(settings))
    body = {"pr_auc": report.selected_metrics["pr_auc"], "selected": report.selected}
    Path(os.environ["BENCH_RESULT"]).write_text(json.dumps(body))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--engines", nargs="+", default=["local", "dask"])
    parser.add_argument("--memory", help="each Dask worker's limit, and the local process's")
    parser.add_argument("--folder", type=Path, default=Path("data/processed/bench"))
    parser.add_argument("--cv-folds", type=int, default=3)
    parser.add_argument("--n-estimators", type=int, default=100)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child()
    settings = Settings()
    env = {
        **os.environ,
        f"{ENV_PREFIX}CV_FOLDS": str(args.cv_folds),
        f"{ENV_PREFIX}N_ESTIMATORS": str(args.n_estimators),
    }
    print(
        f"{os.cpu_count()} CPUs, {psutil.virtual_memory().total / 2**30:.0f} GiB; "
        f"{args.cv_folds}-fold CV, {args.n_estimators} trees, {settings.dask_workers} "
        f"Dask workers of {args.memory or settings.dask_worker_memory}, "
        f"local limit {args.memory or 'none'}"
    )
    print(
        "| rows | engine | wall s | rows/s | peak MB, trainer | peak MB, largest worker | "
        "test PR-AUC or failure |"
    )
    print("|---|---|---|---|---|---|---|")
    for rows in args.rows:
        parquet, csv = synthesize(settings, rows, settings.path(args.folder))
        for engine in args.engines:
            data = parquet if engine == "dask" else csv
            print(measure(engine, data, rows, args.memory, env).line(), flush=True)


if __name__ == "__main__":
    main()
