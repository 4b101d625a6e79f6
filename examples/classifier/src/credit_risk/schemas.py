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

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, create_model

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


def record_model(schema: Schema) -> type[BaseModel]:
    """A pydantic model with one field per feature, named as in the CSV."""
    fields: dict[str, Any] = {}
    for index, name in enumerate(schema.features):
        if name in schema.categorical:
            levels = schema.categorical[name]
            documented = {"anyOf": [{"enum": levels}, {"type": "string"}], "examples": levels[:1]}
            kind: Any = Annotated[str, WithJsonSchema(documented)]
        else:
            kind = FiniteFloat
        if name in schema.nullable:
            fields[f"f{index}"] = (kind | None, Field(None, alias=name))
        else:
            fields[f"f{index}"] = (kind, Field(..., alias=name))
    return create_model(
        "Record",
        __config__=ConfigDict(extra="forbid", coerce_numbers_to_str=True, populate_by_name=False),
        **fields,
    )


def batch_model(record: type[BaseModel], max_rows: int) -> type[BaseModel]:
    """A bounded list of records: an unbounded batch is a denial-of-service switch."""
    return create_model(
        "Batch",
        __config__=ConfigDict(extra="forbid"),
        records=(list[record], Field(..., min_length=1, max_length=max_rows)),  # type: ignore[valid-type]
    )


def as_features(record: BaseModel) -> dict[str, Any]:
    """The validated record as ``{column: value}``, keyed by the CSV's column names."""
    return record.model_dump(by_alias=True)
