"""The Open Inference Protocol's REST bodies, as pydantic models: parsed with, and documented.

The infer request is read with :data:`INFER_REQUEST` (pydantic-core, strict: JSON numbers are
numbers, ``true`` is no 1); what the protocol adds beyond its JSON shape (the input's name,
datatype, shape, values) is checked by :mod:`sampleproject.serving.v2`. Unknown keys are
ignored, as the protocol leaves room for extensions.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, NonNegativeInt, Tag, TypeAdapter

from sampleproject.serving import declared, v2
from sampleproject.serving.schemas import EXAMPLE_ANIMAL

# A parameter's value: the protocol allows booleans, integers and strings.
Parameter = bool | int | str
Number = int | float
Datatype = Literal["INT64", "INT32", "FP32", "FP64"]


def _flat_or_rows(data: Any) -> str | None:
    # Chosen from the first value, so that an error speaks of that form only.
    if not isinstance(data, list):
        return None
    return "rows" if data and isinstance(data[0], list) else "values"


# Numbers, as floats (a strict float takes a JSON integer, not true): every value is then
# checked to be a whole number from its feature's domain, whatever the datatype.
TensorData = Annotated[
    Annotated[list[float], Tag("values")] | Annotated[list[list[float]], Tag("rows")],
    Discriminator(
        _flat_or_rows,
        custom_error_type="data_type",
        custom_error_message="expected the values as a JSON array (flat, or one per animal)",
    ),
]


class RequestInput(BaseModel):
    """An input tensor: ``features``, ``[N, 16]``, its values flat (row-major) or as rows."""

    model_config = ConfigDict(strict=True)

    name: str = Field(examples=[v2.INPUT])
    shape: list[NonNegativeInt] = Field(examples=[[1, v2.WIDTH]])
    datatype: Datatype = Field(examples=[v2.DECLARED_TYPE])
    parameters: dict[str, Parameter] | None = Field(
        None, description="binary_data_size: the tensor's bytes follow the JSON (no data then)"
    )
    data: TensorData | None = Field(
        None, description="the values in row-major order, flat or as one list per animal"
    )


class RequestOutput(BaseModel):
    """An output asked for by name (``class_code``, ``class_name``, ``probabilities``)."""

    model_config = ConfigDict(strict=True)

    name: str
    parameters: dict[str, Parameter] | None = Field(
        None, description="binary_data: true answers this tensor's bytes after the JSON"
    )


class InferenceRequest(BaseModel):
    """An inference request (POST /v2/models/NAME/infer)."""

    model_config = ConfigDict(strict=True)

    id: str | None = Field(None, description="returned in the answer")
    parameters: dict[str, Parameter] | None = Field(
        None, description="binary_data_output: true answers every output's bytes after the JSON"
    )
    inputs: list[RequestInput] = Field(min_length=1, max_length=1)
    outputs: list[RequestOutput] | None = None


INFER_REQUEST = TypeAdapter(InferenceRequest)
EXAMPLE_REQUEST = {
    "id": "42",
    "inputs": [
        {
            "name": v2.INPUT,
            "shape": [1, v2.WIDTH],
            "datatype": v2.DECLARED_TYPE,
            "data": [EXAMPLE_ANIMAL.get(name, 0) for name in declared.FEATURES],
        }
    ],
}


class ResponseOutput(BaseModel):
    """An output tensor: its values flat, or their size when its bytes follow the JSON."""

    name: str
    datatype: str
    shape: list[int]
    parameters: dict[str, Parameter] | None = None
    data: list[Number] | list[str] | None = None


class InferenceResponse(BaseModel):
    """The answer to an inference request."""

    model_name: str
    model_version: str | None = Field(None, description="the registry version, if it has one")
    id: str | None = None
    outputs: list[ResponseOutput]


class TensorMetadata(BaseModel):
    """A tensor's name, datatype and shape (-1: any size)."""

    name: str
    datatype: str
    shape: list[int]


class ModelMetadata(BaseModel):
    """The model's metadata."""

    name: str
    versions: list[str] | None = None
    platform: str
    inputs: list[TensorMetadata]
    outputs: list[TensorMetadata]


class ServerMetadata(BaseModel):
    """The server's metadata."""

    name: str
    version: str
    extensions: list[str]


class ServerLive(BaseModel):
    """Whether the server answers."""

    live: bool


class Ready(BaseModel):
    """Whether the server (or the model) is ready for inference."""

    ready: bool


class ModelReady(Ready):
    """Whether the model is ready for inference."""

    name: str


class V2ErrorBody(BaseModel):
    """The protocol's error body."""

    error: str = Field(description="what went wrong, in one line")


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The V2 error answers of a route, each with :class:`V2ErrorBody`."""
    described = {
        400: "Bad request: what is wrong with it",
        404: "No such model or version",
        413: "Request body larger than the limit (--max-body-bytes)",
        503: "The model is not loaded yet",
    }
    return {status: {"model": V2ErrorBody, "description": described[status]} for status in statuses}
