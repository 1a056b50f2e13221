"""The model as the ecosystem's protocols name it: the one place they read the declaration from.

The Open Inference Protocol (V2, REST and gRPC) and MLflow's scoring protocol describe the
model by its registered name, its input's columns (the features, their number and domains)
and its classes. They read those here and nowhere else, so a change of the data set's
declaration (:mod:`sampleproject.features`) or of the registry's names reaches every
protocol through these few lines.
"""

from __future__ import annotations

from sampleproject import features
from sampleproject.inference.registry import REGISTERED_MODEL

# The name clients ask for: V2's /v2/models/NAME, KServe's InferenceService, MLflow's registry.
MODEL_NAME: str = REGISTERED_MODEL
FEATURES: tuple[str, ...] = features.FEATURES
FEATURE_VALUES: dict[str, tuple[int, ...]] = features.FEATURE_VALUES
CLASS_NAMES: dict[int, str] = features.CLASS_NAMES
