"""Hostile and broken connections against a real ``serve`` (a process on a loopback port).

The limits are set through the environment, as the container sets them, so that a server
without them ignores the variables and fails these tests for the behaviour they check.
``tests/test_connections.py`` checks the same protocol in-process, case by case;
``bench/bench_hostile.py`` measures a hundred such connections at once.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import require_tool
from tests.raw_http import clients, connect, json_error, read_answer, until_closed
from tests.test_serve_hardening import rss_kib
from tests.test_serve_real import Server, start, stop

pytestmark = pytest.mark.slow

SHORT_TIMEOUTS = {
    "SAMPLEPROJECT_HEADER_TIMEOUT": "1",
    "SAMPLEPROJECT_BODY_TIMEOUT": "2",
    "SAMPLEPROJECT_KEEP_ALIVE_TIMEOUT": "1",
}
ANIMAL = b'{"hair": 1, "milk": 1, "legs": 4, "tail": 1}'


@pytest.fixture(name="server", scope="module")
def server_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server with timeouts of a second or two, for the whole module."""
    running = start(tmp_path_factory.mktemp("serve"), "--no-access-log", env=SHORT_TIMEOUTS)
    yield running
    stop(running)


def counts(server: Server) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the server's /metrics."""
    text = server.get("/metrics")[1].decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def predictions_and_inputs(server: Server) -> float:
    """What the prediction and input (drift) counters hold together."""
    return sum(
        value
        for (name, _), value in counts(server).items()
        if name in ("sampleproject_predictions_total", "sampleproject_input_values_total")
    )


def requests(server: Server, status: int, path: str = "/predict") -> float:
    """POST requests counted under ``path`` with ``status``."""
    labels = (("method", "POST"), ("path", path), ("status", str(status)))
    return counts(server).get(("sampleproject_http_requests_total", labels), 0.0)


def head(content_type: str = "application/json", length: int | None = None) -> bytes:
    """The head of POST /predict, with a Content-Length or chunked."""
    framing = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    return (
        f"POST /predict HTTP/1.1\r\nHost: test\r\nContent-Type: {content_type}\r\n{framing}\r\n\r\n"
    ).encode()


def test_a_never_ending_header_gets_431_and_the_server_does_not_grow(tmp_path: Path) -> None:
    running = start(tmp_path, "--no-access-log")  # the default limits
    try:
        before = rss_kib(running.process.pid)
        sent = 0
        with connect(running.port) as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: test\r\nX-Never-Ending: ")
            try:
                while sent < 24 * 1024 * 1024:  # the old server took all of it
                    sock.sendall(b"a" * 65536)
                    sent += 65536
            except OSError:
                pass  # the server stopped reading
            after = rss_kib(running.process.pid)
            answer = sock.recv(65536)
        assert running.get("/health")[0] == 200  # everyone else is served
    finally:
        assert stop(running) == 0
    assert json_error(answer) == (431, "request headers larger than 16384 bytes")
    assert sent < 16 * 1024 * 1024  # dropped for at most LINGER_BYTES, then closed
    assert after - before < 8 * 1024, (before, after)  # was: the whole header's size


def test_connections_that_never_finish_a_request_are_closed_within_the_timeouts(
    server: Server,
) -> None:
    results: dict[str, tuple[float, bytes]] = {}

    def client(name: str, first: bytes, trickle: bytes) -> None:
        with connect(server.port) as sock:
            sock.sendall(first)
            start_time = time.monotonic()
            if trickle:  # a byte every 0.2 s until the server closes
                sock.settimeout(0.2)
                try:
                    while time.monotonic() - start_time < 8:
                        sock.sendall(trickle)
                        if chunk := sock.recv(65536):
                            results[name] = (time.monotonic() - start_time, chunk)
                            return
                except TimeoutError:
                    pass
                except OSError:
                    pass
                sock.settimeout(8)
            results[name] = until_closed(sock)

    before = requests(server, 499)
    cases = {
        "idle": (b"", b""),
        "unfinished head": (b"GET /health HTTP/1.1\r\nHost: test\r\nX-Slow: ", b"a"),
        "slow body": (head(length=1000), b" "),
    }
    threads = [threading.Thread(target=client, args=(name, *case)) for name, case in cases.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(results) == set(cases), results
    idle_seconds, idle_answer = results["idle"]
    assert idle_answer == b""  # nothing asked, nothing answered
    assert 0.8 < idle_seconds < 3
    head_seconds, head_answer = results["unfinished head"]
    assert json_error(head_answer) == (408, "request headers not received within 1.0 s")
    assert head_seconds < 3
    body_seconds, body_answer = results["slow body"]
    assert json_error(body_answer) == (408, "request body not received within 2.0 s")
    assert 1.8 < body_seconds < 4
    assert requests(server, 499) == before + 1  # the slow body: counted, not predicted


@pytest.mark.parametrize(
    ("content_type", "chunked"),
    [
        pytest.param("application/json", False, id="direct path"),
        pytest.param("application/x+json", False, id="FastAPI path"),
        pytest.param("application/json", True, id="FastAPI path, chunked"),
    ],
)
def test_a_truncated_body_is_not_a_prediction_on_either_path(
    server: Server, content_type: str, chunked: bool
) -> None:
    before_counts, before_closed = predictions_and_inputs(server), requests(server, 499)
    partial = b"%x\r\n%s\r\n" % (len(ANIMAL), ANIMAL) if chunked else ANIMAL
    with connect(server.port) as sock:
        sock.sendall(head(content_type, None if chunked else len(ANIMAL) + 50) + partial)
        time.sleep(0.3)  # the server has read what came
        sock.shutdown(socket.SHUT_WR)  # and the client goes: the body ends short
        assert until_closed(sock)[1] == b""
    deadline = time.monotonic() + 5
    while requests(server, 499) == before_closed:
        assert time.monotonic() < deadline, "the cut request was not counted"
        time.sleep(0.05)
    assert requests(server, 499) == before_closed + 1
    assert predictions_and_inputs(server) == before_counts  # nothing predicted or counted
    assert requests(server, 200) == requests(server, 400) == 0


def test_every_refusal_has_the_json_error_body_and_nothing_is_redirected(server: Server) -> None:
    refused = {
        b"GARBAGE\r\n\r\n": 400,  # the HTTP parser's refusals: uvicorn's were plain text
        b"M1234X /health HTTP/1.1\r\nHost: test\r\n\r\n": 400,
        head(length=None) + b"not a chunk size\r\n": 400,
        b"GET /health HTTP/1.1\r\nHost: test\r\n" + b"X-Many: 1\r\n" * 101 + b"\r\n": 431,
        head(length=10**9): 413,
        b"POST /predict/ HTTP/1.1\r\nHost: attacker.example\r\nContent-Length: 0\r\n\r\n": 404,
    }
    before_413 = requests(server, 413)
    for request_bytes, status in refused.items():
        with connect(server.port) as sock:
            sock.sendall(request_bytes)
            answer = read_answer(sock)
        assert json_error(answer)[0] == status, (request_bytes, answer)
        assert b"\r\nlocation:" not in answer.lower()
    assert requests(server, 413) == before_413 + 1  # under its route, not "unmatched"
    assert requests(server, 413, "unmatched") == 0


def test_protocol_switches_and_parser_refusals_add_nothing_to_the_log_but_one_line_each(
    server: Server,
) -> None:
    before = server.log.read_text(encoding="utf-8").splitlines()
    upgrade = b"GET /health HTTP/1.1\r\nHost: test\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
    for _ in range(5):
        with connect(server.port) as sock:
            sock.sendall(upgrade)
            assert read_answer(sock).startswith(b"HTTP/1.1 200")
    assert server.log.read_text(encoding="utf-8").splitlines() == before


def test_past_the_connection_limit_idle_ones_make_room_and_busy_ones_mean_a_clear_503(
    tmp_path: Path,
) -> None:
    running = start(
        tmp_path, "--no-access-log", env={**SHORT_TIMEOUTS, "SAMPLEPROJECT_MAX_CONNECTIONS": "5"}
    )
    try:
        with clients(running.port, 5) as idle:  # five idle connections: the limit
            assert running.post(ANIMAL)[0] == 200  # served: the longest idle one made room
            assert until_closed(idle[0])[1] == b""
        with clients(running.port, 5, b"GET /health HTTP/1.1\r\n"), connect(running.port) as sock:
            sock.sendall(head(length=len(ANIMAL)) + ANIMAL)  # five requests under way
            answer = until_closed(sock)[1]
        assert running.get("/health")[0] == 200  # a place again
    finally:
        assert stop(running) == 0
    assert json_error(answer) == (503, "too many connections: try again later")


def health_now(server: Server) -> tuple[int, float, bytes]:
    """GET /health on a new connection: (status, seconds, body); status 0: no answer in 5 s."""
    start_time = time.monotonic()
    try:
        with urllib.request.urlopen(server.url("/health"), timeout=5) as response:  # noqa: S310
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    except OSError:
        status, body = 0, b""
    return status, time.monotonic() - start_time, body


def test_under_a_low_descriptor_limit_idle_sockets_get_clear_refusals_and_no_log_flood(
    tmp_path: Path,
) -> None:
    prlimit = require_tool("prlimit")
    running = start(
        tmp_path,
        "--no-access-log",
        env={**SHORT_TIMEOUTS, "SAMPLEPROJECT_HEADER_TIMEOUT": "3"},
        prefix=(prlimit, "--nofile=64:64"),
    )
    idle: list[socket.socket] = []
    try:
        for _ in range(100):
            try:
                idle.append(connect(running.port))
            except OSError:
                break
        time.sleep(0.5)
        during = [health_now(running) for _ in range(3)]
        time.sleep(3.5)  # the idle ones are closed at the header timeout
        after = health_now(running)
    finally:
        for sock in idle:
            sock.close()
        assert stop(running) == 0
    # Answered (idle ones made room) or refused with the reason, never left waiting.
    assert all(status in (200, 503) and seconds < 3 for status, seconds, _ in during), during
    assert all(json.loads(body) for _, _, body in during)
    assert after[0] == 200
    log = running.log.read_text(encoding="utf-8")
    assert "Traceback" not in log
    assert len(log.splitlines()) < 20, log  # was: megabytes in seconds
    assert "max_connections lowered from 1000" in log
