"""What training needs before it starts: the training stack installed, and its shipped inputs.

Light on purpose: ``train``, ``promote`` and ``rollback`` check the stack with it before they
import any of it, so that a runtime-only install gets one line naming the fix.
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import sampleproject
from sampleproject.errors import INSTALL_TRAIN_EXTRA, SampleProjectError

# The training stack's import names; the train extra provides them.
TRAINING_PACKAGES = ("sklearn", "skl2onnx", "onnx", "mlflow", "matplotlib", "pandas")


def missing_training_packages() -> list[str]:
    """The training stack's packages that are not installed."""
    return [name for name in TRAINING_PACKAGES if importlib.util.find_spec(name) is None]


def require_training_stack() -> None:
    """One line naming the fix when the training stack is not installed."""
    missing = missing_training_packages()
    if missing:
        raise SampleProjectError(f"training needs {', '.join(missing)}: {INSTALL_TRAIN_EXTRA}")


@contextlib.contextmanager
def packaged_inputs() -> Iterator[tuple[Path, Path]]:
    """The shipped data and training configuration, as files."""
    package = resources.files(sampleproject)
    with (
        resources.as_file(package / "data" / "zoo.data") as data,
        resources.as_file(package / "config" / "train.toml") as config,
    ):
        yield data, config
