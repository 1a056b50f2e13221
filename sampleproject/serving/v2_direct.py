"""``POST /v2/models/NAME/infer`` on a direct path, ahead of FastAPI: a pure ASGI layer.

As :mod:`sampleproject.serving.direct` does for ``/predict``, and for the same reason (the
FastAPI route's machinery costs more than the model): an infer request with a declared body
length within the limit is read, answered (:func:`~sampleproject.serving.v2_rest.answer`,
errors included) and counted here. Its content type is not looked at: Triton's clients send
none. A body without a length, or over the limit, goes on to the size-limit middleware and
the FastAPI route (:mod:`sampleproject.serving.v2_routes`), which answers with the same
function; so does every other request.
"""

from __future__ import annotations

import re
import time

from starlette.types import ASGIApp, Receive, Scope, Send

from sampleproject.serving import v2, v2_rest
from sampleproject.serving.direct import read_body
from sampleproject.serving.errors import CLIENT_CLOSED
from sampleproject.serving.limits import header

INFER = re.compile(r"/v2/models/(?P<name>[^/]+)(?:/versions/(?P<version>[^/]+))?/infer")
# The FastAPI routes' templates: the metrics' path labels.
ROUTES = ("/v2/models/{model_name}/infer", "/v2/models/{model_name}/versions/{model_version}/infer")


class DirectV2:  # pylint: disable=too-few-public-methods
    """Pure ASGI middleware: answers V2 infer requests itself when it can, else passes them on."""

    def __init__(self, app: ASGIApp, *, service: v2.Service, max_body_bytes: int) -> None:
        self.app = app
        self._service = service
        self._max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = (
            INFER.fullmatch(scope["path"])
            if scope["type"] == "http" and scope["method"] == "POST"
            else None
        )
        length = header(scope, b"content-length") if found else b""
        if found is None or not length.isdigit() or int(length) > self._max_body_bytes:
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        body = await read_body(receive)
        if body is None:  # the client went away before its whole body came: nothing to answer
            self._service.metrics.observe(
                "POST",
                ROUTES[found["version"] is not None],
                CLIENT_CLOSED,
                time.perf_counter() - start,
            )
            return
        declared = header(scope, v2_rest.HEADER_LENGTH.encode())
        status, headers, payload = v2_rest.answer(
            body,
            declared.decode("latin-1") if declared else None,
            (found["name"], found["version"]),
            self._service,
        )
        try:
            await send_answer(send, status, headers, payload)
        finally:
            route = ROUTES[found["version"] is not None]
            self._service.metrics.observe("POST", route, status, time.perf_counter() - start)


async def send_answer(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], payload: bytes
) -> None:
    """Send a whole answer: its status, headers (and length), and body."""
    headers = [*headers, (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
