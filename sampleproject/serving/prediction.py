"""One request's prediction: validated animals in, the JSON-ready answer out, counted.

Shared by the direct ``/predict`` path (:mod:`sampleproject.serving.direct`) and the FastAPI
route that documents it and answers the requests the direct path hands over.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from sampleproject import schema
from sampleproject.inference.fastpath import validated_features
from sampleproject.inference.predictor import LoadedModel, Predictions
from sampleproject.serving import tracing
from sampleproject.serving.metrics import Metrics


def predict(
    animals: schema.Animal | list[schema.Animal], model: LoadedModel, metrics: Metrics
) -> Any:
    """The answer to one animal (an object) or a list of them (a list, in the same order).

    One ONNX Runtime call whatever the number of animals; their inputs and predicted classes
    are counted in ``metrics``.
    """
    return predict_features(*features_of(animals), model, metrics)


def features_of(
    animals: schema.Animal | list[schema.Animal],
) -> tuple[npt.NDArray[np.float32], bool]:
    """The features of one animal or a list of them (``[n, 16]``), and whether it is a list."""
    if isinstance(animals, list):
        return validated_features(animals), True
    return validated_features([animals]), False


def predict_features(
    features: npt.NDArray[np.float32], many: bool, model: LoadedModel, metrics: Metrics
) -> Any:
    """:func:`predict` from the animals' features (``[n, 16]``, validated): a list of
    answers if ``many``, else the one answer."""
    body = model.predictor.records(predicted(features, model, metrics))
    return body if many else body[0]


def predicted(
    features: npt.NDArray[np.float32], model: LoadedModel, metrics: Metrics
) -> Predictions:
    """The model's predictions for validated features (``[n, 16]``), inputs and classes counted.

    What every protocol runs (``/predict``, V2 over REST and gRPC, ``/invocations``).
    """
    with tracing.span("model") as span:
        if span is not None:
            span.set_attribute("sampleproject.animals", len(features))
        answers = model.predictor.predict(features)
    metrics.count_inputs(features)
    metrics.count_predictions(answers.codes)
    return answers
