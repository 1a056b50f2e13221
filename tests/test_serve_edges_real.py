"""Request IDs, API keys and tracing on a real ``sampleproject serve``, over real HTTP.

The traces go over OTLP/HTTP to a real receiver: MLflow's tracking server, which accepts
OpenTelemetry spans at ``/v1/traces`` (protobuf), decodes them (opentelemetry-proto), stores
them in its backend store and gives them back through its client API. The OpenTelemetry
Collector and Jaeger are on none of the registries this project installs from (PyPI, Debian,
npm); MLflow, which the project already runs, is.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bench.bench_serving import stop as stop_group
from sampleproject.errors import install_extra
from tests.conftest import require_tool
from tests.test_api_keys import write_keys
from tests.test_serve_real import ANIMAL, Server, free_port, start, stop

pytestmark = pytest.mark.slow

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


def ask(server: Server, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
    """POST one animal to ``path`` (GET for the probes), with ``headers``: status and headers."""
    body = None if path in ("/health", "/ready") else json.dumps(ANIMAL).encode()
    request = urllib.request.Request(  # noqa: S310 (a loopback URL)
        server.url(path),
        data=body,
        headers={"Content-Type": "application/json", "Connection": "close", **headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, dict(response.headers.items())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items())


def statuses(server: Server, key: str, times: int = 12) -> set[int]:
    """The statuses of ``times`` predictions with ``key``, each on a new connection (so
    that with several workers each worker answers some)."""
    return {ask(server, "/predict", {"X-API-Key": key})[0] for _ in range(times)}


def test_keys_rotate_by_sighup_on_every_worker_and_probes_stay_open(tmp_path: Path) -> None:
    keys = write_keys(tmp_path / "api-keys.txt", "old-key")
    server = start(tmp_path, "--api-key-file", str(keys), "--workers", "2")
    try:
        # Both workers up and handling signals before the first SIGHUP (the second may start
        # after /ready first answers).
        deadline = time.monotonic() + 60
        while server.log.read_text(encoding="utf-8").count("Application startup complete") < 2:
            assert time.monotonic() < deadline, "the second worker did not start"
            time.sleep(0.1)
        assert statuses(server, "old-key") == {200}
        assert statuses(server, "new-key") == {401}
        assert ask(server, "/ready", {})[0] == 200
        assert ask(server, "/health", {})[0] == 200
        status, headers = ask(server, "/predict", {"Authorization": "Bearer wrong"})
        assert status == 401
        assert headers["www-authenticate"] == 'Bearer realm="sampleproject", error="invalid_token"'
        write_keys(keys, "old-key", "new-key")  # rotation, step 1: both keys
        server.process.send_signal(signal.SIGHUP)
        wait_for_statuses(server, "new-key", {200})
        assert statuses(server, "old-key") == {200}
        write_keys(keys, "new-key")  # step 2: the old key retired
        server.process.send_signal(signal.SIGHUP)
        wait_for_statuses(server, "old-key", {401})
        assert statuses(server, "new-key") == {200}
    finally:
        assert stop(server) == 0
    log = server.log.read_text(encoding="utf-8")
    assert log.count("API keys reloaded") >= 4  # two reloads, in each of the two workers


def wait_for_statuses(server: Server, key: str, wanted: set[int]) -> None:
    """Until every worker answers ``key`` with the ``wanted`` statuses (after a SIGHUP)."""
    deadline = time.monotonic() + 30
    while statuses(server, key) != wanted:
        assert time.monotonic() < deadline, f"{key}: not {wanted} on every worker"
        time.sleep(0.2)


def test_request_ids_are_in_every_answer_and_in_the_access_log(tmp_path: Path) -> None:
    server = start(tmp_path)
    try:
        status, headers = ask(server, "/predict", {"X-Request-ID": "access-log-1"})
        assert (status, headers["x-request-id"]) == (200, "access-log-1")
        status, headers = ask(server, "/nowhere", {})
        made = headers["x-request-id"]
        assert (status, len(made)) == (404, 32)
        status, headers = ask(server, "/predict", {"X-Request-ID": "no spaces please"})
        assert headers["x-request-id-replaced"].startswith("characters other than")
    finally:
        assert stop(server) == 0
    log = server.log.read_text(encoding="utf-8")
    assert '"POST /predict HTTP/1.1" 200 OK request_id=access-log-1' in log
    assert f'"POST /nowhere HTTP/1.1" 404 Not Found request_id={made}' in log


# --- tracing, to a real OTLP receiver --------------------------------------------------


@dataclass
class Receiver:
    """A running MLflow tracking server: its URI, and the experiment the traces go to."""

    uri: str
    experiment_id: str


@pytest.fixture(name="receiver", scope="module")
def receiver_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Receiver]:
    """MLflow's tracking server on a SQLite store, on a free loopback port; stopped after."""
    mlflow = require_tool("mlflow")
    folder = tmp_path_factory.mktemp("mlflow-receiver")
    port = free_port()
    log = (folder / "server.log").open("wb")
    process = subprocess.Popen(  # pylint: disable=consider-using-with
        [
            mlflow,
            *("server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"),
            *("--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}"),
            *("--default-artifact-root", str(folder / "artifacts")),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"},
        start_new_session=True,  # its own process group: its workers stop with it
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        _wait_for(uri + "/health", process, folder / "server.log")
        from mlflow import MlflowClient

        yield Receiver(uri, MlflowClient(uri).create_experiment("serve-traces"))
    finally:
        stop_group(process)  # SIGTERM to its process group, SIGKILL after 30 s
        log.close()


def _wait_for(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 180  # MLflow's first start creates its database
    while True:
        assert process.poll() is None, log.read_text(encoding="utf-8")
        try:
            with urllib.request.urlopen(url, timeout=5):  # noqa: S310 (loopback)
                return
        except OSError:
            assert time.monotonic() < deadline, "MLflow's server did not start"
            time.sleep(0.5)


def _traces(receiver: Receiver) -> list[Any]:
    from mlflow import MlflowClient

    client = MlflowClient(receiver.uri)
    return list(client.search_traces(locations=[receiver.experiment_id]))


def test_traces_reach_a_real_otlp_receiver_with_the_request_id(
    tmp_path: Path, receiver: Receiver
) -> None:
    env = {
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"{receiver.uri}/v1/traces",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS": f"x-mlflow-experiment-id={receiver.experiment_id}",
    }
    server = start(tmp_path, "--tracing", env=env)
    try:
        headers = {
            "X-Request-ID": "traced-by-mlflow",
            "traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01",
        }
        assert ask(server, "/predict", headers)[0] == 200
    finally:
        assert stop(server) == 0  # the shutdown flushes the spans not sent yet
    (trace,) = [t for t in _traces(receiver) if TRACE_ID in t.info.trace_id]
    spans = {span.name: span for span in trace.data.spans}
    assert {"POST /predict", "validate", "model"} <= spans.keys()
    request = spans["POST /predict"]
    assert request.parent_id == PARENT_ID  # the caller's span, as traceparent said
    assert request.attributes["sampleproject.request_id"] == "traced-by-mlflow"
    assert request.attributes["http.response.status_code"] == 200
    for child in ("validate", "model"):
        assert spans[child].parent_id == request.span_id
    assert spans["model"].attributes["sampleproject.animals"] == 1


def test_an_unreachable_receiver_costs_no_request(tmp_path: Path) -> None:
    env = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"http://127.0.0.1:{free_port()}/v1/traces"}
    server = start(tmp_path, "--tracing", env=env)
    try:
        for _ in range(20):
            assert server.post(json.dumps(ANIMAL).encode())[0] == 200
    finally:
        assert stop(server) == 0


def test_the_runtime_wheel_serves_without_the_tracing_extra(
    runtime_env: Path, tmp_path: Path
) -> None:
    """The runtime install has no OpenTelemetry SDK: `serve --tracing` says what to install."""
    result = subprocess.run(
        [str(runtime_env / "sampleproject"), "serve", "--tracing"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        cwd=tmp_path,
    )
    assert (result.returncode, result.stderr) == (
        2,
        f"sampleproject: error: --tracing needs the tracing extra: {install_extra('tracing')}\n",
    )
