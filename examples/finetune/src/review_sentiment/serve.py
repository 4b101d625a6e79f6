"""The fine-tuned model behind a small REST API: ``create_app(settings)`` builds it.

Why a factory: importing this module does no work (no model load), tests build an app
per case with their own settings, and ``make serve`` builds the real one. The model
(``models/finetuned``, the exported champion) loads at start-up; ``/ready`` says when it
can answer. A background poll of ``models/finetuned/registry.json`` swaps in a new
champion (a promotion, ``make rollback``) without a restart (``hot_reload.py``), and
``/metadata`` names the version in use.

Inputs are bounded (text length, batch size, body bytes) so one bad client cannot make
the service slow for everyone; bad input gets a 4xx with a reason, never a 500.
Start: ``uvicorn --factory <package>.serve:app_from_env`` (``make serve``, one process) or
the image's gunicorn command (``make serve-prod``), then open http://127.0.0.1:8000/docs.
"""

# No `from __future__ import annotations` here: FastAPI reads the request models built
# inside create_app from the handlers' annotations at definition time.
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

import torch
from fastapi import FastAPI, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, create_model
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import __version__, model
from .config import Settings
from .hot_reload import Loaded, Reloader, admin_router

if TYPE_CHECKING:
    from . import llm

LLM_VERSION = "llm"  # the LLM track's model is not registered: one fixed version


class Prediction(BaseModel):
    """The label with the highest probability, its probability, and all of them."""

    label: str
    confidence: float
    probabilities: dict[str, float]


class BatchPrediction(BaseModel):
    predictions: list[Prediction]


class BodySizeLimit:
    """ASGI middleware: 413 for a body over ``max_bytes``, announced or streamed.

    Checked before JSON parsing, so a 1 GB body is refused without being read into memory.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > self.max_bytes:
            await _send_413(send, self.max_bytes)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise HTTPException(413, "request body too large")
            return message

        await self.app(scope, limited, send)


async def _send_413(send: Send, max_bytes: int) -> None:
    body = json.dumps({"detail": f"request body over {max_bytes} bytes"}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _request_models(settings: Settings) -> tuple[type[BaseModel], type[BaseModel]]:
    """Request schemas whose limits come from settings (and show up in /docs)."""
    text = Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=settings.max_text_chars),
    ]
    strict = ConfigDict(extra="forbid")
    single = create_model("PredictRequest", __config__=strict, text=(text, ...))
    batch = create_model(
        "BatchRequest",
        __config__=strict,
        texts=(Annotated[list[text], Field(min_length=1, max_length=settings.max_batch)], ...),
    )
    return single, batch


@dataclass(frozen=True)
class Served:
    """The loaded model and the run it came from (``run.json``: run id, test scores)."""

    predictor: "model.Predictor | llm.LLMClassifier"
    run: dict[str, Any] = field(default_factory=dict)


def current_model(settings: Settings) -> str:
    """Which model the folder holds now (``none`` before training): polled by the service."""
    if settings.serve_llm:
        from . import llm  # only here: it brings MLflow, pandas and plots (~250 MB a worker)

        return LLM_VERSION if (settings.llm_dir / llm.CONFIG).exists() else model.NO_MODEL
    return model.folder_identity(settings.model_dir)


def load_served(settings: Settings) -> Loaded[Served | None]:
    """Load the model the folder holds now; fails (and the old one keeps serving) if none."""
    identity = current_model(settings)
    if identity == model.NO_MODEL:
        raise FileNotFoundError("no trained model: run `make train`")
    if settings.serve_llm:
        from . import llm

        return Loaded(Served(llm.load_classifier(settings.llm_dir)), identity)
    run = settings.model_dir / "run.json"
    metadata = json.loads(run.read_text()) if run.exists() else {}
    loaded = Served(model.load(settings.model_dir), metadata)
    if current_model(settings) != identity:  # replaced while it loaded: maybe half of each
        raise RuntimeError("the model changed while loading; the next check loads it")
    version = identity.partition("@")[0]  # the registry's version number, for /metadata
    return Loaded(loaded, version, identity)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API; the model in ``settings.model_dir`` loads when the app starts and is
    swapped when that folder gets a new version (every ``reload_interval_s``)."""
    settings = settings or Settings()
    reloader: Reloader[Served | None] = Reloader(
        Loaded(None, model.NO_MODEL),
        probe=lambda: current_model(settings),
        load=lambda: load_served(settings),
        interval_s=0 if settings.serve_llm else settings.reload_interval_s,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        torch.set_num_threads(settings.serve_threads)
        reloader.check()  # load what is there now; without a model /ready says 503
        async with reloader.running():
            yield

    app = FastAPI(title="text classifier", version=__version__, lifespan=lifespan)
    app.state.reloader = reloader
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    if settings.admin_token is not None:
        token = settings.admin_token.get_secret_value()
        app.include_router(admin_router(reloader, token, settings.admin_allow_remote))
    PredictRequest, BatchRequest = _request_models(settings)  # noqa: N806

    def served() -> tuple[Served, str]:
        """The model requests use now and its version, read once: a swap mid-request
        cannot mix two models."""
        current = reloader.current
        if current.model is None:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE, "no trained model: run `make train`"
            )
        return current.model, current.version

    def predict(texts: list[str]) -> list[Prediction]:
        current = served()[0].predictor
        proba = current.predict_proba(texts, batch_size=settings.max_batch)
        return [
            Prediction(
                label=current.labels[int(row.argmax())],
                confidence=float(row.max()),
                probabilities={
                    label: float(p) for label, p in zip(current.labels, row, strict=True)
                },
            )
            for row in proba
        ]

    @app.get("/health")
    def health() -> dict[str, str]:
        """Liveness: the process answers (the model may still be loading)."""
        return {"status": "ok"}

    @app.get("/ready")
    def ready() -> dict[str, str]:
        """Readiness: 200 only once a model is loaded, so a load balancer waits for it."""
        return {"status": "ready", "model_version": served()[1]}

    @app.get("/metadata")
    def metadata() -> dict[str, Any]:
        """What is being served: model version, labels, limits, and its MLflow run."""
        current, version = served()
        predictor, run = current.predictor, current.run
        return {
            "model_version": version,
            "mlflow_run_id": run.get("run_id"),
            "test_metrics": run.get("metrics", {}),
            "labels": predictor.labels,
            "max_length_tokens": predictor.max_length,
            "max_text_chars": settings.max_text_chars,
            "max_batch": settings.max_batch,
            "reload_interval_s": reloader.interval_s,
            "version": __version__,
        }

    @app.exception_handler(RequestValidationError)
    async def readable_422(request: Request, error: RequestValidationError) -> JSONResponse:
        """Where and what, without echoing the input: a lone surrogate in it would not
        encode as UTF-8, and the error page would become a 500."""
        detail = [
            {"loc": list(item["loc"]), "msg": item["msg"], "type": item["type"]}
            for item in error.errors()
        ]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.post("/predict")
    def predict_one(request: PredictRequest) -> Prediction:
        return predict([request.text])[0]

    @app.post("/predict/batch")
    def predict_batch(request: BatchRequest) -> BatchPrediction:
        """All texts go through the model together: one padded batch, not N calls."""
        return BatchPrediction(predictions=predict(request.texts))

    return app


def app_from_env() -> FastAPI:
    """The app with settings from the environment: what uvicorn and gunicorn start."""
    return create_app(Settings())
