"""A model folder opened without pydantic, for the one-animal ``predict`` (its start-up time).

pydantic and the validation models take longer to import and build than the prediction itself.
:func:`plain_session` accepts only metadata that :class:`~.model.ModelMetadata` surely accepts
(exact JSON types, every rule checked); for anything else, or any error, it returns None and
the caller loads the model the usual way, which gives the same session or the usual message.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from sampleproject import features
from sampleproject.errors import SampleProjectError
from sampleproject.inference.location import METADATA_FILE, resolve_model_dir
from sampleproject.inference.session import Session

# ModelMetadata's patterns of model_file and model_sha256
_FILE = re.compile(r"[^/\\]+")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def plain_session(model_dir: str | Path | None, threads: int) -> Session | None:
    """The session of the model in ``model_dir`` (see :func:`resolve_model_dir`), or None."""
    folder = resolve_model_dir(model_dir)
    try:
        metadata = json.loads((folder / METADATA_FILE).read_bytes())
        if not _plain_metadata(metadata):
            return None
        model = (folder / metadata["model_file"]).read_bytes()
    except (OSError, ValueError):
        return None
    if hashlib.sha256(model).hexdigest() != metadata["model_sha256"]:
        return None
    try:
        return Session(
            model,
            threads,
            input_name=metadata["input_name"],
            outputs=(metadata["outputs"]["label"], metadata["outputs"]["probabilities"]),
            classes=[(info["code"], info["name"]) for info in metadata["classes"]],
            width=len(metadata["features"]),
        )
    except SampleProjectError:
        return None


def _plain_metadata(metadata: Any) -> bool:
    """Whether ModelMetadata surely accepts ``metadata`` (and its features are this version's)."""
    if not isinstance(metadata, dict):
        return False
    outputs = metadata.get("outputs")
    classes = metadata.get("classes")
    return (
        _text(metadata.get("model_file"), _FILE)
        and _text(metadata.get("model_sha256"), _SHA256)
        and metadata.get("features") == list(features.FEATURES)
        and isinstance(metadata.get("input_name"), str)
        and isinstance(outputs, dict)
        and isinstance(outputs.get("label"), str)
        and isinstance(outputs.get("probabilities"), str)
        and isinstance(classes, list)
        and len(classes) > 0
        and all(_plain_class(info) for info in classes)
        and _plain_distribution(
            metadata.get("training_distribution"), {info["name"] for info in classes}
        )
    )


def _text(value: Any, pattern: re.Pattern[str]) -> bool:
    return isinstance(value, str) and pattern.fullmatch(value) is not None


def _count(value: Any) -> bool:
    """A JSON integer >= 0 (not a boolean, not 1.0: those take pydantic's lax path)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _plain_class(info: Any) -> bool:
    return isinstance(info, dict) and _count(info.get("code")) and isinstance(info.get("name"), str)


def _plain_distribution(distribution: Any, class_names: set[str]) -> bool:
    """Whether TrainingDistribution (and ModelMetadata's check of it) surely accepts it."""
    if distribution is None:
        return True  # absent or null: a model without drift reference
    if not isinstance(distribution, dict):
        return False
    rows: Any = distribution.get("rows")
    predicted = distribution.get("predicted_classes")
    return (
        _count(rows)
        and rows > 0
        and _plain_feature_counts(distribution.get("features"), rows)
        and isinstance(predicted, dict)
        and isinstance(predicted.get("source"), str)
        and _plain_counts(predicted.get("counts"), class_names)
    )


def _plain_feature_counts(counts: Any, rows: int) -> bool:
    """Every feature's rows by value: the feature's domain exactly, adding up to ``rows``."""
    if not isinstance(counts, dict) or set(counts) != set(features.FEATURES):
        return False
    return all(
        _plain_counts(by_value, {str(value) for value in features.FEATURE_VALUES[name]})
        and sum(by_value.values()) == rows
        for name, by_value in counts.items()
    )


def _plain_counts(counts: Any, keys: set[str]) -> bool:
    return isinstance(counts, dict) and set(counts) == keys and all(map(_count, counts.values()))
