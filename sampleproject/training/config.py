"""The training configuration: a TOML file, validated by pydantic so a typo is an error."""

from __future__ import annotations

import sys
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sampleproject.errors import UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 only
    import tomli as tomllib


class _Section(BaseModel):
    # An unknown key is refused: ``min_acuracy = 0.9`` must not silently disable the gate.
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelParams(_Section):
    """Parameters of scikit-learn's RandomForestClassifier."""

    n_estimators: int = Field(default=100, ge=1)
    max_depth: int | None = Field(default=None, ge=1)
    min_samples_leaf: int = Field(default=1, ge=1)


class CrossValidationParams(_Section):
    """Stratified K-fold cross-validation."""

    folds: int = Field(default=4, ge=2)


class GateThresholds(_Section):
    """Minimum cross-validated means; training fails under any of them."""

    min_accuracy: float = Field(default=0.0, ge=0.0, le=1.0)
    min_f1_macro: float = Field(default=0.0, ge=0.0, le=1.0)

    def minimums(self) -> dict[str, float]:
        """The thresholds keyed by metric name (``min_accuracy`` -> ``accuracy``)."""
        return {name.removeprefix("min_"): value for name, value in self.model_dump().items()}


class TrainConfig(_Section):
    """The whole file."""

    seed: int = Field(ge=0)
    model: ModelParams = ModelParams()
    cross_validation: CrossValidationParams = CrossValidationParams()
    gate: GateThresholds = GateThresholds()

    def params(self) -> dict[str, int | None]:
        """The parameters that define the model and its evaluation, flat (for MLflow)."""
        return {
            "seed": self.seed,
            **self.model.model_dump(),
            "cv_folds": self.cross_validation.folds,
        }


def load_config(path: Path) -> TrainConfig:
    """Read and validate the configuration file at ``path``."""
    try:
        with path.open("rb") as file:
            raw = tomllib.load(file)
    except OSError as error:
        raise UsageError(f"cannot read the training configuration: {error}") from error
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"{path.name}: not valid TOML: {error}") from error
    try:
        return TrainConfig.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise UsageError(f"{path.name}: {where}: {first['msg']}") from error
