"""Service tests: every endpoint, and every kind of bad request gets a 4xx, never a 500."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from credit_risk.config import Settings
from credit_risk.predict import ServedModel
from credit_risk.serve import Prediction, create_app
from credit_risk.train import TrainResult

MAX_BATCH_ROWS = 5


@pytest.fixture(scope="module")
def record(served: ServedModel, trained: TrainResult) -> dict[str, Any]:
    """A real record: the first training row, as JSON types (NaN -> null)."""
    features = served.schema.features_frame(trained.split.train.head(1))
    row = features.iloc[0].to_dict()
    return {name: (None if value != value else value) for name, value in row.items()}


@pytest.fixture(scope="module")
def body_limit(record: dict[str, Any]) -> int:
    """Room for a batch one row over the limit (a wide table makes big records)."""
    return max(20_000, 4 * (MAX_BATCH_ROWS + 1) * len(json.dumps(record)))


@pytest.fixture(scope="module")
def client(settings: Settings, served: ServedModel, body_limit: int) -> TestClient:
    small = settings.model_copy(
        update={"max_batch_rows": MAX_BATCH_ROWS, "max_body_bytes": body_limit}
    )
    return TestClient(create_app(small, model=served), raise_server_exceptions=False)


def test_predict_returns_a_label_its_probability_and_the_version(
    client: TestClient, record: dict[str, Any], served: ServedModel
) -> None:
    response = client.post("/predict", json=record)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["label"] in served.schema.classes
    assert body["label_probability"] == body["probabilities"][body["label"]]
    assert sum(body["probabilities"].values()) == pytest.approx(1.0, abs=1e-6)
    assert body["model_version"] == "test"
    assert body["ids"] == {}


@pytest.mark.parametrize("explain", ["false", "true"])
def test_a_prediction_conforms_to_the_documented_response_schema(
    client: TestClient, record: dict[str, Any], explain: str
) -> None:
    # The service does not validate its answers (serve.py): this test and `make contract` do.
    response = client.post(f"/predict?explain={explain}", json=record)
    Prediction.model_validate_json(response.content, strict=True)
    documented = client.get("/openapi.json").json()["components"]["schemas"]["Prediction"]
    assert set(response.json()) <= set(documented["properties"])


def test_id_columns_are_echoed_and_unknown_fields_name_the_expected_ones(
    settings: Settings, record: dict[str, Any], served: ServedModel
) -> None:
    # a raw CSV row carries the ID columns (drop_columns) that training never saw
    with_ids = replace(served, schema=replace(served.schema, ids=["customer_id", "row"]))
    client = TestClient(create_app(settings, model=with_ids))
    sent = {**record, "customer_id": "C-0042", "row": 7}
    batch = client.post("/predict/batch", json={"records": [sent, record]})
    assert batch.status_code == 200, batch.text
    echoed = [prediction["ids"] for prediction in batch.json()["predictions"]]
    assert echoed == [{"customer_id": "C-0042", "row": 7}, {}]
    refused = client.post("/predict", json={**sent, "not_a_column": 1})
    assert refused.status_code == 422
    message = refused.json()["detail"][0]["msg"]
    assert "customer_id" in message and served.schema.features[0] in message


def test_without_onnx_predict_explains_only_when_asked(
    settings: Settings, served: ServedModel, trained: TrainResult, record: dict[str, Any]
) -> None:
    no_onnx = replace(served, session=None, pipeline=trained.model)
    client = TestClient(create_app(settings, model=no_onnx))
    assert "explanation" not in client.post("/predict", json=record).json()
    assert "explanation" in client.post("/predict?explain=true", json=record).json()


def test_batch_predicts_every_record(client: TestClient, record: dict[str, Any]) -> None:
    response = client.post("/predict/batch", json={"records": [record] * 3})
    assert response.status_code == 200, response.text
    assert len(response.json()["predictions"]) == 3


def test_health_ready_metadata(client: TestClient, served: ServedModel) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").status_code == 200
    metadata = client.get("/metadata").json()
    assert metadata["model_version"] == "test"
    assert metadata["schema"]["classes"] == served.schema.classes
    assert "pr_auc" in metadata["test_metrics"]
    assert metadata["runtime"] == "onnxruntime"


def test_unseen_category_still_predicts(
    client: TestClient, record: dict[str, Any], served: ServedModel
) -> None:
    if not served.schema.categorical:
        pytest.skip("no categorical feature")
    name = next(iter(served.schema.categorical))
    response = client.post("/predict", json={**record, name: "never seen before"})
    assert response.status_code == 200, response.text


def test_nullable_fields_may_be_left_out(
    client: TestClient, record: dict[str, Any], served: ServedModel
) -> None:
    trimmed = {k: v for k, v in record.items() if k not in served.schema.nullable}
    assert client.post("/predict", json=trimmed).status_code == 200


def _bad_requests(record: dict[str, Any], served: ServedModel) -> dict[str, Any]:
    schema = served.schema
    required = [name for name in schema.features if name not in schema.nullable]
    cases: dict[str, Any] = {
        "unknown field": {**record, "not_a_column": 1},
        "list instead of object": [record],
        "string body": "hello",
    }
    if required:
        cases["required field missing"] = {k: v for k, v in record.items() if k != required[0]}
        cases["required field null"] = {**record, required[0]: None}
    if schema.numeric:
        cases["text in a number"] = {**record, schema.numeric[0]: "lots"}
        cases["a number as text"] = {**record, schema.numeric[0]: "3"}
        cases["true in a number"] = {**record, schema.numeric[0]: True}
        cases["nested object in a number"] = {**record, schema.numeric[0]: {"a": 1}}
    if schema.categorical:
        cases["object in a category"] = {**record, next(iter(schema.categorical)): {"a": 1}}
        cases["a number in a category"] = {**record, next(iter(schema.categorical)): 0}
    return cases


def test_bad_records_get_422_naming_the_problem(
    client: TestClient, record: dict[str, Any], served: ServedModel
) -> None:
    for case, body in _bad_requests(record, served).items():
        response = client.post("/predict", json=body)
        assert response.status_code == 422, f"{case}: {response.status_code} {response.text}"
        assert response.json()["detail"], case


def test_a_body_that_is_not_utf8_is_a_documented_400(client: TestClient) -> None:
    headers = {"content-type": "application/json"}
    response = client.post("/predict", content=b'"\xff"', headers=headers)
    assert response.status_code == 400
    documented = client.get("/openapi.json").json()["paths"]["/predict"]["post"]["responses"]
    assert "400" in documented


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_refused(
    client: TestClient, record: dict[str, Any], served: ServedModel, token: str
) -> None:
    if not served.schema.numeric:
        pytest.skip("no numeric feature")
    body = json.dumps({**record, served.schema.numeric[0]: 0.5}).replace("0.5", token, 1)
    response = client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text


def test_malformed_json_is_422(client: TestClient) -> None:
    response = client.post(
        "/predict", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422


def test_batch_limits(client: TestClient, record: dict[str, Any]) -> None:
    assert client.post("/predict/batch", json={"records": []}).status_code == 422
    too_many = client.post("/predict/batch", json={"records": [record] * (MAX_BATCH_ROWS + 1)})
    assert too_many.status_code == 422
    assert client.post("/predict/batch", json={"rows": [record]}).status_code == 422


@pytest.mark.parametrize("path", ["/predict", "/predict/batch"])
def test_oversized_body_is_413(client: TestClient, path: str, body_limit: int) -> None:
    response = client.post(
        path,
        content=b"[" + b"1," * body_limit + b"1]",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
    assert "bytes" in response.json()["detail"]


def test_wrong_method_and_path(client: TestClient) -> None:
    assert client.get("/predict").status_code == 405
    assert client.post("/nope", json={}).status_code == 404


@pytest.mark.parametrize("path", ["/predict", "/predict/batch"])
@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"{not json", "application/json"),
        (b'{"records": [{"Income": NaN}]}', "application/json"),
        (b'{"records": []}', "text/plain"),
    ],
)
def test_malformed_or_non_json_bodies_are_a_422(
    client: TestClient, path: str, body: bytes, content_type: str
) -> None:
    response = client.post(path, content=body, headers={"content-type": content_type})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][0] == "body"


def test_the_service_loads_no_converter_and_no_lightgbm() -> None:
    # docs/DESIGN.md: the server runs the ONNX file; training-time libraries stay out
    module = "credit_risk.serve"
    code = f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))"
    command = [sys.executable, "-c", code]
    source = Path(__file__).resolve().parents[1] / "src"  # importable without an install
    result = subprocess.run(command, capture_output=True, text=True, check=True, cwd=source)
    loaded = {name.split(".")[0] for name in json.loads(result.stdout.splitlines()[-1])}
    assert not loaded & {"lightgbm", "skl2onnx", "onnxmltools", "matplotlib"}
