"""Operating a rendered finetune project with real parts, through the project's own Makefile.

- PostgreSQL: a throwaway cluster (initdb/pg_ctl), `make postgres-db`, `make mlflow-server`,
  `make train-smoke` twice against that server (real MiniLM, tiny subset): two versions.
- The image's start command, read from the Dockerfile, run from a fresh `pip install .`
  with 2 workers on the exported champion: the HEALTHCHECK command, /ready, a bounded wrk
  load with 0 errors.
- Rollback: `make rollback VERSION=N` and `make rollback` against the tracking server
  while that service runs; every worker reports the new version without a restart.
Every server binds 127.0.0.1 on a free port and is stopped in a finally block.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

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

WORKERS = 2
POLL_S = 1.0
SLACK_S = 20.0  # a worker loads the model (~90 MB of safetensors) on a busy CI box
REVIEW = "a moving, funny and beautifully acted film that stays with you"


@dataclass(frozen=True)
class TrackedProject:
    path: Path
    package: str
    env: dict[str, str]  # MLFLOW_TRACKING_URI points at the project's tracking server
    setup_s: float


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    with postgres_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="module")
def tracked(
    postgres: Postgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TrackedProject]:
    """A rendered finetune project, its `make mlflow-server` on PostgreSQL, trained twice."""
    started = time.perf_counter()
    rendered = new_project(
        NewProject(kind="finetune", dest=tmp_path_factory.mktemp("ft") / "ft-ops", git=False)
    )
    project, package = rendered.path, rendered.package
    project_env = env(**postgres.env())
    run(["make", "postgres-db"], project, project_env)
    port = free_port()
    command = [
        "make",
        "mlflow-server",
        f"MLFLOW_BACKEND_URI={postgres.url(f'{package}_mlflow')}",
        f"MLFLOW_PORT={port}",
        "MLFLOW_WORKERS=1",
    ]
    with server(command, project, project_env, f"http://127.0.0.1:{port}/health"):
        project_env = {**project_env, "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{port}"}
        first = run(["make", "train-smoke"], project, project_env)
        assert "v1 is the first champion" in first, first
        second = run(["make", "train-smoke"], project, project_env)
        assert "champion stays v1: v2 is a smoke run" in second, second  # registered, not served
        yield TrackedProject(project, package, project_env, time.perf_counter() - started)


def _version(port: int) -> str:
    return str(json.loads(get(f"http://127.0.0.1:{port}/metadata")[1])["model_version"])


def _wait_for_version(port: int, version: str, started: float) -> float:
    """Seconds until every worker (8 answers in a row) reports ``version``."""
    deadline = started + POLL_S + SLACK_S
    in_a_row = 0
    while in_a_row < 8:
        in_a_row = in_a_row + 1 if _version(port) == version else 0
        assert time.monotonic() < deadline, f"still not on v{version}"
        time.sleep(0.05)
    return time.monotonic() - started


@pytest.mark.slow
def test_image_command_serves_under_load_and_follows_rollbacks(
    tracked: TrackedProject, tmp_path: Path
) -> None:
    project, package = tracked.path, tracked.package
    run(["make", "rollback", "VERSION=1"], project, tracked.env)  # a known start
    venv_bin = install_fresh(project, package, tmp_path / "venv")
    cmd, image_env, healthcheck = dockerfile(project)
    assert cmd[:3] == ["python", "-m", "gunicorn"]
    prefix, port = package.upper(), free_port()
    serve_env = {k: v for k, v in env().items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    serve_env |= image_env  # what the image sets, then what differs outside a container:
    serve_env |= {
        "PATH": f"{venv_bin}{os.pathsep}{os.environ['PATH']}",
        f"{prefix}_MODEL_DIR": str(project / "models" / "champion"),  # /app is the project
        f"{prefix}_HOST": "127.0.0.1",
        f"{prefix}_PORT": str(port),
        f"{prefix}_WORKERS": str(WORKERS),
        f"{prefix}_RELOAD_INTERVAL_S": str(POLL_S),
    }
    with server(cmd, project, serve_env, f"http://127.0.0.1:{port}/ready"):
        workers = subprocess.run(["pgrep", "-f", "-c", cmd[-1]], capture_output=True, text=True)
        assert int(workers.stdout or 0) >= WORKERS + 1, "a gunicorn master and its workers"
        assert subprocess.run(["sh", "-c", healthcheck], env=serve_env).returncode == 0
        assert _version(port) == "1"
        body = json.dumps({"text": REVIEW})
        rate = wrk_post(f"http://127.0.0.1:{port}/predict", body, tmp_path / "p.lua", 6, 4)

        started = time.monotonic()
        out = run(["make", "rollback", "VERSION=2"], project, tracked.env)
        assert "champion: v1 -> v2" in out
        forward = _wait_for_version(port, "2", started)
        started = time.monotonic()
        assert "champion: v2 -> v1" in run(["make", "rollback"], project, tracked.env)
        back = _wait_for_version(port, "1", started)
    print(
        f"\npostgres setup (cluster, server, 2 smoke trainings): {tracked.setup_s:.1f} s; "
        f"image command, {WORKERS} workers, wrk -c4 6 s: {rate:.0f} req/s, 0 errors; "
        f"v2 live {forward:.1f} s after `make rollback VERSION=2`, v1 {back:.1f} s after "
        f"`make rollback` (poll {POLL_S} s)"
    )
