"""The fine-tuned model behind a small REST API: ``create_app(settings)`` builds it.

Why a factory: importing this module does no work (no model load), tests build an app
per case with their own settings, and ``make serve`` builds the real one. The model
loads once at start-up; ``/ready`` says when it can answer.

Inputs are bounded (text length, batch size, body bytes) so one bad client cannot make
the service slow for everyone; bad input gets a 4xx with a reason, never a 500.
"""

# No `from __future__ import annotations` here: FastAPI reads the request models built
# inside create_app from the handlers' annotations at definition time.
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import torch
from fastapi import FastAPI, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, create_model
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import __version__, llm, model
from .config import Settings


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


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API; the model at ``settings.model_dir`` loads when the app starts."""
    settings = settings or Settings()
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        torch.set_num_threads(settings.serve_threads)
        if settings.serve_llm and (settings.llm_dir / llm.CONFIG).exists():
            state["predictor"], state["run"] = llm.load_classifier(settings.llm_dir), {}
        elif not settings.serve_llm and (settings.model_dir / model.WEIGHTS).exists():
            state["predictor"] = model.load(settings.model_dir)
            run = settings.model_dir / "run.json"
            state["run"] = json.loads(run.read_text()) if run.exists() else {}
        yield
        state.clear()

    app = FastAPI(title="text classifier", version=__version__, lifespan=lifespan)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    PredictRequest, BatchRequest = _request_models(settings)  # noqa: N806

    def predictor() -> model.Predictor | llm.LLMClassifier:
        if "predictor" not in state:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE, "no trained model: run `make train`"
            )
        return state["predictor"]

    def predict(texts: list[str]) -> list[Prediction]:
        current = predictor()
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
        predictor()
        return {"status": "ready"}

    @app.get("/metadata")
    def metadata() -> dict[str, Any]:
        """What is being served: labels, limits, and the MLflow run it came from."""
        current = predictor()
        return {
            "labels": current.labels,
            "max_length_tokens": current.max_length,
            "max_text_chars": settings.max_text_chars,
            "max_batch": settings.max_batch,
            "mlflow_run_id": state["run"].get("run_id"),
            "test_metrics": state["run"].get("metrics", {}),
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


def main() -> None:
    import uvicorn

    settings = Settings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port)


if __name__ == "__main__":
    main()
