"""The floor of the serving benchmark: a raw ASGI app, no framework, the same model and answers.

What a Python server cannot beat on one core: uvicorn's fastest parts (httptools, uvloop or
asyncio's loop) around nothing but JSON in, one ONNX Runtime call, JSON out. It answers
``POST /predict`` as ``sampleproject serve`` does (an object for an object, a list for a
list) but validates nothing, and ``GET`` anything with 200 (the benchmark's readiness probe)::

    python -m uvicorn bench.floor_app:app --http httptools --loop uvloop --no-access-log
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from bench.zoo_onnx import ZooModel

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

MODEL = ZooModel()  # loaded at import, before uvicorn accepts a connection
JSON_HEADERS = [(b"content-type", b"application/json")]


async def app(scope: Message, receive: Receive, send: Send) -> None:
    """The ASGI application."""
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
        return
    if scope["method"] != "POST":
        await answer(send, 200, b'{"status":"ok"}')
        return
    body = b""
    more = True
    while more:  # the body may come in several messages
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    if scope["path"] != "/predict":
        await answer(send, 404, b'{"detail":"Not Found"}')
        return
    animals = json.loads(body)
    many = isinstance(animals, list)
    records = MODEL.records(animals if many else [animals])
    # The compact separators of the project's JSONResponse: byte-for-byte the same answer.
    await answer(
        send, 200, json.dumps(records if many else records[0], separators=(",", ":")).encode()
    )


async def answer(send: Send, status: int, body: bytes) -> None:
    """Send one complete response."""
    await send({"type": "http.response.start", "status": status, "headers": JSON_HEADERS})
    await send({"type": "http.response.body", "body": body})


async def lifespan(receive: Receive, send: Send) -> None:
    """Nothing to start or stop (the model loaded at import): acknowledge both."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
