"""One request's prediction: validated animals in, the JSON-ready answer out, counted.

Shared by the direct ``/predict`` path (:mod:`sampleproject.serving.direct`) and the FastAPI
route that documents it and answers the requests the direct path hands over.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from sampleproject import schema
from sampleproject.inference.predictor import LoadedModel
from sampleproject.serving.metrics import Metrics


def predict(
    animals: schema.Animal | list[schema.Animal], model: LoadedModel, metrics: Metrics
) -> Any:
    """The answer to one animal (an object) or a list of them (a list, in the same order).

    One ONNX Runtime call whatever the number of animals; their inputs and predicted classes
    are counted in ``metrics``.
    """
    many = isinstance(animals, list)
    batch: list[schema.Animal] = animals if isinstance(animals, list) else [animals]
    return predict_features(features_of(batch), many, model, metrics)


def features_of(animals: list[schema.Animal]) -> npt.NDArray[np.float32]:
    """The animals' features, ``[n, 16]`` in model order."""
    return np.array(list(map(schema.Animal.as_row, animals)), dtype=np.float32)


def predict_features(
    features: npt.NDArray[np.float32], many: bool, model: LoadedModel, metrics: Metrics
) -> Any:
    """:func:`predict` from the animals' features (``[n, 16]``, validated): a list of
    answers if ``many``, else the one answer."""
    predictor = model.predictor
    answers = predictor.predict(features)
    metrics.count_inputs(features)
    metrics.count_predictions(answers.codes)
    body = predictor.records(answers)
    return body if many else body[0]
