"""HTTP plumbing every service of this project shares: body limit, readable 422s, headers.

None of it is about the model, so it lives in ``ops/``; ``add_http_plumbing`` installs it:
- ``BodySizeLimit``: 413 before a body over ``max_body_bytes`` is read into memory, whether
  its size was announced or it streams, so one client cannot exhaust RAM.
- ``readable_422``: where and what was wrong, never the input echoed back (a NaN cannot be
  written as JSON, and echoing requests is how logs leak data).
- ``SecurityHeaders``: ``nosniff`` on every response, and a Content-Security-Policy on HTML
  pages without one (``/docs``). CORS stays closed unless ``cors_origins`` lists origins.
- ``RequestDeadline``: closes a connection that has not sent a whole request within
  ``REQUEST_TIMEOUT_S`` (uvicorn times out only idle keep-alive connections); ``make serve``
  passes it to uvicorn, ``Worker`` to gunicorn (``make serve-prod`` and the image).
- ``ERROR_RESPONSES``: the 400, 413 and 422 bodies in the OpenAPI document, so a generated
  client knows every status it can get back (``make contract`` checks it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from functools import partial
from typing import Any, Literal

import pydantic_core
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn_worker import UvicornWorker

SAFE_HEADERS = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer"}
# For pages that set no policy of their own (the API docs, which load Swagger UI's scripts).
PAGE_POLICY = "frame-ancestors 'none'; object-src 'none'; base-uri 'none'"
# Seconds to send one whole request, from the connection's start or the last response:
# room for the largest body on a slow link, yet a stalled client is soon cut off (DESIGN.md).
REQUEST_TIMEOUT_S = 10.0
# A text field's pattern: some character that is not (ASCII) white space, so "" and "\n"
# are a 422. A pattern, not stripping: both sides of the contract read it the same way.
NOT_BLANK = r"[^ \t\n\r\f\v]"


class Health(BaseModel):
    """``GET /health``: the process answers (liveness)."""

    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    """``GET /ready``: 200 once what the service serves is loaded, 503 before that."""

    ready: bool
    model_version: str | None


class Problem(BaseModel):
    """The body of a 400, a 413 or another refusal: one sentence saying what was wrong."""

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
    400: {"model": Problem, "description": "Unparseable body: not UTF-8, too deep, a huge number"},
    413: {"model": Problem, "description": "The request body is over `max_body_bytes`"},
    422: {"model": ValidationProblem, "description": "A field is missing, extra or invalid"},
}


def add_http_plumbing(
    app: FastAPI,
    max_body_bytes: int,
    headers: dict[str, str] | None = None,
    fields: Sequence[str] = (),
    cors_origins: Sequence[str] = (),
) -> None:
    """Install the body limit, the readable 422, CORS and the response headers on ``app``.

    ``fields``, if given, are the fields a request may send: a 422 for an unknown field
    lists them, so a client learns what to send instead.
    """
    handler = partial(readable_422, fields=tuple(fields))
    app.add_exception_handler(RequestValidationError, handler)  # type: ignore[arg-type]
    if cors_origins:
        methods, allowed = ["GET", "POST"], ["content-type", "authorization"]
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(cors_origins),
            allow_methods=methods,
            allow_headers=allowed,
        )
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)
    app.add_middleware(SecurityHeaders, headers={**SAFE_HEADERS, **(headers or {})})


async def readable_422(
    request: Request, error: RequestValidationError, fields: tuple[str, ...] = ()
) -> JSONResponse:
    """Where and what, never the rejected input itself."""
    detail = []
    for item in error.errors():
        message = item["msg"]
        if item["type"] == "extra_forbidden" and fields:
            message = f"unknown field; the fields are: {', '.join(fields)}"
        detail.append({"loc": list(item["loc"]), "msg": message, "type": item["type"]})
    return JSONResponse({"detail": detail}, status_code=422)


def json_response(content: Any, status_code: int = 200) -> Response:
    """JSON by pydantic's Rust encoder, unvalidated: ``make contract`` checks the answers."""
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
                headers = [*message.get("headers", []), *self.headers]
                names = {name.lower(): value for name, value in headers}
                is_page = names.get(b"content-type", b"").startswith(b"text/html")
                if is_page and b"content-security-policy" not in names:
                    headers.append((b"content-security-policy", PAGE_POLICY.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


class RequestDeadline(H11Protocol):
    """uvicorn's HTTP/1.1 connection, closed if a request is not in ``REQUEST_TIMEOUT_S``.

    The clock starts when the connection opens and again after each response. When it
    runs out, the connection is closed unless the request has fully arrived (the app may
    take as long as it needs to answer).
    """

    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._restart_clock()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._restart_clock()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        super().connection_lost(exc)

    def _restart_clock(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = self.loop.call_later(REQUEST_TIMEOUT_S, self._too_slow)

    def _too_slow(self) -> None:
        request = self.cycle  # None until the first request's headers are in
        if request is None or request.response_complete or request.more_body:
            self.transport.close()


class Worker(UvicornWorker):
    """gunicorn's uvicorn worker, with ``RequestDeadline`` (``ops/gunicorn_conf.py``)."""

    CONFIG_KWARGS = {**UvicornWorker.CONFIG_KWARGS, "http": RequestDeadline}
