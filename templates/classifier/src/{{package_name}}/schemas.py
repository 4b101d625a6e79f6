"""Request and response models, generated from the training schema at start-up.

Every feature becomes a typed field: a finite float for numbers, a string for
categories (the levels seen in training are listed as an enum in the OpenAPI docs, but
an unseen value is still accepted and predicted, as "unknown"). Fields are optional only
where training data had missing values, and unknown fields are rejected, so a typo in a
column name is a 422 naming the field, not a silent default.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, create_model

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
            members = {f"v{i}": level for i, level in enumerate(schema.categorical[name])}
            kind: Any = Enum(f"Levels{index}", members) | str  # type: ignore[misc]
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
    """The validated record as ``{column: value}``, enum members turned back into strings."""
    values = record.model_dump(by_alias=True)
    return {key: value.value if isinstance(value, Enum) else value for key, value in values.items()}
