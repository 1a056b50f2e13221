"""Where the model is: the folder given, else ``$SAMPLEPROJECT_MODEL_DIR``, else the shipped one.

Without pydantic (fast to import), for the one-animal ``predict``; :mod:`.model` re-exports it.
"""

from __future__ import annotations

import os
from pathlib import Path

MODEL_DIR_ENV = "SAMPLEPROJECT_MODEL_DIR"
METADATA_FILE = "zoo.json"


def default_model_dir() -> Path:
    """The model shipped inside the package (``sampleproject/model/``)."""
    import sampleproject

    return Path(sampleproject.__file__).parent / "model"


def resolve_model_dir(model_dir: str | Path | None = None) -> Path:
    """The folder given, else ``$SAMPLEPROJECT_MODEL_DIR``, else the shipped model."""
    if model_dir:
        return Path(model_dir)
    from_env = os.environ.get(MODEL_DIR_ENV)
    return Path(from_env) if from_env else default_model_dir()


def train_hint() -> str:
    """How to get a model, in words that work in this installation.

    The runtime wheel has no training stack, so "run 'sampleproject train'" would fail there.
    """
    from importlib.util import find_spec

    if all(find_spec(name) for name in ("sklearn", "skl2onnx", "mlflow")):
        return "run 'sampleproject train'"
    return (
        "this installation cannot train: give --model-dir DIR (zoo.onnx and zoo.json) or "
        "--model models:/NAME@ALIAS, or install a wheel built with its model (make bdist_wheel)"
    )
