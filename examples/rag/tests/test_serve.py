"""The service contract: /ask, the page and its security headers, and 4xx (never 500)
for bad input."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from python_docs_qa.answer import Assistant
from python_docs_qa.config import Settings
from python_docs_qa.serve import create_app


@pytest.fixture(scope="module")
def client(settings: Settings, assistant: Assistant) -> Iterator[TestClient]:
    with TestClient(create_app(settings, assistant), raise_server_exceptions=False) as client:
        yield client


def test_ask_returns_an_answer_with_citations(client: TestClient) -> None:
    response = client.post("/ask", json={"question": "How do I copy a file?", "k": 2})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"answer", "citations", "refused", "confidence", "retrieval_ms",
                         "backend", "mode"}  # fmt: skip
    assert len(body["citations"]) == 2
    first = body["citations"][0]
    assert set(first) == {"n", "title", "source", "anchor", "url", "snippet", "score"}
    assert first["n"] == 1 and first["source"] == "guide/files.md"
    assert body["retrieval_ms"] > 0


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"question": ""},
        {"question": "   "},
        {"question": "x" * 501},
        {"question": "ok", "k": 0},
        {"question": "ok", "k": 21},
        {"question": "ok", "extra": 1},
        {"question": 42},
        [],
    ],
)
def test_bad_questions_are_422(client: TestClient, payload: object) -> None:
    assert client.post("/ask", json=payload).status_code == 422


def test_not_json_is_422_and_huge_body_is_413(client: TestClient) -> None:
    headers = {"content-type": "application/json"}
    assert client.post("/ask", content=b"{not json", headers=headers).status_code == 422
    huge = b'{"question": "' + b"a" * 20_000 + b'"}'
    assert client.post("/ask", content=huge, headers=headers).status_code == 413


def test_page_is_static_with_a_strict_csp(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "default-src 'none'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["x-frame-options"] == "DENY"
    assert '<script src="/static/app.js"' in page.text
    script = client.get("/static/app.js")
    assert "innerHTML" not in script.text and "insertAdjacentHTML" not in script.text
    assert script.headers["x-content-type-options"] == "nosniff"
    docs_policy = client.get("/docs").headers["content-security-policy"]  # lets Swagger UI run
    assert "script-src" not in docs_policy and "frame-ancestors 'none'" in docs_policy


def test_health_ready_and_metadata(client: TestClient, assistant: Assistant) -> None:
    version = assistant.retriever.index.version
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").json() == {"ready": True, "model_version": version}
    metadata = client.get("/metadata").json()
    assert {"model_name", "model_version", "run_id", "test_metrics"} <= set(metadata)
    assert metadata["model_version"] == version and len(version) == 12
    assert metadata["run_id"] is None  # this index was ingested, never scored by `make train`
    assert metadata["passages"] > 0
    assert metadata["embedding_model"] == "all-MiniLM-L6-v2"
    assert metadata["dense_weight"] == assistant.retriever.dense_weight  # what hybrid fuses with
    schema = client.get("/openapi.json").json()["components"]["schemas"]["Metadata"]
    assert {"model_version", "dense_weight"} <= set(schema["required"])


def test_openapi_documents_every_status_of_ask(client: TestClient) -> None:
    responses = client.get("/openapi.json").json()["paths"]["/ask"]["post"]["responses"]
    assert {"200", "413", "422", "502"} <= set(responses)
