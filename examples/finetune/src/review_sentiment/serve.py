"""The fine-tuned model behind a small REST API: ``create_app(settings)`` builds it.

Why a factory: importing this module does no work, tests build an app per case with their
own settings, and ``make serve`` builds the real one. The model in ``models/champion``
loads at start-up (``/ready`` says when it can answer) and is swapped without a restart
when a promotion or rollback changes that folder (``ops/hot_reload.py``); every
prediction names the version that made it. Inputs are bounded (text length, batch size,
body bytes) and bad input gets a 4xx, never a 500 (``ops/http.py``). The handlers are
plain ``def``: FastAPI runs them on its thread pool, so the model's CPU work never blocks
the event loop; all threads share one ``Predictor`` (``model.py``: why that is safe).
``response_model`` documents each body in OpenAPI, while the handler returns
``json_response``, sent as it is: no second validation and serialisation per request
(``test_serve.py`` checks the bodies against the models).
Start: ``uvicorn --factory review_sentiment.serve:app_from_env``.
"""

# No `from __future__ import annotations` here: FastAPI reads the request models built
# inside create_app from the handlers' annotations at definition time.
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any

import torch
from fastapi import FastAPI, HTTPException, Response, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, create_model

from . import __version__, model
from .config import Settings
from .ops.hot_reload import Loaded, Reloader, admin_router
from .ops.http import (
    ERROR_RESPONSES,
    NOT_BLANK,
    Health,
    Problem,
    Readiness,
    add_http_plumbing,
    json_response,
)


class Prediction(BaseModel):
    """The most probable label, its probability, every label's, and the model version."""

    label: str = Field(description="The most probable label")
    label_probability: float = Field(description="P(label)")
    probabilities: dict[str, float] = Field(description="P(label) for every label")
    model_version: str = Field(description="The registry version that answered")


class BatchPrediction(BaseModel):
    predictions: list[Prediction]


def _request_models(settings: Settings) -> tuple[type[BaseModel], type[BaseModel]]:
    """Request schemas whose limits come from settings (and show up in /docs)."""
    text = Annotated[
        str,
        StringConstraints(min_length=1, max_length=settings.max_text_chars, pattern=NOT_BLANK),
    ]
    strict = ConfigDict(extra="forbid", strict=True)  # 5 for a text is a 422, not "5"
    single = create_model("PredictRequest", __config__=strict, text=(text, ...))
    batch = create_model(
        "BatchRequest",
        __config__=strict,
        texts=(Annotated[list[text], Field(min_length=1, max_length=settings.max_batch_rows)], ...),
    )
    return single, batch


@dataclass(frozen=True)
class Served:
    """The loaded model and the run it came from (``run.json``: run id, test scores)."""

    predictor: model.Predictor
    run: dict[str, Any] = field(default_factory=dict)


def load_served(settings: Settings) -> Loaded[Served | None]:
    """Load the model the folder holds now; fails (and the old one keeps serving) if none."""
    identity = model.folder_identity(settings.model_dir)
    if identity == model.NO_MODEL:
        raise FileNotFoundError("no trained model: run `make train`")
    run_file = settings.model_dir / model.RUN_FILE
    run = json.loads(run_file.read_text()) if run_file.exists() else {}
    loaded = Served(model.load(settings.model_dir), run)
    if model.folder_identity(settings.model_dir) != identity:  # replaced while it loaded
        raise RuntimeError("the model changed while loading; the next check loads it")
    version = identity.partition("@")[0]  # the registry's version number
    return Loaded(loaded, version, identity)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API; the model in ``settings.model_dir`` loads when the app starts and is
    swapped when that folder gets a new version (every ``reload_interval_s``)."""
    settings = settings or Settings()
    reloader: Reloader[Served | None] = Reloader(
        Loaded(None, model.NO_MODEL),
        probe=lambda: model.folder_identity(settings.model_dir),
        load=lambda: load_served(settings),
        interval_s=settings.reload_interval_s,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        torch.set_num_threads(settings.serve_threads)
        reloader.check()  # load what is there now; without a model /ready says 503
        async with reloader.running():
            yield

    app = FastAPI(title="text classifier", version=__version__, lifespan=lifespan)
    app.state.reloader = reloader
    add_http_plumbing(app, settings.max_body_bytes, cors_origins=settings.cors_origins)
    if settings.admin_token is not None:
        token = settings.admin_token.get_secret_value()
        app.include_router(admin_router(reloader, token, settings.admin_allow_remote))
    PredictRequest, BatchRequest = _request_models(settings)  # noqa: N806
    no_model = {503: {"model": Problem, "description": "No trained model yet: run `make train`"}}

    def served() -> tuple[Served, str]:
        """The model requests use now and its version, read once: a swap mid-request
        cannot mix two models."""
        current = reloader.current
        if current.model is None:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE, "no trained model: run `make train`"
            )
        return current.model, current.version

    def predict(texts: list[str]) -> list[dict[str, Any]]:
        current, version = served()
        labels = current.predictor.labels
        proba = current.predictor.predict_proba(texts, batch_size=settings.max_batch_rows)
        return [
            {
                "label": labels[int(row.argmax())],
                "label_probability": float(row.max()),
                "probabilities": {label: float(p) for label, p in zip(labels, row, strict=True)},
                "model_version": version,
            }
            for row in proba
        ]

    @app.get("/health")
    def health() -> Health:
        """Liveness: the process answers (the model may still be loading)."""
        return Health()

    @app.get("/ready", response_model=Readiness, responses={503: {"model": Readiness}})
    def ready() -> Response:
        """Readiness: 200 only once a model is loaded, so a load balancer waits for it."""
        current = reloader.current
        loaded = current.model is not None
        body = Readiness(ready=loaded, model_version=current.version if loaded else None)
        return json_response(body.model_dump(), 200 if loaded else 503)

    @app.get("/metadata", responses=no_model)
    def metadata() -> dict[str, Any]:
        """What is being served: model name and version, its MLflow run and test scores."""
        current, version = served()
        return {
            "model_name": settings.model_name,
            "model_version": version,
            "run_id": current.run.get("run_id"),
            "test_metrics": current.run.get("test_metrics", {}),
            "labels": current.predictor.labels,
            "max_length_tokens": current.predictor.max_length,
            "max_text_chars": settings.max_text_chars,
            "max_batch_rows": settings.max_batch_rows,
            "reload_interval_s": reloader.interval_s,
            "version": __version__,
        }

    @app.post("/predict", response_model=Prediction, responses={**ERROR_RESPONSES, **no_model})
    def predict_one(request: PredictRequest) -> Response:
        return json_response(predict([request.text])[0])

    @app.post(
        "/predict/batch", response_model=BatchPrediction, responses={**ERROR_RESPONSES, **no_model}
    )
    def predict_batch(request: BatchRequest) -> Response:
        """All texts go through the model together: one padded batch, not N calls."""
        return json_response({"predictions": predict(request.texts)})

    return app


def app_from_env() -> FastAPI:
    """The app with settings from the environment: what uvicorn and gunicorn start."""
    return create_app(Settings())
