"""The Open Inference Protocol over gRPC (``inference.GRPCInferenceService``), on its own port.

``serve --grpc-port N`` (off by default; the ``grpc`` extra: ``pip install
'sampleproject[grpc]'``) starts grpcio's asyncio server in each worker, on the worker's
event loop, beside uvicorn: it answers with the same model (reloads included), the same
checks (:mod:`sampleproject.serving.v2`) and the same metrics as REST. With several workers
each binds the port with SO_REUSEPORT and the kernel spreads the connections; with one, the
port is bound alone, so a port already taken is an error at start-up.

An input's values come typed (``contents``: ``int64_contents``, ``int_contents``,
``fp32_contents``, ``fp64_contents``) or raw (``raw_input_contents``, little-endian); the
outputs go back raw (``raw_output_contents``), as Triton answers. An error is a gRPC status:
INVALID_ARGUMENT (REST's 400), NOT_FOUND (404), UNAVAILABLE (503), with the same message.
"""

from __future__ import annotations

import logging
from typing import Any

import grpc
import numpy as np
import numpy.typing as npt
from google.protobuf.message import Message

from sampleproject.serving import v2
from sampleproject.serving.prediction import predicted
from sampleproject.serving.v2_grpc_stubs import inference_pb2 as pb

logger = logging.getLogger("sampleproject.serving")

SERVICE = "inference.GRPCInferenceService"
GRACE_SECONDS = 5.0
CODES = {400: grpc.StatusCode.INVALID_ARGUMENT, 404: grpc.StatusCode.NOT_FOUND}
# Where each input datatype's typed values are (InferTensorContents).
CONTENTS = {
    "INT64": "int64_contents",
    "INT32": "int_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
}


class Servicer:  # pylint: disable=invalid-name  # the protocol names its methods
    """The service's six methods, on the served model."""

    def __init__(self, service: v2.Service) -> None:
        self._service = service

    async def ServerLive(self, _request: Any, _context: Any) -> pb.ServerLiveResponse:
        """Live while the process answers."""
        return pb.ServerLiveResponse(live=True)

    async def ServerReady(self, _request: Any, _context: Any) -> pb.ServerReadyResponse:
        """Ready once the model is loaded."""
        return pb.ServerReadyResponse(ready=self._service.state.current is not None)

    async def ModelReady(
        self, request: pb.ModelReadyRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ModelReadyResponse:
        """Whether the model (that version of it) is loaded."""
        try:
            v2.served(self._service.state, request.name, request.version or None)
        except v2.V2Error as error:
            if error.status != 503:  # noqa: PLR2004  (not loaded: not ready; else no such model)
                await _abort(context, error)
            return pb.ModelReadyResponse(ready=False)
        return pb.ModelReadyResponse(ready=True)

    async def ServerMetadata(self, _request: Any, _context: Any) -> pb.ServerMetadataResponse:
        """The server's name, version and extensions."""
        return pb.ServerMetadataResponse(**v2.server_metadata())

    async def ModelMetadata(
        self, request: pb.ModelMetadataRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ModelMetadataResponse:
        """The model's tensors."""
        try:
            model = v2.served(self._service.state, request.name, request.version or None)
        except v2.V2Error as error:
            await _abort(context, error)
        return pb.ModelMetadataResponse(**v2.model_metadata(model))

    async def ModelInfer(
        self, request: pb.ModelInferRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ModelInferResponse:
        """Predict the features tensor's animals."""
        where = (request.model_name, request.model_version or None)
        try:
            model = v2.served(self._service.state, *where)
            features = _features(request, self._service.max_animals)
            names = v2.requested([output.name for output in request.outputs])
            tensors = v2.outputs(model, predicted(features, model, self._service.metrics), names)
        except v2.V2Error as error:
            await _abort(context, error)
        answer = pb.ModelInferResponse(model_name=request.model_name, id=request.id)
        if model.version:
            answer.model_version = model.version
        for tensor in tensors:
            answer.outputs.add(name=tensor.name, datatype=tensor.datatype, shape=tensor.shape)
            answer.raw_output_contents.append(v2.raw(tensor))
        return answer


async def _abort(context: grpc.aio.ServicerContext[Any, Any], error: v2.V2Error) -> None:
    code = CODES.get(error.status, grpc.StatusCode.UNAVAILABLE)
    await context.abort(code, error.message)


def _features(request: pb.ModelInferRequest, max_animals: int) -> npt.NDArray[np.float32]:
    """The model's input from the request's one input tensor (typed or raw)."""
    if len(request.inputs) != 1:
        raise v2.V2Error(400, f"{len(request.inputs)} inputs: the model has one, {v2.INPUT!r}")
    (tensor,) = request.inputs
    rows = v2.check_input(tensor.name, tensor.datatype, list(tensor.shape), max_animals)
    if request.raw_input_contents:
        raw = request.raw_input_contents[0]
        dtype = v2.INPUT_TYPES[tensor.datatype]
        if len(raw) % dtype.itemsize:
            raise v2.V2Error(400, f"input {v2.INPUT!r}: {len(raw)} bytes of {tensor.datatype}")
        values = np.frombuffer(raw, dtype=dtype)
    else:
        values = np.array(getattr(tensor.contents, CONTENTS[tensor.datatype]))
    return v2.features_of(values, rows)


def _handlers(servicer: Servicer) -> grpc.GenericRpcHandler:
    """The service's methods, each with its request's parser and its answer's serialiser."""
    messages: dict[str, type[Message]] = {
        "ServerLive": pb.ServerLiveRequest,
        "ServerReady": pb.ServerReadyRequest,
        "ModelReady": pb.ModelReadyRequest,
        "ServerMetadata": pb.ServerMetadataRequest,
        "ModelMetadata": pb.ModelMetadataRequest,
        "ModelInfer": pb.ModelInferRequest,
    }
    methods = {
        name: grpc.unary_unary_rpc_method_handler(
            getattr(servicer, name),
            request_deserializer=message.FromString,
            response_serializer=_serialize,
        )
        for name, message in messages.items()
    }
    return grpc.method_handlers_generic_handler(SERVICE, methods)


def _serialize(message: Message) -> bytes:
    return message.SerializeToString()


async def start(host: str, port: int, service: v2.Service, shared: bool) -> grpc.aio.Server:
    """The gRPC server, listening on ``host:port`` (``shared``: with the other workers)."""
    server = grpc.aio.server(options=[("grpc.so_reuseport", int(shared))])
    server.add_generic_rpc_handlers([_handlers(Servicer(service))])
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        server.add_insecure_port(address)
    except RuntimeError as error:
        raise OSError(f"gRPC: cannot listen on {address}: {error}") from None
    await server.start()
    logger.info("Open Inference Protocol over gRPC on %s", address)
    return server
