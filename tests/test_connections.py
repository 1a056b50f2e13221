"""The HTTP protocol's limits (serving/connections.py) on a real socket, in-process.

uvicorn runs in a thread with the protocol and the event loop ``serve`` uses, in front of a
small ASGI application, with limits and timeouts small enough to reach in a fraction of a
second. ``tests/test_serve_connections.py`` does the same against a real ``serve``.
"""

from __future__ import annotations

import logging
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from sampleproject.serving import connections, server
from sampleproject.serving.connections import ConnectionLimits
from tests.conftest import require
from tests.raw_http import clients, connect, json_error, read_answer, until_closed

KEEP_ALIVE = 0.5
LIMITS = ConnectionLimits(
    max_header_bytes=1024, max_headers=10, header_timeout=0.5, body_timeout=0.5, max_connections=50
)
# What the application saw: "disconnect" when it was told the client went away.
SEEN: list[str] = []


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers the size of the body it read; on /early, answers before reading it."""
    if scope["type"] != "http":
        return
    body = b""
    while scope["path"] != "/early":
        message = await receive()
        if message["type"] == "http.disconnect":
            SEEN.append("disconnect")
            return
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break
    answer = str(len(body)).encode()
    headers = [(b"content-length", str(len(answer)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": answer})


@contextmanager
def serving(limits: ConnectionLimits = LIMITS) -> Iterator[int]:
    """uvicorn with ``serve``'s protocol and loop, on a free loopback port (yielded)."""
    config = uvicorn.Config(
        echo,
        host="127.0.0.1",
        port=0,
        loop=server.LOOP,
        lifespan="off",
        log_config=None,
        timeout_keep_alive=KEEP_ALIVE,  # type: ignore[arg-type]
    )
    config.http = connections.protocol_with(limits)
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not running.started:
        assert thread.is_alive(), "the server did not start"
        assert time.monotonic() < deadline, "the server did not start in time"
        time.sleep(0.01)
    SEEN.clear()
    try:
        yield int(running.servers[0].sockets[0].getsockname()[1])
    finally:
        running.should_exit = True
        thread.join(timeout=10)


def status_and_error(answer: bytes) -> tuple[int, str]:
    """The status and JSON ``error`` of a refusal, which closes the connection."""
    assert b"\r\nconnection: close\r\n" in answer.lower(), answer
    return json_error(answer)


def request(path: str, *headers: str, length: int | None = None) -> bytes:
    """The head of a request (with a Content-Length if ``length`` is given)."""
    lines = [f"POST {path} HTTP/1.1", "Host: test", *headers]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_a_head_that_grows_past_the_limit_gets_431_while_it_is_still_arriving() -> None:
    with serving() as port, connect(port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: test\r\nX-Long: ")
        sent = 0
        try:
            while sent < 64 * 1024 * 1024:
                sock.sendall(b"a" * 512)
                sent += 512
        except OSError:
            pass  # the server stopped reading, before the client stopped sending
        answer = read_answer(sock)
    assert status_and_error(answer) == (431, "request headers larger than 1024 bytes")
    assert sent < 8 * 1024 * 1024


def test_a_head_over_the_limit_that_arrives_in_one_piece_gets_431() -> None:
    with serving() as port, connect(port) as sock:
        sock.sendall(request("/", f"X-Long: {'a' * 2000}", length=0))
        assert status_and_error(until_closed(sock)[1])[0] == 431


def test_a_body_in_the_same_piece_as_its_head_does_not_count_as_head() -> None:
    body = b"x" * 200_000
    with serving() as port, connect(port) as sock:
        sock.sendall(request("/", f"X-Padding: {'a' * 800}", length=len(body)) + body)
        assert read_answer(sock).endswith(b"\r\n\r\n200000")


def test_the_header_count_limit_is_served_and_one_more_header_gets_431() -> None:
    at_limit = [f"X-{number}: 1" for number in range(8)]  # with Host and Content-Length: 10
    with serving() as port:
        with connect(port) as sock:
            sock.sendall(request("/", *at_limit, length=0))
            assert read_answer(sock).startswith(b"HTTP/1.1 200")
        with connect(port) as sock:
            sock.sendall(request("/", *at_limit, "X-One-More: 1", length=0))
            assert status_and_error(until_closed(sock)[1]) == (431, "more than 10 request headers")


def test_a_connection_that_sends_nothing_is_closed_at_the_header_timeout_without_an_answer() -> (
    None
):
    with serving() as port, connect(port) as sock:
        seconds, answer = until_closed(sock)
    assert answer == b""
    assert 0.4 < seconds < 3


def test_a_head_that_does_not_end_gets_408_at_the_header_timeout() -> None:
    with serving() as port, connect(port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: test\r\n")
        seconds, answer = until_closed(sock)
    assert status_and_error(answer) == (408, "request headers not received within 0.5 s")
    assert 0.4 < seconds < 3


def test_a_body_that_does_not_end_gets_408_and_the_application_sees_the_client_go() -> None:
    with serving() as port, connect(port) as sock:
        sock.sendall(request("/", length=100) + b"only part of it")
        seconds, answer = until_closed(sock)
    assert status_and_error(answer) == (408, "request body not received within 0.5 s")
    assert 0.4 < seconds < 3
    assert SEEN == ["disconnect"]


def test_a_later_request_on_a_kept_alive_connection_has_its_own_header_timeout() -> None:
    with serving() as port, connect(port) as sock:
        sock.sendall(request("/", length=0))
        assert read_answer(sock).startswith(b"HTTP/1.1 200")
        time.sleep(0.3)  # within the keep-alive timeout; the first request's clock ran out
        sock.sendall(b"GET / HTTP/1.1\r\n")
        seconds, answer = until_closed(sock)
    assert status_and_error(answer)[0] == 408
    assert 0.4 < seconds < 3


def test_a_body_has_its_own_deadline_longer_than_the_headers_one() -> None:
    limits = replace(LIMITS, header_timeout=0.3, body_timeout=1.0)
    with serving(limits) as port, connect(port) as sock:
        sock.sendall(request("/", length=100) + b"only part of it")
        seconds, answer = until_closed(sock)
    assert status_and_error(answer) == (408, "request body not received within 1.0 s")
    assert 0.9 < seconds < 4  # the header deadline (0.3 s) passed without cutting it


def test_a_later_requests_header_deadline_is_not_pushed_back_by_an_earlier_body() -> None:
    limits = replace(LIMITS, header_timeout=0.3, body_timeout=2.0)
    with serving(limits) as port, connect(port) as sock:
        sock.sendall(request("/", length=4))
        time.sleep(0.5)  # past the header deadline, within the body's
        sock.sendall(b"body")
        assert read_answer(sock).endswith(b"\r\n\r\n4")
        sock.sendall(b"GET / HTTP/1.1\r\n")  # the next request's head never ends
        seconds, answer = until_closed(sock)
    assert status_and_error(answer) == (408, "request headers not received within 0.3 s")
    assert seconds < 1.5  # its own 0.3 s, not what was left of the body's 2 s


def test_a_connection_answered_before_its_body_ended_is_closed_after_the_keep_alive_timeout() -> (
    None
):
    with serving() as port, connect(port) as sock:
        sock.sendall(request("/early", length=300))
        assert read_answer(sock).endswith(b"\r\n\r\n0")  # answered at once
        for _ in range(3):  # the rest of the body, slowly: uvicorn's keep-alive timer stops
            time.sleep(0.1)
            sock.sendall(b"x" * 100)
        seconds, answer = until_closed(sock)
    assert answer == b""
    assert 0.4 < seconds < 3


def test_past_the_connection_limit_a_new_connection_takes_the_longest_idle_ones_place() -> None:
    with serving(replace(LIMITS, max_connections=2)) as port, clients(port, 2) as idle:
        with connect(port) as sock:
            sock.sendall(request("/", length=0))
            assert read_answer(sock).startswith(b"HTTP/1.1 200")
        assert until_closed(idle[0])[1] == b""  # closed to make room, as a keep-alive timeout would
        idle[1].sendall(request("/", length=0))  # the other one is still served
        assert read_answer(idle[1]).startswith(b"HTTP/1.1 200")


def test_past_the_connection_limit_with_none_idle_a_new_connection_gets_503_while_sending() -> None:
    limits = replace(LIMITS, max_connections=2)
    with serving(limits) as port, clients(port, 2, b"GET / HTTP/1.1\r\n") as busy:
        with connect(port) as sock:
            body = b"x" * 100_000
            sock.sendall(request("/", length=len(body)) + body)  # no reset: it is read
            assert status_and_error(until_closed(sock)[1]) == (
                503,
                "too many connections: try again later",
            )
        busy[0].sendall(b"Host: test\r\n\r\n")  # requests in progress are not cut
        assert read_answer(busy[0]).startswith(b"HTTP/1.1 200")


def test_when_too_many_refused_connections_linger_the_next_is_closed_unanswered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(connections, "MAX_LINGERING", 1)
    limits = replace(LIMITS, max_connections=1)
    with (
        serving(limits) as port,
        clients(port, 1, b"GET / HTTP/1.1\r\n"),
        connect(port) as lingering,
        connect(port) as closed,
    ):
        assert lingering.recv(65536).startswith(b"HTTP/1.1 503")
        assert until_closed(closed)[1] == b""


def test_a_request_the_parser_refuses_gets_the_json_400() -> None:
    with serving() as port, connect(port) as sock:
        sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        assert status_and_error(until_closed(sock)[1]) == (400, "invalid HTTP request")


def test_a_request_to_switch_protocols_is_answered_as_http_without_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    upgrade = request("/", "Connection: Upgrade", "Upgrade: h2c", length=0)
    with caplog.at_level(logging.INFO), serving() as port, connect(port) as sock:
        sock.sendall(upgrade)
        assert read_answer(sock).startswith(b"HTTP/1.1 200")
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]


# In a process of its own: the descriptor limits it sets cannot be raised again.
BUDGETS = """
import resource, sys
from sampleproject.serving.connections import connection_budget
NOFILE = resource.RLIMIT_NOFILE
for soft, hard in ((64, resource.getrlimit(NOFILE)[1]), (64, 64)):
    resource.setrlimit(NOFILE, (soft, hard))
    print(connection_budget(1000), resource.getrlimit(NOFILE)[0])
"""


def test_the_connection_limit_raises_the_soft_descriptor_limit_or_fits_under_the_hard_one() -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]  # raising it needs privileges
    require(hard >= 2000, f"the hard descriptor limit ({hard}) is below 2,000")
    result = subprocess.run(
        [sys.executable, "-c", BUDGETS], capture_output=True, text=True, check=True
    )
    raised, low = ([int(word) for word in line.split()] for line in result.stdout.splitlines())
    # soft 64, hard high: the soft limit goes up as far as a thousand connections need
    assert raised[0] == 1000
    assert 1000 + connections.RESERVED_FDS < raised[1] < 1200
    # soft and hard 64: fewer connections, leaving the reserve free
    assert low[1] == 64
    assert 1 <= low[0] <= 64 - connections.RESERVED_FDS


def test_failed_accepts_make_one_log_line_and_other_loop_errors_go_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    loop = connections.event_loop()
    try:
        for _ in range(1000):
            loop.call_exception_handler(
                {"message": connections.ACCEPT_FAILED, "exception": OSError(24, "Too many")}
            )
        loop.call_exception_handler({"message": "something else"})
    finally:
        loop.close()
    messages = [
        record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING
    ]
    assert len(messages) == 2, messages
    assert messages[0].startswith("cannot accept connections: [Errno 24] Too many")
    assert messages[1] == "something else"
