"""The Open Inference Protocol's REST endpoints (V2), as FastAPI routes: the documented contract.

- ``GET /v2``: the server's metadata; ``GET /v2/health/live`` and ``/v2/health/ready``;
- ``GET /v2/models/NAME[/versions/V]``: the model's metadata, ``.../ready`` its readiness;
- ``POST /v2/models/NAME[/versions/V]/infer``: predictions (see :mod:`sampleproject.serving.v2`
  for the tensors, :mod:`sampleproject.serving.v2_rest` for the body). Most are answered by
  :mod:`sampleproject.serving.v2_direct` before they get here, with the same function.

Every error answers the protocol's ``{"error": "..."}``. ``V`` is the registry version of the
model served (``serve --model models:/...``); a model served from a folder has none.
"""

# No ``from __future__ import annotations``: FastAPI reads the endpoints' annotations at run time.

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from sampleproject.serving import v2, v2_rest
from sampleproject.serving import v2_schemas as s
from sampleproject.serving.dependencies import served_model
from sampleproject.serving.model_state import ServedModel

ServedDep = Annotated[ServedModel, Depends(served_model)]
_READY_RESPONSES = s.error_responses(404) | {
    503: {"model": s.ModelReady, "description": "Not loaded yet"}
}


def _error(error: v2.V2Error) -> JSONResponse:
    return JSONResponse({"error": error.message}, error.status)


def inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with its ``$defs`` written in place (the request body is no component)."""
    definitions = schema.pop("$defs", {})

    def expand(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return expand(definitions[node["$ref"].rsplit("/", 1)[-1]])
            return {key: expand(value) for key, value in node.items()}
        return [expand(item) for item in node] if isinstance(node, list) else node

    expanded: dict[str, Any] = expand(schema)
    return expanded


_INFER_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": inlined(s.INFER_REQUEST.json_schema()),
                "example": s.EXAMPLE_REQUEST,
            },
            "application/octet-stream": {
                "schema": {"type": "string", "format": "binary"},
                "description": "JSON, then the tensors' bytes (Inference-Header-Content-Length)",
            },
        },
    }
}
_INFER_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "model": s.InferenceResponse,
        "description": "The outputs (JSON; then their bytes, if asked for in binary)",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    },
    **s.error_responses(400, 404, 413, 503),
}


def _metadata(state: ServedModel, name: str, version: str | None) -> Response:
    try:
        return JSONResponse(v2.model_metadata(v2.served(state, name, version)))
    except v2.V2Error as error:
        return _error(error)


def _ready(state: ServedModel, name: str, version: str | None) -> Response:
    try:
        v2.served(state, name, version)
    except v2.V2Error as error:
        if error.status != 503:  # noqa: PLR2004  (not loaded: not ready; else no such model)
            return _error(error)
        return JSONResponse({"name": name, "ready": False}, 503)
    return JSONResponse({"name": name, "ready": True})


async def _infer(request: Request, where: tuple[str, str | None], max_animals: int) -> Response:
    service = v2.Service(request.app.state.model, request.app.state.metrics, max_animals)
    status, headers, payload = v2_rest.answer(
        await request.body(), request.headers.get(v2_rest.HEADER_LENGTH), where, service
    )
    return Response(payload, status, {name.decode(): value.decode() for name, value in headers})


def router(max_animals: int) -> APIRouter:
    """The V2 endpoints; an infer request holds at most ``max_animals`` animals."""
    routes = APIRouter(prefix="/v2", tags=["Open Inference Protocol (V2)"])

    @routes.get("", response_model=s.ServerMetadata)
    async def server_metadata() -> dict[str, Any]:
        """The server's name, version and protocol extensions."""
        return v2.server_metadata()

    @routes.get("/health/live", response_model=s.ServerLive)
    async def server_live() -> dict[str, bool]:
        """Liveness: 200 while the process runs."""
        return {"live": True}

    @routes.get(
        "/health/ready",
        response_model=s.Ready,
        responses={503: {"model": s.Ready, "description": "No model loaded"}},
    )
    async def server_ready(state: ServedDep) -> JSONResponse:
        """Readiness: 200 once the model is loaded, else 503."""
        ready = state.current is not None
        return JSONResponse({"ready": ready}, 200 if ready else 503)

    model = "/models/{model_name}"
    version = "/models/{model_name}/versions/{model_version}"
    metadata: dict[str, Any] = {
        "response_model": s.ModelMetadata,
        "responses": s.error_responses(404, 503),
    }

    @routes.get(model, **metadata)
    async def model_metadata(state: ServedDep, model_name: str) -> Response:
        """The model's metadata: its input and output tensors."""
        return _metadata(state, model_name, None)

    @routes.get(version, **metadata)
    async def model_version_metadata(
        state: ServedDep, model_name: str, model_version: str
    ) -> Response:
        """The metadata of this version of the model."""
        return _metadata(state, model_name, model_version)

    readiness: dict[str, Any] = {"response_model": s.ModelReady, "responses": _READY_RESPONSES}

    @routes.get(f"{model}/ready", **readiness)
    async def model_ready(state: ServedDep, model_name: str) -> Response:
        """The model's readiness: 200 once it is loaded, else 503."""
        return _ready(state, model_name, None)

    @routes.get(f"{version}/ready", **readiness)
    async def model_version_ready(
        state: ServedDep, model_name: str, model_version: str
    ) -> Response:
        """The readiness of this version of the model."""
        return _ready(state, model_name, model_version)

    inference: dict[str, Any] = {"response_class": Response, "responses": _INFER_RESPONSES}
    inference["openapi_extra"] = _INFER_BODY

    @routes.post(f"{model}/infer", **inference)
    async def model_infer(request: Request, model_name: str) -> Response:
        """Predict: the features tensor in; class codes, names and probabilities out."""
        return await _infer(request, (model_name, None), max_animals)

    @routes.post(f"{version}/infer", **inference)
    async def model_version_infer(
        request: Request, model_name: str, model_version: str
    ) -> Response:
        """Predict with this version of the model."""
        return await _infer(request, (model_name, model_version), max_animals)

    return routes
