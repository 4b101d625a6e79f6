"""Stage 3, features: one preprocessing recipe per model family, as sklearn transformers.

Preprocessing lives *inside* each model's ``Pipeline`` (see ``train.py``), so during
cross-validation medians and scales are learned from the training folds only. Category
levels come from the schema (the training split's levels, no target involved), so every
fold's encoder has the same columns, and a value never seen is encoded as "unknown"
instead of failing.
"""

from __future__ import annotations

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from .data import Schema


def linear_preprocessor(schema: Schema) -> ColumnTransformer:
    """Median-impute and standardise numbers, one-hot encode categories (unknown -> zeros)."""
    numeric = Pipeline(
        [
            ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
            ("scale", StandardScaler()),
        ]
    )
    categorical = OneHotEncoder(
        categories=list(schema.categorical.values()),
        handle_unknown="ignore",
        sparse_output=False,
    )
    return ColumnTransformer(
        [("num", numeric, schema.numeric), ("cat", categorical, list(schema.categorical))]
    )


def tree_preprocessor(schema: Schema) -> ColumnTransformer:
    """Numbers as they are (LightGBM learns where missing values go); categories as codes.

    Missing and unseen categories both become NaN, which LightGBM treats as "missing".
    """
    categorical = OrdinalEncoder(
        categories=list(schema.categorical.values()),
        handle_unknown="use_encoded_value",
        unknown_value=np.nan,
        encoded_missing_value=np.nan,
    )
    return ColumnTransformer(
        [("num", "passthrough", schema.numeric), ("cat", categorical, list(schema.categorical))]
    )


def categorical_indices(schema: Schema) -> list[int]:
    """Positions of the category codes in the tree preprocessor's output."""
    start = len(schema.numeric)
    return list(range(start, start + len(schema.categorical)))
