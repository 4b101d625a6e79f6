"""Why is serving fast without re-implementing the model? The pipeline compiled to ONNX.

skl2onnx converts the fitted scikit-learn ``Pipeline`` (preprocessing and estimator) into
one ONNX graph; onnxmltools supplies LightGBM's converter. ``register.py`` calls
``log_onnx`` at training time, which logs the result beside the model only when it returns
the pipeline's probabilities within ``ONNX_TOLERANCE`` on every training row (ONNX computes
in float32; the test split stays untouched, kept for the reported numbers). ``predict.py``
runs it with onnxruntime, so predictions need neither the converters nor LightGBM (reason
codes load the booster on the first ``?explain=true``), unless no file was logged: then it
runs the pipeline.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import mlflow
import numpy as np
import onnxruntime
import pandas as pd
from lightgbm import LGBMClassifier
from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm
from skl2onnx import convert_sklearn, update_registered_converter
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
from skl2onnx.common.shape_calculator import calculate_linear_classifier_output_shapes
from sklearn.pipeline import Pipeline

from ..data import ONNX_PROBABILITIES, Schema

ONNX_FILE = "model.onnx"
ONNX_TOLERANCE = 1e-6
OPSETS = {"": 17, "ai.onnx.ml": 3}  # pinned: skl2onnx refuses the newer ai.onnx.ml 5 here
update_registered_converter(
    LGBMClassifier,
    "LightGbmLGBMClassifier",
    calculate_linear_classifier_output_shapes,
    convert_lightgbm,
    options={"nocl": [True, False], "zipmap": [True, False, "columns"]},
)


def compile_onnx(
    pipeline: Pipeline, schema: Schema, rows: pd.DataFrame
) -> tuple[bytes | None, float]:
    """The fitted pipeline as ONNX, and its largest difference from the pipeline on ``rows``.

    None when the difference is over ``ONNX_TOLERANCE``: the service then runs the
    pipeline itself, slower but exact.
    """
    inputs = [(name, FloatTensorType([None, 1])) for name in schema.numeric]
    inputs += [(name, StringTensorType([None, 1])) for name in schema.categorical]
    options = {id(pipeline.named_steps["model"]): {"zipmap": False}}
    onnx = convert_sklearn(pipeline, initial_types=inputs, options=options, target_opset=OPSETS)
    onnx_bytes = onnx.SerializeToString()
    session = onnxruntime.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    features = schema.features_frame(rows)
    columns = {name: features[name].tolist() for name in schema.features}
    names = [item.name for item in session.get_inputs()]
    compiled = session.run([ONNX_PROBABILITIES], schema.onnx_feed(names, columns))[0]
    error = float(np.abs(compiled - pipeline.predict_proba(features)).max())
    return (onnx_bytes if error <= ONNX_TOLERANCE else None), error


def log_onnx(pipeline: Pipeline, schema: Schema, rows: pd.DataFrame) -> float:
    """Compile, log ``onnx/model.onnx`` in the active run if exact enough, return the error.

    The error is logged too (``onnx_max_abs_diff``), whether or not the file was.
    """
    onnx, error = compile_onnx(pipeline, schema, rows)
    mlflow.log_metric("onnx_max_abs_diff", error)
    if onnx is not None:
        with tempfile.TemporaryDirectory() as folder:
            (Path(folder) / ONNX_FILE).write_bytes(onnx)
            mlflow.log_artifact(str(Path(folder) / ONNX_FILE), artifact_path="onnx")
    return error
