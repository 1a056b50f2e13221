"""The Open Inference Protocol (V2) over REST, in-process: metadata, health, infer and its errors.

The answers are pinned to ``/predict``'s (same classes and probabilities for the data set's
animals), and the direct path to the FastAPI route (a chunked body takes the route).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from sampleproject import schema
from sampleproject.errors import SampleProjectError
from sampleproject.inference.predictor import LoadedModel, load_predictor
from sampleproject.serving.app import create_app
from sampleproject.serving.settings import ServeSettings
from tests.conftest import ROOT
from tests.test_serve import AARDVARK, CHICKEN, shipped, wait_ready

MODEL = "/v2/models/zoo-classifier"
INFER = f"{MODEL}/infer"


def row(animal: dict[str, int]) -> list[int]:
    """An animal's features in model order (flags it does not name are 0)."""
    return [animal.get(name, 0) for name in schema.FEATURES]


def request(
    rows: Sequence[Sequence[float]], datatype: str = "INT64", **extra: Any
) -> dict[str, Any]:
    """An infer request for ``rows``, flat."""
    flat = [value for values in rows for value in values]
    tensor = {"name": "features", "shape": [len(rows), 16], "datatype": datatype, "data": flat}
    return {"inputs": [tensor], **extra}


@pytest.fixture(name="client", scope="module")
def client_fixture() -> Iterator[TestClient]:
    """The application on the shipped model, at most 5 animals a request."""
    with TestClient(create_app(ServeSettings(model_dir=shipped(), max_animals=5))) as client:
        wait_ready(client)
        yield client


def outputs(answer: dict[str, Any]) -> dict[str, Any]:
    """The answer's outputs by name: their data."""
    return {output["name"]: output["data"] for output in answer["outputs"]}


def test_the_server_and_model_metadata_describe_the_features_tensor_and_three_outputs(
    client: TestClient,
) -> None:
    server = client.get("/v2").json()
    assert server["name"] == "sampleproject"
    assert "binary_tensor_data" in server["extensions"]
    metadata = client.get(MODEL).json()
    assert metadata["name"] == "zoo-classifier"
    assert "versions" not in metadata  # a model from a folder has no registry version
    assert metadata["inputs"] == [{"name": "features", "datatype": "INT64", "shape": [-1, 16]}]
    assert [(o["name"], o["datatype"], o["shape"]) for o in metadata["outputs"]] == [
        ("class_code", "INT64", [-1]),
        ("class_name", "BYTES", [-1]),
        ("probabilities", "FP32", [-1, 7]),
    ]


def test_live_and_ready_answer_200_with_the_protocols_bodies(client: TestClient) -> None:
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
    assert client.get(f"{MODEL}/ready").json() == {"name": "zoo-classifier", "ready": True}


def test_an_unknown_model_or_version_is_404_with_a_v2_error(client: TestClient) -> None:
    for path in ("/v2/models/zoo", f"{MODEL}/versions/1", "/v2/models/zoo/ready"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert list(response.json()) == ["error"]
    response = client.post("/v2/models/zoo/infer", json=request([row(AARDVARK)]))
    assert response.status_code == 404
    assert "zoo-classifier" in response.json()["error"]


def test_infer_answers_as_predict_does_for_every_animal_of_the_data_set(
    client: TestClient,
) -> None:
    animals = zoo_animals()
    for start in range(0, len(animals), 5):
        batch = animals[start : start + 5]
        answer = client.post(INFER, json=request([row(a) for a in batch], id="7")).json()
        assert answer["model_name"] == "zoo-classifier"
        assert answer["id"] == "7"
        predicted = client.post("/predict", json=batch).json()
        got = outputs(answer)
        assert got["class_code"] == [p["class_code"] for p in predicted]
        assert got["class_name"] == [p["class_name"] for p in predicted]
        assert got["probabilities"] == [
            value for p in predicted for value in p["probabilities"].values()
        ]


def zoo_animals() -> list[dict[str, int]]:
    """The data set's animals: their features."""
    lines = (ROOT / "sampleproject" / "data" / "zoo.data").read_text(encoding="utf-8").split()
    rows = [line.split(",")[1 : 1 + len(schema.FEATURES)] for line in lines]
    return [dict(zip(schema.FEATURES, map(int, values), strict=True)) for values in rows]


def test_rows_floats_and_int32_give_the_same_answer_as_a_flat_int64_tensor(
    client: TestClient,
) -> None:
    rows = [row(AARDVARK), row(CHICKEN)]
    expected = outputs(client.post(INFER, json=request(rows)).json())
    nested = request(rows)
    nested["inputs"][0]["data"] = rows
    for body in (nested, request(rows, "FP32"), request(rows, "INT32"), request(rows, "FP64")):
        assert outputs(client.post(INFER, json=body).json()) == expected
    floats = request([[float(value) for value in values] for values in rows], "FP32")
    assert outputs(client.post(INFER, json=floats).json()) == expected


def test_outputs_can_be_chosen_and_are_answered_in_the_order_asked(client: TestClient) -> None:
    body = request([row(AARDVARK)], outputs=[{"name": "class_name"}, {"name": "class_code"}])
    answer = client.post(INFER, json=body).json()
    assert [output["name"] for output in answer["outputs"]] == ["class_name", "class_code"]
    assert outputs(answer) == {"class_name": ["mammal"], "class_code": [1]}
    unknown = client.post(INFER, json=request([row(AARDVARK)], outputs=[{"name": "label"}]))
    assert unknown.status_code == 400
    assert "unknown output 'label'" in unknown.json()["error"]


def binary_request(rows: list[list[int]]) -> tuple[bytes, dict[str, str]]:
    """A request whose tensor's bytes follow the JSON (Triton's binary extension), every output
    asked for in binary."""
    raw = np.array(rows, dtype="<i8").tobytes()
    header = {
        "inputs": [
            {
                "name": "features",
                "shape": [len(rows), 16],
                "datatype": "INT64",
                "parameters": {"binary_data_size": len(raw)},
            }
        ],
        "parameters": {"binary_data_output": True},
    }
    text = json.dumps(header).encode()
    return text + raw, {"Inference-Header-Content-Length": str(len(text))}


def test_binary_tensors_in_and_out_carry_the_same_values_as_json(client: TestClient) -> None:
    rows = [row(AARDVARK), row(CHICKEN)]
    expected = outputs(client.post(INFER, json=request(rows)).json())
    body, headers = binary_request(rows)
    response = client.post(INFER, content=body, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/octet-stream"
    length = int(response.headers["inference-header-content-length"])
    answer = json.loads(response.content[:length])
    sizes = [output["parameters"]["binary_data_size"] for output in answer["outputs"]]
    data = response.content[length:]
    assert len(data) == sum(sizes)
    codes = np.frombuffer(data[: sizes[0]], "<i8").tolist()
    names = data[sizes[0] : sizes[0] + sizes[1]]
    probabilities = np.frombuffer(data[sizes[0] + sizes[1] :], "<f4")
    assert codes == expected["class_code"]
    assert names == b"".join(struct.pack("<I", len(n)) + n.encode() for n in ["mammal", "bird"])
    assert np.allclose(probabilities, expected["probabilities"], atol=1e-6)


def test_one_output_in_binary_leaves_the_others_in_json(client: TestClient) -> None:
    chosen = [{"name": "class_code", "parameters": {"binary_data": True}}, {"name": "class_name"}]
    response = client.post(INFER, json=request([row(AARDVARK)], outputs=chosen))
    length = int(response.headers["inference-header-content-length"])
    answer = json.loads(response.content[:length])
    assert answer["outputs"][1]["data"] == ["mammal"]
    assert np.frombuffer(response.content[length:], "<i8").tolist() == [1]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": "input"}, "unexpected input 'input'"),
        ({"datatype": "BOOL"}, "inputs[0].datatype: Input should be 'INT64'"),
        ({"shape": [1, 15]}, "shape [1, 15], expected [N, 16]"),
        ({"shape": [6, 16]}, "6 animals, expected 1 to 5"),
        ({"shape": [0, 16]}, "0 animals, expected 1 to 5"),
        ({"shape": [2, 16]}, "16 values for shape [2, 16]"),
        ({"data": [*row(AARDVARK)[:12], 3, 0, 0, 1]}, "legs = 3 is not one of 0, 2, 4, 5, 6, 8"),
        ({"data": [2, *row(AARDVARK)[1:]]}, "animal 0, hair = 2 is not one of 0, 1 (at [0, 0])"),
        ({"data": [0.5, *row(AARDVARK)[1:]]}, "hair = 0.5 is not a whole number"),
        ({"data": [True, *row(AARDVARK)[1:]]}, "inputs[0].data[0]: Input should be a valid number"),
        ({"data": [row(AARDVARK), [1]]}, "rows are not all the same length"),
        ({"data": None}, "no data and no binary_data_size"),
    ],
)
def test_a_bad_tensor_is_400_with_one_line_saying_what_is_wrong(
    client: TestClient, change: dict[str, Any], message: str
) -> None:
    body = request([row(AARDVARK)])
    body["inputs"][0] |= change
    response = client.post(INFER, json=body)
    assert response.status_code == 400
    assert list(response.json()) == ["error"]
    assert message in response.json()["error"]


@pytest.mark.parametrize(
    ("body", "headers", "message"),
    [
        (b"{", {}, "invalid JSON"),
        (b"[]", {}, "body: Input should be an object"),
        (b'{"inputs": []}', {}, "inputs: List should have at least 1 item"),
        (b"{}", {"Inference-Header-Content-Length": "x"}, "is not a length in the body"),
        (b"{}", {"Inference-Header-Content-Length": "9"}, "is not a length in the body"),
    ],
)
def test_a_bad_body_is_400_with_a_v2_error(
    client: TestClient, body: bytes, headers: dict[str, str], message: str
) -> None:
    response = client.post(INFER, content=body, headers=headers)
    assert (response.status_code, list(response.json())) == (400, ["error"])
    assert message in response.json()["error"]


def test_binary_sizes_that_do_not_match_the_bytes_are_400(client: TestClient) -> None:
    body, headers = binary_request([row(AARDVARK)])
    response = client.post(INFER, content=body + b"\0", headers=headers)
    assert "but 129 bytes follow" in response.json()["error"]
    header = json.loads(body[: int(headers["Inference-Header-Content-Length"])])
    header["inputs"][0]["datatype"] = "FP32"
    header["inputs"][0]["parameters"]["binary_data_size"] = 130
    text = json.dumps(header).encode()
    odd = text + body[-128:] + b"\0\0"
    response = client.post(
        INFER, content=odd, headers={"Inference-Header-Content-Length": str(len(text))}
    )
    assert "130 bytes is no whole number of FP32" in response.json()["error"]


def test_a_chunked_body_takes_the_fastapi_route_and_gets_the_same_answers(
    client: TestClient,
) -> None:
    good, bad = request([row(AARDVARK)]), request([row(AARDVARK)], outputs=[{"name": "x"}])
    for body in (good, bad):
        direct = client.post(INFER, json=body)
        routed = client.post(INFER, content=iter([json.dumps(body).encode()]))
        assert "content-length" not in routed.request.headers
        assert (routed.status_code, routed.json()) == (direct.status_code, direct.json())


def test_infer_requests_are_counted_in_the_metrics_by_route(client: TestClient) -> None:
    client.post(INFER, json=request([row(AARDVARK)]))
    client.post(f"{MODEL}/versions/9/infer", json=request([row(AARDVARK)]))
    text = client.get("/metrics").text
    assert 'path="/v2/models/{model_name}/infer",status="200"' in text
    assert 'path="/v2/models/{model_name}/versions/{model_version}/infer",status="404"' in text


def test_a_registry_version_is_named_and_can_be_asked_for_by_its_number() -> None:
    predictor = load_predictor(shipped())

    def loader(_current: LoadedModel | None) -> LoadedModel:
        return LoadedModel(predictor, "models:/zoo-classifier/3", "3")

    app = create_app(ServeSettings(model_dir=shipped()), loader=loader)
    with TestClient(app) as client:
        wait_ready(client)
        assert client.get(MODEL).json()["versions"] == ["3"]
        answer = client.post(f"{MODEL}/versions/3/infer", json=request([row(CHICKEN)])).json()
        assert (answer["model_version"], outputs(answer)["class_name"]) == ("3", ["bird"])
        assert client.get(f"{MODEL}/versions/3/ready").json()["ready"] is True
        wrong = client.get(f"{MODEL}/versions/2")
        assert wrong.status_code == 404
        assert "it serves version 3" in wrong.json()["error"]


def test_before_the_model_loads_ready_and_infer_answer_503() -> None:
    def loader(_current: LoadedModel | None) -> LoadedModel:
        raise SampleProjectError("no model here")

    with TestClient(create_app(ServeSettings(), loader=loader)) as client:
        assert client.get("/v2/health/live").status_code == 200
        assert client.get("/v2/health/ready").status_code == 503
        assert client.get(f"{MODEL}/ready").json() == {"name": "zoo-classifier", "ready": False}
        assert client.get(MODEL).status_code == 503
        response = client.post(INFER, json=request([row(AARDVARK)]))
        assert response.status_code == 503
        assert "not loaded yet" in response.json()["error"]
