"""Service tests: the API contract, bounds, and no 500 on bad input."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from review_sentiment import model
from review_sentiment.config import Settings
from review_sentiment.serve import BatchPrediction, Prediction, create_app

LABELS = ["bad", "good", "meh"]


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    net, tokenizer = model.build(settings.encoder, LABELS)
    model.save(model.Predictor(net, tokenizer, settings.max_length), settings.model_dir)
    limits = settings.model_copy(update={"max_text_chars": 50, "max_batch_rows": 4})
    with TestClient(create_app(limits)) as test_client:
        yield test_client


def test_health_ready_and_metadata(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200
    assert ready.json() == {"ready": True, "model_version": "unregistered"}
    meta = client.get("/metadata").json()
    assert meta["labels"] == LABELS and meta["max_batch_rows"] == 4
    assert {"model_name", "model_version", "run_id", "test_metrics"} <= set(meta)


def test_predict_returns_a_label_and_probabilities(client: TestClient) -> None:
    response = client.post("/predict", json={"text": "a charming film"})
    assert response.status_code == 200
    body = response.json()
    assert Prediction.model_validate(body).model_dump() == body  # the documented schema
    assert body["label"] in LABELS
    assert body["label_probability"] == body["probabilities"][body["label"]]
    assert sum(body["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)


def test_batch_predicts_every_text_in_order(client: TestClient) -> None:
    texts = ["one", "two words", "three more words"]
    single = [client.post("/predict", json={"text": t}).json()["label"] for t in texts]
    body = client.post("/predict/batch", json={"texts": texts}).json()
    assert BatchPrediction.model_validate(body).model_dump() == body
    assert [p["label"] for p in body["predictions"]] == single


@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("/predict", {"text": ""}),
        ("/predict", {"text": "   "}),
        ("/predict", {"text": "x" * 51}),
        ("/predict", {"text": 3}),
        ("/predict", {"text": None}),
        ("/predict", {"text": "ok", "extra": 1}),
        ("/predict", {}),
        ("/predict", []),
        ("/predict/batch", {"texts": []}),
        ("/predict/batch", {"texts": ["a"] * 5}),
        ("/predict/batch", {"texts": ["ok", ""]}),
        ("/predict/batch", {"texts": "not a list"}),
    ],
)
def test_bad_input_is_a_422_not_a_500(client: TestClient, path: str, payload: object) -> None:
    assert client.post(path, json=payload).status_code == 422


@pytest.mark.parametrize(
    "body",
    [
        b'{"text": "\\ud800 lone surrogate"}',
        b'{"texts": ["ok", "\\udfff"]}',
        b'{"text": "\xff\xfe not utf-8"}',
    ],
)
def test_text_that_is_not_unicode_is_a_4xx_not_a_500(client: TestClient, body: bytes) -> None:
    path = "/predict/batch" if b"texts" in body else "/predict"
    response = client.post(path, content=body, headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500


def test_invalid_json_is_a_422(client: TestClient) -> None:
    response = client.post(
        "/predict", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422


def test_a_huge_body_is_refused_with_413(client: TestClient, settings: Settings) -> None:
    huge = "x" * (settings.max_body_bytes + 1)
    assert client.post("/predict", json={"text": huge}).status_code == 413


def test_a_streamed_huge_body_is_refused_with_413(client: TestClient, settings: Settings) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(settings.max_body_bytes // 1000 + 2):
            yield b"x" * 1000

    response = client.post("/predict", content=chunks())
    assert response.status_code == 413


def test_without_a_model_ready_is_503(settings: Settings) -> None:
    with TestClient(create_app(settings)) as test_client:
        assert test_client.get("/health").status_code == 200
        not_ready = test_client.get("/ready")
        assert not_ready.status_code == 503
        assert not_ready.json() == {"ready": False, "model_version": None}
        assert test_client.post("/predict", json={"text": "hi"}).status_code == 503
