"""The Open Inference Protocol over REST: an infer request's body in, the answer's bytes out.

A body is JSON, or JSON followed by the tensors' bytes (Triton's binary tensor extension,
which Triton's clients use by default): the request's ``Inference-Header-Content-Length``
header then gives the JSON's length, and the input's ``binary_data_size`` parameter the
size of its bytes (little-endian, row-major). The answer is JSON, or, for the outputs asked
for with ``binary_data`` (or all of them with ``binary_data_output``), JSON followed by their
bytes (``BYTES``: each string's length in 4 bytes, then the string), with the same header.

One function, :func:`answer`, serves the direct path (:mod:`sampleproject.serving.v2_direct`)
and the FastAPI route that documents it (:mod:`sampleproject.serving.v2_routes`).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import ValidationError
from pydantic_core import to_json

from sampleproject.serving import v2
from sampleproject.serving.errors import INTERNAL_ERROR
from sampleproject.serving.prediction import predicted
from sampleproject.serving.v2_schemas import INFER_REQUEST, InferenceRequest, Parameter

logger = logging.getLogger("sampleproject.serving")

HEADER_LENGTH = "inference-header-content-length"
JSON = b"application/json"
BINARY = b"application/octet-stream"

Answer = tuple[int, list[tuple[bytes, bytes]], bytes]  # status, headers, body


def answer(
    body: bytes, header_length: str | None, where: tuple[str, str | None], service: v2.Service
) -> Answer:
    """The answer to an infer request for model ``where`` (its name, its version or None)."""
    try:
        model = v2.served(service.state, *where)
        request, raw = _parse(body, header_length)
        features = _features(request, raw, service.max_animals)
        names = v2.requested([output.name for output in request.outputs or []])
        answers = predicted(features, model, service.metrics)
        tensors = v2.outputs(model, answers, names)
    except v2.V2Error as error:
        return error_answer(error.status, error.message)
    except Exception:  # pylint: disable=broad-exception-caught  # a bug: log it, say 500
        logger.exception("unexpected error")
        return error_answer(500, INTERNAL_ERROR)
    head: dict[str, Any] = {"model_name": where[0]}
    if model.version:
        head["model_version"] = model.version
    if request.id is not None:
        head["id"] = request.id
    return _write(head, tensors, _binary_outputs(request))


def error_answer(status: int, message: str) -> Answer:
    """A V2 error: ``{"error": message}``."""
    return status, [(b"content-type", JSON)], to_json({"error": message})


def _parse(body: bytes, header_length: str | None) -> tuple[InferenceRequest, bytes]:
    """The request's JSON, read, and the bytes that follow it."""
    length = len(body)
    if header_length is not None:
        if not header_length.isdigit() or int(header_length) > len(body):
            raise v2.V2Error(400, f"{HEADER_LENGTH}: {header_length!r} is not a length in the body")
        length = int(header_length)
    try:
        return INFER_REQUEST.validate_json(body[:length]), body[length:]
    except ValidationError as error:
        raise v2.V2Error(400, f"invalid inference request: {_problem(error)}") from None


def _problem(error: ValidationError) -> str:
    first = error.errors(include_url=False)[0]
    if first["type"] == "json_invalid":
        return f"invalid JSON: {first.get('ctx', {}).get('error', first['msg'])}"
    where = "".join(
        f"[{part}]" if isinstance(part, int) else f".{part}"
        for part in first["loc"]
        if part not in ("values", "rows")  # the data's forms (tags)
    )
    return f"{where.lstrip('.') or 'body'}: {first['msg']}"


def _features(request: InferenceRequest, raw: bytes, max_animals: int) -> npt.NDArray[np.float32]:
    """The model's input from the request's one input tensor."""
    (tensor,) = request.inputs
    rows = v2.check_input(tensor.name, tensor.datatype, tensor.shape, max_animals)
    size = (tensor.parameters or {}).get("binary_data_size")
    if size is None:
        if tensor.data is None:
            raise v2.V2Error(400, f"input {v2.INPUT!r}: no data and no binary_data_size")
        values = _json_values(tensor.data)
    else:
        if tensor.data is not None:
            raise v2.V2Error(400, f"input {v2.INPUT!r}: both data and binary_data_size")
        values = _binary_values(raw, size, tensor.datatype)
    return v2.features_of(values, rows)


def _json_values(data: list[float] | list[list[float]]) -> npt.NDArray[np.float64]:
    """The values of a tensor sent in JSON (numbers, flat or one list per animal)."""
    try:
        return np.array(data, dtype=np.float64)
    except ValueError:  # rows of different lengths
        raise v2.V2Error(400, f"input {v2.INPUT!r}: its rows are not all the same length") from None


def _binary_values(raw: bytes, size: Parameter, datatype: str) -> npt.NDArray[Any]:
    """The values of a tensor sent as bytes after the JSON (its only binary input)."""
    if isinstance(size, bool) or not isinstance(size, int) or size != len(raw):
        raise v2.V2Error(
            400, f"input {v2.INPUT!r}: binary_data_size {size!r}, but {len(raw)} bytes follow"
        )
    dtype = v2.INPUT_TYPES[datatype]
    if size % dtype.itemsize:
        raise v2.V2Error(400, f"input {v2.INPUT!r}: {size} bytes is no whole number of {datatype}")
    return np.frombuffer(raw, dtype=dtype)


def _binary_outputs(request: InferenceRequest) -> set[str]:
    """The outputs to answer as bytes after the JSON."""
    every = (request.parameters or {}).get("binary_data_output") is True
    chosen = {
        output.name: (output.parameters or {}).get("binary_data")
        for output in request.outputs or []
    }
    return {name for name in v2.OUTPUTS if chosen.get(name, every) is True}


def _write(head: dict[str, Any], tensors: list[v2.Output], binary: set[str]) -> Answer:
    """The answer's bytes: JSON, then the bytes of the outputs in ``binary``."""
    described, chunks = [], []
    for tensor in tensors:
        entry: dict[str, Any] = {
            "name": tensor.name,
            "datatype": tensor.datatype,
            "shape": list(tensor.shape),
        }
        if tensor.name in binary:
            chunks.append(v2.raw(tensor))
            entry["parameters"] = {"binary_data_size": len(chunks[-1])}
        else:
            entry["data"] = _json_data(tensor)
        described.append(entry)
    header = to_json(head | {"outputs": described})
    if not chunks:
        return 200, [(b"content-type", JSON)], header
    headers = [(b"content-type", BINARY), (HEADER_LENGTH.encode(), str(len(header)).encode())]
    return 200, headers, b"".join([header, *chunks])


def _json_data(tensor: v2.Output) -> list[Any]:
    """A tensor's values for JSON; probabilities rounded to 6 decimals, as ``/predict``'s."""
    if tensor.datatype == "FP32":
        rounded: list[Any] = tensor.values.astype(np.float64).round(6).tolist()
        return rounded
    values: list[Any] = tensor.values.tolist()
    return values
