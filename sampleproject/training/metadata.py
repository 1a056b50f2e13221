"""The model's metadata file (``zoo.json``) and the atomic writing of the model folder.

The metadata is what the runtime trusts: the features and classes the model speaks, the
checksum it verifies before loading the model, and the figures that justify shipping it.
It holds no timestamp and no run id, so that retraining the same commit on the same data
gives byte-identical files (the MLflow run keeps the when and the who).

It also holds the training distribution, the reference that drift is measured against
(``sampleproject drift``, the Prometheus rules): how many training rows take each value of
each feature, and how many the model predicts in each class.
"""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Mapping
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from sampleproject.atomic import atomic_write
from sampleproject.inference.model import METADATA_FILE  # the runtime reads it: its name
from sampleproject.schema import CLASS_NAMES, FEATURE_VALUES, FEATURES
from sampleproject.training.export import INPUT_NAME, LABEL_OUTPUT, PROBABILITIES_OUTPUT

# The model file's name: training chooses it, and zoo.json tells the runtime (model_file).
MODEL_FILE = "zoo.onnx"
# The distributions whose versions made the model (their names on PyPI).
_RECORDED_VERSIONS = ("scikit-learn", "skl2onnx", "onnx", "onnxruntime", "numpy")
# What the class distribution counts: the out-of-fold predictions, i.e. what the model
# predicts for animals it did not see, as served predictions are (not the labels, and not
# the final model's predictions on its own training rows, which merely repeat the labels).
CLASS_SOURCE = "cross_validated_predictions"


def training_distribution(
    features: pd.DataFrame, predicted: npt.NDArray[np.int64]
) -> dict[str, Any]:
    """Counts of every value of every feature, and of every predicted class, over the rows.

    Every value of the domain is listed, also one that no row takes (a count of 0), so that
    the reference covers whatever the runtime may count.
    """
    feature_counts = {}
    for name in FEATURES:
        column = features[name].to_numpy()
        feature_counts[name] = {
            str(value): int(np.count_nonzero(column == value)) for value in FEATURE_VALUES[name]
        }
    class_counts = np.bincount(predicted, minlength=max(CLASS_NAMES) + 1)
    return {
        "rows": len(features),
        "features": feature_counts,
        "predicted_classes": {
            "source": CLASS_SOURCE,
            "counts": {name: int(class_counts[code]) for code, name in CLASS_NAMES.items()},
        },
    }


# Every part of the metadata by keyword, as the project allows for such functions (ruff PLR0913).
def build_metadata(  # pylint: disable=too-many-arguments
    onnx_bytes: bytes,
    *,
    metrics: Mapping[str, float],
    thresholds: Mapping[str, float],
    data_sha256: str,
    params: Mapping[str, Any],
    distribution: Mapping[str, Any],
) -> dict[str, Any]:
    """The metadata of the model ``onnx_bytes`` (the model contract's ``zoo.json``)."""
    return {
        "model_file": MODEL_FILE,
        "model_sha256": hashlib.sha256(onnx_bytes).hexdigest(),
        "features": list(FEATURES),
        "classes": [{"code": code, "name": name} for code, name in CLASS_NAMES.items()],
        "input_name": INPUT_NAME,
        "outputs": {"label": LABEL_OUTPUT, "probabilities": PROBABILITIES_OUTPUT},
        "metrics": dict(metrics),
        "thresholds": dict(thresholds),  # minimums, keyed like metrics
        "data_sha256": data_sha256,
        "params": dict(params),
        "training_distribution": dict(distribution),  # see training_distribution()
        "versions": {
            "python": platform.python_version(),
            **{name: version(name) for name in _RECORDED_VERSIONS},
        },
    }


def dump_metadata(metadata: Mapping[str, Any]) -> str:
    """The metadata as stable JSON text: sorted keys, fixed indentation, a final newline."""
    return json.dumps(metadata, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def write_model(output_dir: Path, onnx_bytes: bytes, metadata_text: str) -> tuple[Path, Path]:
    """Write ``zoo.onnx`` then ``zoo.json`` into ``output_dir``, each atomically.

    The metadata goes last: it carries the model's checksum, so until it is replaced the
    runtime refuses a new model under an old metadata file instead of running a mix of both.
    """
    output_dir.mkdir(parents=True, exist_ok=True)
    model_path, metadata_path = output_dir / MODEL_FILE, output_dir / METADATA_FILE
    with atomic_write(model_path, "wb") as model_file:
        model_file.write(onnx_bytes)
    with atomic_write(metadata_path) as metadata_file:
        metadata_file.write(metadata_text)
    return model_path, metadata_path
