"""Stage 8, serve: a FastAPI app built by ``create_app(settings)``, nothing done at import.

The app loads the served model once (``predict.py``) and generates its request models
from the training schema, so the OpenAPI page at /docs lists every feature with its type.
One request's path: ``ops/http.py`` (body limit, headers) -> the route here (validation
against the generated model) -> ``ServedModel.predict`` in ``predict.py`` (the ONNX run
and the label rule of ``data.py``'s ``Schema``) -> the JSON answer. A background poll
(``ops/hot_reload.py``) swaps in a new champion without a restart. Start: ``make serve``
(one process) or ``make serve-prod`` (the image's gunicorn command), then open /docs.
"""

# No `from __future__ import annotations`: FastAPI must see the generated request
# classes themselves in the endpoint signatures, not their names as strings.

import os
from typing import Annotated, Any

from fastapi import FastAPI, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, create_model, with_config
from typing_extensions import NotRequired, TypedDict

from .config import Settings
from .data import Schema
from .ops.hot_reload import Loaded, Reloader, ReloadRefused, admin_router
from .ops.http import (
    ERROR_RESPONSES,
    Health,
    Readiness,
    WholeNumber,
    add_http_plumbing,
    json_response,
)
from .ops.predictions import PredictionLog
from .predict import ServedModel, load_model, source_version

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
Explain = Annotated[bool, Query(description="Add each record's top feature contributions")]


class Contribution(BaseModel):
    feature: str
    contribution: float = Field(description="Signed, in raw-score units (log-odds if binary)")


class Explanation(BaseModel):
    """Why: ``raw_score`` = ``base_value`` + every feature's contribution (ops/reason_codes.py)."""

    explained_class: str = Field(description="The class whose raw score is explained")
    base_value: float = Field(description="The raw score of an average training row")
    raw_score: float = Field(description="This record's raw score for explained_class")
    top_features: list[Contribution] = Field(description="The largest contributions by size")


class Prediction(BaseModel):
    """One answer: the label, its probability, every class's, the model version, the IDs."""

    label: str = Field(description="The predicted class")
    label_probability: float = Field(description="P(label)")
    probabilities: dict[str, float] = Field(description="P(class) for every class")
    model_version: str = Field(description="The registry version that answered")
    ids: dict[str, str | int] = Field(description="The record's ID columns, as sent")
    explanation: Explanation | None = Field(None, description="Only with ?explain=true")


class BatchPrediction(BaseModel):
    predictions: list[Prediction]


def request_models(schema: Schema, max_rows: int) -> tuple[Any, Any]:
    """The request body of ``/predict`` (one record) and ``/predict/batch``, from the schema.

    A record is a ``TypedDict`` keyed by the CSV's column names (any name a CSV allows,
    which a class attribute would not). Numbers are finite; a category is text, and /docs
    lists the levels seen in training: an unseen one is predicted as "unknown" rather
    than refused. A value of the wrong JSON type (``0`` for a category, ``"3"`` for a
    number) is a 422 naming the field: strict, so what is accepted is what /docs says.
    Only features missing in training may be null or left out. The ID columns dropped
    before training may be sent, and are echoed; any other field is a 422, so a typo
    cannot become a silent default.
    """
    fields: dict[str, Any] = {}
    for name in schema.features:
        if name in schema.categorical:
            levels = schema.categorical[name]
            documented = {"anyOf": [{"enum": levels}, {"type": "string"}], "examples": levels[:1]}
            kind: Any = Annotated[str, WithJsonSchema(documented)]
        else:
            kind = FiniteFloat
        fields[name] = NotRequired[kind | None] if name in schema.nullable else kind
    fields |= {name: NotRequired[str | WholeNumber] for name in schema.ids}
    config = ConfigDict(extra="forbid", strict=True)
    record = with_config(config)(TypedDict("Record", fields))  # type: ignore[operator]
    bounded = Annotated[list[record], Field(min_length=1, max_length=max_rows)]  # type: ignore[valid-type]
    batch = create_model("Batch", __config__=config, records=(bounded, ...))
    return record, batch


def create_app(settings: Settings | None = None, model: ServedModel | None = None) -> FastAPI:
    """Build the service for ``model`` (loaded from the settings' source if not given).

    A given ``model`` is served as is; a loaded one is replaced when the source points at
    a new version (checked every ``reload_interval_s``, or on ``/admin/reload``).
    """
    settings = settings or Settings()
    served = model or load_model(settings)
    schema = served.schema

    def reload_from_source() -> Loaded[ServedModel]:
        """The source's current version, refused if requests would no longer fit it."""
        new = load_model(settings)
        if new.schema != schema:
            raise ReloadRefused("its features differ from the served ones: restart to serve it")
        if not new.answers():
            raise ReloadRefused("it returns non-finite probabilities")
        return Loaded(new, new.version, f"{new.version}@{new.run_id}")

    reloader = Reloader(
        Loaded(served, served.version, f"{served.version}@{served.run_id}"),
        probe=lambda: source_version(settings),
        load=reload_from_source,
        interval_s=0 if model is not None else settings.reload_interval_s,
    )
    Record, Batch = request_models(schema, settings.max_batch_rows)
    log = PredictionLog.from_settings(settings, schema)

    app = FastAPI(
        title=f"{settings.model_name} classifier",
        version=served.version,
        lifespan=lambda _app: reloader.running(),
    )
    app.state.reloader = reloader
    fields = [*schema.features, *schema.ids]
    add_http_plumbing(
        app, settings.max_body_bytes, fields=fields, cors_origins=settings.cors_origins
    )
    if settings.admin_token is not None:
        token = settings.admin_token.get_secret_value()
        app.include_router(admin_router(reloader, token, settings.admin_allow_remote))

    # One record is scored on the event loop: the ONNX call is short, and a thread-pool hop
    # per request cost more tail latency than it saved (measurements in docs/DESIGN.md).
    # The log's file write goes to the thread pool; a batch (milliseconds of work) runs
    # there whole. The response models document the API; `json_response` sends the dicts
    # `ServedModel.predict` built without validating them a second time.
    @app.post("/predict", response_model=Prediction, responses=ERROR_RESPONSES)
    async def predict_one(record: Record, explain: Explain = False) -> Response:  # type: ignore[valid-type]
        """Score one record; ``?explain=true`` adds its top feature contributions."""
        predictions = reloader.current.model.predict([record], explain)
        if log is not None:
            await run_in_threadpool(log.write, [record], predictions)
        return json_response(predictions[0])

    @app.post("/predict/batch", response_model=BatchPrediction, responses=ERROR_RESPONSES)
    def predict_batch(batch: Batch, explain: Explain = False) -> Response:  # type: ignore[valid-type]
        """Score up to ``max_batch_rows`` records in one call (in the thread pool: plain def)."""
        records = batch.records  # type: ignore[attr-defined]
        predictions = reloader.current.model.predict(records, explain)
        if log is not None:
            log.write(records, predictions)
        return json_response({"predictions": predictions})

    @app.get("/health")
    def health() -> Health:
        """Liveness: the process answers."""
        return Health()

    @app.get("/ready", response_model=Readiness, responses={503: {"model": Readiness}})
    def ready() -> JSONResponse:
        """Readiness: the served model scores a record with every feature missing."""
        current = reloader.current
        body = Readiness(ready=current.model.answers(), model_version=current.version)
        return JSONResponse(body.model_dump(), 200 if body.ready else 503)

    @app.get("/metadata")
    def metadata() -> dict[str, Any]:
        """What this worker serves: version, run, test metrics, threshold, schema, runtime."""
        current = reloader.current.model
        return {
            "model_name": settings.model_name,
            "model_version": current.version,
            "run_id": current.run_id,
            "test_metrics": current.metrics,
            "threshold": current.threshold,
            "runtime": "onnxruntime" if current.session is not None else "scikit-learn",
            "model_source": "(in code)" if model else settings.model_uri or str(settings.model_dir),
            "reload_interval_s": reloader.interval_s,
            "worker_pid": os.getpid(),
            "schema": current.schema.to_dict(),
        }

    return app


def app_from_env() -> FastAPI:
    """Entry point for ``uvicorn --factory``: settings from the environment."""
    return create_app(Settings())
