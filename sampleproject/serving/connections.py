"""What one HTTP connection may cost: bounded headers, deadlines, and a connection limit.

uvicorn's httptools protocol bounds none of these. Its own knobs are used where they do the
job (``timeout_keep_alive``, the keep-alive timeout) and not where they do not:
``h11_max_incomplete_event_size`` bounds headers for h11 only, which parses several times
slower; ``limit_concurrency`` answers 503 only once a request's headers are in (idle sockets
keep their descriptors), in plain text, and logs a warning for every request it refuses (a
log flood under attack: read in uvicorn 0.54's code).

Probed on loopback before this module, one connection sending a never-ending header grew
the server by the header's size (66 MiB sent, 64 MiB more RSS), and httptools' header buffer
is a ``bytes`` grown by concatenation, so a long header sent in small pieces costs time
quadratic in its length; a connection that never sent a whole request stayed open for ever;
and under ``ulimit -n 64`` a hundred idle sockets made ``/health`` time out for everyone
while asyncio logged a traceback for every failed ``accept()`` (28 MB of log in 11 s).
:class:`BoundedHttpProtocol` is that protocol with:

- a **head limit**: the request line and headers together at most ``max_header_bytes``
  (16 KiB: h11's default, and Node's), at most ``max_headers`` fields (100: gunicorn's);
  past either, 431. Sent a byte at a time, a 16 KiB header costs the parser 7 ms; 1 MiB
  cost it 65 s (measured in-process, httptools 0.9);
- a **header deadline**: a connection's first request line and headers must arrive within
  ``header_timeout`` seconds of its opening, and later ones within as long of their first
  byte (between requests, uvicorn's keep-alive timeout applies). A partial request gets 408;
  a connection that sent nothing is closed without an answer (browsers open spare ones);
- a **body deadline**: the body within ``body_timeout`` seconds of the headers, else 408.
  One deadline holds the whole body, so a client cannot keep a connection by trickling a
  byte now and then;
- a **connection limit**: at ``max_connections`` open connections (per process), a new one
  takes the place of the connection idle the longest (one that has sent no byte since it
  opened or since its last answer), which is closed, as a keep-alive timeout would; when
  none is idle, the new one gets 503. So idle sockets, a cheap attack, cannot lock normal
  clients out, while requests in progress are never cut. ``serve`` lowers the limit to
  what the file-descriptor limit allows (see :func:`connection_budget`), so that the limit
  acts before ``accept()`` fails.

Every refusal is an answer with the API's JSON error body and ``Connection: close``, and the
connection is then closed the way nginx's "lingering close" does it: the write side first,
then the rest of the client's request is read and dropped, for up to :data:`LINGER_SECONDS`
and :data:`LINGER_BYTES`. Closed at once, a client still sending its request gets a reset
instead of the answer (half of 300 clients sending a body did, on loopback). A request the
parser refuses (invalid HTTP) gets the same JSON 400 instead of uvicorn's plain-text one.

The fast path pays for this with a few attribute updates per request: one timer a connection
whose deadline moves (:meth:`BoundedHttpProtocol._arm`), not two timers set and cancelled for
every request (2 µs each pair). ``bench/bench_protocol.py`` measures the HTTP layer alone:
23.6 µs a kept-alive request against uvicorn's 21.1 µs, of which 1.1 µs is the cost of
overriding uvicorn's methods at all; the 2.5 µs are about 1.5 % of the 166 µs of server CPU a
one-animal request takes (``bench/bench_serving.py``). ``bench/bench_hostile.py`` measures a
hundred hostile connections at once against one worker: 1.5 MB more memory, and a normal
client's p99 at 26 ms (10 ms without them).
"""

from __future__ import annotations

import asyncio
import logging
import resource
from asyncio import TimerHandle
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, ClassVar, cast
from weakref import WeakKeyDictionary

from pydantic_core import to_json
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import (
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)
from uvicorn.server import ServerState

from sampleproject.serving.errors import error_body

logger = logging.getLogger("sampleproject.serving")

# How long, and how much of, a refused connection is read and dropped before it is closed
# (see the docstring): enough for a request with a body at the default limit.
LINGER_SECONDS = 2.0
LINGER_BYTES = 2 * 1024 * 1024
# File descriptors kept free for everything but connections (the model's files, logs,
# metrics files, a registry fetch) and for refused connections while they linger.
RESERVED_FDS = 32
MAX_LINGERING = RESERVED_FDS // 2
# A connection's phases: waiting for a request, reading its head, its body, answering it.
IDLE, HEAD, BODY, ANSWERING = range(4)


@dataclass(frozen=True)
class ConnectionLimits:
    """The limits of :class:`BoundedHttpProtocol` (their defaults: the settings')."""

    max_header_bytes: int
    max_headers: int
    header_timeout: float
    body_timeout: float
    max_connections: int


# Each server's idle connections (see BoundedHttpProtocol._evict_idle).
_IDLE: WeakKeyDictionary[ServerState, dict[BoundedHttpProtocol, None]] = WeakKeyDictionary()


class BoundedHttpProtocol(HttpToolsProtocol):  # pylint: disable=too-many-instance-attributes
    """uvicorn's httptools protocol with the limits of :class:`ConnectionLimits`."""

    # Refused connections of this process still lingering (they hold a file descriptor).
    lingering: ClassVar[int] = 0

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        limits: ConnectionLimits,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = limits
        self._phase = IDLE
        self._head_bytes = 0  # bytes received since the current head began
        self._receiving: RequestResponseCycle | None = None  # the request whose body arrives
        self._deadline: float | None = None  # when the current phase times out
        self._timer: TimerHandle | None = None
        self._refusal: tuple[int, str] | None = None  # decided while parsing
        self._closing = False
        self._refused_on_arrival = False
        self._fresh = True  # no request has begun: the first one's clock started at opening
        self._dropped = 0  # bytes read and dropped while lingering
        # The server's idle connections, longest idle first (a dict keeps insertion order).
        self._idle = _IDLE.setdefault(server_state, {})

    # --- the connection -------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.limits.max_connections and not self._evict_idle():
            self.transport = transport
            self._refuse_connection()
            return
        super().connection_made(transport)
        self._idle[self] = None
        self._arm(self.limits.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._idle.pop(self, None)
        if self._timer is not None:
            self._timer.cancel()
        if self._refused_on_arrival:
            BoundedHttpProtocol.lingering -= 1
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._closing:  # refused: read and dropped while lingering
            self._dropped += len(data)
            if self._dropped > LINGER_BYTES:
                self.transport.close()
            return
        if self._phase != BODY:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._refusal is not None:
            self._refuse(*self._refusal)
        elif self._phase != BODY and self._head_bytes > self.limits.max_header_bytes:
            self._refuse(431, f"request headers larger than {self.limits.max_header_bytes} bytes")

    def send_400_response(self, msg: str) -> None:
        """The parser refused the request (invalid HTTP): the API's JSON 400."""
        self._refuse(400, "invalid HTTP request")

    def _unsupported_upgrade_warning(self) -> None:
        # uvicorn logs two warnings for every request asking to switch protocols (WebSocket,
        # h2c): a log flood for the asking. The request is answered as plain HTTP anyway,
        # which RFC 9110 allows.
        pass

    # --- the parser's callbacks -----------------------------------------------------

    def on_message_begin(self) -> None:
        self._idle.pop(self, None)
        if not self._fresh:  # a later request: its head has header_timeout from now
            self._arm(self.limits.header_timeout)
        self._fresh, self._phase = False, HEAD
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._phase = BODY
        if self._refusal is not None:
            return
        if len(self.headers) > self.limits.max_headers:
            self._refusal = (431, f"more than {self.limits.max_headers} request headers")
            return
        if self._head_bytes > self.limits.max_header_bytes and (
            self._head_size() > self.limits.max_header_bytes
        ):  # the last piece received had the end of a head over the limit
            self._refusal = (
                431,
                f"request headers larger than {self.limits.max_header_bytes} bytes",
            )
            return
        self._arm(self.limits.body_timeout)
        super().on_headers_complete()
        self._receiving = self.cycle

    def on_body(self, body: bytes) -> None:
        if self._refusal is None:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._refusal is not None:
            return
        self._head_bytes = 0
        super().on_message_complete()
        cycle, self._receiving = self._receiving, None
        if cycle is not None and cycle.response_complete:
            # Answered before its body ended (a 413): uvicorn's keep-alive timer was set
            # then, and cancelled by the body's bytes; this one stands in for it.
            self._phase, self._idle[self] = IDLE, None
            self._arm(self.timeout_keep_alive)
        else:
            self._phase, self._deadline = ANSWERING, None  # uvicorn's keep-alive timer follows

    def on_response_complete(self) -> None:
        super().on_response_complete()  # starts a pipelined request, if one waits
        if self._phase in (IDLE, ANSWERING) and self.cycle.response_complete:
            self._idle[self] = None  # waiting for the next request: the newest idle one

    def _head_size(self) -> int:
        """The size of the request line and headers just parsed (give or take the spaces)."""
        return len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)

    # --- deadlines ------------------------------------------------------------------

    def _arm(self, seconds: float) -> None:
        """The current phase ends ``seconds`` from now; the timer fires then or earlier."""
        deadline = self._deadline = self.loop.time() + seconds
        timer = self._timer
        if timer is None or timer.when() > deadline:  # else it fires first, and moves on
            if timer is not None:
                timer.cancel()
            self._timer = self.loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if self._deadline is None or self._closing:
            return  # answering (uvicorn's keep-alive timer follows), or closing
        if self.loop.time() < self._deadline:
            self._timer = self.loop.call_at(self._deadline, self._on_timer)
        elif self._phase == IDLE:
            self.transport.close()  # nothing was asked: nothing to answer
        elif self._phase == HEAD:
            self._refuse(408, f"request headers not received within {self.limits.header_timeout} s")
        else:
            self._refuse(408, f"request body not received within {self.limits.body_timeout} s")

    # --- refusals -------------------------------------------------------------------

    def _evict_idle(self) -> bool:
        """Make room by closing the connection idle the longest, if any is (no byte of a
        request received since it opened or since its last answer); True if one was."""
        for victim in self._idle:
            del self._idle[victim]
            victim.connections.discard(victim)  # its place is free now
            victim.transport.close()
            return True
        return False

    def _refuse_connection(self) -> None:
        """Too many connections: answer 503 and linger, or close at once when too many
        refused connections linger already."""
        self._closing = True
        if BoundedHttpProtocol.lingering >= MAX_LINGERING:
            self.transport.close()
            return
        BoundedHttpProtocol.lingering += 1
        self._refused_on_arrival = True
        self.transport.write(_response(503, "too many connections: try again later", self))
        self._linger()

    def _refuse(self, status: int, message: str) -> None:
        """Answer ``status`` unless a response is under way, then close the connection."""
        if self._closing:
            return
        self._closing = True
        self._idle.pop(self, None)
        self._unset_keepalive_if_required()
        receiving = self._receiving
        if receiving is not None:
            # Its application stops waiting for the body: it is told the client went away,
            # and whatever it sends from now on is dropped.
            receiving.disconnected = True
            receiving.message_event.set()
            answer = not receiving.response_started and not self.pipeline
        else:  # in a head: answer unless an earlier request's response is under way
            answer = self.cycle is None or self.cycle.response_complete
        if answer:
            self.transport.write(_response(status, message, self))
        self.flow.resume_reading()
        self._linger()

    def _linger(self) -> None:
        if self.transport.can_write_eof():
            self.transport.write_eof()  # the answer goes out, then our side's FIN
        if self._timer is not None:
            self._timer.cancel()
        # The client's FIN closes it sooner (``eof_received``).
        self._timer = self.loop.call_later(LINGER_SECONDS, self.transport.close)


def protocol_with(limits: ConnectionLimits) -> type[asyncio.Protocol]:
    """What uvicorn's ``http`` setting takes: :class:`BoundedHttpProtocol` with ``limits``.

    uvicorn only calls it, with the arguments it gives the class, so a factory will do
    (a partial object, which the workers of ``--workers`` receive pickled, unlike a class
    made on the fly).
    """
    return cast("type[asyncio.Protocol]", partial(BoundedHttpProtocol, limits=limits))


def _response(status: int, message: str, protocol: HttpToolsProtocol) -> bytes:
    """A complete HTTP response with the API's JSON error body, closing the connection."""
    body = to_json(error_body(message))
    head = [STATUS_LINE[status]]
    defaults = protocol.server_state.default_headers  # Date, Server
    head += [name + b": " + value + b"\r\n" for name, value in defaults]
    head += [
        b"content-type: application/json\r\n",
        b"content-length: %d\r\n" % len(body),
        b"connection: close\r\n\r\n",
    ]
    return b"".join(head) + body


# --- the process: file descriptors and the event loop ---------------------------------


def connection_budget(wanted: int) -> int:
    """How many connections this process can hold: ``wanted``, or what the file-descriptor
    limit leaves once it is raised as far as allowed (soft up to hard, as Go does at start).

    Without this, a limit above the descriptors left makes ``accept()`` fail first, and
    every client waits instead of being refused.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    open_now = _open_fds()
    needed = wanted + open_now + RESERVED_FDS
    if soft != resource.RLIM_INFINITY and soft < needed:
        raised = needed if hard == resource.RLIM_INFINITY else min(hard, needed)
        if raised > soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            soft = raised
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(1, min(wanted, soft - open_now - RESERVED_FDS))


def _open_fds() -> int:
    try:
        return sum(1 for _ in Path("/proc/self/fd").iterdir())
    except OSError:  # not Linux: a guess
        return 16


ACCEPT_FAILED = "socket.accept() out of system resource"
# One line about failing accept() calls every this many seconds, at most.
ACCEPT_REPORT_SECONDS = 60.0


def event_loop() -> asyncio.AbstractEventLoop:
    """asyncio's event loop (uvicorn's ``loop`` factory), with a quiet report of failed
    ``accept()`` calls.

    Out of file descriptors, asyncio logs a traceback for every failed ``accept()``, and
    tries up to the backlog (2,048) of them on every loop cycle: megabytes of log a second.
    Here they make one line a minute; asyncio retries by itself a second later.
    """
    loop = asyncio.SelectorEventLoop()
    last_report: list[float] = []

    def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if context.get("message") != ACCEPT_FAILED:
            loop.default_exception_handler(context)
            return
        now = loop.time()
        if not last_report or now - last_report[0] >= ACCEPT_REPORT_SECONDS:
            last_report[:] = [now]
            limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
            logger.warning(
                "cannot accept connections: %s (file-descriptor limit %d); retrying",
                context.get("exception"),
                limit,
            )

    loop.set_exception_handler(handle)
    return loop
