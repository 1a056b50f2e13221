"""The model's metadata file (``zoo.json``) and the atomic writing of the model folder.

The metadata is what the runtime trusts: the features and classes the model speaks, the
checksum it verifies before loading the model, and the figures that justify shipping it.
It holds no timestamp and no run id, so that retraining the same commit on the same data
gives byte-identical files (the MLflow run keeps the when and the who).
"""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Mapping
from importlib.metadata import version
from pathlib import Path
from typing import Any

from sampleproject.atomic import atomic_write
from sampleproject.schema import CLASS_NAMES, FEATURES
from sampleproject.training.export import INPUT_NAME, LABEL_OUTPUT, PROBABILITIES_OUTPUT

MODEL_FILE = "zoo.onnx"
METADATA_FILE = "zoo.json"
# The distributions whose versions made the model (their names on PyPI).
_RECORDED_VERSIONS = ("scikit-learn", "skl2onnx", "onnx", "onnxruntime", "numpy")


def build_metadata(
    onnx_bytes: bytes,
    *,
    metrics: Mapping[str, float],
    thresholds: Mapping[str, float],
    data_sha256: str,
    params: Mapping[str, Any],
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
