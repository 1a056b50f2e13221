"""The ecosystem's protocols beside ``/predict``: how the application takes them in.

The Open Inference Protocol (V2) over REST (:mod:`~sampleproject.serving.v2_routes`, on a
direct path: :mod:`~sampleproject.serving.v2_direct`) and MLflow's scoring protocol
(:mod:`~sampleproject.serving.mlflow_scoring`), and V2 over gRPC beside the HTTP server
(:mod:`~sampleproject.serving.v2_grpc`, ``--grpc-port``). The application factory calls
these functions only, so that the protocols stay out of its own lines.
"""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI
from starlette.types import ASGIApp

from sampleproject.errors import UsageError, install_extra
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


@asynccontextmanager
async def running(
    settings: ServeSettings, model: ServedModel, metrics: Metrics
) -> AsyncIterator[None]:
    """What runs beside the HTTP server while the application does: V2 over gRPC, if asked."""
    if settings.grpc_port is None:
        yield
        return
    from sampleproject.serving import v2_grpc  # grpcio: imported only when it is used

    service = v2.Service(model, metrics, settings.max_animals)
    server = await v2_grpc.start(settings.host, settings.grpc_port, service, settings.workers > 1)
    try:
        yield
    finally:
        await server.stop(v2_grpc.GRACE_SECONDS)


def check(settings: ServeSettings) -> None:
    """Refuse, before the server starts, a gRPC port that cannot be served."""
    if settings.grpc_port is None:
        return
    if importlib.util.find_spec("grpc") is None:
        raise UsageError(f"--grpc-port needs the grpc extra: {install_extra('grpc')}")
    if settings.grpc_port == settings.port:
        raise UsageError(f"--grpc-port {settings.grpc_port}: that is --port, HTTP's port")
