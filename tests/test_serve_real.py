"""``sampleproject serve`` for real: a process on a loopback port, called over HTTP."""

from __future__ import annotations

import http.client
import importlib.util
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from sampleproject.inference.model import default_model_dir
from tests.conftest import BIN, ROOT, require

pytestmark = pytest.mark.slow

ANIMAL = {"hair": 1, "milk": 1, "legs": 4, "tail": 1, "toothed": 1, "backbone": 1, "breathes": 1}


def free_port() -> int:
    """A TCP port that is free on the loopback interface now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A running ``sampleproject serve`` process and how to reach it."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def url(self, path: str) -> str:
        """The URL of ``path`` on this server."""
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path: str) -> tuple[int, bytes]:
        """GET ``path``: (status, body), errors included."""
        try:
            with urllib.request.urlopen(self.url(path), timeout=10) as response:  # noqa: S310
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def post(self, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        """POST ``body`` to /predict as JSON: (status, body), errors included."""
        request = urllib.request.Request(  # noqa: S310 (a fixed loopback URL)
            self.url("/predict"),
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", **(headers or {})},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()


def start(
    tmp_path: Path,
    *args: str,
    env: dict[str, str] | None = None,
    until: str = "/ready",
    prefix: tuple[str, ...] = (),
) -> Server:
    """Start ``sampleproject serve ARGS`` on a free port (by $SAMPLEPROJECT_PORT); wait until
    ``until`` answers 200 (``/health``: the process is up, whether a model loaded or not).
    ``prefix``: a command that runs it (such as ``prlimit --nofile=64``)."""
    require((default_model_dir() / "zoo.json").exists(), "no trained model: run `make train`")
    port = free_port()
    log = tmp_path / "serve.log"
    environment = {**os.environ, "SAMPLEPROJECT_PORT": str(port), **(env or {})}
    environment.pop("SAMPLEPROJECT_HOST", None)
    environment.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with log.open("wb") as err, (tmp_path / "serve.out").open("wb") as out:
        process = subprocess.Popen(  # pylint: disable=consider-using-with
            [*prefix, str(BIN / "sampleproject"), "serve", *args],
            stdout=out,
            stderr=err,
            env=environment,
        )
    server = Server(process, port, log)
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, log.read_text(encoding="utf-8")
        try:
            if server.get(until)[0] == 200:
                return server
        except OSError:
            pass
        assert time.monotonic() < deadline, f"the server's {until} did not answer 200"
        time.sleep(0.1)


def stop(server: Server) -> int:
    """SIGTERM the server; its exit status."""
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
    return server.process.wait(timeout=10)


@pytest.fixture(name="server")
def server_fixture(tmp_path: Path) -> Iterator[Server]:
    """A server with a small body limit, stopped after the test."""
    running = start(tmp_path, "--max-body-bytes", "10000")
    yield running
    stop(running)


def test_health_ready_predict_and_metrics_over_http(server: Server, tmp_path: Path) -> None:
    assert server.get("/health") == (200, b'{"status":"ok"}')
    status, ready = server.get("/ready")
    assert status == 200
    assert json.loads(ready)["status"] == "ready"
    status, body = server.post(json.dumps(ANIMAL).encode())
    assert status == 200
    assert json.loads(body)["class_name"] == "mammal"
    status, body = server.post(json.dumps([ANIMAL, {"legs": 9}]).encode())
    assert status == 422
    assert "[1].legs" in json.loads(body)["error"]

    status, text = server.get("/metrics")
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text.decode())
        for sample in family.samples
    }
    assert samples[("sampleproject_predictions_total", (("class_name", "mammal"),))] == 1
    rejected = (("method", "POST"), ("path", "/predict"), ("status", "422"))
    assert samples[("sampleproject_http_requests_total", rejected)] == 1
    # The container's health probe checks the same server, found by $SAMPLEPROJECT_PORT.
    probe = subprocess.run(
        [str(BIN / "python"), str(ROOT / "scripts" / "pyapp-healthcheck")],
        env={**os.environ, "SAMPLEPROJECT_PORT": str(server.port)},
        check=False,
    )
    assert probe.returncode == 0
    # Logs, the access log included, go to stderr; stdout stays empty.
    assert stop(server) == 0
    assert '"POST /predict HTTP/1.1" 200' in server.log.read_text(encoding="utf-8")
    assert (tmp_path / "serve.out").read_bytes() == b""


def test_the_server_runs_httptools_on_asyncios_loop_even_with_uvloop_installed(
    server: Server,
) -> None:
    """uvicorn would pick uvloop up by itself; serve asks for asyncio's loop (see server.py)."""
    assert importlib.util.find_spec("uvloop") is not None  # installed here (the bench's floor)
    assert server.post(json.dumps(ANIMAL).encode())[0] == 200
    # The native extensions the serving process has loaded.
    maps = Path(f"/proc/{server.process.pid}/maps").read_text(encoding="utf-8")
    assert "/httptools/" in maps
    assert "/uvloop/" not in maps


def test_a_large_body_gets_413_with_or_without_content_length(server: Server) -> None:
    big = json.dumps([ANIMAL] * 300).encode()
    status, body = server.post(big)
    assert status == 413
    assert json.loads(body)["error"].startswith("request body larger")

    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    chunks = (big[start : start + 1024] for start in range(0, len(big), 1024))
    connection.request(
        "POST",
        "/predict",
        body=chunks,
        headers={"Content-Type": "application/json"},
        encode_chunked=True,
    )
    response = connection.getresponse()
    assert response.status == 413
    assert json.loads(response.read())["error"].startswith("request body larger")
    connection.close()


def test_sigterm_finishes_the_request_in_flight_then_exits_0(server: Server) -> None:
    body = json.dumps(ANIMAL).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        # Headers and half the body: the request is in flight when the signal arrives.
        sock.sendall(
            b"POST /predict HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body[:10]
        )
        time.sleep(0.5)
        server.process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert server.process.poll() is None  # still waiting for our request
        sock.sendall(body[10:])
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert json.loads(payload)["class_name"] == "mammal"
    assert server.process.wait(timeout=5) == 0


def test_several_workers_share_their_metrics(tmp_path: Path) -> None:
    server = start(tmp_path, "--workers", "2", env={"SAMPLEPROJECT_WORKERS": "1"})
    try:
        requests = 20
        for _ in range(requests):
            # A new connection each time, so that both workers get some of them.
            assert server.post(json.dumps(ANIMAL).encode(), {"Connection": "close"})[0] == 200
        for _ in range(4):  # whichever worker answers the scrape, it counts every worker's
            text = server.get("/metrics")[1].decode()
            assert 'sampleproject_predictions_total{class_name="mammal"} 20.0' in text
            assert 'sampleproject_input_values_total{feature="legs",value="4"} 20.0' in text
        # The flag won over $SAMPLEPROJECT_WORKERS: two workers start (the second may log later).
        deadline = time.monotonic() + 30
        while server.log.read_text(encoding="utf-8").count("Started server process") < 2:
            assert time.monotonic() < deadline, "the second worker did not start"
            time.sleep(0.1)
    finally:
        assert stop(server) == 0


def test_sighup_refuses_a_damaged_model_and_the_old_one_serves_on(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    for name in ("zoo.json", "zoo.onnx"):
        (folder / name).write_bytes((default_model_dir() / name).read_bytes())
    running = start(tmp_path, "--model-dir", str(folder))
    try:
        before = running.post(json.dumps(ANIMAL).encode())
        (folder / "zoo.onnx").write_bytes(b"not a model")
        running.process.send_signal(signal.SIGHUP)
        ready = wait_for(running, lambda answer: "reload_error" in answer)
        assert "does not match the SHA-256" in ready["reload_error"]
        assert running.post(json.dumps(ANIMAL).encode()) == before  # the verified model
        # The files are whole again: the next reload finds the model serving, error gone.
        (folder / "zoo.onnx").write_bytes((default_model_dir() / "zoo.onnx").read_bytes())
        running.process.send_signal(signal.SIGHUP)
        wait_for(running, lambda answer: "reload_error" not in answer)
    finally:
        assert stop(running) == 0
    log = running.log.read_text(encoding="utf-8")
    assert "reload refused, model" in log
    assert "keeps serving" in log


def wait_for(server: Server, check: Callable[[dict[str, object]], bool]) -> dict[str, Any]:
    """Poll /ready (200) until its answer passes ``check``; that answer."""
    deadline = time.monotonic() + 30
    while True:
        status, body = server.get("/ready")
        answer: dict[str, Any] = json.loads(body)
        if status == 200 and check(answer):
            return answer
        assert time.monotonic() < deadline, answer
        time.sleep(0.05)
