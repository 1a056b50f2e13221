"""The ONNX export, and the parity check that makes it trustworthy.

The runtime (``predict``, ``serve``) runs the ONNX model with ONNX Runtime, never the
scikit-learn object. The export is only as good as its parity: ONNX Runtime must predict
exactly the labels scikit-learn predicts, on every row, or training fails.
"""

from __future__ import annotations

import numpy as np
import onnxruntime
import pandas as pd
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType, Int64TensorType
from sklearn.ensemble import RandomForestClassifier

from sampleproject.errors import SampleProjectError
from sampleproject.schema import CLASS_NAMES, FEATURES

INPUT_NAME = "features"
LABEL_OUTPUT = "label"
PROBABILITIES_OUTPUT = "probabilities"
# Fixed opsets, not "the newest the converter knows": the same model gives the same bytes
# after a skl2onnx upgrade, and ONNX Runtime 1.18 (the runtime's lower bound) runs them.
TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}
# Probabilities are float32 in ONNX and float64 in scikit-learn.
PROBABILITY_TOLERANCE = 1e-5


class ParityError(SampleProjectError):
    """The ONNX model does not predict what the scikit-learn model predicts."""


def export_onnx(classifier: RandomForestClassifier) -> bytes:
    """The fitted ``classifier`` as a serialized ONNX model (see the model contract).

    Input ``features``: float32 [N, 16] in schema.FEATURES order. Outputs ``label``: int64 [N]
    class codes; ``probabilities``: float32 [N, 7], one column per class code 1..7, as a plain
    tensor (ZipMap, a list of dicts, is disabled: slower and awkward to consume).
    """
    onnx_model = to_onnx(
        classifier,
        initial_types=[(INPUT_NAME, FloatTensorType([None, len(FEATURES)]))],
        final_types=[
            (LABEL_OUTPUT, Int64TensorType([None])),
            (PROBABILITIES_OUTPUT, FloatTensorType([None, len(CLASS_NAMES)])),
        ],
        options={id(classifier): {"zipmap": False}},
        target_opset=TARGET_OPSET,
    )
    # skl2onnx lists the opsets in an order that follows Python's string hashing, which is
    # salted anew in every process (PYTHONHASHSEED): sorted, the bytes stay the same.
    opsets = sorted(onnx_model.opset_import, key=lambda opset: opset.domain)
    del onnx_model.opset_import[:]
    onnx_model.opset_import.extend(opsets)
    serialized: bytes = onnx_model.SerializeToString()
    return serialized


def check_parity(
    onnx_bytes: bytes, classifier: RandomForestClassifier, features: pd.DataFrame
) -> None:
    """Raise :class:`ParityError` unless ONNX Runtime agrees with ``classifier`` on every row."""
    session = onnxruntime.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    labels, probabilities = session.run(
        [LABEL_OUTPUT, PROBABILITIES_OUTPUT],
        {INPUT_NAME: features.to_numpy(dtype=np.float32)},
    )
    expected_labels = classifier.predict(features)
    mismatches = np.flatnonzero(labels != expected_labels)
    if mismatches.size:
        first = int(mismatches[0])
        raise ParityError(
            f"ONNX export is not faithful: {mismatches.size} of {len(features)} rows get another "
            f"label (row {first + 1}: ONNX {labels[first]}, scikit-learn {expected_labels[first]})"
        )
    gap = float(np.max(np.abs(probabilities - classifier.predict_proba(features))))
    if gap > PROBABILITY_TOLERANCE:
        raise ParityError(
            f"ONNX export is not faithful: probabilities differ by up to {gap:.2e} "
            f"(tolerance {PROBABILITY_TOLERANCE:.0e})"
        )
