"""Stage 8, serve: the question page and the JSON API, built by ``create_app(settings)``.

``POST /ask`` answers (a failing chat backend is a 502); ``/health``, ``/ready`` and
``/metadata`` are the probes and the served index's identity; the body limit, the
readable 422 and the common headers come from ``ops/http.py``. ``GET /`` is one static
page that inserts text with ``textContent`` only, under a Content-Security-Policy that
runs no inline code, so a document holding ``<script>`` is shown, never run.
``make serve`` runs one uvicorn process; ``make serve-prod`` gunicorn, as the image does.
"""

# No `from __future__ import annotations`: FastAPI must see the request class defined in
# create_app itself, not its name as a string.

from pathlib import Path
from typing import Annotated

from fastapi import FastAPI
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from .answer import Answer, Assistant, LLMError, build_assistant
from .config import Settings
from .embeddings import limit_threads
from .ops.http import (
    ERROR_RESPONSES,
    NOT_BLANK,
    Health,
    Problem,
    Readiness,
    WholeNumber,
    add_http_plumbing,
    json_response,
)

STATIC = Path(__file__).resolve().parent / "static"
# On the page only: the API docs at /docs load Swagger UI's own scripts, which it would block.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
HEADERS = {"x-frame-options": "DENY"}  # nosniff and no-referrer come with ops/http.py


class Metadata(BaseModel):
    """What is served: the index (``model_version``), the run that scored it, its numbers
    and the settings that shape an answer."""

    model_config = ConfigDict(protected_namespaces=())
    model_name: str
    model_version: str = Field(description="The served index's version (its manifest id)")
    run_id: str | None = Field(description="The MLflow run of `make train` that scored it")
    test_metrics: dict[str, float]
    passages: int
    sources: int
    embedding_model: str
    retriever: str
    dense_weight: float = Field(description="Hybrid's fusion weight: 0 is BM25, 1 is dense")
    min_confidence: float
    answer_backend: str


def create_app(settings: Settings | None = None, assistant: Assistant | None = None) -> FastAPI:
    """Build the service around ``assistant`` (loaded from the index on disk if not given)."""
    settings = settings or Settings()
    assistant = assistant or build_assistant(settings)
    index = assistant.retriever.index

    class AskRequest(BaseModel):
        """A question about the documents."""

        model_config = ConfigDict(extra="forbid", strict=True)  # "5" for k is a 422
        question: Annotated[
            str,
            StringConstraints(min_length=1, pattern=NOT_BLANK),
            Field(max_length=settings.max_question_chars),
        ]
        k: WholeNumber = Field(settings.top_k, ge=1, le=20, description="Passages to cite")

    app = FastAPI(title=f"{settings.model_name} question answering")
    responses = {**ERROR_RESPONSES, 502: {"model": Problem, "description": "Chat backend failed"}}

    @app.post("/ask", response_model=Answer, responses=responses)
    def ask(request: AskRequest) -> Response:
        """Answer from the top ``k`` passages, with numbered citations (or refuse)."""
        try:
            answer = assistant.ask(request.question, request.k)
        except LLMError as error:
            return json_response({"detail": str(error)}, status_code=502)
        return json_response(answer)

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        """The question page."""
        headers = {"content-security-policy": PAGE_CSP}
        return FileResponse(STATIC / "index.html", media_type="text/html", headers=headers)

    @app.get("/health")
    def health() -> Health:
        """Liveness: the process answers."""
        return Health()

    @app.get("/ready", response_model=Readiness, responses={503: {"model": Readiness}})
    def ready() -> Response:
        """Readiness: the index is loaded and holds passages."""
        ok = len(index.passages) > 0
        body = Readiness(ready=ok, model_version=index.version or None)
        return json_response(body.model_dump(), status_code=200 if ok else 503)

    @app.get("/metadata")
    def metadata() -> Metadata:
        """The served index, the MLflow run that evaluated it and its test-split metrics."""
        return Metadata(
            model_name=settings.model_name,
            model_version=index.version,
            run_id=index.evaluation.get("run_id"),
            test_metrics=index.evaluation.get("test_metrics", {}),
            passages=index.manifest["passages"],
            sources=index.manifest["sources"],
            embedding_model=index.manifest["embedding_model"],
            retriever=settings.retriever,
            dense_weight=assistant.retriever.dense_weight,
            min_confidence=settings.min_confidence,
            answer_backend=settings.answer_backend,
        )

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    add_http_plumbing(
        app,
        settings.max_body_bytes,
        headers=HEADERS,
        fields=["question", "k"],
        cors_origins=settings.cors_origins,
    )
    return app


def app_from_env() -> FastAPI:
    """Every server process's entry point (uvicorn ``--factory``, each gunicorn worker)."""
    settings = Settings()
    limit_threads(settings.torch_threads)
    return create_app(settings)
