"""Deployment files agree with each other and with the service: one start command (the
Dockerfile's CMD, `make serve-prod`, render.yaml), one port, one health path."""

from __future__ import annotations

import importlib
import json
import re
import shlex

import pytest
import yaml
from fastapi.testclient import TestClient

from review_sentiment import model
from review_sentiment.config import ENV_PREFIX, PROJECT_ROOT, Settings
from review_sentiment.serve import create_app


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


def test_image_serves_the_model_that_training_exports() -> None:
    model_dir = _image_env()[f"{ENV_PREFIX}MODEL_DIR"]
    image_model_dir = Settings(model_dir=model_dir).model_dir.relative_to("/app").as_posix()
    assert f"COPY {image_model_dir} ./{image_model_dir}" in _dockerfile()
    assert Settings().model_dir == PROJECT_ROOT / image_model_dir


def test_health_checks_probe_a_path_the_service_answers(settings: Settings) -> None:
    path = str(_web_service()["healthCheckPath"])
    healthcheck = re.search(r"^HEALTHCHECK .* CMD (.*)$", _dockerfile(), re.MULTILINE)
    assert healthcheck is not None and f"{path}'" in healthcheck.group(1)
    with TestClient(create_app(settings)) as client:
        assert client.get(path).status_code == 503  # no model yet: not ready
    net, tokenizer = model.build(settings.encoder, ["bad", "good"])
    model.save(model.Predictor(net, tokenizer, settings.max_length), settings.model_dir)
    with TestClient(create_app(settings)) as client:
        assert client.get(path).status_code == 200


def test_gunicorn_settings_come_from_the_project_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(f"{ENV_PREFIX}HOST", "127.0.0.1")
    monkeypatch.setenv(f"{ENV_PREFIX}PORT", "8123")
    monkeypatch.setenv(f"{ENV_PREFIX}WORKERS", "3")
    module = "review_sentiment.ops.gunicorn_conf"
    conf = importlib.reload(importlib.import_module(module))
    assert conf.bind == ["127.0.0.1:8123"]
    assert conf.workers == 3
    module, _, factory = conf.wsgi_app.partition(":")
    assert callable(getattr(importlib.import_module(module), factory.removesuffix("()")))
    assert importlib.import_module(conf.worker_class.rpartition(".")[0])
