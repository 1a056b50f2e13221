"""MLflow's scoring protocol: ``POST /invocations`` and ``GET /ping``, as ``mlflow models serve``.

A client of an MLflow model server (MLflow's own ``ScoringServerClient``, ``mlflow
deployments``, SageMaker-style callers) can call this server unchanged. The request is JSON
with exactly one of ``dataframe_split`` (``columns`` and ``data`` rows), ``dataframe_records``
(one object per animal), ``instances`` or ``inputs`` (records, or one list per column), or a
CSV body (``text/csv``, a header row naming the columns); other keys (``params``) and other
columns (``animal_name``) are ignored, as MLflow does. The answer is ``{"predictions":
[class codes]}``, MLflow's answer for the scikit-learn model of the same training run.

Errors have MLflow's shape, ``{"error_code": ..., "message": ...}`` with status 400, and its
415s in plain text. Where MLflow's schema check lets a value through that the model was never
trained on (legs 3, 4.5, any number for a flag), this server refuses it: every feature must
be given, as a whole number from its domain (numbers, ``true``/``false`` and numeric text,
as MLflow's type conversion takes them).
"""

# No ``from __future__ import annotations``: FastAPI reads the endpoints' annotations at run time.

import csv
import io
from operator import itemgetter
from typing import Any

import numpy as np
import numpy.typing as npt
from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from pydantic_core import from_json, to_json

from sampleproject.inference.predictor import LoadedModel
from sampleproject.serving import declared, feature_matrix
from sampleproject.serving.metrics import Metrics
from sampleproject.serving.prediction import predicted

FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
CSV, JSON = "text/csv", "application/json"
BAD_REQUEST, INVALID_VALUE = "BAD_REQUEST", "INVALID_PARAMETER_VALUE"
_ONE_OF = "{" + ", ".join(f"'{name}'" for name in FORMATS) + "}"
_ROW = itemgetter(*declared.FEATURES)


class ScoringError(Exception):
    """A request MLflow's protocol refuses: status, MLflow's error code, one line."""

    def __init__(self, message: str, code: str = INVALID_VALUE, status: int = 400) -> None:
        super().__init__(message)
        self.message, self.code, self.status = message, code, status


def answer_of(
    body: bytes, content_type: str, model: LoadedModel, metrics: Metrics, max_animals: int
) -> Response:
    """The answer to ``POST /invocations``."""
    try:
        matrix = _table(body, content_type)
        if not 1 <= len(matrix) <= max_animals:
            raise ScoringError(f"{len(matrix)} rows: expected 1 to {max_animals} animals")
        features = feature_matrix.checked(matrix)
    except ScoringError as error:
        if error.status == 415:  # noqa: PLR2004  (MLflow says these in plain text)
            return Response(error.message, 415, media_type="text/plain")
        content = to_json({"error_code": error.code, "message": error.message})
        return Response(content, error.status, media_type=JSON)
    except feature_matrix.BadValue as bad:
        content = to_json({"error_code": INVALID_VALUE, "message": f"Invalid input: {bad}"})
        return Response(content, 400, media_type=JSON)
    codes = predicted(features, model, metrics).codes.tolist()
    return Response(to_json({"predictions": codes}), media_type=JSON)


def _table(body: bytes, content_type: str) -> npt.NDArray[Any]:
    """The features of a request's rows, ``[n, 16]`` numbers in model order."""
    media_type, *parameters = (part.strip() for part in content_type.split(";"))
    options = dict(part.partition("=")[::2] for part in parameters if part)
    if options.get("charset", "utf-8").lower() != "utf-8":
        raise ScoringError("The scoring server only supports UTF-8", status=415)
    if set(options) - {"charset"}:
        raise ScoringError(
            f"Unrecognized content type parameters: {', '.join(options)}", status=415
        )
    if media_type.lower() == CSV:
        return _csv(body)
    if media_type.lower() == JSON:
        return _json(body)
    raise ScoringError(
        f"This predictor only supports the following content types: Types: {[CSV, JSON]}. "
        f"Got '{content_type}'.",
        status=415,
    )


def _json(body: bytes) -> npt.NDArray[Any]:
    try:
        document = from_json(body)
    except ValueError as error:
        raise ScoringError(
            f"Invalid input. Ensure that input is valid JSON: {error}", BAD_REQUEST
        ) from None
    if not isinstance(document, dict):
        raise ScoringError(
            f"Invalid input. The input must be a JSON dictionary with exactly one of the input "
            f"fields {_ONE_OF}. Received a {type(document).__name__}.",
            BAD_REQUEST,
        )
    given = [name for name in FORMATS if name in document]
    if len(given) != 1:
        raise ScoringError(
            f"The input must be a JSON dictionary with exactly one of the input fields {_ONE_OF}. "
            f"Received dictionary with input fields: {list(document)}.",
            BAD_REQUEST,
        )
    data = document[given[0]]
    if given[0] == "dataframe_split":
        return _split(data)
    if isinstance(data, dict) and given[0] != "dataframe_records":
        return _columns(data)
    return _records(data)


def _split(data: Any) -> npt.NDArray[Any]:
    """``{"columns": [...], "data": [[...], ...]}`` (pandas' ``split`` orient)."""
    if not isinstance(data, dict) or not isinstance(data.get("columns"), list):
        raise ScoringError("dataframe_split: expected an object with 'columns' and 'data'")
    rows = _numbers(data.get("data"), len(data["columns"]))
    return rows[:, _positions(data["columns"])]


def _records(data: Any) -> npt.NDArray[Any]:
    """``[{"hair": 1, ...}, ...]``: one object per animal."""
    if not isinstance(data, list) or not all(isinstance(record, dict) for record in data):
        raise ScoringError("expected a list of records (one JSON object per animal)")
    try:
        rows = [_ROW(record) for record in data]
    except KeyError:
        incomplete = next(record for record in data if not set(declared.FEATURES) <= set(record))
        raise _missing([name for name in declared.FEATURES if name not in incomplete]) from None
    return _numbers(rows, len(declared.FEATURES))


def _columns(data: dict[str, Any]) -> npt.NDArray[Any]:
    """``{"hair": [1, 0], ...}``: one list per column."""
    missing = [name for name in declared.FEATURES if name not in data]
    if missing:
        raise _missing(missing)
    columns = _ROW(data)
    if not all(isinstance(column, list) for column in columns):
        raise ScoringError("expected one list of values per column")
    return np.transpose(_numbers(list(columns), None))


def _csv(body: bytes) -> npt.NDArray[Any]:
    """A CSV table whose first row names the columns."""
    try:
        lines = [row for row in csv.reader(io.StringIO(body.decode("utf-8"))) if row]
    except (UnicodeDecodeError, csv.Error) as error:
        raise ScoringError(f"Failed to parse the input as CSV: {error}", BAD_REQUEST) from None
    if not lines:
        raise ScoringError("Failed to parse the input as CSV: no header row", BAD_REQUEST)
    # The values first, then the columns: MLflow's pandas parses the table (with the
    # signature's types) before its schema check finds a column missing.
    try:
        table = _numbers(lines[1:], len(lines[0]))
    except ScoringError as error:  # as MLflow says of a table pandas cannot read
        raise ScoringError(f"Failed to parse the input as CSV: {error}", BAD_REQUEST) from None
    return table[:, _positions(lines[0])]


def _positions(columns: list[Any]) -> list[int]:
    """Where each feature is among ``columns``."""
    missing = [name for name in declared.FEATURES if name not in columns]
    if missing:
        raise _missing(missing)
    return [columns.index(name) for name in declared.FEATURES]


def _missing(names: list[str]) -> ScoringError:
    return ScoringError(f"Failed to enforce schema: the model is missing inputs {names}")


def _numbers(rows: Any, width: int | None) -> npt.NDArray[Any]:
    """``rows`` as a matrix of numbers (booleans and numeric text converted), ``width`` wide."""
    if not isinstance(rows, list):
        raise ScoringError("expected the rows as a JSON array")
    try:
        values = np.array(rows) if rows else np.zeros((0, width or 0))
        if values.dtype.kind == "U":  # text, as CSV gives it: "1", "1.0"
            values = values.astype(np.float64)
    except ValueError:  # rows of different lengths, or text that is no number
        raise ScoringError("the rows must be lists of numbers of the same length") from None
    if values.ndim != 2 or values.dtype.kind not in "biuf" or (width and values.shape[1] != width):  # noqa: PLR2004
        raise ScoringError(f"the rows must be lists of {width or 'the same number of'} numbers")
    return values.astype(np.int64) if values.dtype.kind == "b" else values


# The request bodies, for the OpenAPI document (the route reads the body itself): what the
# parser takes, no less (a value may be a number, a boolean or text; other columns are allowed).
_VALUE = {"type": ["number", "boolean", "string"]}
_RECORDS = {
    "type": "array",
    "items": {
        "type": "object",
        "required": list(declared.FEATURES),
        "properties": dict.fromkeys(declared.FEATURES, _VALUE),
    },
}
_COLUMNS = {"type": "object", "additionalProperties": {"type": "array", "items": _VALUE}}
_SPLIT = {
    "type": "object",
    "required": ["columns", "data"],
    "properties": {
        "columns": {"type": "array", "items": {"type": "string"}},
        "data": {"type": "array", "items": {"type": "array", "items": _VALUE}},
        "index": {"type": "array"},
    },
}
_REQUEST_SCHEMA = {
    "oneOf": [
        {"type": "object", "required": [name], "properties": {name: form}}
        for name, form in (
            ("dataframe_split", _SPLIT),
            ("dataframe_records", _RECORDS),
            ("instances", {"anyOf": [_RECORDS, _COLUMNS]}),
            ("inputs", {"anyOf": [_RECORDS, _COLUMNS]}),
        )
    ]
}
_EXAMPLE = {"dataframe_records": [{name: 0 for name in declared.FEATURES} | {"legs": 4}]}


class Predictions(BaseModel):
    """The predicted class codes, in the rows' order."""

    predictions: list[int]


class ScoringErrorBody(BaseModel):
    """MLflow's error body."""

    error_code: str = Field(examples=[INVALID_VALUE])
    message: str


def router(max_animals: int) -> APIRouter:
    """``POST /invocations`` (at most ``max_animals`` rows) and ``GET /ping``."""
    routes = APIRouter(tags=["MLflow scoring protocol"])
    responses: dict[int | str, dict[str, Any]] = {
        200: {"model": Predictions, "description": "The class codes, one per row"},
        400: {"model": ScoringErrorBody, "description": "Bad request (MLflow's error body)"},
        415: {"description": "Not JSON nor CSV", "content": {"text/plain": {}}},
        503: {"model": ScoringErrorBody, "description": "The model is not loaded yet"},
    }
    body = {
        "requestBody": {
            "required": True,
            "content": {
                JSON: {"schema": _REQUEST_SCHEMA, "example": _EXAMPLE},
                CSV: {"schema": {"type": "string"}, "example": ",".join(declared.FEATURES)},
            },
        }
    }

    @routes.post("/invocations", response_class=Response, responses=responses, openapi_extra=body)
    async def invocations(request: Request) -> Response:
        """Predict the rows of a data frame (JSON or CSV), as ``mlflow models serve`` does."""
        model = request.app.state.model.current
        if model is None:
            content = to_json({"error_code": "TEMPORARILY_UNAVAILABLE", "message": "no model yet"})
            return Response(content, 503, media_type=JSON)
        return answer_of(
            await request.body(),
            request.headers.get("content-type", ""),
            model,
            request.app.state.metrics,
            max_animals,
        )

    @routes.get(
        "/ping",
        response_class=Response,
        responses={200: {"content": {JSON: {}}}, 503: {"description": "No model loaded yet"}},
    )
    async def ping(request: Request) -> Response:
        """MLflow's health check: 200 (a newline) once the model is loaded, else 503."""
        loaded = request.app.state.model.current is not None
        return Response("\n", 200 if loaded else 503, media_type=JSON)

    return routes
