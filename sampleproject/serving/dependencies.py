"""What the routes need from a request: its application's model and metrics, a JSON body.

All ``async``: FastAPI runs a synchronous dependency in a thread pool, a hop that costs more
than these functions do.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.exceptions import HTTPException

from sampleproject.inference.predictor import LoadedModel
from sampleproject.serving.metrics import Metrics
from sampleproject.serving.model_state import ServedModel


async def served_model(request: Request) -> ServedModel:
    """The application's model holder (see :func:`sampleproject.serving.app.create_app`)."""
    state: ServedModel = request.app.state.model
    return state


async def metrics(request: Request) -> Metrics:
    """The application's metrics."""
    found: Metrics = request.app.state.metrics
    return found


async def loaded_model(
    model: Annotated[ServedModel, Depends(served_model)],
) -> LoadedModel:
    """The model that answers this request (kept for the whole request, whatever reloads)."""
    current = model.current
    if current is None:
        raise HTTPException(503, "the model is not loaded yet")
    return current


async def require_json(request: Request) -> None:
    """415 unless the body is declared as JSON (a form or plain text is a client mistake)."""
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise HTTPException(415, "send the animals as JSON (Content-Type: application/json)")
