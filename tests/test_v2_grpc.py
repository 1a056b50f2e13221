"""The Open Inference Protocol over gRPC, in-process: the generated stubs, every RPC, the errors.

The stubs are those committed: regenerating them from the .proto with the pinned grpcio-tools
gives the same bytes. (Triton's own gRPC client is the slow test's, in a process of its own:
its messages carry the same names, which protobuf allows once per process.)
"""

from __future__ import annotations

import importlib.util
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
from fastapi.testclient import TestClient
from google.protobuf.message import Message

from sampleproject.errors import UsageError, install_extra
from sampleproject.serving import protocols
from sampleproject.serving.app import create_app
from sampleproject.serving.settings import ServeSettings
from sampleproject.serving.v2_grpc_stubs import inference_pb2 as pb
from tests.test_serve import AARDVARK, CHICKEN, shipped, wait_ready
from tests.test_v2 import row
from tools.generate_grpc_stubs import STUBS, generate

SERVICE = "/inference.GRPCInferenceService"


def test_regenerating_the_stubs_from_the_proto_gives_the_committed_bytes(tmp_path: Path) -> None:
    generate(tmp_path)
    for name in ("inference_pb2.py", "inference_pb2.pyi"):
        assert (tmp_path / name).read_bytes() == (STUBS / name).read_bytes(), name


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(name="channel", scope="module")
def channel_fixture() -> Iterator[grpc.Channel]:
    """A channel to the application's gRPC server (shipped model, at most 5 animals)."""
    port = free_port()
    app = create_app(ServeSettings(model_dir=shipped(), max_animals=5, grpc_port=port))
    with TestClient(app) as client, grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        wait_ready(client)
        yield channel


def serialize(message: Message) -> bytes:
    """A message's bytes."""
    return message.SerializeToString()


def call(channel: grpc.Channel, method: str, request: Message, answer: type[Message]) -> Any:
    """One unary call of the service."""
    stub = channel.unary_unary(
        f"{SERVICE}/{method}",
        request_serializer=serialize,
        response_deserializer=answer.FromString,
    )
    return stub(request, timeout=10)


def infer(channel: grpc.Channel, request: pb.ModelInferRequest) -> pb.ModelInferResponse:
    """ModelInfer."""
    answer: pb.ModelInferResponse = call(channel, "ModelInfer", request, pb.ModelInferResponse)
    return answer


def raw_request(rows: list[list[int]], datatype: str = "INT64") -> pb.ModelInferRequest:
    """An infer request with the features as raw bytes."""
    request = pb.ModelInferRequest(model_name="zoo-classifier", id="1")
    request.inputs.add(name="features", datatype=datatype, shape=[len(rows), 16])
    dtype = {"INT64": "<i8", "INT32": "<i4", "FP32": "<f4", "FP64": "<f8"}[datatype]
    request.raw_input_contents.append(np.array(rows, dtype=dtype).tobytes())
    return request


def test_health_and_metadata_answer_as_over_rest(channel: grpc.Channel) -> None:
    assert call(channel, "ServerLive", pb.ServerLiveRequest(), pb.ServerLiveResponse).live
    assert call(channel, "ServerReady", pb.ServerReadyRequest(), pb.ServerReadyResponse).ready
    ready = call(
        channel, "ModelReady", pb.ModelReadyRequest(name="zoo-classifier"), pb.ModelReadyResponse
    )
    assert ready.ready
    server = call(channel, "ServerMetadata", pb.ServerMetadataRequest(), pb.ServerMetadataResponse)
    assert server.name == "sampleproject"
    metadata = call(
        channel,
        "ModelMetadata",
        pb.ModelMetadataRequest(name="zoo-classifier"),
        pb.ModelMetadataResponse,
    )
    assert [(t.name, t.datatype, list(t.shape)) for t in metadata.inputs] == [
        ("features", "INT64", [-1, 16])
    ]
    assert [t.name for t in metadata.outputs] == ["class_code", "class_name", "probabilities"]


def test_infer_with_raw_or_typed_contents_answers_raw_outputs(channel: grpc.Channel) -> None:
    rows = [row(AARDVARK), row(CHICKEN)]
    answer = infer(channel, raw_request(rows))
    assert (answer.model_name, answer.id) == ("zoo-classifier", "1")
    assert [output.name for output in answer.outputs] == [
        "class_code",
        "class_name",
        "probabilities",
    ]
    codes = np.frombuffer(answer.raw_output_contents[0], "<i8").tolist()
    assert codes == [1, 2]
    assert answer.raw_output_contents[1] == b"\x06\0\0\0mammal\x04\0\0\0bird"
    probabilities = np.frombuffer(answer.raw_output_contents[2], "<f4").reshape(2, 7)
    assert np.allclose(probabilities.sum(axis=1), 1, atol=1e-5)
    for datatype, field in [
        ("INT32", "int_contents"),
        ("FP32", "fp32_contents"),
        ("FP64", "fp64_contents"),
    ]:
        typed = pb.ModelInferRequest(model_name="zoo-classifier")
        tensor = typed.inputs.add(name="features", datatype=datatype, shape=[2, 16])
        getattr(tensor.contents, field).extend(value for values in rows for value in values)
        assert infer(channel, typed).raw_output_contents == answer.raw_output_contents
        assert (
            infer(channel, raw_request(rows, datatype)).raw_output_contents
            == answer.raw_output_contents
        )


def test_outputs_asked_for_are_the_ones_answered(channel: grpc.Channel) -> None:
    request = raw_request([row(CHICKEN)])
    request.outputs.add(name="class_name")
    answer = infer(channel, request)
    assert [output.name for output in answer.outputs] == ["class_name"]
    assert answer.raw_output_contents == [b"\x04\0\0\0bird"]


@pytest.mark.parametrize(
    ("change", "code", "message"),
    [
        ({"model_name": "zoo"}, grpc.StatusCode.NOT_FOUND, "unknown model 'zoo'"),
        ({"model_version": "4"}, grpc.StatusCode.NOT_FOUND, "no version '4'"),
        ({"datatype": "BOOL"}, grpc.StatusCode.INVALID_ARGUMENT, "datatype BOOL not accepted"),
        ({"shape": [1, 17]}, grpc.StatusCode.INVALID_ARGUMENT, "expected [N, 16]"),
        ({"value": 3}, grpc.StatusCode.INVALID_ARGUMENT, "hair = 3 is not one of 0, 1"),
        ({"raw": b"\0" * 7}, grpc.StatusCode.INVALID_ARGUMENT, "7 bytes of INT64"),
        ({"inputs": 2}, grpc.StatusCode.INVALID_ARGUMENT, "2 inputs: the model has one"),
    ],
)
def test_a_bad_request_is_a_grpc_error_with_the_rest_message(
    channel: grpc.Channel, change: dict[str, Any], code: grpc.StatusCode, message: str
) -> None:
    request = raw_request([row(AARDVARK)])
    if "value" in change:
        request.raw_input_contents[0] = np.array(
            [[change["value"], *row(AARDVARK)[1:]]], "<i8"
        ).tobytes()
    if "raw" in change:
        request.raw_input_contents[0] = change["raw"]
    if "inputs" in change:
        request.inputs.add(name="features", datatype="INT64", shape=[1, 16])
    for field in ("model_name", "model_version"):
        if field in change:
            setattr(request, field, change[field])
    if "datatype" in change:
        request.inputs[0].datatype = change["datatype"]
    if "shape" in change:
        request.inputs[0].ClearField("shape")
        request.inputs[0].shape.extend(change["shape"])
    with pytest.raises(grpc.RpcError) as raised:
        infer(channel, request)
    assert raised.value.code() == code
    assert message in (raised.value.details() or "")


def test_model_ready_of_an_unknown_model_is_not_found(channel: grpc.Channel) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        call(channel, "ModelReady", pb.ModelReadyRequest(name="zoo"), pb.ModelReadyResponse)
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


def test_a_grpc_port_that_cannot_serve_is_a_usage_error_before_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    protocols.check(ServeSettings())  # off: nothing to check
    with pytest.raises(UsageError, match="that is --port"):
        protocols.check(ServeSettings(port=9000, grpc_port=9000))
    monkeypatch.setattr(importlib.util, "find_spec", lambda _name: None)
    with pytest.raises(UsageError) as refused:
        protocols.check(ServeSettings(grpc_port=9001))
    assert str(refused.value) == f"--grpc-port needs the grpc extra: {install_extra('grpc')}"
