"""The FastAPI application: ``/predict``, ``/health``, ``/ready``, ``/metrics`` and the docs.

Design choices, for speed and for clear errors:

- ``POST /predict`` takes one animal (a JSON object) and answers one prediction, or a list of
  animals (a JSON array) and answers a list, in the same order. One ONNX Runtime call per
  request, whatever its size.
- The endpoint is ``async`` and runs the model on the event loop: a small batch takes tens
  of microseconds, less than handing it to a thread pool would.
- The response is built as plain JSON by hand and returned as a ``JSONResponse``, so FastAPI
  does not validate our own output again; ``response_model`` still documents it.
- Every error, including FastAPI's own (validation, 404, 405, 413), has the same JSON body
  (:class:`ErrorBody`). A bad payload is a 4xx, never a 500.
- The model loads during start-up, before the worker accepts connections. If it cannot be
  loaded, the process still answers: ``/health`` 200 (alive), ``/ready`` 503 with the reason,
  ``/predict`` 503, so an orchestrator stops routing traffic to it and its log says why.
  (``serve`` verifies the model before it starts, so this is the rare case of a model
  changed in between.)
"""

# No ``from __future__ import annotations`` here: FastAPI reads the endpoint's annotations
# at run time, and /predict's body type is a local variable (it carries a setting).

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from fastapi import Body, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from sampleproject import __version__, schema
from sampleproject.errors import SampleProjectError
from sampleproject.inference.predictor import Predictor, load_predictor
from sampleproject.serving import schemas
from sampleproject.serving.limits import BodySizeLimitMiddleware
from sampleproject.serving.metrics import CONTENT_TYPE, Metrics, MetricsMiddleware

logger = logging.getLogger("sampleproject.serving")

MAX_BODY_BYTES_ENV = "SAMPLEPROJECT_MAX_BODY_BYTES"
MAX_ANIMALS_ENV = "SAMPLEPROJECT_MAX_ANIMALS"
DEFAULT_MAX_BODY_BYTES = 1024 * 1024  # 1 MiB: about 10,000 animals as compact JSON
DEFAULT_MAX_ANIMALS = 1000


@dataclass(frozen=True)
class Settings:
    """What the application can be configured with."""

    model_dir: Path | None = None  # None: $SAMPLEPROJECT_MODEL_DIR, else the shipped model
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_animals: int = DEFAULT_MAX_ANIMALS

    @classmethod
    def from_env(cls) -> "Settings":
        """Settings from the environment (how ``serve`` passes them to uvicorn's workers)."""
        return cls(
            max_body_bytes=int(os.environ.get(MAX_BODY_BYTES_ENV, DEFAULT_MAX_BODY_BYTES)),
            max_animals=int(os.environ.get(MAX_ANIMALS_ENV, DEFAULT_MAX_ANIMALS)),
        )


@dataclass
class ModelState:
    """The model as the application sees it: loading, loaded, or failed to load."""

    predictor: Predictor | None = None
    error: str | None = None


def create_app(
    settings: Settings | None = None, loader: Callable[[], Predictor] | None = None
) -> FastAPI:
    """The application. ``loader`` returns the predictor (default: load ``settings.model_dir``)."""
    settings = settings or Settings()
    model_dir = settings.model_dir

    def load_model() -> Predictor:
        # One thread per session: requests are small, and workers scale across cores.
        return load_predictor(model_dir, threads=1)

    state = ModelState()
    metrics = Metrics(tuple(schema.CLASS_NAMES.values()))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Loaded before the lifespan's start-up completes: uvicorn's worker accepts no
        # connection until then, so with several workers no request can reach a worker
        # whose model is not loaded yet.
        await _load(state, loader or load_model)
        yield

    app = FastAPI(
        title="sampleproject",
        version=__version__,
        summary="Predict the class of an animal (UCI Zoo data) with an ONNX model.",
        lifespan=lifespan,
        responses={
            400: {"model": schemas.ErrorBody, "description": "Invalid JSON"},
            413: {"model": schemas.ErrorBody, "description": "Request body too large"},
            415: {"model": schemas.ErrorBody, "description": "Not application/json"},
            422: {"model": schemas.ErrorBody, "description": "Invalid animal(s)"},
        },
    )
    # The last middleware added is the outermost: metrics see every answer, 413s included.
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    _add_error_handlers(app)

    @app.get("/health", response_model=schemas.Health, tags=["operations"])
    async def health() -> dict[str, str]:
        """Liveness: 200 while the process runs."""
        return {"status": "ok"}

    @app.get(
        "/ready",
        response_model=schemas.Readiness,
        tags=["operations"],
        responses={503: {"model": schemas.Readiness, "description": "Model not loaded"}},
    )
    async def ready() -> JSONResponse:
        """Readiness: 200 when the model is loaded and predictions can be served, else 503."""
        if state.predictor is not None:
            body = {"status": "ready", "model_sha256": state.predictor.metadata.model_sha256}
            return JSONResponse(body)
        status = "failed" if state.error else "loading"
        return JSONResponse({"status": status, "error": state.error}, status_code=503)

    @app.get("/metrics", tags=["operations"], response_class=Response)
    async def prometheus_metrics() -> Response:
        """Prometheus metrics (text format): requests, latencies, predictions per class."""
        return Response(metrics.exposition(), media_type=CONTENT_TYPE)

    # The body's type carries the configured limit on the number of animals.
    animals_body = schemas.predict_body(settings.max_animals)

    @app.post(
        "/predict",
        response_model=schemas.Prediction | list[schemas.Prediction],
        tags=["predictions"],
        dependencies=[Depends(_require_json)],
        responses={503: {"model": schemas.ErrorBody, "description": "Model not loaded yet"}},
    )
    async def predict(
        animals: Annotated[
            animals_body,  # type: ignore[valid-type]
            Body(
                openapi_examples={
                    "one animal": {"value": schemas.EXAMPLE_ANIMAL},
                    "several animals": {"value": [schemas.EXAMPLE_ANIMAL, schemas.EXAMPLE_BIRD]},
                }
            ),
        ],
    ) -> JSONResponse:
        """Predict one animal (a JSON object) or several (a JSON array, up to the limit).

        Flags are 0 or 1 (``true``/``false`` too) and default to 0; ``legs`` is required.
        The answer has the shape of the question: an object, or an array in the same order.
        """
        predictor = state.predictor
        if predictor is None:
            raise HTTPException(503, "the model is not loaded yet")
        many = isinstance(animals, list)
        batch: list[schema.Animal] = animals if many else [animals]
        predictions = predictor.predict([animal.as_row() for animal in batch])
        body = predictor.records(predictions)
        codes, counts = np.unique(predictions.codes, return_counts=True)
        for code, count in zip(codes.tolist(), counts.tolist(), strict=True):
            metrics.predictions.labels(predictor.name_of(code)).inc(count)
        return JSONResponse(body if many else body[0])

    return app


def app_from_env() -> FastAPI:
    """uvicorn's application factory (``--factory``): settings from the environment."""
    return create_app(Settings.from_env())


async def _load(state: ModelState, loader: Callable[[], Predictor]) -> None:
    try:
        predictor = await asyncio.to_thread(loader)
    except SampleProjectError as error:
        state.error = str(error)
        logger.error("cannot load the model: %s", error)
        return
    state.predictor = predictor
    logger.info("model %s loaded", predictor.metadata.model_sha256[:12])


async def _require_json(request: Request) -> None:
    """415 unless the body is declared as JSON (a form or plain text is a client mistake)."""
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise HTTPException(415, "send the animals as JSON (Content-Type: application/json)")


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, error: RequestValidationError) -> JSONResponse:
        problems = list(error.errors())
        if problems and problems[0]["type"] == "json_invalid":
            position = problems[0]["loc"][-1]
            reason = problems[0].get("ctx", {}).get("error", "JSON decode error")
            return _error(400, f"invalid JSON: {reason} (at character {position})")
        details = [
            {"location": _location(problem["loc"]), "message": _message(problem)}
            for problem in problems
        ]
        first = details[0]
        return _error(422, f"invalid request: {first['location']}: {first['message']}", details)

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, error: HTTPException) -> Response:
        return _error(error.status_code, str(error.detail), headers=error.headers)

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, error: Exception) -> JSONResponse:
        logger.exception("unexpected error", exc_info=error)
        return _error(500, "internal error (see the server's log)")


def _error(
    status: int,
    message: str,
    details: list[dict[str, str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse({"error": message, "details": details or []}, status, headers=headers)


def _location(loc: tuple[int | str, ...]) -> str:
    """``("body", "many", 2, "legs")`` -> ``[2].legs``; the union's tags are left out."""
    parts = [part for part in loc if part not in ("body", "one", "many")]
    text = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in parts)
    return text.lstrip(".") or "body"


def _message(problem: Any) -> str:
    if problem["type"] == "extra_forbidden":
        return "unknown field"
    return str(problem["msg"]).removeprefix("Value error, ")
