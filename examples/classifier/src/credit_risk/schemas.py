"""Request and response models, generated from the training schema at start-up.

Every feature becomes a typed field: a finite float for numbers, a string for
categories. The levels seen in training are published as an enum in the OpenAPI docs,
but validation accepts any string: an unseen value is predicted as "unknown" (what the
pipeline does too) instead of refusing a customer because the data moved. Fields are optional only
where training data had missing values, and unknown fields are rejected, so a typo in a
column name is a 422 naming the field, not a silent default.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi.exceptions import RequestValidationError
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
    with_config,
)
from typing_extensions import NotRequired, TypedDict

from .data import Schema

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


class Prediction(BaseModel):
    """One prediction: the label, its probability, every class's, and the model version."""

    label: str
    probability: float = Field(description="P(positive class) if binary, else P(label)")
    probabilities: dict[str, float]
    model_version: str


class BatchPrediction(BaseModel):
    predictions: list[Prediction]


def record_model(schema: Schema) -> type[dict[str, Any]]:
    """A typed dict with one key per feature, named as in the CSV.

    A ``TypedDict`` and not a ``BaseModel``: validation hands the service the plain
    ``{column: value}`` dict the fast path reads, with no model object built and dumped
    per record (a fifth of a 1,000-row batch's time). A feature that may be missing may
    also be left out of the request.
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
    config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)
    return with_config(config)(TypedDict("Record", fields))  # type: ignore[no-any-return, operator]


def batch_model(record: type[dict[str, Any]], max_rows: int) -> type[dict[str, Any]]:
    """A bounded list of records: an unbounded batch is a denial-of-service switch."""
    records = Annotated[list[record], Field(min_length=1, max_length=max_rows)]  # type: ignore[valid-type]
    batch = TypedDict("Batch", {"records": records})  # type: ignore[misc]  # noqa: UP013
    return with_config(ConfigDict(extra="forbid"))(batch)  # type: ignore[no-any-return]


class BatchReader:
    """Reads a batch body in one pass of pydantic's Rust JSON parser, straight to dicts.

    FastAPI would ``json.loads`` the body and then validate the Python objects: two passes,
    a quarter of a 1,000-row batch's time. ``request_body`` and ``definitions`` document
    the same schema in the OpenAPI spec, so /docs still shows it.
    """

    def __init__(self, batch: type[dict[str, Any]]) -> None:
        self._adapter: TypeAdapter[dict[str, Any]] = TypeAdapter(batch)
        schema = self._adapter.json_schema(ref_template="#/components/schemas/{model}")
        self.definitions: dict[str, Any] = schema.pop("$defs", {})
        self.request_body = {"required": True, "content": {"application/json": {"schema": schema}}}

    def read(self, body: bytes, content_type: str) -> list[dict[str, Any]]:
        """The validated records; a 422 naming the field (as FastAPI's own) if invalid.

        Only JSON is read, as FastAPI does: a browser sends a cross-site ``text/plain``
        POST without asking first, so accepting it would open the endpoint to any page.
        """
        media_type = content_type.partition(";")[0].strip().lower()
        if media_type != "application/json" and not media_type.endswith("+json"):
            wrong = {"loc": ("body",), "msg": "send JSON: Content-Type application/json"}
            raise RequestValidationError([{**wrong, "type": "content_type"}])
        try:
            return list(self._adapter.validate_json(body)["records"])
        except ValidationError as error:
            errors = error.errors(include_url=False, include_input=False)
            located = [{**item, "loc": ("body", *item["loc"])} for item in errors]
            raise RequestValidationError(located) from None
