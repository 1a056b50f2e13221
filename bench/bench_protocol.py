"""What the connection limits cost a request: uvicorn's httptools protocol against
``serving/connections.py``'s, in-process.

Each protocol parses kept-alive one-animal POSTs on one connection, with a transport that
drops what is written and an ASGI application that answers ``{}`` at once, so the figures are
the HTTP layer's own time a request (parsing, the request's cycle, the event loop's hops),
without the network, the server's application or the model. Also timed: a subclass of
uvicorn's protocol whose overrides only call uvicorn's methods, the price of overriding
alone. Interleaved rounds; the best of each (the least disturbed by other work).

    python bench/bench_protocol.py [--requests 20000] [--rounds 7]

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make the project's modules importable
    sys.path.insert(0, str(ROOT))

# pylint: disable=wrong-import-position
from sampleproject.serving.connections import BoundedHttpProtocol, ConnectionLimits  # noqa: E402
from sampleproject.serving.settings import ServeSettings  # noqa: E402

BODY = b'{"hair": 1, "milk": 1, "legs": 4, "toothed": 1, "backbone": 1}'
REQUEST = (
    b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\n\r\n%s" % (len(BODY), BODY)
)
Make = Callable[[uvicorn.Config, ServerState, asyncio.AbstractEventLoop], HttpToolsProtocol]


class NullTransport(asyncio.Transport):  # pylint: disable=abstract-method  # what is called
    """A connection that accepts every write and drops it (the methods the protocol calls)."""

    def write(self, data: bytes | bytearray | memoryview) -> None:
        pass

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(
            name, default
        )

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


class PassThrough(HttpToolsProtocol):
    """uvicorn's protocol, with the methods the limits override calling uvicorn's only."""

    # pylint: disable=useless-parent-delegation  # the point: what overriding alone costs

    def data_received(self, data: bytes) -> None:
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        super().on_body(body)

    def on_message_complete(self) -> None:
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()


def microseconds(make: Make, requests: int) -> float:
    """Microseconds a request through the protocol ``make`` builds."""
    answered = asyncio.Event()

    async def app(_scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})
        answered.set()

    loop = asyncio.new_event_loop()
    config = uvicorn.Config(app, lifespan="off", log_config=None, access_log=False)
    config.load()
    protocol = make(config, ServerState(), loop)
    protocol.connection_made(NullTransport())

    async def run() -> float:
        start = time.perf_counter()
        for _ in range(requests):
            answered.clear()
            protocol.data_received(REQUEST)
            await answered.wait()
            await asyncio.sleep(0)  # the cycle's end: uvicorn's keep-alive timer
        return time.perf_counter() - start

    try:
        return loop.run_until_complete(run()) / requests * 1e6
    finally:
        loop.close()


def main() -> int:
    """Time the three protocols in interleaved rounds; print the best of each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--requests", type=int, default=20000, help="requests a round")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    defaults = ServeSettings()
    limits = ConnectionLimits(
        defaults.max_header_bytes,
        defaults.max_headers,
        defaults.header_timeout,
        defaults.body_timeout,
        defaults.max_connections,
    )
    protocols: dict[str, Make] = {
        "uvicorn's httptools protocol": lambda c, s, loop: HttpToolsProtocol(
            config=c, server_state=s, app_state={}, _loop=loop
        ),
        "the same, overridden, calling uvicorn's methods only": lambda c, s, loop: PassThrough(
            config=c, server_state=s, app_state={}, _loop=loop
        ),
        "serving/connections.py (the limits)": lambda c, s, loop: BoundedHttpProtocol(
            config=c, server_state=s, app_state={}, _loop=loop, limits=limits
        ),
    }
    best = dict.fromkeys(protocols, float("inf"))
    for _ in range(args.rounds):
        for name, make in protocols.items():
            best[name] = min(best[name], microseconds(make, args.requests))
    floor = best["uvicorn's httptools protocol"]
    for name, figure in best.items():
        print(f"{name:<55} {figure:6.2f} µs a request  {figure - floor:+.2f} µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
