"""Operating a rendered classifier with real parts, through the project's own Makefile.

- PostgreSQL: a throwaway cluster (initdb/pg_ctl), `make postgres-db`, `make mlflow-server`,
  `make train` twice against that server, the champion served from the registry.
- Rollback: `make rollback VERSION=2` then `make rollback`; a live service on the registry
  alias and a live multi-worker service on models/champion both follow without a restart.
- The image's start command, read from the Dockerfile, run from a fresh `pip install .`
  with 4 workers: /ready, the HEALTHCHECK command, and a bounded wrk load with 0 errors.
- Drift: `make drift INPUT=...` is quiet on the test split and names the shifted features of
  a shifted copy; so is `make drift` on the prediction log of a live service fed that copy.
Every server binds 127.0.0.1 on a free port and is stopped in a finally block.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from mlportfolio.render import NewProject, new_project
from tests.ops_helpers import Postgres, install_fresh, postgres_cluster
from tests.ops_helpers import dockerfile as _dockerfile
from tests.ops_helpers import env as _env
from tests.ops_helpers import free_port as _free_port
from tests.ops_helpers import get as _get
from tests.ops_helpers import run as _run
from tests.ops_helpers import server as _server

POLL_S = 1.0
SLACK_S = 10.0  # a poll's model load (MLflow over HTTP) and scheduling on a busy CI box


def _render(dest: Path) -> tuple[Path, str]:
    rendered = new_project(NewProject(kind="classifier", dest=dest, git=False))
    return rendered.path, rendered.package


def _version(port: int) -> str:
    return str(json.loads(_get(f"http://127.0.0.1:{port}/metadata")[1])["model_version"])


def _wait_for_version(ports: list[int], version: str, started: float) -> float:
    """Seconds until every service (every worker: 8 answers in a row) reports ``version``."""
    deadline = started + POLL_S + SLACK_S
    for port in ports:
        in_a_row = 0
        while in_a_row < 8:
            in_a_row = in_a_row + 1 if _version(port) == version else 0
            assert time.monotonic() < deadline, f"port {port} still not on v{version}"
            time.sleep(0.05)
    return time.monotonic() - started


# --- PostgreSQL + MLflow server --------------------------------------------------------


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    with postgres_cluster() as cluster:
        yield cluster


@dataclass(frozen=True)
class TrackedProject:
    path: Path
    package: str
    env: dict[str, str]  # MLFLOW_TRACKING_URI points at the project's tracking server
    setup_s: float


@pytest.fixture(scope="module")
def tracked(
    postgres: Postgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TrackedProject]:
    """A rendered classifier, its `make mlflow-server` on PostgreSQL, trained twice on it."""
    started = time.perf_counter()
    project, package = _render(tmp_path_factory.mktemp("pg") / "pg-ops")
    pg_env = {"PGHOST": "127.0.0.1", "PGPORT": str(postgres.port), "PGUSER": "postgres"}
    env = _env(PATH=f"{postgres.bin_dir}{os.pathsep}{_env()['PATH']}", **pg_env)
    database = f"{package}_mlflow"
    _run(["make", "postgres-db"], project, env)
    port = _free_port()
    server = [
        "make",
        "mlflow-server",
        f"MLFLOW_BACKEND_URI={postgres.url(database)}",
        f"MLFLOW_PORT={port}",
        "MLFLOW_WORKERS=1",
    ]
    with _server(server, project, env, f"http://127.0.0.1:{port}/health"):
        env = {**env, "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{port}"}
        assert "is the first champion" in _run(["make", "train"], project, env)
        assert "champion stays v1" in _run(["make", "train"], project, env)  # same data: tie
        yield TrackedProject(project, package, env, time.perf_counter() - started)


@pytest.mark.slow
def test_trains_on_the_postgres_server_and_serves_its_champion(tracked: TrackedProject) -> None:
    started = time.perf_counter()
    prefix = tracked.package.upper()
    port = _free_port()
    env = {**tracked.env, f"{prefix}_MODEL_URI": f"models:/{tracked.package}@champion"}
    command = ["make", "serve", f"PORT={port}"]
    with _server(command, tracked.path, env, f"http://127.0.0.1:{port}/ready"):
        body = (tracked.path / "models/champion/example_request.json").read_bytes()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/predict",
            data=body,
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
            prediction = json.loads(response.read())
    assert 0.0 <= prediction["label_probability"] <= 1.0
    assert prediction["model_version"] == "1"
    total = tracked.setup_s + time.perf_counter() - started
    print(f"\npostgres path (cluster, server, 2 trainings, serve, predict): {total:.1f} s")


@pytest.mark.slow
def test_rollback_reaches_live_services_without_restart(tracked: TrackedProject) -> None:
    prefix = tracked.package.upper()
    live = {**tracked.env, f"{prefix}_RELOAD_INTERVAL_S": str(POLL_S)}
    by_alias, by_folder = _free_port(), _free_port()
    alias_env = {**live, f"{prefix}_MODEL_URI": f"models:/{tracked.package}@champion"}
    with (
        _server(
            ["make", "serve", f"PORT={by_alias}"],
            tracked.path,
            alias_env,
            f"http://127.0.0.1:{by_alias}/ready",
        ),
        _server(
            ["make", "serve-prod", "WORKERS=2", f"PORT={by_folder}"],
            tracked.path,
            live,
            f"http://127.0.0.1:{by_folder}/ready",
        ),
    ):
        ports = [by_alias, by_folder]
        assert [_version(port) for port in ports] == ["1", "1"]

        started = time.monotonic()
        out = _run(["make", "rollback", "VERSION=2"], tracked.path, tracked.env)
        assert "champion: v1 -> v2" in out
        forward = _wait_for_version(ports, "2", started)

        started = time.monotonic()
        assert "champion: v2 -> v1" in _run(["make", "rollback"], tracked.path, tracked.env)
        back = _wait_for_version(ports, "1", started)
    print(
        f"\nlive services on v2 {forward:.1f} s after `make rollback VERSION=2` started, "
        f"back on v1 {back:.1f} s after `make rollback` (poll every {POLL_S} s)"
    )


# --- the image's start command from a fresh install ------------------------------------


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, Path]:
    """A trained project and a fresh venv holding `pip install .` of it (deps from ours)."""
    project, package = _render(tmp_path_factory.mktemp("image") / "image-ops")
    _run(["make", "train"], project, _env())
    venv = tmp_path_factory.mktemp("venv") / "venv"
    install_fresh(project, package, venv)
    return project, package, venv


@pytest.mark.slow
def test_image_command_serves_four_workers_under_load(installed: tuple[Path, str, Path]) -> None:
    project, package, venv = installed
    cmd, image_env, healthcheck = _dockerfile(project)
    assert cmd[:3] == ["python", "-m", "gunicorn"]
    prefix = package.upper()
    port = _free_port()
    env = {k: v for k, v in _env().items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env |= image_env  # what the image sets, then what differs outside a container:
    env |= {
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
        f"{prefix}_MODEL_DIR": str(project / "models/champion"),  # /app is the project
        f"{prefix}_HOST": "127.0.0.1",
        f"{prefix}_PORT": str(port),
        f"{prefix}_WORKERS": "4",
    }
    with _server(cmd, project, env, f"http://127.0.0.1:{port}/ready"):
        workers = subprocess.run(["pgrep", "-f", "-c", cmd[-1]], capture_output=True, text=True)
        assert int(workers.stdout or 0) >= 5, "a gunicorn master and 4 workers"
        assert subprocess.run(["sh", "-c", healthcheck], env=env).returncode == 0
        if shutil.which("wrk") is None:
            pytest.skip("no wrk for the load run (Debian: apt-get install wrk)")
        body = (project / "models/champion/example_request.json").read_text()
        script = project / "post.lua"
        script.write_text(
            'wrk.method = "POST"\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
            f"wrk.body = {json.dumps(json.dumps(json.loads(body)))}\n"
        )
        load = subprocess.run(
            ["wrk", "-t2", "-c16", "-d8s", "-s", str(script), f"http://127.0.0.1:{port}/predict"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    out = load.stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    assert "Non-2xx" not in out and "Socket errors" not in out, out
    assert rate > 0
    print(f"\nimage command, 4 workers, wrk -t2 -c16 -d8s: {rate:.0f} req/s, 0 errors")


# --- drift: from a file and from a live service's prediction log ----------------------


def _shifted_test_split(project: Path) -> Path:
    """The test split with Income doubled and the two commonest Home values swapped."""
    test = pd.read_csv(project / "data/processed/test.csv", dtype=str, keep_default_na=False)
    income = pd.to_numeric(test["Income"], errors="coerce") * 2
    test["Income"] = income.map(lambda v: "" if pd.isna(v) else f"{v:g}")
    test["Home"] = test["Home"].replace({"owner": "rent", "rent": "owner"})
    path = project / "shifted.csv"
    test.to_csv(path, index=False)
    return path


def _drift(project: Path, env: dict[str, str], *args: str) -> tuple[int, str, dict[str, float]]:
    result = subprocess.run(
        ["make", "--no-print-directory", "drift", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    report = json.loads((project / "reports/drift.json").read_text())
    psi = {row["feature"]: round(row["psi"], 3) for row in report["features"]}
    return result.returncode, result.stdout + result.stderr, psi


@pytest.mark.slow
def test_drift_is_quiet_on_the_test_split_and_names_shifted_features(
    installed: tuple[Path, str, Path],
) -> None:
    project, package, _ = installed
    env = _env()
    code, out, quiet = _drift(project, env, "INPUT=data/processed/test.csv")
    assert code == 0, out
    assert "nothing over the thresholds" in out

    shifted = _shifted_test_split(project)
    code, out, loud = _drift(project, env, f"INPUT={shifted}")
    assert code != 0
    assert "drift: 2 over the thresholds: Income, Home" in out, out
    assert (project / "reports/drift.md").is_file()

    # the same shift seen by a live service with the prediction log on
    prefix, port = package.upper(), _free_port()
    live = {**env, f"{prefix}_PREDICTION_LOG": "true"}
    frame = pd.read_csv(shifted, dtype=str, keep_default_na=False, na_values=[""])
    with _server(
        ["make", "serve", f"PORT={port}"], project, live, f"http://127.0.0.1:{port}/ready"
    ):
        schema = json.loads(_get(f"http://127.0.0.1:{port}/metadata")[1])["schema"]
        features = frame[schema["numeric"] + list(schema["categorical"])]
        numeric = features[schema["numeric"]].apply(pd.to_numeric)
        features = features.astype(object).assign(**numeric.astype(object))
        records = features.where(features.notna(), None).to_dict("records")
        for start in range(0, len(records), 200):
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/predict/batch",
                data=json.dumps({"records": records[start : start + 200]}).encode(),
                headers={"content-type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=30) as response:
                assert response.status == 200
    code, out, logged = _drift(project, env)
    assert code != 0
    assert "Income, Home" in out, out
    print(
        f"\ndrift PSI, test split: Income {quiet['Income']}, Home {quiet['Home']}, "
        f"max {max(quiet.values())}; shifted file: Income {loud['Income']}, Home {loud['Home']}; "
        f"shifted via the log ({len(records)} requests): Income {logged['Income']}, "
        f"Home {logged['Home']}"
    )
