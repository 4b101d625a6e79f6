"""Operations tests: promotion rules and rollback through a real (temporary) MLflow
registry, hot reload of the served model, and the admin endpoint's locks. Offline."""

from __future__ import annotations

import json
import time

import pytest
from fastapi.testclient import TestClient
from mlflow.tracking import MlflowClient
from pydantic import SecretStr, ValidationError

from review_sentiment import model, register
from review_sentiment.config import Settings
from review_sentiment.ops import champion, tracking
from review_sentiment.ops.rollback import roll_back
from review_sentiment.serve import create_app

LOOPBACK_CLIENT = ("127.0.0.1", 50000)
NAME = tracking.MODEL_NAME


def _crown(settings: Settings, version: str) -> None:
    """Make ``version`` the champion, as a promotion would, and export it."""
    champion.promote(MlflowClient(), NAME, version, "test")
    register.export_champion(settings, version)


def _version(client: TestClient) -> str:
    return str(client.get("/metadata").json()["model_version"])


def _served_run(settings: Settings) -> str:
    registry = json.loads((settings.model_dir / model.REGISTRY_FILE).read_text())
    return str(registry["run_id"])


def test_training_registers_every_run_and_exports_the_champion(registry: Settings) -> None:
    client = MlflowClient()
    versions = client.search_model_versions(f"name = '{NAME}'")
    assert sorted(str(v.version) for v in versions) == ["1", "2"]
    current = champion.champion_version(client, NAME)
    assert _served_run(registry) == client.get_model_version(NAME, str(current)).run_id
    assert [event.action for event in champion.history(client, NAME)][0] == "promote"


def test_a_run_validated_on_other_rows_never_replaces_the_champion(
    registry: Settings,
) -> None:
    _crown(registry, "1")
    client = MlflowClient()
    run_id = str(client.get_model_version(NAME, "2").run_id)
    split = client.get_run(run_id).data.tags[register.SPLIT_TAG]
    client.set_tag(run_id, register.SPLIT_TAG, "other rows")
    client.log_metric(run_id, register.PRIMARY, 1.0)  # even a perfect score on them
    wins, reason = register.judge(client, registry, "2", run_id)
    client.set_tag(run_id, register.SPLIT_TAG, split)
    assert not wins and "make rollback VERSION=2" in reason


def test_promotion_needs_the_margin_on_validation_not_a_test_score(registry: Settings) -> None:
    _crown(registry, "1")
    client = MlflowClient()
    held = client.get_run(str(client.get_model_version(NAME, "1").run_id)).data.metrics
    run_id = str(client.get_model_version(NAME, "2").run_id)
    margin = registry.promote_margin
    client.log_metric(run_id, "test_macro_f1", 1.0)  # the test split decides nothing
    client.log_metric(run_id, register.PRIMARY, held[register.PRIMARY] + margin / 2)
    wins, reason = register.judge(client, registry, "2", run_id)
    assert not wins and "less than" in reason
    client.log_metric(run_id, register.PRIMARY, held[register.PRIMARY] + 2 * margin)
    assert register.judge(client, registry, "2", run_id)[0]


def test_an_empty_admin_token_is_refused() -> None:
    with pytest.raises(ValidationError, match="admin_token"):
        Settings(admin_token="")


def test_rollback_moves_champion_back_and_exports_it(registry: Settings) -> None:
    _crown(registry, "1")
    _crown(registry, "2")
    move = roll_back(registry)
    assert str(move) == "champion: v2 -> v1"
    client = MlflowClient()
    assert champion.champion_version(client, NAME) == "1"
    assert _served_run(registry) == client.get_model_version(NAME, "1").run_id
    assert "champion_restored_at" in client.get_model_version(NAME, "1").tags


def test_service_swaps_in_a_new_champion_without_a_restart(registry: Settings) -> None:
    _crown(registry, "1")
    app = create_app(registry.model_copy(update={"reload_interval_s": 0.2}))
    with TestClient(app) as client:  # the context runs the app's lifespan: the poll
        assert _version(client) == "1"
        _crown(registry, "2")
        deadline = time.monotonic() + 10
        while _version(client) != "2":
            assert time.monotonic() < deadline, "the poll did not pick up v2 within 10 s"
            time.sleep(0.1)
        assert client.post("/predict", json={"text": "a great film"}).status_code == 200
        run_id = MlflowClient().get_model_version(NAME, "2").run_id
        assert client.get("/metadata").json()["run_id"] == run_id


def test_admin_reload_needs_a_token_loopback_and_the_right_token(registry: Settings) -> None:
    _crown(registry, "1")
    quiet = registry.model_copy(update={"reload_interval_s": 0})
    with TestClient(create_app(quiet), client=LOOPBACK_CLIENT) as client:
        assert client.post("/admin/reload").status_code == 404  # no token: no endpoint
    locked = quiet.model_copy(update={"admin_token": SecretStr("s3cret")})
    auth = {"authorization": "Bearer s3cret"}
    app = create_app(locked)
    with TestClient(app, client=LOOPBACK_CLIENT) as local, TestClient(app) as remote:
        assert remote.post("/admin/reload", headers=auth).status_code == 403
        assert local.post("/admin/reload", headers={"authorization": "Bearer x"}).status_code == 401
        register.export_champion(locked, "2")
        response = local.post("/admin/reload", headers=auth)
        assert response.json() == {"reloaded": True, "model_version": "2"}
