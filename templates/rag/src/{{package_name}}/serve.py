"""Stage 8, serve: the question page and the JSON API, built by ``create_app(settings)``.

``GET /`` is one static page (HTML, CSS and JS files, no build step). It inserts corpus
text and answers with ``textContent`` only, and every response carries a strict
Content-Security-Policy (scripts and styles from this origin only, no inline code), so a
document containing ``<script>`` or ``<img onerror=...>`` is shown as text, never run.
Bad input is always a 4xx with a readable body: 422 for a wrong field, 413 for a body
over ``max_body_bytes``; a failing chat backend is a 502.
Start: ``make serve`` (one uvicorn process, for development) or ``make serve-prod``
(gunicorn with uvicorn workers, the image's command), then open http://127.0.0.1:8000/.
"""

# No `from __future__ import annotations`: FastAPI must see the request class defined in
# create_app itself, not its name as a string.

import json
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .answer import Assistant, LLMError, build_assistant
from .config import Settings
from .embeddings import limit_threads

STATIC = Path(__file__).resolve().parent / "static"
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}
_DOCS_PATHS = ("/docs", "/redoc", "/openapi.json")  # Swagger UI loads its own assets


class Citation(BaseModel):
    """A numbered passage the answer is drawn from."""

    n: int
    title: str
    source: str
    anchor: str
    url: str
    snippet: str
    score: float


class AskResponse(BaseModel):
    """An answer, its citations and how long retrieval took."""

    answer: str
    citations: list[Citation]
    refused: bool = Field(description="True when retrieval was too unsure to answer")
    confidence: float = Field(description="Cosine similarity of the best passage")
    retrieval_ms: float
    backend: str
    mode: str


def create_app(settings: Settings | None = None, assistant: Assistant | None = None) -> FastAPI:
    """Build the service around ``assistant`` (loaded from the index on disk if not given)."""
    settings = settings or Settings()
    assistant = assistant or build_assistant(settings)
    manifest = assistant.retriever.index.manifest

    class AskRequest(BaseModel):
        """A question about the documents."""

        model_config = ConfigDict(extra="forbid")
        question: str = Field(min_length=1, max_length=settings.max_question_chars)
        k: int = Field(settings.top_k, ge=1, le=20, description="How many passages to cite")

    app = FastAPI(title=f"{__package__} question answering")

    @app.post("/ask", response_model=AskResponse)
    def ask(request: AskRequest) -> JSONResponse:
        """Answer from the top ``k`` passages, with numbered citations (or refuse)."""
        question = request.question.strip()
        if not question:
            return JSONResponse({"detail": "question is blank"}, status_code=422)
        try:
            answer = assistant.ask(question, request.k)
        except LLMError as error:
            return JSONResponse({"detail": str(error)}, status_code=502)
        return JSONResponse(answer.to_dict())

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        """The question page."""
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/health")
    def health() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/ready")
    def ready() -> JSONResponse:
        """Readiness: the index is loaded and holds passages."""
        ok = len(assistant.retriever.index.passages) > 0
        return JSONResponse({"ready": ok, "passages": manifest["passages"]}, 200 if ok else 503)

    @app.get("/metadata")
    def metadata() -> dict[str, Any]:
        """What is served: corpus size, model, retrieval settings and the last eval metrics."""
        return {
            "passages": manifest["passages"],
            "sources": manifest["sources"],
            "index_key": manifest["key"],  # = corpus_key/model_key of its MLflow evaluation
            "embedding_model": manifest["embedding_model"],
            "max_seq_length": manifest["max_seq_length"],
            "retriever": settings.retriever,
            "answer_backend": settings.answer_backend,
            "min_confidence": settings.min_confidence,
            "eval": _last_eval(settings),
        }

    @app.exception_handler(RequestValidationError)
    async def readable_422(request: Request, error: RequestValidationError) -> JSONResponse:
        """Where and what, without echoing the input back."""
        detail = [
            {"loc": list(item["loc"]), "msg": item["msg"], "type": item["type"]}
            for item in error.errors()
        ]
        return JSONResponse({"detail": detail}, status_code=422)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders)
    return app


def _last_eval(settings: Settings) -> dict[str, Any]:
    """Metrics of the last ``make evaluate`` (empty before the first one)."""
    try:
        data: dict[str, Any] = json.loads(
            (settings.path(settings.reports_dir) / "eval.json").read_text()
        )
    except (OSError, ValueError):
        return {}
    return data


class SecurityHeaders:
    """ASGI middleware: the CSP and friends on every response but the API docs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(_DOCS_PATHS):
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


class BodySizeLimit:
    """ASGI middleware: 413 for a body over ``max_bytes``, declared or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await _too_large(self.max_bytes)(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise _BodyTooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except _BodyTooLarge:
            await _too_large(self.max_bytes)(scope, receive, send)


class _BodyTooLarge(Exception):
    pass


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse({"detail": f"request body over {limit} bytes"}, status_code=413)


def app_from_env() -> FastAPI:
    """Entry point of every server process (uvicorn ``--factory``, each gunicorn worker):
    settings from the environment."""
    settings = Settings()
    limit_threads(settings.torch_threads)
    return create_app(settings)
