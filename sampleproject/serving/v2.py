"""The Open Inference Protocol (V2, KServe's and Triton's): the model's tensors, checked and made.

What REST (:mod:`~sampleproject.serving.v2_rest`) and gRPC
(:mod:`~sampleproject.serving.v2_grpc`) share; each only reads and writes its own wire format.

- **Input**: one tensor named ``features``, of shape ``[N, 16]`` (N animals, the features in
  model order, 1 <= N <= ``--max-animals``), datatype ``INT64`` (what the model metadata
  declares), ``INT32``, ``FP32`` or ``FP64``. Every value must be a whole number from its
  feature's domain (flags 0 or 1, legs 0, 2, 4, 5, 6 or 8): the rules of ``/predict`` in
  strict form, with every feature given. One tensor rather than one per feature: a batch is
  then one array, read in one pass (and one ``raw_input_contents`` over gRPC).
- **Outputs**: ``class_code`` (``INT64 [N]``), ``class_name`` (``BYTES [N]``) and
  ``probabilities`` (``FP32 [N, 7]``, a column per class in class-code order), all three
  unless the request names some.
- **Errors**: a status and one line (:class:`V2Error`): 400 for a bad request, 404 for an
  unknown model or version, 503 while no model is loaded.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from sampleproject import __version__
from sampleproject.inference.predictor import LoadedModel, Predictions
from sampleproject.serving import declared, feature_matrix
from sampleproject.serving.metrics import Metrics
from sampleproject.serving.model_state import ServedModel

INPUT = "features"
WIDTH = feature_matrix.WIDTH
# The input's datatypes, by V2 name: their NumPy types, little-endian (the binary form's order).
INPUT_TYPES: dict[str, np.dtype[Any]] = {
    "INT64": np.dtype("<i8"),
    "INT32": np.dtype("<i4"),
    "FP32": np.dtype("<f4"),
    "FP64": np.dtype("<f8"),
}
DECLARED_TYPE = "INT64"
OUTPUTS: dict[str, str] = {"class_code": "INT64", "class_name": "BYTES", "probabilities": "FP32"}
SERVER = "sampleproject"
PLATFORM = "onnx_onnxv1"  # the protocol's name for an ONNX model run by ONNX Runtime
# Extensions: Triton's binary tensor data over REST (its clients use it by default).
EXTENSIONS = ("binary_tensor_data",)


class V2Error(Exception):
    """A request the protocol refuses: its HTTP status and one line saying why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Service:
    """What answers V2 requests: the served model, the metrics, and the most animals a request."""

    state: ServedModel
    metrics: Metrics
    max_animals: int


@dataclass(frozen=True)
class Output:
    """One output tensor: its name, datatype, shape and values (flat, row-major)."""

    name: str
    datatype: str
    shape: tuple[int, ...]
    values: npt.NDArray[Any]  # int64, float32, or str objects (BYTES)


def served(state: ServedModel, name: str, version: str | None) -> LoadedModel:
    """The model that answers a request for model ``name`` (and ``version``, if given)."""
    if name != declared.MODEL_NAME:
        raise V2Error(404, f"unknown model {name!r}: this server serves {declared.MODEL_NAME!r}")
    model = state.current
    if model is None:
        raise V2Error(503, f"model {name!r} is not loaded yet")
    if version is not None and version != model.version:
        have = f"version {model.version}" if model.version else "a model from a folder, unversioned"
        raise V2Error(404, f"model {name!r} has no version {version!r} here (it serves {have})")
    return model


def check_input(name: str, datatype: str, shape: list[int], max_animals: int) -> int:
    """The number of animals of an input tensor, once its name, datatype and shape are right."""
    if name != INPUT:
        raise V2Error(400, f"unexpected input {name!r}: the model's one input is {INPUT!r}")
    if datatype not in INPUT_TYPES:
        accepted = ", ".join(INPUT_TYPES)
        raise V2Error(400, f"input {INPUT!r}: datatype {datatype} not accepted (use {accepted})")
    if len(shape) != 2 or shape[1] != WIDTH:  # noqa: PLR2004  (a matrix)
        raise V2Error(400, f"input {INPUT!r}: shape {list(shape)}, expected [N, {WIDTH}]")
    if not 1 <= shape[0] <= max_animals:
        raise V2Error(400, f"input {INPUT!r}: {shape[0]} animals, expected 1 to {max_animals}")
    return shape[0]


def features_of(values: npt.NDArray[Any], rows: int) -> npt.NDArray[np.float32]:
    """The model's input (``[rows, 16]`` float32) from a tensor's values, once they are checked:
    as many as the shape says, each a whole number from its feature's domain."""
    if values.size != rows * WIDTH:
        raise V2Error(400, f"input {INPUT!r}: {values.size} values for shape [{rows}, {WIDTH}]")
    try:
        return feature_matrix.checked(values.reshape(rows, WIDTH))
    except feature_matrix.BadValue as bad:
        raise V2Error(400, f"input {INPUT!r}: {bad} (at [{bad.row}, {bad.column}])") from None


def requested(names: list[str] | None) -> list[str]:
    """The outputs to answer: those named (each once, in the request's order), else all."""
    if not names:
        return list(OUTPUTS)
    for name in names:
        if name not in OUTPUTS:
            raise V2Error(400, f"unknown output {name!r} (outputs: {', '.join(OUTPUTS)})")
    return list(dict.fromkeys(names))


def outputs(model: LoadedModel, answers: Predictions, names: list[str]) -> list[Output]:
    """The output tensors ``names`` of a batch's predictions."""
    rows = len(answers)
    made = []
    for name in names:
        if name == "class_code":
            made.append(Output(name, "INT64", (rows,), answers.codes))
        elif name == "class_name":
            labels = [model.predictor.name_of(code) for code in answers.codes.tolist()]
            made.append(Output(name, "BYTES", (rows,), np.array(labels, dtype=object)))
        else:
            probabilities = answers.probabilities
            made.append(Output(name, "FP32", probabilities.shape, probabilities.ravel()))
    return made


def raw(tensor: Output) -> bytes:
    """An output's values as bytes, little-endian (``BYTES``: each string's length in 4 bytes,
    then the string): the binary extension's form over REST, and gRPC's raw contents."""
    if tensor.datatype == "BYTES":
        encoded = [text.encode() for text in tensor.values.tolist()]
        return b"".join(struct.pack("<I", len(item)) + item for item in encoded)
    return tensor.values.astype("<i8" if tensor.datatype == "INT64" else "<f4").tobytes()


def server_metadata() -> dict[str, Any]:
    """The server's metadata (``GET /v2``, gRPC ``ServerMetadata``)."""
    return {"name": SERVER, "version": __version__, "extensions": list(EXTENSIONS)}


def model_metadata(model: LoadedModel) -> dict[str, Any]:
    """The model's metadata (``GET /v2/models/NAME``, gRPC ``ModelMetadata``)."""
    classes = len(model.predictor.class_codes)
    metadata: dict[str, Any] = {"name": declared.MODEL_NAME}
    if model.version:
        metadata["versions"] = [model.version]
    return metadata | {
        "platform": PLATFORM,
        "inputs": [{"name": INPUT, "datatype": DECLARED_TYPE, "shape": [-1, WIDTH]}],
        "outputs": [
            {"name": "class_code", "datatype": "INT64", "shape": [-1]},
            {"name": "class_name", "datatype": "BYTES", "shape": [-1]},
            {"name": "probabilities", "datatype": "FP32", "shape": [-1, classes]},
        ],
    }
