"""Operating a rendered rag project with real parts, through the project's own Makefile.

One project is rendered and `make ingest`-ed on a small subset of the bundled Python docs
(two FAQ pages and the shutil page: seconds to embed), then:

- PostgreSQL: a throwaway cluster (initdb/pg_ctl), `make postgres-db`, `make mlflow-server`,
  `make train` against that server; the run, its metrics and the index key are on it.
- The image's start command, read from the Dockerfile, run from a fresh `pip install .`
  with 2 workers: the HEALTHCHECK command, /ready, one cited answer, and a bounded wrk
  load with 0 errors.
- Rolling an index back (DEPLOY.md): `make ingest` rebuilds the index a live
  `make serve-prod` reads, SIGHUP, and every worker serves the new index; questions asked
  meanwhile are all answered.
Every server binds 127.0.0.1 on a free port and is stopped in a finally block.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest

from mlportfolio.render import NewProject, new_project
from tests.ops_helpers import (
    Postgres,
    dockerfile,
    env,
    free_port,
    get,
    install_fresh,
    postgres_cluster,
    run,
    server,
    wrk_post,
)

SUBSET = '["faq/design.rst", "faq/library.rst", "library/shutil.rst"]'
QUESTION = "How do I copy a file?"
WORKERS = 2
LOAD_S = 6


@dataclass(frozen=True)
class IngestedProject:
    path: Path
    package: str
    env: dict[str, str]  # the subset, and a short evaluation
    manifest: dict[str, Any]


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    with postgres_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> IngestedProject:
    """The default rag project, its index built on the subset by `make ingest`."""
    rendered = new_project(
        NewProject(kind="rag", dest=tmp_path_factory.mktemp("rag") / "ragops", git=False)
    )
    prefix = rendered.package.upper()
    project_env = env(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        **{f"{prefix}_INCLUDE_SOURCES": SUBSET, f"{prefix}_EVAL_LIMIT": "40"},
    )
    assert "indexed" in run(["make", "ingest"], rendered.path, project_env)
    manifest = json.loads((rendered.path / "data/processed/index/manifest.json").read_text())
    return IngestedProject(rendered.path, rendered.package, project_env, manifest)


def _mlflow(base: str, endpoint: str, **query: str) -> dict[str, Any]:
    url = f"{base}/api/2.0/mlflow/{endpoint}?" + "&".join(f"{k}={v}" for k, v in query.items())
    status, body = get(url)
    assert status == 200, body
    payload: dict[str, Any] = json.loads(body)
    return payload


@pytest.mark.slow
def test_train_logs_to_the_postgres_tracking_server(
    postgres: Postgres, ingested: IngestedProject
) -> None:
    started = time.perf_counter()
    project, package = ingested.path, ingested.package
    pg_env = {**ingested.env, **postgres.env()}
    run(["make", "postgres-db"], project, pg_env)
    port = free_port()
    command = [
        "make",
        "mlflow-server",
        f"MLFLOW_BACKEND_URI={postgres.url(f'{package}_mlflow')}",
        f"MLFLOW_PORT={port}",
        "MLFLOW_WORKERS=1",
    ]
    base = f"http://127.0.0.1:{port}"
    with server(command, project, pg_env, f"{base}/health"):
        run(["make", "train"], project, {**ingested.env, "MLFLOW_TRACKING_URI": base})
        run_id = json.loads((project / "reports/metrics.json").read_text())["run_id"]
        logged = _mlflow(base, "runs/get", run_id=run_id)["run"]
    assert not (project / "mlflow.db").exists(), "train wrote to SQLite, not the server"
    metrics = {m["key"]: m["value"] for m in logged["data"]["metrics"]}
    params = {p["key"]: p["value"] for p in logged["data"]["params"]}
    assert logged["info"]["status"] == "FINISHED"
    assert metrics["n_passages"] == ingested.manifest["passages"]
    assert 0 < metrics["test_recall_at_5_hybrid"] <= 1
    assert params["corpus_key"] == ingested.manifest["key"]["corpus"]  # which index was scored
    print(
        f"\npostgres path (cluster, server, train on {metrics['n_questions']:.0f} questions, "
        f"{metrics['n_passages']:.0f} passages): {time.perf_counter() - started:.1f} s"
    )


def _started_workers(log: IO[bytes]) -> int:
    """Workers that have loaded the app, from the server's log (pread: the server's
    write offset, shared with this file object, stays where it is)."""
    text = os.pread(log.fileno(), os.fstat(log.fileno()).st_size, 0).decode(errors="replace")
    return text.count("Application startup complete")


@pytest.mark.slow
def test_image_command_serves_two_workers_under_load(
    ingested: IngestedProject, tmp_path_factory: pytest.TempPathFactory
) -> None:
    started = time.perf_counter()
    project, package = ingested.path, ingested.package
    bin_dir = install_fresh(project, package, tmp_path_factory.mktemp("venv") / "venv")
    cmd, image_env, healthcheck = dockerfile(project)
    assert cmd[:3] == ["python", "-m", "gunicorn"]
    prefix, port = package.upper(), free_port()
    service_env = {k: v for k, v in env().items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    service_env |= image_env  # what the image sets, then what differs outside a container:
    service_env |= {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        f"{prefix}_INDEX_DIR": str(project / "data/processed/index"),  # /app is the project
        f"{prefix}_REPORTS_DIR": str(project / "reports"),
        f"{prefix}_HOST": "127.0.0.1",
        f"{prefix}_PORT": str(port),
        f"{prefix}_WORKERS": str(WORKERS),
    }
    url = f"http://127.0.0.1:{port}"
    with server(cmd, project, service_env, f"{url}/ready") as log:
        deadline = time.monotonic() + 60
        while _started_workers(log) < WORKERS:  # the load must find every worker loaded
            assert time.monotonic() < deadline, "not every worker loaded the index"
            time.sleep(0.25)
        assert subprocess.run(["sh", "-c", healthcheck], env=service_env).returncode == 0
        metadata = json.loads(get(f"{url}/metadata")[1])
        body = json.dumps({"question": QUESTION})
        request = urllib.request.Request(
            f"{url}/ask", data=body.encode(), headers={"content-type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.loads(response.read())
        page_status, page = get(f"{url}/")  # static files ship in the installed package
        rate = wrk_post(f"{url}/ask", body, project / "ask.lua", LOAD_S, connections=4)
    assert metadata["model_version"] == ingested.manifest["version"]
    assert not answer["refused"]
    assert "library/shutil.rst" in {c["source"] for c in answer["citations"]}
    assert page_status == 200 and b"<html" in page.lower()
    print(
        f"\nimage command from a fresh install, {WORKERS} workers, wrk -t1 -c4 -d{LOAD_S}s on "
        f"/ask: {rate:.0f} req/s, 0 errors ({time.perf_counter() - started:.1f} s in all)"
    )


def _ask(url: str, question: str) -> int:
    request = urllib.request.Request(
        f"{url}/ask",
        data=json.dumps({"question": question}).encode(),
        headers={"content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _gunicorn_master(log: IO[bytes]) -> int:
    """The master's pid: the parent of the first worker the log names."""
    text = os.pread(log.fileno(), os.fstat(log.fileno()).st_size, 0).decode(errors="replace")
    worker = re.search(r"Booting worker with pid: (\d+)", text)
    assert worker is not None, text
    status = Path(f"/proc/{worker.group(1)}/status").read_text()
    return int(re.search(r"^PPid:\s+(\d+)$", status, re.MULTILINE).group(1))  # type: ignore[union-attr]


@pytest.mark.slow
def test_sighup_swaps_in_a_rebuilt_index_without_dropping_requests(
    ingested: IngestedProject, tmp_path: Path
) -> None:
    """DEPLOY.md's rollback: rebuild the index with `make ingest`, SIGHUP `make serve-prod`."""
    project, prefix = ingested.path, ingested.package.upper()
    live = tmp_path / "index"  # a copy, so the module's index stays as the other tests saw it
    shutil.copytree(project / "data/processed/index", live)
    port = free_port()
    service_env = {**ingested.env, f"{prefix}_INDEX_DIR": str(live)}
    url = f"http://127.0.0.1:{port}"
    command = ["make", "serve-prod", f"PORT={port}", f"WORKERS={WORKERS}"]
    with server(command, project, service_env, f"{url}/ready") as log:
        master = _gunicorn_master(log)
        # the "good" index: the shutil page alone (its vectors come from the embedding cache)
        rebuilt = {**service_env, f"{prefix}_INCLUDE_SOURCES": '["library/shutil.rst"]'}
        assert "indexed" in run(["make", "ingest"], project, rebuilt)
        version = json.loads((live / "manifest.json").read_text())["version"]
        assert version != ingested.manifest["version"]

        started = time.monotonic()
        os.kill(master, signal.SIGHUP)
        statuses: list[int] = []
        # while workers restart a request may wait for one (slow on a busy box): not dropped
        while json.loads(get(f"{url}/ready", timeout=60)[1])["model_version"] != version:
            assert time.monotonic() < started + 60, "the workers never loaded the new index"
            statuses.append(_ask(url, QUESTION))
        swapped = time.monotonic() - started
        for _ in range(2 * WORKERS):  # every worker: the old ones are gone
            assert json.loads(get(f"{url}/ready")[1])["model_version"] == version
    assert statuses and set(statuses) == {200}, statuses
    print(
        f"\nSIGHUP: {WORKERS} workers on the rebuilt index {swapped:.1f} s later; "
        f"{len(statuses)} questions asked meanwhile, all answered (200)"
    )
