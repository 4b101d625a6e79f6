"""Operations tests: rollback through a real (temporary) MLflow registry, hot reload of the
served model, and the admin endpoint's locks. Offline, a few seconds."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from mlflow.tracking import MlflowClient
from pydantic import SecretStr, ValidationError

from credit_risk.config import Settings
from credit_risk.data import file_sha256
from credit_risk.evaluate import Report
from credit_risk.ops import answers, champion
from credit_risk.ops.hot_reload import Loaded, Reloader
from credit_risk.ops.rollback import roll_back
from credit_risk.predict import load_model
from credit_risk.register import export_champion, log_and_register, promote_if_better
from credit_risk.serve import create_app, request_contract
from credit_risk.train import TrainResult

LOOPBACK_CLIENT = ("127.0.0.1", 50000)


@pytest.fixture(scope="module")
def registry(
    tmp_path_factory: pytest.TempPathFactory,
    settings: Settings,
    trained: TrainResult,
    report: Report,
) -> Iterator[Settings]:
    """Two registered versions of the model in a throwaway registry; v1 is champion."""
    out = tmp_path_factory.mktemp("registry")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{out / 'mlflow.db'}")
        ops = settings.model_copy(update={"model_dir": out / "models" / "champion"})
        assert log_and_register(trained, report, ops, files=[]).promoted
        second = log_and_register(trained, report, ops, files=[])
        assert not second.promoted  # a tie is not a gain over the margin: v1 stays
        assert "is not 0.01 above" in second.message
        yield ops


def _crown(settings: Settings, version: str) -> None:
    """Make ``version`` the champion, as a promotion would, and export it."""
    champion.promote(MlflowClient(), settings.model_name, version, "test")
    export_champion(settings, version)


def _version(client: TestClient) -> str:
    return str(client.get("/metadata").json()["model_version"])


def _record(settings: Settings) -> dict[str, Any]:
    folder = settings.path(settings.model_dir)
    return dict(json.loads((folder / "example_request.json").read_text()))


def _registry_json(settings: Settings) -> dict[str, Any]:
    folder = settings.path(settings.model_dir)
    return dict(json.loads((folder / "registry.json").read_text()))


def test_rollback_moves_champion_to_the_previous_version(registry: Settings) -> None:
    _crown(registry, "1")
    _crown(registry, "2")
    move = roll_back(registry)
    assert str(move) == "champion: v2 -> v1"
    client = MlflowClient()
    assert champion.champion_version(client, registry.model_name) == "1"
    assert _registry_json(registry)["version"] == "1"
    events = champion.history(client, registry.model_name)
    assert [event.action for event in events[-3:]] == ["promote", "promote", "rollback"]
    assert "champion_restored_at" in client.get_model_version(registry.model_name, "1").tags


def test_rollback_stops_at_the_first_champion_and_takes_a_named_version(
    registry: Settings,
) -> None:
    _crown(registry, "1")
    while True:  # unwind whatever earlier tests pushed
        try:
            roll_back(registry)
        except champion.RollbackError as error:
            assert "make rollback VERSION=N" in str(error)
            break
    assert str(roll_back(registry, to="2")) == "champion: v1 -> v2"
    assert str(roll_back(registry)) == "champion: v2 -> v1"


def test_service_follows_the_exported_folder(registry: Settings) -> None:
    _crown(registry, "1")
    app = create_app(registry.model_copy(update={"reload_interval_s": 0}))
    client = TestClient(app)
    assert _version(client) == "1"
    assert client.get("/metadata").json()["runtime"] == "onnxruntime"
    export_champion(registry, "2")
    assert app.state.reloader.check()
    assert _version(client) == "2"
    assert client.post("/predict", json=_record(registry)).json()["model_version"] == "2"
    assert not app.state.reloader.check()  # nothing new: no reload


def test_background_poll_follows_the_registry_alias(registry: Settings) -> None:
    _crown(registry, "1")
    uri = f"models:/{registry.model_name}@champion"
    app = create_app(registry.model_copy(update={"model_uri": uri, "reload_interval_s": 0.2}))
    with TestClient(app) as client:  # the context runs the app's lifespan: the poll
        assert _version(client) == "1"
        champion.promote(MlflowClient(), registry.model_name, "2", "test")
        deadline = time.monotonic() + 10
        while _version(client) != "2":
            assert time.monotonic() < deadline, "the poll did not pick up v2 within 10 s"
            time.sleep(0.1)


def test_the_first_model_must_beat_the_base_rate_to_be_served(registry: Settings) -> None:
    fresh = registry.model_copy(update={"model_name": "no_champion_yet"})
    margin = fresh.promotion_margin
    promoted, message = promote_if_better(fresh, "1", 0.30 + margin / 2, 0.30, "sha")
    assert not promoted and "not served" in message and "base rate 0.3000" in message
    assert champion.champion_version(MlflowClient(), fresh.model_name) is None


def test_cv_scores_over_other_folds_never_move_the_champion(registry: Settings) -> None:
    # 5 folds train on more rows than 3: a higher CV PR-AUC there is not a better model.
    other_folds = registry.model_copy(update={"cv_folds": registry.cv_folds + 1})
    data_sha256 = file_sha256(registry.path(registry.data_file))
    promoted, message = promote_if_better(other_folds, "99", 1.0, 0.0, data_sha256)
    assert not promoted and "(other cv_folds)" in message


def test_a_retrain_with_new_category_levels_keeps_the_request_contract(
    trained: TrainResult,
) -> None:
    schema = trained.schema
    if not schema.categorical:
        pytest.skip("no categorical feature")
    name = next(iter(schema.categorical))
    more = {**schema.categorical, name: [*schema.categorical[name], "a level new in training"]}
    assert request_contract(replace(schema, categorical=more)) == request_contract(schema)
    other = replace(schema, nullable=[*schema.nullable, "a new nullable column"])
    assert request_contract(other) != request_contract(schema)


def test_a_model_that_fails_to_load_is_not_served() -> None:
    source = {"version": "1"}

    def load() -> Loaded[str]:
        raise OSError("disk gone")

    reloader = Reloader(Loaded("model one", "1"), lambda: source["version"], load, 0)
    source["version"] = "2"
    assert not reloader.check()
    assert reloader.current == Loaded("model one", "1")


def test_admin_reload_is_off_without_a_token(registry: Settings) -> None:
    _crown(registry, "1")
    app = create_app(registry.model_copy(update={"reload_interval_s": 0}))
    assert TestClient(app, client=LOOPBACK_CLIENT).post("/admin/reload").status_code == 404


def test_admin_reload_needs_loopback_and_the_token(registry: Settings) -> None:
    _crown(registry, "1")
    locked = registry.model_copy(
        update={"reload_interval_s": 0, "admin_token": SecretStr("s3cret")}
    )
    app = create_app(locked)
    auth = {"authorization": "Bearer s3cret"}
    remote, local = TestClient(app), TestClient(app, client=LOOPBACK_CLIENT)
    assert remote.post("/admin/reload", headers=auth).status_code == 403
    assert local.post("/admin/reload").status_code == 401
    assert local.post("/admin/reload", headers={"authorization": "Bearer nope"}).status_code == 401
    export_champion(registry, "2")
    response = local.post("/admin/reload", headers=auth)
    assert response.json() == {"reloaded": True, "model_version": "2"}
    open_app = create_app(locked.model_copy(update={"admin_allow_remote": True}))
    assert TestClient(open_app).post("/admin/reload", headers=auth).status_code == 200


def test_an_empty_admin_token_is_refused() -> None:
    with pytest.raises(ValidationError, match="admin_token"):
        Settings(admin_token="")


def test_the_exported_champion_explains_its_predictions(registry: Settings) -> None:
    served = load_model(registry)
    assert served.explainer is not None, "ops/export.py exports explainer.json beside the model"
    answer = served.predict([_record(registry)], explain=True)[0]
    assert len(answer["explanation"]["top_features"]) >= 1


def test_json_evidence_carries_the_run_that_logged_it_and_comes_back_from_it(
    tmp_path: Path, settings: Settings, trained: TrainResult, report: Report
) -> None:
    evidence = tmp_path / "made" / "evidence.json"
    evidence.parent.mkdir()
    evidence.write_text(json.dumps({"summary": "from this run"}))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
        ops = settings.model_copy(update={"model_dir": tmp_path / "models" / "champion"})
        run_id = log_and_register(trained, report, ops, files=[evidence]).run_id
        assert json.loads(evidence.read_text())["run_id"] == run_id
        restored = answers.restore_reports(run_id, tmp_path / "reports")
    assert restored == {"evidence": {"summary": "from this run", "run_id": run_id}}
