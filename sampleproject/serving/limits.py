"""A request body size limit that holds even when the client sends no Content-Length.

A declared ``Content-Length`` over the limit is refused before the body is read; a chunked
body (no length) is counted while it streams in and refused as soon as it passes the limit,
so a client cannot make the server buffer an unbounded body. Both raise a 413 where the
endpoint reads its body, after routing: the application's HTTPException handler answers it
with the API's JSON error body, and the metrics count it under its route (answered here,
before routing, it was counted under ``unmatched``). A request that never reads its body
(a path that does not exist, a GET) gets its usual answer, and uvicorn drops the body.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodySizeLimitMiddleware:  # pylint: disable=too-few-public-methods
    """Pure ASGI middleware: 413 for a request body over ``max_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = header(scope, b"content-length")
        if declared.isdigit() and int(declared) <= self.max_bytes:
            # The HTTP server reads exactly the declared length: nothing more to count.
            await self.app(scope, receive, send)
            return
        # Over the limit already (refused at the first read), or no length: counted.
        received = int(declared) if declared.isdigit() else 0

        async def receive_within_limit() -> Message:
            nonlocal received
            if received > self.max_bytes:
                raise self._too_large()
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise self._too_large()
            return message

        await self.app(scope, receive_within_limit, send)

    def _too_large(self) -> HTTPException:
        # Raised inside the endpoint's body reading, so the application's HTTPException
        # handler answers it like any other error.
        return HTTPException(413, f"request body larger than {self.max_bytes} bytes")


def header(scope: Scope, wanted: bytes) -> bytes:
    """The value of header ``wanted`` (lower case, as ASGI gives names), b"" without one."""
    for name, value in scope["headers"]:
        if name == wanted:
            return bytes(value)
    return b""
