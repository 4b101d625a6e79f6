"""The HTTP plumbing every service shares: 413 announced or streamed, 422 that names the
field without echoing it, nosniff on every response (a tiny app, no model needed)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI
from pydantic import BaseModel

from review_sentiment.ops.http import ERROR_RESPONSES, add_http_plumbing

LIMIT = 1000


class Body(BaseModel):
    text: str


def _app() -> FastAPI:
    app = FastAPI()

    @app.post("/echo", responses=ERROR_RESPONSES)
    def echo(body: Body) -> dict[str, int]:
        return {"length": len(body.text)}

    add_http_plumbing(app, LIMIT)
    return app


def _post(content: bytes | AsyncIterator[bytes]) -> httpx.Response:
    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            headers = {"content-type": "application/json"}
            return await client.post("/echo", content=content, headers=headers)

    return asyncio.run(send())


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
