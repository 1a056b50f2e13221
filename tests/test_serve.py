"""The HTTP API in-process (FastAPI's TestClient): every endpoint and every bad payload."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from sampleproject import cli, schema
from sampleproject.errors import SampleProjectError
from sampleproject.inference.model import MODEL_DIR_ENV, default_model_dir
from sampleproject.inference.predictor import LoadedModel, Predictor, load_predictor
from sampleproject.serving import app as app_module
from sampleproject.serving.app import create_app
from sampleproject.serving.settings import ServeSettings
from tests.conftest import require

AARDVARK = {
    "hair": 1,
    "milk": 1,
    "predator": 1,
    "toothed": 1,
    "backbone": 1,
    "breathes": 1,
    "legs": 4,
    "catsize": 1,
}
CHICKEN = {
    "feathers": 1,
    "eggs": 1,
    "airborne": 1,
    "backbone": 1,
    "breathes": 1,
    "legs": 2,
    "tail": 1,
    "domestic": 1,
}


@pytest.fixture(autouse=True)
def _private_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """``serve`` hands its settings to its workers through the environment: each test here
    changes a copy of it, so that no setting reaches the servers later tests start."""
    monkeypatch.setattr(os, "environ", os.environ.copy())


def shipped() -> Path:
    """The shipped model folder (skips, or fails in CI, when it was not trained)."""
    require((default_model_dir() / "zoo.json").exists(), "no trained model: run `make train`")
    return default_model_dir()


def wait_ready(client: TestClient) -> None:
    """Wait until ``/ready`` answers 200."""
    deadline = time.monotonic() + 30
    while client.get("/ready").status_code != 200:
        assert time.monotonic() < deadline, "the model did not load"
        time.sleep(0.01)


@pytest.fixture(name="client", scope="module")
def client_fixture() -> Iterator[TestClient]:
    """An application on the shipped model, with small limits to test them."""
    app = create_app(ServeSettings(model_dir=shipped(), max_body_bytes=4096, max_animals=5))
    with TestClient(app) as test_client:  # runs the lifespan: the model loads
        wait_ready(test_client)
        yield test_client


def post(client: TestClient, body: object) -> tuple[int, object]:
    """POST ``body`` as JSON to /predict: (status, decoded answer)."""
    response = client.post("/predict", json=body)
    return response.status_code, response.json()


# --- endpoints ---------------------------------------------------------------------------


def test_health_answers_ok(client: TestClient) -> None:
    response = client.get("/health")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_ready_names_the_loaded_model(client: TestClient) -> None:
    response = client.get("/ready")
    metadata = json.loads((shipped() / "zoo.json").read_text(encoding="utf-8"))
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "model_sha256": metadata["model_sha256"]}


def test_one_animal_gets_one_prediction(client: TestClient) -> None:
    status, body = post(client, AARDVARK)
    assert status == 200
    assert isinstance(body, dict)
    assert (body["class_code"], body["class_name"]) == (1, "mammal")
    assert body["probability"] == max(body["probabilities"].values())
    assert list(body["probabilities"]) == list(schema.CLASS_NAMES.values())
    assert sum(body["probabilities"].values()) == pytest.approx(1, abs=1e-4)


def test_the_api_agrees_with_the_predictor(client: TestClient) -> None:
    predictor = load_predictor(shipped())
    expected = predictor.predict([schema.Animal.model_validate(CHICKEN).as_row()])
    _, body = post(client, CHICKEN)
    assert isinstance(body, dict)
    assert body["class_code"] == int(expected.codes[0])
    assert body["probability"] == pytest.approx(float(expected.probability[0]), abs=1e-6)


def test_a_list_gets_a_list_in_the_same_order(client: TestClient) -> None:
    status, body = post(client, [CHICKEN, AARDVARK, CHICKEN])
    assert status == 200
    assert isinstance(body, list)
    singles = [post(client, animal)[1] for animal in (CHICKEN, AARDVARK, CHICKEN)]
    assert body == singles


def test_flags_accept_json_booleans(client: TestClient) -> None:
    as_booleans = {
        name: bool(value) if name != "legs" else value for name, value in AARDVARK.items()
    }
    assert post(client, as_booleans) == post(client, AARDVARK)


def test_metrics_count_requests_latencies_and_classes(client: TestClient) -> None:
    def samples() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        text = client.get("/metrics").text
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    before = samples()
    post(client, [AARDVARK, AARDVARK, CHICKEN])
    post(client, {"legs": 3})
    after = samples()
    mammal = ("sampleproject_predictions_total", (("class_name", "mammal"),))
    ok = (
        "sampleproject_http_requests_total",
        (("method", "POST"), ("path", "/predict"), ("status", "200")),
    )
    rejected = (
        "sampleproject_http_requests_total",
        (("method", "POST"), ("path", "/predict"), ("status", "422")),
    )
    timed = (
        "sampleproject_http_request_duration_seconds_count",
        (("method", "POST"), ("path", "/predict")),
    )
    assert after[mammal] - before.get(mammal, 0) == 2
    assert after[ok] - before.get(ok, 0) == 1
    assert after[rejected] - before.get(rejected, 0) == 1
    assert after[timed] - before.get(timed, 0) == 2
    # Every class is exported from the start, so a dashboard never misses a series.
    assert {labels[0][1] for name, labels in after if name == mammal[0]} == set(
        schema.CLASS_NAMES.values()
    )


def test_metrics_count_every_feature_value_of_the_inputs(client: TestClient) -> None:
    def inputs() -> dict[tuple[str, str], float]:
        text = client.get("/metrics").text
        return {
            (sample.labels["feature"], sample.labels["value"]): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "sampleproject_input_values_total"
        }

    before = inputs()
    # The label set is the schema's domains, every series there from the start.
    assert set(before) == {
        (name, str(value)) for name, values in schema.FEATURE_VALUES.items() for value in values
    }
    post(client, [AARDVARK, AARDVARK, CHICKEN])
    post(client, [AARDVARK, {"legs": 3}])  # refused whole: nothing counted
    after = inputs()
    added = {key: after[key] - before[key] for key in after if after[key] != before[key]}
    expected: dict[tuple[str, str], float] = {}
    for animal in (AARDVARK, AARDVARK, CHICKEN):
        for name in schema.FEATURES:
            key = (name, str(animal.get(name, 0)))
            expected[key] = expected.get(key, 0) + 1
    assert added == expected


def test_unknown_paths_share_one_metrics_label(client: TestClient) -> None:
    client.get("/no/such/path/1")
    client.get("/no/such/path/2")
    text = client.get("/metrics").text
    assert 'path="unmatched"' in text
    assert "/no/such/path" not in text


def test_the_openapi_schema_documents_one_or_many_animals(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
    one, many = body["schema"]["oneOf"]
    assert one == {"$ref": "#/components/schemas/Animal"}
    assert (many["type"], many["maxItems"], many["minItems"]) == ("array", 5, 1)
    assert set(spec["components"]["schemas"]["Animal"]["properties"]) == set(schema.FEATURES)
    assert {"/health", "/ready", "/metrics", "/predict"} <= set(spec["paths"])
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()


# --- bad requests: 4xx with a JSON error body, never a 500 -------------------------------


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"legs": 3}, 422, "legs: legs must be one of 0, 2, 4, 5, 6, 8"),
        ({"hair": 1}, 422, "legs: Field required"),
        ({"legs": 4, "hair": 2}, 422, "hair: Input should be less than or equal to 1"),
        ({"legs": 4, "hair": "yes"}, 422, "hair: Input should be a valid integer"),
        ({"legs": 4, "wings": 1}, 422, "wings: unknown field"),
        ([CHICKEN, {"legs": 7}], 422, "[1].legs: legs must be one of"),
        ([CHICKEN, 5], 422, "[1]: Input should be a valid dictionary"),
        ([], 422, "body: List should have at least 1 item"),
        ([CHICKEN] * 6, 422, "body: List should have at most 5 items"),
        ("chicken", 422, "expected an animal (a JSON object) or animals (a JSON array)"),
    ],
)
def test_invalid_animals_get_422_with_the_field(
    client: TestClient, body: object, status: int, message: str
) -> None:
    answer_status, answer = post(client, body)
    assert answer_status == status
    assert isinstance(answer, dict)
    assert message in answer["error"]
    assert answer["details"]
    assert all(set(d) == {"location", "message"} for d in answer["details"])


@pytest.mark.parametrize(
    ("content", "headers", "status", "message"),
    [
        (b'{"legs": 4', {"content-type": "application/json"}, 400, "invalid JSON"),
        (b"legs=4", {"content-type": "application/x-www-form-urlencoded"}, 415, "as JSON"),
        (b'{"legs": 4}', {"content-type": "text/plain"}, 415, "Content-Type: application/json"),
        (b'{"legs": 4}', {}, 415, "as JSON"),
        (b"", {"content-type": "application/json"}, 422, "Field required"),
        (b"null", {"content-type": "application/json"}, 422, "expected an animal"),
    ],
)
def test_malformed_requests_get_4xx_json(
    client: TestClient, content: bytes, headers: dict[str, str], status: int, message: str
) -> None:
    response = client.post("/predict", content=content, headers=headers)
    assert response.status_code == status
    assert message in response.json()["error"]


def test_a_vendor_json_type_is_json(client: TestClient) -> None:
    response = client.post(
        "/predict", content=json.dumps(AARDVARK), headers={"content-type": "application/vnd.x+json"}
    )
    assert response.status_code == 200


def test_a_body_over_the_limit_gets_413_with_or_without_content_length(
    client: TestClient,
) -> None:
    big = json.dumps([AARDVARK] * 200).encode()  # over the fixture's 4096 bytes
    response = client.post("/predict", content=big, headers={"content-type": "application/json"})
    assert (response.status_code, response.json()["error"]) == (
        413,
        "request body larger than 4096 bytes",
    )

    def chunks() -> Iterator[bytes]:  # a generator: sent chunked, without Content-Length
        for start in range(0, len(big), 1000):
            yield big[start : start + 1000]

    response = client.post(
        "/predict", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert "content-length" not in response.request.headers
    assert response.json()["error"].startswith("request body larger")


def test_wrong_paths_and_methods_get_json_errors(client: TestClient) -> None:
    assert client.get("/nowhere").json() == {"error": "Not Found", "details": []}
    response = client.get("/predict")
    assert (response.status_code, response.json()["error"]) == (405, "Method Not Allowed")


# --- the model's life cycle --------------------------------------------------------------


def test_not_ready_until_the_model_is_loaded() -> None:
    loads: list[str] = []

    def loader(_current: LoadedModel | None) -> LoadedModel:
        loads.append("loaded")
        return LoadedModel(load_predictor(shipped()), "shipped")

    app = create_app(loader=loader)
    client = TestClient(app)  # not entered: the lifespan (start-up) has not run
    assert client.get("/health").status_code == 200  # alive anyway
    response = client.get("/ready")
    assert (response.status_code, response.json()["status"]) == (503, "loading")
    status, body = post(client, AARDVARK)
    assert status == 503
    assert isinstance(body, dict)
    assert "not loaded" in body["error"]
    assert not loads
    with TestClient(app) as started:  # start-up loads the model before the first request
        assert loads == ["loaded"]
        assert started.get("/ready").status_code == 200
        assert post(started, AARDVARK)[0] == 200


def test_a_model_that_fails_to_load_keeps_the_server_unready() -> None:
    def failing_loader(_current: LoadedModel | None) -> LoadedModel:
        raise SampleProjectError("model zoo.onnx does not match the SHA-256")

    with TestClient(create_app(loader=failing_loader)) as client:
        assert client.get("/health").status_code == 200
        response = client.get("/ready")
        assert response.status_code == 503
        assert response.json() == {
            "status": "failed",
            "error": "model zoo.onnx does not match the SHA-256",
        }


def test_an_unexpected_failure_is_a_json_500_without_details() -> None:
    class Broken(Predictor):
        """A predictor that fails as a bug would."""

        def __init__(self) -> None:  # pylint: disable=super-init-not-called
            self.metadata = load_predictor(shipped()).metadata

        def predict(self, features: object) -> object:  # type: ignore[override]
            raise RuntimeError("secret internals")

    app = create_app(loader=lambda _current: LoadedModel(Broken(), "broken"))
    with TestClient(app, raise_server_exceptions=False) as client:
        wait_ready(client)
        response = client.post("/predict", json=AARDVARK)
    assert response.status_code == 500
    assert response.json() == {"error": "internal error (see the server's log)", "details": []}


def metric_samples(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics, by name and sorted labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(client.get("/metrics").text)
        for sample in family.samples
    }


def test_a_reload_swaps_the_model_and_a_refused_one_keeps_the_old() -> None:
    predictor = load_predictor(shipped())
    source = "models:/zoo-classifier@champion"
    plan: list[LoadedModel | SampleProjectError] = [
        LoadedModel(predictor, source, "1"),
        LoadedModel(predictor, source, "2"),
        SampleProjectError("model zoo.onnx does not match the SHA-256 in zoo.json"),
    ]

    def loader(_current: LoadedModel | None) -> LoadedModel:
        step = plan.pop(0)
        if isinstance(step, SampleProjectError):
            raise step
        return step

    with TestClient(create_app(loader=loader)) as client:
        assert client.get("/ready").json()["model_version"] == "1"
        reload = client.app.state.model.load
        assert client.portal.call(reload) is True
        assert client.get("/ready").json() == {
            "status": "ready",
            "model_sha256": predictor.metadata.model_sha256,
            "model_version": "2",
            "model_source": source,
        }
        assert client.portal.call(reload) is False
        response = client.get("/ready")
        assert response.status_code == 200  # the old model serves on
        assert response.json()["model_version"] == "2"
        assert response.json()["reload_error"] == (
            "model zoo.onnx does not match the SHA-256 in zoo.json"
        )
        assert not plan
        assert post(client, AARDVARK)[0] == 200
        samples = metric_samples(client)
    sha = predictor.metadata.model_sha256
    assert samples[("sampleproject_model_info", (("sha256", sha), ("version", "2")))] == 1
    assert samples[("sampleproject_model_info", (("sha256", sha), ("version", "1")))] == 0
    assert samples[("sampleproject_model_reloads_total", (("result", "success"),))] == 1
    assert samples[("sampleproject_model_reloads_total", (("result", "failure"),))] == 1
    assert samples[("sampleproject_model_ready", ())] == 1


def test_the_reload_interval_checks_the_source_again_and_again() -> None:
    calls: list[LoadedModel | None] = []
    first = LoadedModel(load_predictor(shipped()), "shipped")

    def loader(current: LoadedModel | None) -> LoadedModel | None:
        calls.append(current)
        return first if current is None else None  # unchanged: keep the model

    with TestClient(create_app(ServeSettings(reload_interval=0.01), loader=loader)) as client:
        deadline = time.monotonic() + 30
        while len(calls) < 4:
            assert time.monotonic() < deadline, "the source was not checked again"
            time.sleep(0.01)
        assert client.get("/ready").status_code == 200
    assert calls[0] is None
    assert all(current is first for current in calls[1:4])


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAMPLEPROJECT_MAX_BODY_BYTES", "1234")
    monkeypatch.setenv("SAMPLEPROJECT_MAX_ANIMALS", "7")
    monkeypatch.setenv(MODEL_DIR_ENV, str(shipped()))
    assert ServeSettings() == ServeSettings(max_body_bytes=1234, max_animals=7, model_dir=shipped())
    spec = TestClient(app_module.app_from_env()).get("/openapi.json").json()
    body = spec["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["oneOf"][1]["maxItems"] == 7


# --- the serve command's checks, before any server starts ----------------------------------


@pytest.mark.parametrize(
    ("args", "env", "status", "message"),
    [
        (
            ["--port", "70000"],
            {},
            2,
            "--port: Input should be less than or equal to 65535 (got '70000')",
        ),
        (["--workers", "0"], {}, 2, "--workers: Input should be greater than or equal to 1"),
        (
            ["--max-body-bytes", "0"],
            {},
            2,
            "--max-body-bytes: Input should be greater than or equal to 1",
        ),
        (
            [],
            {"SAMPLEPROJECT_PORT": "http"},
            2,
            "$SAMPLEPROJECT_PORT: Input should be a valid integer",
        ),
        (
            [],
            {"SAMPLEPROJECT_RELOAD_INTERVAL": "-1"},
            2,
            "$SAMPLEPROJECT_RELOAD_INTERVAL: Input should be greater than or equal to 0",
        ),
        (["--model-dir", "/nonexistent"], {}, 2, "no such folder"),
        (["--model", "zoo-classifier@champion"], {}, 2, "invalid model reference"),
        (["--model", "models:/zoo-classifier@champion", "--model-dir", "."], {}, 2, "not both"),
    ],
)
def test_serve_refuses_bad_settings(  # noqa: PLR0917  # pylint: disable=too-many-arguments,too-many-positional-arguments
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    env: dict[str, str],
    status: int,
    message: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert cli.main(["serve", *args]) == status
    assert message in capsys.readouterr().err


def test_serve_refuses_a_tampered_model_before_listening(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    for name in ("zoo.json", "zoo.onnx"):
        (folder / name).write_bytes((shipped() / name).read_bytes())
    (folder / "zoo.onnx").write_bytes((folder / "zoo.onnx").read_bytes()[:-1])
    assert cli.main(["serve", "--model-dir", str(folder)]) == 1
    assert "does not match the SHA-256" in capsys.readouterr().err


def test_serve_logs_everything_to_stderr() -> None:
    from sampleproject.serving import server  # pylint: disable=import-outside-toplevel

    config = server.log_config()
    streams = {handler["stream"] for handler in config["handlers"].values()}
    assert streams == {"ext://sys.stderr"}
    assert "sampleproject" in config["loggers"]


def test_serve_hands_its_settings_to_the_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    import signal  # pylint: disable=import-outside-toplevel

    from sampleproject.serving import metrics, server  # pylint: disable=import-outside-toplevel

    seen: dict[str, object] = {}

    def fake_run(settings: ServeSettings) -> bool:
        seen.update(settings=settings, environ=dict(os.environ))
        folder = Path(os.environ[metrics.MULTIPROC_ENV])
        seen["metrics_dir_existed"] = folder.is_dir()
        # Workers write their values there; the scrape reads that folder, not this process.
        assert b"sampleproject_http_requests" not in metrics.Metrics().exposition()
        return True

    # monkeypatch restores what serve changes for its workers; empty variables are unset.
    for name in (MODEL_DIR_ENV, "SAMPLEPROJECT_MAX_BODY_BYTES", "SAMPLEPROJECT_MAX_ANIMALS"):
        monkeypatch.setenv(name, "")
    monkeypatch.delenv(metrics.MULTIPROC_ENV, raising=False)
    monkeypatch.setenv("SAMPLEPROJECT_HOST", "0.0.0.0")  # noqa: S104 (as in the container)
    monkeypatch.setenv("SAMPLEPROJECT_WORKERS", "3")
    monkeypatch.setattr(server, "run", fake_run)
    previous_handler = signal.getsignal(signal.SIGTERM)
    try:
        assert cli.main(["serve", "--port", "9999", "--max-animals", "9", "--no-access-log"]) == 0
    finally:
        signal.signal(signal.SIGTERM, previous_handler)
    settings = seen["settings"]
    assert isinstance(settings, ServeSettings)
    assert (settings.host, settings.port, settings.workers) == ("0.0.0.0", 9999, 3)  # noqa: S104
    assert settings.access_log is False
    environ = seen["environ"]
    assert isinstance(environ, dict)
    # What each worker reads back from the environment is what serve was given.
    monkeypatch.setattr(os, "environ", environ)
    assert ServeSettings() == settings
    assert environ[MODEL_DIR_ENV] == str(shipped().resolve())
    assert environ["SAMPLEPROJECT_MAX_ANIMALS"] == "9"
    assert seen["metrics_dir_existed"] is True
    assert not Path(environ[metrics.MULTIPROC_ENV]).exists()  # removed when serve returns


def test_the_supervisor_passes_sighup_on_to_its_workers() -> None:
    """uvicorn's supervisor would replace the workers; ours signals them (a real process)."""
    import signal  # pylint: disable=import-outside-toplevel
    import subprocess  # pylint: disable=import-outside-toplevel
    import sys  # pylint: disable=import-outside-toplevel
    from functools import partial  # pylint: disable=import-outside-toplevel
    from types import SimpleNamespace  # pylint: disable=import-outside-toplevel

    from sampleproject.serving import server  # pylint: disable=import-outside-toplevel

    # Built without __init__, which would install signal handlers in this test process.
    supervisor = server._ReloadingSupervisor.__new__(server._ReloadingSupervisor)  # pylint: disable=protected-access
    # SIGHUP's default action in the worker, even when this test runs under nohup (whose
    # ignored SIGHUP children inherit), set before the worker runs: no signal can be lost.
    default_hup = partial(signal.signal, signal.SIGHUP, signal.SIG_DFL)
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    # pylint: disable-next=subprocess-popen-preexec-fn  # one thread here: safe
    with subprocess.Popen(sleeper, preexec_fn=default_hup) as worker:  # noqa: PLW1509
        not_started = SimpleNamespace(pid=None)
        supervisor.processes = [not_started, SimpleNamespace(pid=worker.pid)]  # type: ignore[list-item]
        supervisor.handle_hup()
        assert worker.wait(timeout=30) == -signal.SIGHUP


@pytest.mark.parametrize("started", [True, False])
def test_serve_by_reference_hands_no_model_folder_to_the_workers(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], started: bool
) -> None:
    import signal  # pylint: disable=import-outside-toplevel

    from sampleproject.serving import server  # pylint: disable=import-outside-toplevel

    seen: dict[str, str | None] = {}

    def fake_run(_settings: ServeSettings) -> bool:
        seen["model"] = os.environ.get("SAMPLEPROJECT_MODEL")
        seen["model_dir"] = os.environ.get(MODEL_DIR_ENV)
        return started

    monkeypatch.setenv(MODEL_DIR_ENV, "")  # restored afterwards, like every variable below
    monkeypatch.setenv("SAMPLEPROJECT_MODEL", "")
    monkeypatch.setattr(server, "run", fake_run)
    previous_handler = signal.getsignal(signal.SIGTERM)
    try:
        status = cli.main(["serve", "--model", "models:/zoo-classifier@champion"])
    finally:
        signal.signal(signal.SIGTERM, previous_handler)
    assert seen == {"model": "models:/zoo-classifier@champion", "model_dir": None}
    if started:
        assert status == 0
    else:  # the port was taken, say: uvicorn logged why
        assert status == 1
        assert "the server did not start (see the log above)" in capsys.readouterr().err
