"""HTTP over a raw socket, for the tests of hostile and broken connections: what a client
that does not play by the rules sends, and how to read what comes back."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest


def connect(port: int, timeout: float = 8) -> socket.socket:
    """A client connection to a loopback port (reads time out after ``timeout`` seconds)."""
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


@contextmanager
def clients(port: int, count: int, sending: bytes = b"") -> Iterator[list[socket.socket]]:
    """``count`` connections, each having sent ``sending``, opened one after the other."""
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            socks.append(connect(port))
            socks[-1].sendall(sending)
            time.sleep(0.05)  # accepted in this order
        yield socks
    finally:
        for sock in socks:
            sock.close()


def until_closed(sock: socket.socket) -> tuple[float, bytes]:
    """Seconds until the server closes ``sock``, and what it sent meanwhile; a read that
    times out (the server kept the connection open) fails the test."""
    start, received = time.monotonic(), b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except TimeoutError:
        pytest.fail(f"still open after {time.monotonic() - start:.1f} s: {received!r}")
    return time.monotonic() - start, received


def read_answer(sock: socket.socket) -> bytes:
    """One whole answer: its head, then as many bytes as its Content-Length says."""
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(65536)
        assert chunk, f"closed before a whole answer: {received!r}"
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def json_error(answer: bytes) -> tuple[int, str]:
    """(status, the JSON body's ``error``) of a raw HTTP answer, checking its media type."""
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"content-type: application/json" in head.lower(), answer
    return int(head.split()[1]), str(json.loads(body)["error"])
