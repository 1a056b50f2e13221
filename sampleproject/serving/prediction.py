"""One request's prediction: validated animals in, the JSON-ready answer out, counted.

Shared by the direct ``/predict`` path (:mod:`sampleproject.serving.direct`) and the FastAPI
route that documents it and answers the requests the direct path hands over.
"""

from __future__ import annotations

from typing import Any

import numpy as np

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
    features = np.array(list(map(schema.Animal.as_row, batch)), dtype=np.float32)
    predictor = model.predictor
    answers = predictor.predict(features)
    metrics.count_inputs(features)
    metrics.count_predictions(answers.codes)
    body = predictor.records(answers)
    return body if many else body[0]
