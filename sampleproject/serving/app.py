"""The application factory: the FastAPI app with its model, metrics, middleware and routes.

The model loads during start-up, before the worker accepts connections. If it cannot be
loaded, the process still answers: ``/health`` 200 (alive), ``/ready`` 503 with the reason,
``/predict`` 503, so an orchestrator stops routing traffic to it and its log says why.
While it runs, SIGHUP (and, with ``reload_interval``, a timer) reloads the model: see
:mod:`sampleproject.serving.model_state`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from sampleproject import __version__, schema
from sampleproject.inference.predictor import ModelSource
from sampleproject.serving import protocols, routes, schemas
from sampleproject.serving.direct import DirectPredict
from sampleproject.serving.docs_pages import add_docs_pages
from sampleproject.serving.errors import add_error_handlers
from sampleproject.serving.front import Front, front_of
from sampleproject.serving.limits import BodySizeLimitMiddleware
from sampleproject.serving.metrics import Metrics, MetricsMiddleware
from sampleproject.serving.model_state import Loader, ServedModel
from sampleproject.serving.settings import ServeSettings

logger = logging.getLogger("sampleproject.serving")


def create_app(settings: ServeSettings | None = None, loader: Loader | None = None) -> FastAPI:
    """The application. ``loader`` loads the model (default: from ``settings``' source)."""
    settings = settings or ServeSettings()
    if loader is None:
        # One thread per session: requests are small, and workers scale across cores.
        source = ModelSource(settings.model, settings.model_dir, settings.cache_dir, threads=1)
        loader = source.reload
    metrics = Metrics(schema.CLASS_NAMES)
    model = ServedModel(loader, metrics)
    # Request IDs, tracing, API keys: in front of everything (see serving/front.py). The
    # routes (for span names) are read from the application at its first request.
    edges = front_of(settings, metrics, lambda: app.openapi()["paths"])

    app = ZooAPI(
        title="sampleproject",
        version=__version__,
        summary="Predict the class of an animal (UCI Zoo data) with an ONNX model.",
        lifespan=partial(
            _lifespan,
            model=model,
            reload_interval=settings.reload_interval,
            beside=partial(protocols.running, settings, model, metrics),
            edges=edges,
        ),
        responses=schemas.error_responses(settings.max_body_bytes),
        # Starlette would answer /predict/ with a redirect to the Host header's host.
        redirect_slashes=False,
        docs_url=None,  # FastAPI's pages load from a CDN; ours from the package (docs_pages)
        redoc_url=None,
    )
    app.state.model = model
    app.state.metrics = metrics
    app.state.front = edges
    app.outer_layers = (
        *edges.layers,
        # Outermost first. The direct path counts its own answers; the metrics middleware
        # sees every other answer, the size limit's 413s included.
        partial(
            DirectPredict,
            model=model,
            metrics=metrics,
            max_animals=settings.max_animals,
            max_body_bytes=settings.max_body_bytes,
        ),
        *protocols.direct_layers(settings, model, metrics),
        partial(MetricsMiddleware, metrics=metrics),
        partial(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes),
    )
    add_error_handlers(app)
    app.include_router(routes.operations)
    app.include_router(routes.predictions(settings.max_animals))
    add_docs_pages(app)
    protocols.include(app, settings)
    return app


class ZooAPI(FastAPI):
    """FastAPI, behind pure ASGI layers that every request crosses first (``outer_layers``).

    ``add_middleware`` would put them inside FastAPI's own stack (its error, telemetry and
    exception middleware), which the direct ``/predict`` path has no use for.
    """

    outer_layers: tuple[Callable[[ASGIApp], ASGIApp], ...] = ()
    _front: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._front is None:  # built on the first call, when the layers are set
            front: ASGIApp = super().__call__
            for layer in reversed(self.outer_layers):
                front = layer(front)
            self._front = front
        await self._front(scope, receive, send)


def app_from_env() -> FastAPI:
    """uvicorn's application factory (``--factory``): settings from the environment."""
    return create_app(ServeSettings())


@asynccontextmanager
async def _lifespan(
    _app: FastAPI,
    *,
    model: ServedModel,
    reload_interval: float,
    beside: Callable[[], contextlib.AbstractAsyncContextManager[None]],
    edges: Front,
) -> AsyncIterator[None]:
    # Loaded before the lifespan's start-up completes: uvicorn's worker accepts no
    # connection until then, so with several workers no request can reach a worker
    # whose model is not loaded yet.
    await model.load()
    tasks: set[asyncio.Task[bool]] = set()
    loop = asyncio.get_running_loop()

    def reload_on_signal() -> None:
        logger.info("SIGHUP: reloading the model")
        edges.reload()
        task = loop.create_task(model.load())
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    with contextlib.suppress(NotImplementedError, RuntimeError):  # no signals: Windows, threads
        loop.add_signal_handler(signal.SIGHUP, reload_on_signal)
    poller = loop.create_task(_poll(model, edges, reload_interval)) if reload_interval > 0 else None
    try:
        async with beside():  # what serves beside HTTP (gRPC), once the model is loaded
            yield
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGHUP)
        if poller is not None:
            poller.cancel()
        edges.close()


async def _poll(model: ServedModel, edges: Front, interval: float) -> None:
    """Reload every ``interval`` seconds; the loader keeps the model when nothing changed."""
    while True:
        await asyncio.sleep(interval)
        edges.reload()
        await model.load()
