"""The ecosystem's protocols beside ``/predict``: how the application takes them in.

The Open Inference Protocol (V2) over REST (:mod:`~sampleproject.serving.v2_routes`, on a
direct path: :mod:`~sampleproject.serving.v2_direct`) and MLflow's scoring protocol
(:mod:`~sampleproject.serving.mlflow_scoring`). The application factory calls these two
functions only, so that the protocols stay out of its own lines.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from fastapi import FastAPI
from starlette.types import ASGIApp

from sampleproject.serving import mlflow_scoring, v2, v2_routes
from sampleproject.serving.metrics import Metrics
from sampleproject.serving.model_state import ServedModel
from sampleproject.serving.settings import ServeSettings
from sampleproject.serving.v2_direct import DirectV2


def direct_layers(
    settings: ServeSettings, model: ServedModel, metrics: Metrics
) -> tuple[Callable[[ASGIApp], ASGIApp], ...]:
    """The protocols' direct paths, ASGI layers ahead of FastAPI (see ``ZooAPI``)."""
    service = v2.Service(model, metrics, settings.max_animals)
    return (partial(DirectV2, service=service, max_body_bytes=settings.max_body_bytes),)


def include(app: FastAPI, settings: ServeSettings) -> None:
    """The protocols' routes."""
    app.include_router(v2_routes.router(settings.max_animals))
    app.include_router(mlflow_scoring.router(settings.max_animals))
