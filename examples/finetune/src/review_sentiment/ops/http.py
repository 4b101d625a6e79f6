"""HTTP plumbing every service of this project shares: body limit, readable 422s, headers.

None of it is about the model, which is why it lives in ``ops/`` and not in ``serve.py``:
- ``BodySizeLimit`` answers 413 before a body over ``max_body_bytes`` is read into memory,
  whether the client announced its size or streams it, so one client cannot exhaust RAM.
- ``readable_422`` says where and what was wrong without echoing the input back (a NaN in
  a request cannot be written as JSON, and echoing a request is how logs leak data).
- ``SecurityHeaders`` adds ``X-Content-Type-Options: nosniff`` (and anything else the
  service passes) to every response, so a browser never guesses a content type.
- ``ERROR_RESPONSES`` puts the 413 and 422 bodies in the OpenAPI document, so a client
  generated from ``/openapi.json`` knows every status it can get back.
"""

from __future__ import annotations

from typing import Any, Literal

import pydantic_core
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SAFE_HEADERS = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer"}


class Health(BaseModel):
    """``GET /health``: the process answers (liveness)."""

    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    """``GET /ready``: 200 when the served model (or index) answers, 503 before that."""

    ready: bool
    model_version: str | None


class Problem(BaseModel):
    """The body of a 413 or another refusal: one sentence saying what was wrong."""

    detail: str


class FieldError(BaseModel):
    """One wrong field of a request: where it is and what is wrong with it."""

    loc: list[str | int]
    msg: str
    type: str


class ValidationProblem(BaseModel):
    """The body of a 422: every wrong field of the request."""

    detail: list[FieldError]


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    413: {"model": Problem, "description": "The request body is over `max_body_bytes`"},
    422: {"model": ValidationProblem, "description": "A field is missing, extra or invalid"},
}


def add_http_plumbing(
    app: FastAPI, max_body_bytes: int, headers: dict[str, str] | None = None
) -> None:
    """Install the body limit, the readable 422 and the response headers on ``app``."""
    app.add_exception_handler(RequestValidationError, readable_422)  # type: ignore[arg-type]
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)
    app.add_middleware(SecurityHeaders, headers={**SAFE_HEADERS, **(headers or {})})


async def readable_422(request: Request, error: RequestValidationError) -> JSONResponse:
    """Where and what, never the rejected input itself."""
    detail = [
        {"loc": list(item["loc"]), "msg": item["msg"], "type": item["type"]}
        for item in error.errors()
    ]
    return JSONResponse({"detail": detail}, status_code=422)


def json_response(content: Any, status_code: int = 200) -> Response:
    """JSON written by pydantic's Rust encoder, with no second validation pass."""
    return Response(pydantic_core.to_json(content), status_code, media_type="application/json")


class BodySizeLimit:
    """ASGI middleware: 413 for a body over ``max_bytes``, announced or streamed.

    An announced body (``Content-Length``) is judged before a byte is read; the server
    never delivers more than it announced. A streamed (chunked) body is read here, up to
    the limit, and handed to the app whole: the app's own body parser would turn an
    error raised mid-stream into a 400, not a 413.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        announced = dict(scope["headers"]).get(b"content-length")
        if announced is not None:
            if not announced.isdigit() or int(announced) > self.max_bytes:
                await self._refuse(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if delivered:
                return await receive()
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = {"detail": f"request body over {self.max_bytes} bytes"}
        await JSONResponse(body, status_code=413)(scope, receive, send)


class SecurityHeaders:
    """ASGI middleware: adds fixed headers to every HTTP response."""

    def __init__(self, app: ASGIApp, headers: dict[str, str]) -> None:
        self.app = app
        self.headers = [(name.encode(), value.encode()) for name, value in headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.headers]
            await send(message)

        await self.app(scope, receive, with_headers)
