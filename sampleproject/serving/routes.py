"""The endpoints: ``/health``, ``/ready``, ``/metrics`` and ``POST /predict``.

- ``POST /predict`` takes one animal (a JSON object) and answers one prediction, or a list of
  animals (a JSON array) and answers a list, in the same order. One ONNX Runtime call per
  request, whatever its size. Most requests are answered before they reach this route, by
  :mod:`sampleproject.serving.direct`; the route documents the contract and answers the rest.
- The endpoints and their dependencies are ``async`` and run on the event loop: a small batch
  takes tens of microseconds, less than handing it to a thread pool would.
- The response is built as plain JSON and returned as a ``JSONResponse``, so FastAPI does
  not validate our own output again; ``response_model`` still documents it.
"""

# No ``from __future__ import annotations`` in this module: FastAPI reads the endpoints'
# annotations at run time, and /predict's body type is a local value (it carries a setting).

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends
from fastapi.responses import JSONResponse, Response

from sampleproject.inference.predictor import LoadedModel
from sampleproject.serving import schemas
from sampleproject.serving.dependencies import loaded_model, metrics, require_json, served_model
from sampleproject.serving.metrics import CONTENT_TYPE, Metrics
from sampleproject.serving.model_state import ServedModel
from sampleproject.serving.prediction import predict as predict_animals

operations = APIRouter(tags=["operations"])


@operations.get("/health", response_model=schemas.Health)
async def health() -> dict[str, str]:
    """Liveness: 200 while the process runs."""
    return {"status": "ok"}


@operations.get(
    "/ready",
    response_model=schemas.Readiness,
    responses={503: {"model": schemas.Readiness, "description": "No model loaded"}},
)
async def ready(model: Annotated[ServedModel, Depends(served_model)]) -> JSONResponse:
    """Readiness: 200 when a model serves (which one, and why a reload was refused), else 503."""
    current = model.current
    if current is None:
        status = "failed" if model.error else "loading"
        return JSONResponse({"status": status, "error": model.error}, status_code=503)
    body: dict[str, Any] = {"status": "ready", "model_sha256": current.sha256}
    if current.version is not None:
        body |= {"model_version": current.version, "model_source": current.source}
    if model.reload_error is not None:
        body["reload_error"] = model.reload_error
    return JSONResponse(body)


@operations.get("/metrics", response_class=Response, responses=schemas.METRICS_RESPONSE)
async def prometheus_metrics(found: Annotated[Metrics, Depends(metrics)]) -> Response:
    """Prometheus metrics (text format): requests, latencies, predictions, the model served."""
    return Response(found.exposition(), media_type=CONTENT_TYPE)


def predictions(max_animals: int) -> APIRouter:
    """``POST /predict``, whose body accepts at most ``max_animals`` animals."""
    router = APIRouter(tags=["predictions"])
    animals_body = schemas.predict_body(max_animals)

    @router.post(
        "/predict",
        response_model=schemas.Prediction | list[schemas.Prediction],
        dependencies=[Depends(require_json)],
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
        model: Annotated[LoadedModel, Depends(loaded_model)],
        found: Annotated[Metrics, Depends(metrics)],
    ) -> JSONResponse:
        """Predict one animal (a JSON object) or several (a JSON array, up to the limit).

        Flags are 0 or 1 (``true``/``false`` too) and default to 0; ``legs`` is required.
        The answer has the shape of the question: an object, or an array in the same order.
        """
        return JSONResponse(predict_animals(animals, model, found))

    return router
