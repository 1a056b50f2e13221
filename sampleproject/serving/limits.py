"""A request body size limit that holds even when the client sends no Content-Length.

A declared ``Content-Length`` over the limit is refused before the body is read; a chunked
body (no length) is counted while it streams in and refused as soon as it passes the limit,
so a client cannot make the server buffer an unbounded body. Both answer 413 with the API's
JSON error body. (FastAPI's own ``max_body_size`` answers plain text in the first case.)
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sampleproject.serving.errors import error_body


class BodySizeLimitMiddleware:  # pylint: disable=too-few-public-methods
    """Pure ASGI middleware: 413 for a request body over ``max_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> str:
        return f"request body larger than {self.max_bytes} bytes"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = header(scope, b"content-length")
        if declared.isdigit():
            if int(declared) > self.max_bytes:
                response = JSONResponse(error_body(self._too_large()), 413)
                await response(scope, receive, send)
                return
            # The HTTP server reads exactly the declared length: nothing more to count.
            await self.app(scope, receive, send)
            return
        received = 0

        async def receive_within_limit() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Raised inside the endpoint's body reading, so the application's
                    # HTTPException handler answers it like any other error.
                    raise HTTPException(413, self._too_large())
            return message

        await self.app(scope, receive_within_limit, send)


def header(scope: Scope, wanted: bytes) -> bytes:
    """The value of header ``wanted`` (lower case, as ASGI gives names), b"" without one."""
    for name, value in scope["headers"]:
        if name == wanted:
            return bytes(value)
    return b""
