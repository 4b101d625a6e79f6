"""Reason codes: the contributions add up to the score, and the service returns them on request."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from credit_risk.config import Settings
from credit_risk.ops.reason_codes import TOP_REASONS, Explainer, describe
from credit_risk.predict import ServedModel
from credit_risk.serve import create_app
from credit_risk.train import TrainResult


def _logit(probability: np.ndarray) -> np.ndarray:
    return np.log(probability / (1 - probability))


@pytest.mark.parametrize("family", ["logistic_regression", "lightgbm"])
def test_contributions_plus_base_value_equal_each_models_raw_score(
    trained: TrainResult, family: str
) -> None:
    if not trained.schema.is_binary:
        pytest.skip("the raw score is recoverable from probabilities for a binary label only")
    schema, model = trained.schema, trained.models[family]
    # Through JSON, as the service reads it from models/champion/explainer.json.
    saved = json.loads(json.dumps(describe(model, schema, trained.split.train)))
    test = schema.features_frame(trained.split.test)
    columns = {
        name: [None if value != value else value for value in test[name].tolist()]
        for name in schema.features
    }
    explained = Explainer(saved, schema).explain(columns, [""] * len(test))
    raw = np.array([row.raw_score for row in explained])
    expected = _logit(schema.positive_scores(model.predict_proba(test)))
    np.testing.assert_allclose(raw, expected, atol=1e-6, rtol=1e-6)
    assert {row.explained_class for row in explained} == {schema.positive_class}


def test_the_service_returns_the_top_contributions_only_when_asked(
    settings: Settings, served: ServedModel, trained: TrainResult
) -> None:
    client = TestClient(create_app(settings, model=served))
    features = served.schema.features_frame(trained.split.test.head(1))
    record: dict[str, Any] = {
        name: (None if value != value else value)
        for name, value in features.iloc[0].to_dict().items()
    }
    plain = client.post("/predict", json=record).json()
    assert "explanation" not in plain
    answer = client.post("/predict", params={"explain": "true"}, json=record).json()
    why = answer["explanation"]
    sizes = [abs(item["contribution"]) for item in why["top_features"]]
    assert len(sizes) == min(TOP_REASONS, len(served.schema.features))
    assert sizes == sorted(sizes, reverse=True)
    if served.schema.is_binary:  # the served (ONNX, float32) probability says the same
        positive = answer["probabilities"][served.schema.positive_class]
        assert why["raw_score"] == pytest.approx(float(_logit(np.array(positive))), abs=1e-4)
    batch = client.post("/predict/batch?explain=true", json={"records": [record, record]})
    assert [row["explanation"] for row in batch.json()["predictions"]] == [why, why]
