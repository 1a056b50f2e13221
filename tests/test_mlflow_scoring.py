"""MLflow's scoring protocol in-process: every request format, CSV, /ping, and MLflow's errors.

The slow suite compares these answers with a real ``mlflow models serve``'s
(tests/test_protocol_clients.py); here each format is checked against ``/predict``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sampleproject import schema
from sampleproject.serving.app import create_app
from sampleproject.serving.settings import ServeSettings
from tests.test_serve import AARDVARK, CHICKEN, shipped, wait_ready

FEATURES = list(schema.FEATURES)


def full(animal: dict[str, int]) -> dict[str, int]:
    """Every feature of ``animal`` (MLflow's signature requires them all)."""
    return {name: animal.get(name, 0) for name in FEATURES}


ROWS = [full(AARDVARK), full(CHICKEN)]
VALUES = [list(r.values()) for r in ROWS]


@pytest.fixture(name="client", scope="module")
def client_fixture() -> Iterator[TestClient]:
    """The application on the shipped model, at most 5 animals a request."""
    with TestClient(create_app(ServeSettings(model_dir=shipped(), max_animals=5))) as client:
        wait_ready(client)
        yield client


def invoke(client: TestClient, body: Any, content_type: str = "application/json") -> Any:
    """POST /invocations: the response."""
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post("/invocations", content=content, headers={"Content-Type": content_type})


def csv_text(rows: list[dict[str, int]], columns: list[str] = FEATURES) -> bytes:
    """``rows`` as CSV with a header row."""
    lines = [",".join(columns), *(",".join(str(r.get(c, 0)) for c in columns) for r in rows)]
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ({"dataframe_split": {"columns": FEATURES, "data": VALUES}}, None),
        ({"dataframe_split": {"columns": FEATURES[::-1], "data": [v[::-1] for v in VALUES]}}, None),
        ({"dataframe_records": ROWS}, None),
        ({"instances": ROWS}, None),
        ({"inputs": ROWS, "params": {"ignored": 1}}, None),
        ({"inputs": {name: [r[name] for r in ROWS] for name in FEATURES}}, None),
        ({"instances": {name: [r[name] for r in ROWS] for name in FEATURES}}, None),
        ({"dataframe_records": [r | {"animal_name": "x"} for r in ROWS]}, None),
        ({"dataframe_records": [{k: str(v) for k, v in r.items()} for r in ROWS]}, None),
        ({"dataframe_records": [{k: float(v) for k, v in r.items()} for r in ROWS]}, None),
        (csv_text(ROWS), "text/csv"),
        (csv_text(ROWS, ["animal_name", *FEATURES]), "text/csv; charset=utf-8"),
    ],
    ids=[
        "split", "split-reordered", "records", "instances", "inputs+params", "inputs-columns",
        "instances-columns", "extra-column", "text-values", "float-values", "csv", "csv-extra",
    ],
)  # fmt: skip
def test_every_format_predicts_what_predict_does(
    client: TestClient, body: Any, content_type: str | None
) -> None:
    response = invoke(client, body, content_type or "application/json")
    assert response.status_code == 200, response.text
    expected = [p["class_code"] for p in client.post("/predict", json=ROWS).json()]
    assert response.json() == {"predictions": expected} == {"predictions": [1, 2]}


def test_true_and_false_are_flags_as_mlflow_reads_them(client: TestClient) -> None:
    records = [{k: bool(v) if k != "legs" else v for k, v in r.items()} for r in ROWS]
    assert invoke(client, {"dataframe_records": records}).json() == {"predictions": [1, 2]}


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (b"{", "BAD_REQUEST", "Ensure that input is valid JSON"),
        (b"[]", "BAD_REQUEST", "Received a list"),
        ({"foo": 1}, "BAD_REQUEST", "exactly one of the input fields"),
        ({"inputs": ROWS, "instances": ROWS}, "BAD_REQUEST", "exactly one of the input fields"),
        ({"dataframe_records": [{"legs": 4}]}, "INVALID_PARAMETER_VALUE", "missing inputs ['hair'"),
        (
            {"dataframe_records": [ROWS[0] | {"legs": 3}]},
            "INVALID_PARAMETER_VALUE",
            "legs = 3 is not",
        ),
        (
            {"dataframe_records": [ROWS[0] | {"hair": 0.5}]},
            "INVALID_PARAMETER_VALUE",
            "not a whole",
        ),
        ({"dataframe_records": [ROWS[0] | {"hair": "yes"}]}, "INVALID_PARAMETER_VALUE", "numbers"),
        ({"dataframe_records": [ROWS[0] | {"hair": None}]}, "INVALID_PARAMETER_VALUE", "numbers"),
        ({"dataframe_records": []}, "INVALID_PARAMETER_VALUE", "0 rows: expected 1 to 5"),
        ({"dataframe_records": ROWS * 3}, "INVALID_PARAMETER_VALUE", "6 rows: expected 1 to 5"),
        ({"dataframe_records": "x"}, "INVALID_PARAMETER_VALUE", "list of records"),
        ({"dataframe_split": {"data": []}}, "INVALID_PARAMETER_VALUE", "'columns' and 'data'"),
        (
            {"dataframe_split": {"columns": FEATURES, "data": [[1]]}},
            "INVALID_PARAMETER_VALUE",
            "16",
        ),
        ({"dataframe_split": {"columns": FEATURES, "data": 1}}, "INVALID_PARAMETER_VALUE", "array"),
        ({"inputs": {"hair": [1]}}, "INVALID_PARAMETER_VALUE", "missing inputs ['feathers'"),
        ({"inputs": dict.fromkeys(FEATURES, 1)}, "INVALID_PARAMETER_VALUE", "one list of values"),
        ({"inputs": [list(ROWS[0].values())]}, "INVALID_PARAMETER_VALUE", "list of records"),
    ],
)
def test_a_bad_request_is_400_with_mlflows_error_body(
    client: TestClient, body: Any, code: str, message: str
) -> None:
    response = invoke(client, body)
    assert response.status_code == 400
    assert response.json()["error_code"] == code
    assert message in response.json()["message"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"hair,legs\n1,4\n", "missing inputs"),
        (b"", "no header row"),
        (csv_text(ROWS)[:-2] + b"x\n", "Failed to parse the input as CSV"),
        (b"\xff\xfe", "Failed to parse the input as CSV"),
        # Values that are no numbers are found before missing columns, as MLflow finds them.
        (b"hair,legs\nx,4\n", "Failed to parse the input as CSV"),
    ],
)
def test_a_bad_csv_body_is_400(client: TestClient, body: bytes, message: str) -> None:
    response = invoke(client, body, "text/csv")
    assert response.status_code == 400
    assert message in response.json()["message"]


@pytest.mark.parametrize(
    ("content_type", "message"),
    [
        ("text/plain", "only supports the following content types"),
        ("text/csv; charset=latin-1", "only supports UTF-8"),
        ("application/json; boundary=x", "Unrecognized content type parameters"),
    ],
)
def test_other_content_types_are_415_in_plain_text_as_mlflow_says(
    client: TestClient, content_type: str, message: str
) -> None:
    response = invoke(client, {"inputs": ROWS}, content_type)
    assert response.status_code == 415
    assert response.headers["content-type"].startswith("text/plain")
    assert message in response.text


def test_ping_answers_a_newline_once_the_model_is_loaded(client: TestClient) -> None:
    response = client.get("/ping")
    assert (response.status_code, response.text) == (200, "\n")


def test_invocations_count_their_animals_in_the_metrics(client: TestClient) -> None:
    before = client.get("/metrics").text
    invoke(client, {"dataframe_records": ROWS})
    after = client.get("/metrics").text
    assert 'path="/invocations",status="200"' in after
    assert before != after
