"""The protocols with the ecosystem's own clients, against a real ``sampleproject serve``.

Triton's ``tritonclient`` over HTTP (in this process, with its defaults: binary tensors both
ways) and over gRPC (in a process of its own, see tests/clients/triton_grpc.py); MLflow's
``ScoringServerClient`` against ``/invocations``; and ``/invocations`` against a real
``mlflow models serve`` on the scikit-learn model of the same training run, request by
request: the same statuses and answers, except where this server refuses a value that
MLflow passes to the model unchecked.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from sampleproject import schema
from tests.conftest import BIN, ROOT, require
from tests.test_serve_real import Server, free_port, start, stop

pytestmark = pytest.mark.slow

FEATURES = list(schema.FEATURES)
AARDVARK = [1, 0, 0, 1, 0, 0, 1, 1, 1, 1, 0, 0, 4, 0, 0, 1]
CHICKEN = [0, 1, 1, 0, 1, 0, 0, 0, 1, 1, 0, 0, 2, 1, 1, 0]
ROWS = [AARDVARK, CHICKEN]


@pytest.fixture(name="served", scope="module")
def served_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, int]]:
    """``serve`` with the gRPC port on: the server and its gRPC port."""
    grpc_port = free_port()
    server = start(
        tmp_path_factory.mktemp("serve"), "--no-access-log", "--grpc-port", str(grpc_port)
    )
    yield server, grpc_port
    assert stop(server) == 0


def predicted(server: Server) -> list[dict[str, Any]]:
    """``/predict``'s answers for ROWS: the reference."""
    body = json.dumps([dict(zip(FEATURES, values, strict=True)) for values in ROWS]).encode()
    status, answer = server.post(body)
    assert status == 200
    records: list[dict[str, Any]] = json.loads(answer)
    return records


def test_tritons_http_client_with_its_defaults_gets_predicts_answers(
    served: tuple[Server, int],
) -> None:
    import tritonclient.http as httpclient
    from tritonclient.utils import InferenceServerException

    server, _ = served
    expected = predicted(server)
    client = httpclient.InferenceServerClient(f"127.0.0.1:{server.port}")
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready("zoo-classifier")
    assert client.get_model_metadata("zoo-classifier")["inputs"][0]["name"] == "features"
    for binary in (True, False):
        tensor = httpclient.InferInput("features", [2, 16], "INT64")
        tensor.set_data_from_numpy(np.array(ROWS, dtype=np.int64), binary_data=binary)
        outputs = (
            None
            if binary
            else [
                httpclient.InferRequestedOutput(name, binary_data=False)
                for name in ("class_code", "class_name", "probabilities")
            ]
        )
        result = client.infer("zoo-classifier", [tensor], outputs=outputs, request_id="h1")
        assert result.get_response()["id"] == "h1"
        assert result.as_numpy("class_code").tolist() == [p["class_code"] for p in expected]
        names = [
            name.decode() if isinstance(name, bytes) else name
            for name in result.as_numpy("class_name").tolist()
        ]
        assert names == [p["class_name"] for p in expected]
        probabilities = result.as_numpy("probabilities")
        assert probabilities.shape == (2, 7)
        assert np.allclose(
            probabilities, [list(p["probabilities"].values()) for p in expected], atol=1e-6
        )
    bad = httpclient.InferInput("features", [1, 16], "INT64")
    bad.set_data_from_numpy(np.full((1, 16), 7, dtype=np.int64))
    with pytest.raises(InferenceServerException, match="hair = 7 is not one of 0, 1"):
        client.infer("zoo-classifier", [bad])
    client.close()


def test_tritons_grpc_client_gets_predicts_answers(served: tuple[Server, int]) -> None:
    server, grpc_port = served
    expected = predicted(server)
    result = subprocess.run(
        [sys.executable, "-m", "tests.clients.triton_grpc", str(grpc_port), json.dumps(ROWS)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert (report["live"], report["ready"], report["server"], report["id"]) == (
        True,
        True,
        "sampleproject",
        "g1",
    )
    assert report["inputs"] == [{"name": "features", "datatype": "INT64", "shape": ["-1", "16"]}]
    assert report["class_code"] == [p["class_code"] for p in expected]
    assert report["class_name"] == [p["class_name"] for p in expected]
    assert np.allclose(
        report["probabilities"], [list(p["probabilities"].values()) for p in expected], atol=1e-6
    )
    assert report["error"][0] == "StatusCode.INVALID_ARGUMENT"
    assert "hair = 7 is not one of 0, 1" in report["error"][1]


def test_mlflows_scoring_client_gets_the_class_codes(served: tuple[Server, int]) -> None:
    import pandas as pd
    from mlflow.pyfunc.scoring_server.client import ScoringServerClient

    server, _ = served
    # MLflow ships no type information for its client.
    client = ScoringServerClient("127.0.0.1", server.port)  # type: ignore[no-untyped-call]
    client.wait_server_ready(timeout=30)  # type: ignore[no-untyped-call]
    answer = client.invoke(pd.DataFrame(ROWS, columns=FEATURES))
    codes = answer.get_predictions(predictions_format="ndarray").tolist()
    assert codes == [p["class_code"] for p in predicted(server)]


# --- /invocations against a real `mlflow models serve` -----------------------------------

A = dict(zip(FEATURES, AARDVARK, strict=True))
B = dict(zip(FEATURES, CHICKEN, strict=True))
CSV = (",".join(FEATURES) + "\n" + "\n".join(",".join(map(str, r)) for r in ROWS) + "\n").encode()
JSON = "application/json"
# name: (content type, body). MLflow's own answers were recorded once by hand for these, then
# checked here against a real `mlflow models serve` on every run.
CASES: dict[str, tuple[str, Any]] = {
    "split": (JSON, {"dataframe_split": {"columns": FEATURES, "data": ROWS}}),
    "split-index": (
        JSON,
        {"dataframe_split": {"index": [5, 6], "columns": FEATURES, "data": ROWS}},
    ),
    "records": (JSON, {"dataframe_records": [A, B]}),
    "instances": (JSON, {"instances": [A, B]}),
    "instances-columns": (JSON, {"instances": {k: [A[k], B[k]] for k in FEATURES}}),
    "inputs": (JSON, {"inputs": [A, B]}),
    "inputs-columns": (JSON, {"inputs": {k: [A[k], B[k]] for k in FEATURES}}),
    "params": (JSON, {"dataframe_records": [A], "params": {"x": 1}}),
    "extra-column": (JSON, {"dataframe_records": [A | {"zebra": 1}]}),
    "whole-float": (JSON, {"dataframe_records": [A | {"legs": 4.0}]}),
    "boolean": (JSON, {"dataframe_records": [A | {"hair": True}]}),
    "text": (JSON, {"dataframe_records": [A | {"hair": "1"}]}),
    "missing-column": (JSON, {"dataframe_records": [{k: v for k, v in A.items() if k != "hair"}]}),
    "rows-as-lists": (JSON, {"inputs": [AARDVARK]}),
    "two-formats": (JSON, {"dataframe_records": [A], "inputs": [A]}),
    "no-format": (JSON, {"foo": 1}),
    "a-list": (JSON, [A]),
    "no-rows": (JSON, {"dataframe_records": []}),
    "bad-json": (JSON, b"{"),
    "csv": ("text/csv", CSV),
    "csv-utf8": ("text/csv; charset=utf-8", CSV),
    "csv-latin1": ("text/csv; charset=latin-1", CSV),
    "csv-no-header": ("text/csv", ",".join(map(str, AARDVARK)).encode() + b"\n"),
    "csv-not-numbers": ("text/csv", b"hair,legs\nx,4\n"),
    "plain-text": ("text/plain", b"x"),
}
# MLflow's schema check passes these to the model (legs 3 and 4.5 were never seen in
# training); this server refuses them with MLflow's error body.
STRICTER = {
    "legs-3": (JSON, {"dataframe_records": [A | {"legs": 3}]}),
    "legs-4.5": (JSON, {"dataframe_records": [A | {"legs": 4.5}]}),
}


def ask(base: str, content_type: str, body: Any) -> tuple[int, str, Any]:
    """POST /invocations: status, media type, and the body (JSON decoded when it is JSON)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 (loopback)
        f"{base}/invocations", data=data, headers={"Content-Type": content_type}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            status, media, text = (
                response.status,
                response.headers.get_content_type(),
                response.read(),
            )
    except urllib.error.HTTPError as error:
        status, media, text = error.code, error.headers.get_content_type(), error.read()
    return status, media, json.loads(text) if media == JSON else text.decode()


def comparable(answer: tuple[int, str, Any]) -> tuple[int, str, Any]:
    """What must be the same: status, media type, and the predictions or the error code."""
    status, media, body = answer
    if media != JSON:
        return status, media, None
    return status, media, body if status == 200 else body["error_code"]


@pytest.fixture(name="mlflow_serve", scope="module")
def mlflow_serve_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``mlflow models serve`` on the newest registered version's run: its base URL."""
    from bench.bench_serving import latest_model_uri

    tracking = f"sqlite:///{ROOT / 'mlruns' / 'mlflow.db'}"
    require((ROOT / "mlruns" / "mlflow.db").exists(), "no MLflow store: run `make train`")
    port = free_port()
    log = tmp_path_factory.mktemp("mlflow") / "serve.log"
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": tracking,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
    }
    with log.open("wb") as out:
        command = ["models", "serve", "-m", latest_model_uri(tracking), "--env-manager", "local"]
        process = subprocess.Popen(  # pylint: disable=consider-using-with
            [str(BIN / "mlflow"), *command, "-h", "127.0.0.1", "-p", str(port), "--workers", "1"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    try:
        from bench.servers import wait_until_up

        wait_until_up(f"http://127.0.0.1:{port}/ping", process, 180, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


@pytest.mark.parametrize("case", CASES)
def test_invocations_answers_as_mlflow_models_serve_does(
    served: tuple[Server, int], mlflow_serve: str, case: str
) -> None:
    server, _ = served
    content_type, body = CASES[case]
    theirs = comparable(ask(mlflow_serve, content_type, body))
    ours = comparable(ask(server.url(""), content_type, body))
    assert ours == theirs


@pytest.mark.parametrize("case", STRICTER)
def test_values_mlflow_lets_through_unchecked_are_refused_with_its_error_body(
    served: tuple[Server, int], mlflow_serve: str, case: str
) -> None:
    server, _ = served
    content_type, body = STRICTER[case]
    assert ask(mlflow_serve, content_type, body)[0] == 200
    assert comparable(ask(server.url(""), content_type, body)) == (
        400,
        JSON,
        "INVALID_PARAMETER_VALUE",
    )


def test_ping_answers_as_mlflows(served: tuple[Server, int], mlflow_serve: str) -> None:
    server, _ = served
    with urllib.request.urlopen(f"{mlflow_serve}/ping", timeout=10) as theirs:  # noqa: S310
        expected = (theirs.status, theirs.headers.get_content_type(), theirs.read())
    status, body = server.get("/ping")
    assert (status, body) == (expected[0], expected[2])
