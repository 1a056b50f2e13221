"""Run the shipped model: ONNX Runtime and NumPy only, the training stack is never imported.

:func:`load_predictor` reads the model folder (``zoo.json`` + ``zoo.onnx``), verifies the model's
SHA-256 against the metadata and only then hands the bytes to ONNX Runtime. Nothing is unpickled.
"""

from sampleproject.inference.model import (
    MODEL_DIR_ENV,
    ModelMetadata,
    default_model_dir,
    load_metadata,
    read_verified_model,
    resolve_model_dir,
)
from sampleproject.inference.predictor import Predictions, Predictor, load_predictor

__all__ = [
    "MODEL_DIR_ENV", "ModelMetadata", "Predictions", "Predictor", "default_model_dir",
    "load_metadata", "load_predictor", "read_verified_model", "resolve_model_dir",
]  # fmt: skip
