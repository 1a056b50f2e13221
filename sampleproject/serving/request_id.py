"""Request IDs: every answer carries one, the client's ``X-Request-ID`` or a new one.

A pure ASGI layer, the outermost of the application, so that every answer has the header:
the direct ``/predict`` path's, FastAPI's, the errors (404, 413, 401...) and whatever other
endpoints are added behind it. The ID is the client's when it is a safe one (1 to
:data:`MAX_LENGTH` characters of :data:`ALLOWED`: letters, digits and ``-._:/+=@``, so that it
can go into a log line, a header or a database as it is); any other value is replaced by a new
ID, and the answer says why in ``X-Request-ID-Replaced``. A new ID is 32 hexadecimal digits (128
random bits, the format of a W3C trace ID): unique across workers and restarts without any
coordination, in about half a microsecond.

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

_current: ContextVar[str | None] = ContextVar("sampleproject_request_id", default=None)


def current() -> str | None:
    """The ID of the request being answered (None outside a request)."""
    return _current.get()


def new_id() -> str:
    """A new request ID: 32 hexadecimal digits (128 random bits)."""
    return os.urandom(16).hex()


def accept(value: bytes) -> tuple[bytes, str | None]:
    """The request's ID from its ``X-Request-ID`` value (b"": none was sent), and why the
    client's value was replaced by a new ID (None: it was not)."""
    if not value:
        return new_id().encode(), None
    if len(value) > MAX_LENGTH:
        return new_id().encode(), TOO_LONG
    if value.translate(None, ALLOWED):  # what is left is not allowed
        return new_id().encode(), NOT_ALLOWED
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
    token = _current.set(request_id)
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
        token = _current.set(request_id.decode())
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
        record.request_id = _current.get() or "-"
        return True
