"""Does the service hold up against clients nobody here wrote? ``make contract``, ``make load``.

Each check starts the service as ``make serve`` does, on a free port of 127.0.0.1, and
stops it afterwards:
- ``contract``: schemathesis reads ``/openapi.json`` and generates requests from it,
  valid and invalid (``--mode all``), then checks every answer against the document
  (``--checks all``): a status the document does not list, a body of another shape, an
  invalid request accepted, any 5xx. Run it after changing a request or response model;
  0 failures is the bar.
- ``load``: ``wrk`` at 64 connections on the main route: requests/s, p99, every non-2xx
  and socket error, and the server's resident memory before and after (a leak shows as
  growth). Then slow clients: connections that send nothing, or their body one byte a
  second, while a normal client keeps asking; how long the server holds the slow ones
  (``REQUEST_TIMEOUT_S`` in ``ops/http.py``) and the normal client's p99 meanwhile.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .http import REQUEST_TIMEOUT_S

PROJECT = Path(__file__).resolve().parents[3]  # the project folder: src/ is one level down
SERVE = [
    "-m",
    "uvicorn",
    "--factory",
    "python_docs_qa.serve:app_from_env",
    "--http",
    "python_docs_qa.ops.http:RequestDeadline",
    "--no-access-log",
    "--log-level",
    "warning",
]
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(command: list[str] | None = None, probe: str = "/ready") -> Iterator[Server]:
    """Start ``python <command>`` (``make serve``'s unless given) and stop it on exit.

    The interpreter's own ``bin/`` goes first on PATH: a server that starts a tool by name
    (``mlflow models serve`` starts ``uvicorn``) gets the one beside this Python.
    """
    port = free_port()
    args = [sys.executable, *(command or SERVE), "--host", "127.0.0.1", "--port", str(port)]
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    env = {**os.environ, "PYTHONPATH": str(PROJECT / "src"), "PATH": path}
    process = subprocess.Popen(
        args, cwd=PROJECT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    server = Server(f"http://127.0.0.1:{port}", process)
    try:
        server.wait_until_answering(probe)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Server:
    """A started server process: its URL and its memory."""

    def __init__(self, url: str, process: subprocess.Popen[bytes]) -> None:
        self.url = url
        self.process = process

    def wait_until_answering(self, probe: str, timeout_s: float = 180) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            if self.process.poll() is not None:
                error = self.process.stderr.read().decode()[-2000:] if self.process.stderr else ""
                raise RuntimeError(f"the server exited:\n{error}")
            try:
                with urllib.request.urlopen(self.url + probe, timeout=2):  # nosec B310 # an http URL, built above
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not answer in {timeout_s:.0f} s") from None
                time.sleep(0.3)

    def resident_mb(self) -> float:
        """Resident memory of the server process (Linux ``/proc``)."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024  # type: ignore[union-attr]


def contract(url: str, examples: int = 100) -> int:
    """schemathesis against ``url``'s OpenAPI document; its exit code (0: no failures)."""
    st = Path(sys.executable).with_name("st")
    command = [str(st), "run", f"{url}/openapi.json", "--checks", "all", "--mode", "all"]
    options = ["-n", str(examples), "--seed", "0", "--generation-database", "none"]
    return subprocess.run([*command, *options], check=False).returncode


def wrk(url: str, body: str, seconds: float, connections: int) -> dict[str, float]:
    """POST ``body`` to ``url`` for ``seconds`` with ``connections`` open: wrk's numbers."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(
            'wrk.method = "POST"\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
            f"wrk.body = [==[{body}]==]\n"  # a Lua long string: no escaping needed
        )
    threads = min(2, connections)
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:.0f}s", "--latency"]
    command.append("--timeout=30s")  # wrk's own 2 s would count a slow answer as an error
    try:
        output = subprocess.run(
            [*command, "-s", script.name, url], capture_output=True, text=True, check=True
        ).stdout
    finally:
        Path(script.name).unlink()
    socket_errors = re.search(r"Socket errors: \D*(\d+)\D*(\d+)\D*(\d+)\D*(\d+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "req_s": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),  # type: ignore[union-attr]
        "p50_ms": _latency(output, "50%"),
        "p99_ms": _latency(output, "99%"),
        "non_2xx": float(non_2xx.group(1)) if non_2xx else 0.0,
        "socket_errors": float(sum(map(int, socket_errors.groups()))) if socket_errors else 0.0,
    }


def _latency(output: str, percentile: str) -> float:
    match = re.search(rf"^\s+{percentile}\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
    return float(match.group(1)) * _UNIT_MS[match.group(2)] if match else float("nan")


def held_for(url: str, path: str, body: bytes, limit_s: float = 60) -> dict[str, float]:
    """Seconds the server keeps a connection that sends nothing, and one that sends
    ``body`` one byte a second (``limit_s`` if it never lets go)."""
    host, port = url.removeprefix("http://").split(":")
    head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
    head += f"Content-Length: {len(body)}\r\n\r\n"
    held: dict[str, float] = {}

    def hold(name: str, first: bytes, trickle: bytes) -> None:
        start = time.monotonic()
        with socket.create_connection((host, int(port)), timeout=limit_s) as connection:
            connection.sendall(first)
            for second in range(int(limit_s)):
                if select.select([connection], [], [], 1.0)[0]:  # answered or closed
                    break
                try:
                    connection.sendall(trickle[second : second + 1])
                except OSError:  # closed between the check and the send
                    break
        held[name] = time.monotonic() - start

    attackers = [
        threading.Thread(target=hold, args=("silent_s", b"", b"")),
        threading.Thread(target=hold, args=("one_byte_a_second_s", head.encode(), body)),
    ]
    for thread in attackers:
        thread.start()
    for thread in attackers:
        thread.join()
    return held


def load(server: Server, path: str, body: str, seconds: float = 30) -> dict[str, float]:
    """wrk at 64 connections, then slow clients beside a normal one."""
    wrk(server.url + path, body, seconds=3, connections=4)  # warm-up: first-use allocations
    before = server.resident_mb()
    result = wrk(server.url + path, body, seconds, connections=64)
    result |= {"rss_before_mb": before, "rss_after_mb": server.resident_mb()}
    attack: dict[str, float] = {}
    thread = threading.Thread(
        target=lambda: attack.update(held_for(server.url, path, body.encode()))
    )
    thread.start()
    during = wrk(server.url + path, body, seconds=15, connections=4)
    thread.join()
    return result | attack | {"p99_ms_during_slow_clients": during["p99_ms"]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("check", choices=["contract", "load"])
    parser.add_argument("--path", help="load: the route to load, e.g. /predict")
    parser.add_argument("--body", help="load: the JSON body, or @file to read it from a file")
    parser.add_argument("--seconds", type=float, default=30, help="load: wrk duration")
    args = parser.parse_args(argv)
    with serving() as server:
        if args.check == "contract":
            sys.exit(contract(server.url))
        body = Path(args.body[1:]).read_text() if args.body.startswith("@") else args.body
        result = load(server, args.path, body, args.seconds)
    print(json.dumps({name: round(value, 2) for name, value in result.items()}, indent=2))
    problems = load_problems(result)
    for problem in problems:
        print(f"FAIL: {problem}", file=sys.stderr)
    sys.exit(1 if problems else 0)


def load_problems(result: dict[str, float]) -> list[str]:
    """What the load run shows wrong: the bar ``make load`` holds the service to."""
    problems = []
    errors = result["non_2xx"] + result["socket_errors"]
    if errors:
        problems.append(f"{errors:.0f} requests failed (non-2xx or socket errors)")
    before, after = result["rss_before_mb"], result["rss_after_mb"]
    if after > 1.1 * before:
        problems.append(f"resident memory grew from {before:.0f} to {after:.0f} MB")
    slowest = max(result["silent_s"], result["one_byte_a_second_s"])
    if slowest > REQUEST_TIMEOUT_S + 5:
        problems.append(f"a slow client was held {slowest:.0f} s, not cut off at the deadline")
    return problems


if __name__ == "__main__":
    main()
