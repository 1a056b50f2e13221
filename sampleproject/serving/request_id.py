"""Request IDs: every answer carries one, the client's ``X-Request-ID`` or a new one.

A pure ASGI layer, the outermost of the application, so that every answer has the header:
the direct ``/predict`` path's, FastAPI's, the errors (404, 413, 401...) and whatever other
endpoints are added behind it. The ID is the client's when it is a safe one (1 to
:data:`MAX_LENGTH` characters of :data:`ALLOWED`: letters, digits and ``-._:/+=@``, so that it
can go into a log line, a header or a database as it is); any other value is replaced by a new
ID, and the answer says why in ``X-Request-ID-Replaced``. A new ID is 32 hexadecimal digits (128
random bits, the format of a W3C trace ID): unique across workers and restarts without any
coordination. The random bits are read 4 KiB at a time (one system call for 256 IDs: one call
an ID cost half a microsecond, a tenth of what the layer costs a request).

While the request is answered, :func:`current` gives its ID to any code that runs for it (the
model call, a payload log, a trace, the access log through :class:`AccessLogFilter`), through a
context variable: it follows the request into the tasks and threads started for it
(``asyncio.to_thread`` copies the context).

Other transports do the same with :func:`of_metadata` and :func:`bound`. A gRPC server
interceptor, for instance, reads the ID from the call's metadata, sends it back in the initial
metadata and answers the call inside ``bound``::

    request_id, replaced = of_metadata(context.invocation_metadata())
    await context.send_initial_metadata([("x-request-id", request_id)])
    with bound(request_id):
        return await handler(request, context)
"""

from __future__ import annotations

import binascii
import logging
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sampleproject.serving.limits import header

HEADER = b"x-request-id"
REPLACED_HEADER = b"x-request-id-replaced"
MAX_LENGTH = 128
ALLOWED = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._:/+=@"
TOO_LONG = f"longer than {MAX_LENGTH} characters"
NOT_ALLOWED = "characters other than letters, digits and -._:/+=@"

# The request's ID as it travels in headers (bytes); current() gives it as text.
_current: ContextVar[bytes | None] = ContextVar("sampleproject_request_id", default=None)


def current() -> str | None:
    """The ID of the request being answered (None outside a request)."""
    found = _current.get()
    return None if found is None else found.decode()


class _RandomHex:  # pylint: disable=too-few-public-methods
    """Random hexadecimal digits, 32 at a time, from 4 KiB reads of the system's randomness."""

    def __init__(self) -> None:
        self._digits = b""
        self._used = 0

    def take(self) -> bytes:
        if self._used >= len(self._digits):
            self._digits, self._used = binascii.hexlify(os.urandom(4096)), 0
        self._used += 32
        return self._digits[self._used - 32 : self._used]

    def forget(self) -> None:
        """After a fork: the child must not make the IDs its parent makes."""
        self._digits, self._used = b"", 0


_random_hex = _RandomHex()
if hasattr(os, "register_at_fork"):  # POSIX; Windows has no fork
    os.register_at_fork(after_in_child=_random_hex.forget)


def new_id() -> str:
    """A new request ID: 32 hexadecimal digits (128 random bits)."""
    return _random_hex.take().decode()


def accept(value: bytes) -> tuple[bytes, str | None]:
    """The request's ID from its ``X-Request-ID`` value (b"": none was sent), and why the
    client's value was replaced by a new ID (None: it was not)."""
    if not value:
        return _random_hex.take(), None
    if len(value) > MAX_LENGTH:
        return _random_hex.take(), TOO_LONG
    if value.translate(None, ALLOWED):  # what is left is not allowed
        return _random_hex.take(), NOT_ALLOWED
    return value, None


def of_metadata(metadata: Iterable[tuple[str, str | bytes]]) -> tuple[str, str | None]:
    """:func:`accept` for gRPC-style metadata (lower-case keys): the ID, and why the caller's
    ``x-request-id`` was replaced (None: it was not)."""
    sent = next((value for key, value in metadata if key == HEADER.decode()), b"")
    found, replaced = accept(sent.encode("utf-8") if isinstance(sent, str) else sent)
    return found.decode(), replaced


@contextmanager
def bound(request_id: str) -> Iterator[None]:
    """:func:`current` gives ``request_id`` inside this block."""
    token = _current.set(request_id.encode())
    try:
        yield
    finally:
        _current.reset(token)


class RequestIdMiddleware:  # pylint: disable=too-few-public-methods
    """Pure ASGI middleware: the request's ID in :func:`current` and on its answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id, replaced = accept(header(scope, HEADER))
        added = [(HEADER, request_id)]
        if replaced is not None:
            added.append((REPLACED_HEADER, replaced.encode()))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":  # a copy: the sender's stays as it was
                message = {**message, "headers": [*message.get("headers", ()), *added]}
            await send(message)

        # Set and reset by hand: bound()'s generator costs a microsecond on the direct path.
        token = _current.set(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _current.reset(token)


class AccessLogFilter(logging.Filter):  # pylint: disable=too-few-public-methods
    """Gives log records a ``request_id`` field (``-`` outside a request), for the formats.

    uvicorn writes its access log line while the answer is sent, inside the request, so the
    line can name the request's ID.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current() or "-"
        return True
