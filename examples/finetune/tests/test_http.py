"""The HTTP plumbing every service shares: 413 announced or streamed, 422 that names the
field without echoing it, headers, CORS, and the deadline that cuts off slow clients
(a tiny app, no model needed)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict

from review_sentiment.ops import http
from review_sentiment.ops.http import (
    ERROR_RESPONSES,
    RequestDeadline,
    add_http_plumbing,
)

LIMIT = 1000


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str


def _app(cors_origins: tuple[str, ...] = (), limit: int = LIMIT) -> FastAPI:
    app = FastAPI()

    @app.post("/echo", responses=ERROR_RESPONSES)
    def echo(body: Body) -> dict[str, int]:
        return {"length": len(body.text)}

    add_http_plumbing(app, limit, fields=["text"], cors_origins=cors_origins)
    return app


def _request(
    method: str, path: str, app: FastAPI | None = None, **options: object
) -> httpx.Response:
    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=app or _app())
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.request(method, path, **options)  # type: ignore[arg-type]

    return asyncio.run(send())


def _post(content: bytes | AsyncIterator[bytes]) -> httpx.Response:
    headers = {"content-type": "application/json"}
    return _request("POST", "/echo", content=content, headers=headers)


async def _chunks(total: int) -> AsyncIterator[bytes]:
    yield b'{"text": "'
    for _ in range(total // 100):
        yield b"x" * 100
    yield b'"}'


def test_an_announced_body_over_the_limit_is_413() -> None:
    response = _post(b'{"text": "' + b"x" * 2 * LIMIT + b'"}')
    assert response.status_code == 413
    assert response.json() == {"detail": f"request body over {LIMIT} bytes"}


def test_a_streamed_body_over_the_limit_is_413_not_400() -> None:
    assert _post(_chunks(2 * LIMIT)).status_code == 413


def test_a_streamed_body_under_the_limit_reaches_the_endpoint() -> None:
    response = _post(_chunks(500))
    assert response.status_code == 200
    assert response.json() == {"length": 500}


def test_a_wrong_field_is_422_naming_it_without_echoing_the_value() -> None:
    response = _post(b'{"text": 12345678}')
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "text"]
    assert "12345678" not in response.text


def test_every_response_says_nosniff() -> None:
    assert _post(b'{"text": "hi"}').headers["x-content-type-options"] == "nosniff"


def test_an_unknown_field_is_422_listing_the_fields_to_send() -> None:
    response = _post(b'{"text": "hi", "txet": "hi"}')
    assert response.status_code == 422
    assert response.json()["detail"][0]["msg"] == "unknown field; the fields are: text"


def test_a_body_that_is_not_utf8_is_400_and_documented() -> None:
    assert _post(b'{"text": "\xff"}').status_code == 400
    assert 400 in ERROR_RESPONSES


@pytest.mark.parametrize(
    "body",
    [b'{"text": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", b'{"text": 1' + b"0" * 50_000 + b"}"],
    ids=["nested 50,000 deep", "a 50,000-digit number"],
)
def test_deeply_nested_or_huge_number_json_is_a_4xx_not_a_500(body: bytes) -> None:
    headers = {"content-type": "application/json"}
    response = _request("POST", "/echo", _app(limit=1_000_000), content=body, headers=headers)
    assert response.status_code == 400


def test_pages_without_a_policy_get_one_and_cors_is_closed_by_default() -> None:
    docs = _request("GET", "/docs")
    assert docs.headers["content-security-policy"] == http.PAGE_POLICY
    origin = {"origin": "https://elsewhere.example"}
    closed = _request("GET", "/openapi.json", headers=origin)
    assert "access-control-allow-origin" not in closed.headers
    opened = _request("GET", "/openapi.json", _app(("https://elsewhere.example",)), headers=origin)
    assert opened.headers["access-control-allow-origin"] == "https://elsewhere.example"


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, int]]:
    """The tiny app behind uvicorn with ``RequestDeadline``, its deadline cut to 0.5 s."""
    monkeypatch.setattr(http, "REQUEST_TIMEOUT_S", 0.5)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        _app(), host="127.0.0.1", port=port, http=RequestDeadline, log_level="error"
    )
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    while not running.started:
        time.sleep(0.01)
    yield "127.0.0.1", port
    running.should_exit = True
    thread.join(timeout=5)


def _seconds_until_closed(address: tuple[str, int], sent: bytes) -> float:
    start = time.monotonic()
    with socket.create_connection(address, timeout=5) as connection:
        connection.sendall(sent)
        assert connection.recv(1024) == b""  # closed without an answer
    return time.monotonic() - start


def test_a_client_that_sends_nothing_or_half_a_request_is_cut_off(
    server: tuple[str, int],
) -> None:
    assert _seconds_until_closed(server, b"") < 3
    head = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"
    assert _seconds_until_closed(server, head) < 3
    answer = httpx.post(f"http://{server[0]}:{server[1]}/echo", json={"text": "still here"})
    assert answer.json() == {"length": 10}
