"""Deployment files agree with each other and with the service: one start command (the
Dockerfile's CMD, `make serve-prod`, render.yaml), one port, one health path."""

from __future__ import annotations

import importlib
import json
import os
import re
import shlex

import pytest
import yaml
from fastapi.testclient import TestClient

from python_docs_qa.answer import Assistant
from python_docs_qa.config import ENV_PREFIX, PROJECT_ROOT, Settings
from python_docs_qa.serve import create_app


def _dockerfile() -> str:
    return (PROJECT_ROOT / "Dockerfile").read_text().replace("\\\n", " ")


def _image_command() -> list[str]:
    """The image's start command: the last CMD, in exec form."""
    return list(json.loads(re.findall(r"^CMD (\[.*\])$", _dockerfile(), re.MULTILINE)[-1]))


def _image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for line in re.findall(r"^ENV (.*)$", _dockerfile(), re.MULTILINE):
        env.update(item.split("=", 1) for item in shlex.split(line))
    return env


def _web_service() -> dict[str, object]:
    blueprint = yaml.safe_load((PROJECT_ROOT / "render.yaml").read_text())
    (service,) = [s for s in blueprint["services"] if s["type"] == "web"]
    return dict(service)


def test_make_serve_prod_runs_the_image_command() -> None:
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    serve_prod = re.search(r"^SERVE_PROD := (.*)$", makefile, re.MULTILINE)
    assert serve_prod is not None
    assert ["python", *shlex.split(serve_prod.group(1))] == _image_command()
    assert "$(PYTHON) $(SERVE_PROD)" in makefile


def test_render_runs_the_image_command_on_its_port() -> None:
    service = _web_service()
    assert shlex.split(str(service["dockerCommand"])) == _image_command()
    env = {item["key"]: item["value"] for item in service["envVars"]}  # type: ignore[attr-defined]
    image_port = _image_env()[f"{ENV_PREFIX}PORT"]
    assert env["PORT"] == env[f"{ENV_PREFIX}PORT"] == image_port
    assert re.search(rf"^EXPOSE {image_port}$", _dockerfile(), re.MULTILINE)


def test_image_serves_the_index_that_ingest_writes() -> None:
    index_dir = Settings.model_fields["index_dir"].default.as_posix()
    assert f"COPY {index_dir} ./{index_dir}" in _dockerfile()
    assert _image_env()[f"{ENV_PREFIX}INDEX_DIR"] == f"/app/{index_dir}"


def test_health_checks_probe_a_path_the_service_answers(
    settings: Settings, assistant: Assistant
) -> None:
    path = str(_web_service()["healthCheckPath"])
    healthcheck = re.search(r"^HEALTHCHECK .* CMD (.*)$", _dockerfile(), re.MULTILINE)
    assert healthcheck is not None and f"{path}'" in healthcheck.group(1)
    client = TestClient(create_app(settings, assistant))
    assert client.get(path).status_code == 200


def test_gunicorn_settings_come_from_the_project_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(f"{ENV_PREFIX}HOST", "127.0.0.1")
    monkeypatch.setenv(f"{ENV_PREFIX}PORT", "8123")
    monkeypatch.setenv(f"{ENV_PREFIX}WORKERS", "3")
    monkeypatch.delenv(f"{ENV_PREFIX}TORCH_THREADS", raising=False)
    module = "python_docs_qa.ops.gunicorn_conf"
    conf = importlib.reload(importlib.import_module(module))
    assert conf.bind == ["127.0.0.1:8123"]
    assert conf.workers == 3
    assert os.environ[f"{ENV_PREFIX}TORCH_THREADS"] == "1"  # what the workers inherit
    module, _, factory = conf.wsgi_app.partition(":")
    assert callable(getattr(importlib.import_module(module), factory.removesuffix("()")))
    assert importlib.import_module(conf.worker_class.rpartition(".")[0])
