"""Stage 8, serve: a FastAPI app built by ``create_app(settings)``, nothing done at import.

Request models come from the training schema, so /docs lists every feature with its type.
``POST /predict`` passes ``ops/http.py``'s middleware (body limit, headers), the route here
(validation), ``ServedModel.predict`` in ``predict.py`` (ONNX, and ``Schema``'s label rule
in ``data.py``) and returns JSON. The model is one reference, ``app.state.model``, which
``ops/hot_reload.py`` replaces beside the requests when the champion changes.
"""

# No `from __future__ import annotations`: FastAPI must see the generated request
# classes themselves in the endpoint signatures, not their names as strings.

import os
from dataclasses import replace
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
from .ops.reason_codes import Explanation
from .predict import ServedModel, load_model, source_version

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
Explain = Annotated[bool, Query(description="Add each record's top feature contributions")]


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
    """The bodies of ``/predict`` (a record) and ``/predict/batch``, from the schema.

    A record is a ``TypedDict`` keyed by the CSV's column names (any name a CSV allows).
    Strict: ``0`` for a category or ``"3"`` for a number is a 422 naming the field. A
    category is any text (an unseen one is scored as unknown). Only features missing in
    training may be null; ID columns are echoed; any other field is a 422, not a default.
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


def request_contract(schema: Schema) -> Schema:
    """The schema less its category levels: what a new version must keep to be swapped in.
    Levels only document a category (any text is accepted), so a retrain may add some."""
    return replace(schema, categorical=dict.fromkeys(schema.categorical, []))


def create_app(settings: Settings | None = None, model: ServedModel | None = None) -> FastAPI:
    """The service for ``model`` (served as is), else the settings' source, which is polled
    every ``reload_interval_s`` (or on ``/admin/reload``) for a new version."""
    settings = settings or Settings()
    served = model or load_model(settings)
    contract = request_contract(served.schema)

    def reload_from_source() -> Loaded[ServedModel]:
        """Load the source's version and serve it, unless requests would no longer fit it."""
        new = load_model(settings)
        if request_contract(new.schema) != contract:
            raise ReloadRefused("its request contract differs from the served one: restart")
        if not new.answers():
            raise ReloadRefused("it returns non-finite probabilities")
        app.state.model = new
        return Loaded(new, new.version, f"{new.version}@{new.run_id}")

    reloader = Reloader(
        Loaded(served, served.version, f"{served.version}@{served.run_id}"),
        probe=lambda: source_version(settings),
        load=reload_from_source,
        interval_s=0 if model is not None else settings.reload_interval_s,
    )
    Record, Batch = request_models(served.schema, settings.max_batch_rows)
    log = PredictionLog.from_settings(settings, served.schema)

    app = FastAPI(
        title=f"{settings.model_name} classifier",
        version=served.version,
        lifespan=lambda _app: reloader.running(),
    )
    app.state.model, app.state.reloader = served, reloader
    fields = [*served.schema.features, *served.schema.ids]
    add_http_plumbing(
        app, settings.max_body_bytes, fields=fields, cors_origins=settings.cors_origins
    )
    if settings.admin_token is not None:
        token = settings.admin_token.get_secret_value()
        app.include_router(admin_router(reloader, token, settings.admin_allow_remote))

    @app.post("/predict", response_model=Prediction, responses=ERROR_RESPONSES)
    async def predict_one(record: Record, explain: Explain = False) -> Response:  # type: ignore[valid-type]
        """Score one record; ``?explain=true`` adds its top feature contributions.

        ``async``: one ONNX call costs less than a thread-pool hop adds to p99 (DESIGN.md), so
        it runs on the event loop; reason codes (TreeSHAP), the sklearn pipeline (a run with
        no ONNX file: milliseconds) and the log write go to the pool.
        """
        current: ServedModel = app.state.model
        if explain or current.session is None:
            predictions = await run_in_threadpool(current.predict, [record], explain)
        else:
            predictions = current.predict([record])
        if log is not None:
            await run_in_threadpool(log.write, [record], predictions)
        # Not validated at runtime: ``Prediction`` documents the body in OpenAPI, predict()
        # builds it from typed values, and `make contract` (schemathesis) checks it conforms.
        return json_response(predictions[0])

    @app.post("/predict/batch", response_model=BatchPrediction, responses=ERROR_RESPONSES)
    def predict_batch(batch: Batch, explain: Explain = False) -> Response:  # type: ignore[valid-type]
        """Score up to ``max_batch_rows`` records: a plain ``def``, so in the thread pool."""
        records = batch.records  # type: ignore[attr-defined]
        predictions = app.state.model.predict(records, explain)
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
        current: ServedModel = app.state.model
        body = Readiness(ready=current.answers(), model_version=current.version)
        return JSONResponse(body.model_dump(), 200 if body.ready else 503)

    @app.get("/metadata")
    def metadata() -> dict[str, Any]:
        """What this worker serves: version, run, test metrics, threshold, schema, runtime."""
        current: ServedModel = app.state.model
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
