"""Find the model folder, read its metadata and return the model's bytes once they are verified.

The metadata file (``zoo.json``) is validated with pydantic, and the model file's SHA-256 must
equal the one it records. The hash is computed over the very bytes that ONNX Runtime will
load (not over the file, which could change between a check and a second read), so a
tampered or truncated model can never be run.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveInt,
    ValidationError,
    model_validator,
)

from sampleproject import schema
from sampleproject.errors import SampleProjectError
from sampleproject.inference.location import (
    METADATA_FILE,
    MODEL_DIR_ENV,
    default_model_dir,
    resolve_model_dir,
    train_hint,
)

__all__ = [
    "METADATA_FILE",
    "MODEL_DIR_ENV",
    "ClassDistribution",
    "ClassInfo",
    "ModelMetadata",
    "ModelOutputs",
    "TrainingDistribution",
    "default_model_dir",
    "load_metadata",
    "read_verified_model",
    "resolve_model_dir",
]


class ClassInfo(BaseModel):
    """One class of the model: its code (1..7) and its name."""

    code: int
    name: str


class ModelOutputs(BaseModel):
    """Names of the model's two outputs."""

    label: str
    probabilities: str


class ClassDistribution(BaseModel):
    """How many training rows the model predicts in each class (by class name)."""

    model_config = ConfigDict(frozen=True)

    source: str  # what was counted, e.g. "cross_validated_predictions"
    counts: dict[str, NonNegativeInt]


class TrainingDistribution(BaseModel):
    """The training data's distribution: the reference that drift is measured against.

    ``features`` counts the rows that take each value of each feature (every value of the
    feature's domain is present, also with a count of 0). The file's keys are sorted (stable
    JSON), so order is not checked here; the methods answer in the schema's order.
    """

    model_config = ConfigDict(frozen=True)

    rows: PositiveInt
    features: dict[str, dict[int, NonNegativeInt]]
    predicted_classes: ClassDistribution

    @model_validator(mode="after")
    def _check_domains(self) -> TrainingDistribution:
        if set(self.features) != set(schema.FEATURES):
            raise ValueError("its features are not this version's schema features")
        for name, counts in self.features.items():
            if set(counts) != set(schema.FEATURE_VALUES[name]):
                values = ", ".join(map(str, schema.FEATURE_VALUES[name]))
                raise ValueError(f"feature {name}: its values are not {values}")
            if sum(counts.values()) != self.rows:
                raise ValueError(f"feature {name}: counts do not add up to {self.rows} rows")
        return self

    def feature_proportions(self, name: str) -> dict[int, float]:
        """The share of training rows that take each value of feature ``name``."""
        counts = self.features[name]
        return {value: counts[value] / self.rows for value in schema.FEATURE_VALUES[name]}

    def class_proportions(self, names: tuple[str, ...]) -> dict[str, float]:
        """The share of training rows predicted in each class of ``names`` (in that order)."""
        counts = self.predicted_classes.counts
        total = sum(counts.values())
        return {name: counts[name] / total if total else 0.0 for name in names}


class ModelMetadata(BaseModel):
    """The part of ``zoo.json`` that the runtime needs; other keys (metrics, versions) are kept."""

    model_config = ConfigDict(extra="allow", frozen=True)

    model_file: str = Field(pattern=r"^[^/\\]+$")  # a file name inside the folder, no path
    model_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    features: tuple[str, ...]
    classes: tuple[ClassInfo, ...] = Field(min_length=1)
    input_name: str
    outputs: ModelOutputs
    # None for a model trained before the distribution was recorded: it serves, without drift.
    training_distribution: TrainingDistribution | None = None

    @model_validator(mode="after")
    def _check_class_distribution(self) -> ModelMetadata:
        if self.training_distribution is not None:
            names = {info.name for info in self.classes}
            if set(self.training_distribution.predicted_classes.counts) != names:
                raise ValueError("training_distribution: its classes are not the model's")
        return self


def load_metadata(model_dir: Path) -> ModelMetadata:
    """Read and validate ``zoo.json``; refuse a model made for other features."""
    path = model_dir / METADATA_FILE
    try:
        metadata = ModelMetadata.model_validate(json.loads(path.read_bytes()))
    except FileNotFoundError:
        raise SampleProjectError(
            f"no model in {model_dir} ({METADATA_FILE} is missing; {train_hint()})"
        ) from None
    except OSError as error:
        raise SampleProjectError(f"cannot read {path}: {error.strerror}") from None
    except ValueError as error:  # invalid JSON, or pydantic's ValidationError (a ValueError)
        raise SampleProjectError(f"invalid model metadata {path}: {_first_line(error)}") from None
    if metadata.features != schema.FEATURES:
        raise SampleProjectError(
            f"invalid model metadata {path}: its features do not match this version's schema"
        )
    return metadata


def read_verified_model(model_dir: Path, metadata: ModelMetadata) -> bytes:
    """The model file's bytes, after checking them against the metadata's SHA-256."""
    path = model_dir / metadata.model_file
    try:
        data = path.read_bytes()
    except OSError as error:
        raise SampleProjectError(f"cannot read model {path}: {error.strerror}") from None
    if hashlib.sha256(data).hexdigest() != metadata.model_sha256:
        raise SampleProjectError(
            f"model {path} does not match the SHA-256 in {METADATA_FILE}: "
            "it was modified or truncated; refusing to load it"
        )
    return data


def _first_line(error: ValueError) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "top level"
        return f"{where}: {first['msg']}"
    return str(error).splitlines()[0]
