"""Real parts for the ops tests of rendered projects (tests/test_*_ops.py).

A throwaway PostgreSQL cluster, servers started in their own
process group and always stopped, the image's start command read from a Dockerfile, and
a fresh ``pip install .`` of a project. Every server binds 127.0.0.1 on a free port.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

VENV_BIN = Path(sys.executable).parent


def env(**extra: str) -> dict[str, str]:
    """This environment with this venv first and no MLFLOW_* leaking in, plus ``extra``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    base["VIRTUAL_ENV"] = str(VENV_BIN.parent)
    base["PATH"] = f"{VENV_BIN}{os.pathsep}{base.get('PATH', '')}"
    return {**base, **extra}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run(command: list[str], cwd: Path, env: dict[str, str]) -> str:
    """Run ``command``; fail the test with its output unless it exits 0; return stdout."""
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"{shlex.join(command)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def get(url: str, timeout: float = 5) -> tuple[int, bytes]:
    """Status and body of a GET, error statuses included."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@contextmanager
def server(
    command: list[str], cwd: Path, env: dict[str, str], ready_url: str
) -> Iterator[IO[bytes]]:
    """Start ``command`` in its own process group; wait for ``ready_url``; yield its
    output log; stop the whole group."""
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            wait_ready(process, ready_url, log)
            yield log
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()


def wait_ready(process: subprocess.Popen[bytes], url: str, log: IO[bytes]) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            if get(url)[0] == 200:
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            log.seek(0)
            command = shlex.join(str(arg) for arg in process.args)  # type: ignore[union-attr]
            pytest.fail(f"{command} never got ready:\n{log.read().decode()[-3000:]}")
        time.sleep(0.25)


# --- PostgreSQL ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Postgres:
    port: int
    bin_dir: Path

    def url(self, database: str) -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/{database}"

    def env(self) -> dict[str, str]:
        """Client settings for `createdb` and friends (``make postgres-db``)."""
        return {
            "PATH": f"{self.bin_dir}{os.pathsep}{env()['PATH']}",
            "PGHOST": "127.0.0.1",
            "PGPORT": str(self.port),
            "PGUSER": "postgres",
        }


@contextmanager
def postgres_cluster() -> Iterator[Postgres]:
    """A throwaway PostgreSQL cluster in a temp folder, trust auth, loopback only (a
    test module's ``postgres`` fixture; skips without the server binaries)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        pytest.skip("no PostgreSQL server binaries (Debian: apt-get install postgresql)")
    bin_dir = found[-1].parent
    as_postgres: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="mlportfolio-pg-"))
    if os.geteuid() == 0:  # initdb refuses root: run the server as the postgres user
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser to drop to the postgres user")
        as_postgres = ["runuser", "-u", "postgres", "--"]
        shutil.chown(folder, "postgres")
    data, port = folder / "data", free_port()
    pg_ctl = [*as_postgres, str(bin_dir / "pg_ctl"), "-D", str(data)]
    subprocess.run(
        [*as_postgres, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1"
    subprocess.run(
        [*pg_ctl, "-o", options, "-l", str(folder / "log"), "-w", "start"],
        check=True,
        capture_output=True,
    )
    try:
        yield Postgres(port, bin_dir)
    finally:
        subprocess.run([*pg_ctl, "-m", "fast", "-w", "stop"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


# --- the image, without Docker ----------------------------------------------------------------


def dockerfile(project: Path) -> tuple[list[str], dict[str, str], str]:
    """The Dockerfile's last CMD (exec form), its ENV values and its HEALTHCHECK command."""
    text = (project / "Dockerfile").read_text().replace("\\\n", " ")
    cmd = json.loads(re.findall(r"^CMD (\[.*\])$", text, re.MULTILINE)[-1])
    values: dict[str, str] = {}
    for line in re.findall(r"^ENV (.*)$", text, re.MULTILINE):
        values.update(dict(item.split("=", 1) for item in shlex.split(line)))
    healthcheck = re.findall(r"^HEALTHCHECK .*? CMD (.*)$", text, re.MULTILINE)[-1]
    return cmd, values, healthcheck


def install_fresh(project: Path, package: str, venv: Path) -> Path:
    """A new venv at ``venv`` holding `pip install .` of ``project``; returns its bin/.

    pip, setuptools and the dependencies come from this venv (offline, fast); the project
    itself is built and installed into the new one, as `pip install .` in the image would.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    (site,) = venv.glob("lib/python*/site-packages")
    (site / "shared-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    pip = [str(venv / "bin/python"), "-m", "pip", "install", "--quiet", "--no-index"]
    run([*pip, "--no-build-isolation", "."], project, env())
    where = run(
        [str(venv / "bin/python"), "-c", f"import {package}; print({package}.__file__)"],
        venv.parent,
        env(),
    )
    assert where.startswith(str(venv)), where  # the installed copy, not src/
    return venv / "bin"


def wrk_post(url: str, body: str, script: Path, seconds: int, connections: int) -> float:
    """req/s of a wrk POST load of ``body`` on ``url``; fails on any error or non-2xx."""
    if shutil.which("wrk") is None:
        pytest.skip("no wrk for the load run (Debian: apt-get install wrk)")
    script.write_text(
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = {json.dumps(body)}\n"
    )
    load = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url],
        capture_output=True,
        text=True,
        timeout=seconds + 20,
    )
    out = load.stdout
    assert load.returncode == 0, out + load.stderr
    assert "Non-2xx" not in out and "Socket errors" not in out, out
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert rate is not None, out
    return float(rate.group(1))
