"""API keys, off by default: with ``serve --api-key-file FILE`` every request needs a key,
except the probes (``/health``, ``/ready``), which an orchestrator calls without one.

The file holds hashes, never keys: one a line, ``sha256:`` and the 64 hexadecimal digits of
the SHA-256 of a key, optionally followed by a label (who holds it); blank lines and ``#``
comments are ignored. Several lines are several valid keys: to rotate, add the new key's
line, reload (SIGHUP, or ``--reload-interval``), move the clients over, remove the old line,
reload again. A file that cannot be read or holds a bad line is refused: at start-up with one
line and exit 2, at a reload with an error in the log while the keys read before stay in force.

Why SHA-256 and not a password hash (bcrypt, scrypt, Argon2): those are slow on purpose, to
make guessing a human's short password expensive; an API key is 256 random bits, which no
guessing reaches, and a password hash's milliseconds on every request would cost most of the
server's throughput. The digest is the standard library's own SHA-256 (HACL*, in ``_sha2``,
``_sha256`` before Python 3.12) where there is one, not OpenSSL's behind ``hashlib.sha256``:
measured inside the server, between two model calls, OpenSSL's took about 4 µs a request (a
tenth of a one-animal request in-process), the built-in one under 1 µs, for the same digest.

The key is compared in constant time: its digest is compared with every stored digest, each
with :func:`hmac.compare_digest`, with no early exit, so the time taken says neither whether
nor where a key matched.

Clients send the key as ``Authorization: Bearer KEY`` (RFC 6750: what HTTP clients, SDKs and
Prometheus' ``authorization`` setting send) or as ``X-API-Key: KEY`` (what many API gateways
and scripts use: no scheme to spell). Without a valid one the answer is 401 with the API's JSON
error body and a ``WWW-Authenticate: Bearer`` challenge (RFC 9110, 11.6.1).
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import logging
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic_core import to_json
from starlette.types import ASGIApp, Receive, Scope, Send

from sampleproject.errors import UsageError
from sampleproject.serving.errors import error_body
from sampleproject.serving.limits import header
from sampleproject.serving.metrics import UNMATCHED_PATH, Metrics

logger = logging.getLogger("sampleproject.serving")

# Open without a key: the probes of an orchestrator (Kubernetes, the container's health check),
# in each protocol's words: ours, the Open Inference Protocol's (KServe probes those) and
# MLflow's /ping.
OPEN_PATHS = frozenset(("/health", "/ready", "/v2/health/live", "/v2/health/ready", "/ping"))
PREFIX = "sha256:"
_LINE = re.compile(r"sha256:([0-9a-f]{64})(?:\s+\S.*)?")
REALM = 'Bearer realm="sampleproject"'
MISSING = "an API key is needed: send it as 'Authorization: Bearer KEY' or 'X-API-Key: KEY'"
INVALID = "the API key is not valid"


def _fast_sha256() -> Callable[[bytes], Any]:
    """The standard library's built-in SHA-256 (see the module's docstring), else hashlib's."""
    for name in ("_sha2", "_sha256"):
        try:
            return importlib.import_module(name).sha256  # type: ignore[no-any-return]
        except (ImportError, AttributeError):
            continue
    return hashlib.sha256


sha256 = _fast_sha256()


def hash_key(key: str) -> str:
    """The key file's line for ``key`` (without a label)."""
    return PREFIX + hashlib.sha256(key.encode()).hexdigest()


def read_key_file(path: Path) -> tuple[bytes, ...]:
    """The key digests in ``path``; a :class:`UsageError` naming the problem if it has none,
    cannot be read, or holds a line that is not a key's hash."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"--api-key-file {path}: cannot read it: {error}") from None
    digests = []
    for number, written in enumerate(text.splitlines(), start=1):
        line = written.split("#", 1)[0].strip()
        if not line:
            continue
        found = _LINE.fullmatch(line)
        if found is None:
            raise UsageError(
                f"--api-key-file {path}, line {number}: not 'sha256:' and 64 lowercase "
                "hexadecimal digits (see docs/security.md to hash a key)"
            )
        digests.append(bytes.fromhex(found.group(1)))
    if not digests:
        raise UsageError(f"--api-key-file {path}: no key in it (every request would get 401)")
    return tuple(digests)


class ApiKeys:
    """The valid keys' digests, read from a file, read again by :meth:`reload`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.digests = read_key_file(path)
        self._stamp = _stamp(path)

    def valid(self, key: bytes) -> bool:
        """Whether ``key`` is one of the keys, in a time that does not depend on which."""
        digest = sha256(key).digest()
        found = False
        for stored in self.digests:
            found |= hmac.compare_digest(digest, stored)
        return found

    def reload(self) -> bool:
        """Read the file again if it changed; True when new keys are in force. A bad file is
        refused (logged): the keys read before stay."""
        stamp = _stamp(self.path)
        if stamp == self._stamp:
            return False
        try:
            digests = read_key_file(self.path)
        except UsageError as error:
            logger.error(
                "API keys not reloaded, %d keys stay in force: %s", len(self.digests), error
            )
            return False
        self.digests, self._stamp = digests, stamp
        logger.info("API keys reloaded from %s: %d keys", self.path, len(digests))
        return True


def _stamp(path: Path) -> tuple[int, int, int] | None:
    """What tells a changed file from the same one: its inode, size and modification time."""
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_ino, status.st_size, status.st_mtime_ns


class ApiKeyMiddleware:  # pylint: disable=too-few-public-methods
    """Pure ASGI middleware: 401 for a request without a valid key, but on :data:`OPEN_PATHS`.

    It sits in front of the direct ``/predict`` path and of FastAPI, so it counts its 401s in
    the metrics itself, with the path ``unmatched``: they are refused before any routing.
    """

    def __init__(self, app: ASGIApp, *, keys: ApiKeys, metrics: Metrics) -> None:
        self.app = app
        self.keys = keys
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        key = presented_key(scope)
        if key and self.keys.valid(key):
            await self.app(scope, receive, send)
            return
        challenge = REALM if not key else f'{REALM}, error="invalid_token"'
        await _send_401(send, INVALID if key else MISSING, challenge)
        self.metrics.observe(scope["method"], UNMATCHED_PATH, 401, time.perf_counter() - start)


def presented_key(scope: Scope) -> bytes:
    """The key the request presents: ``Authorization: Bearer KEY``, else ``X-API-Key: KEY``;
    b"" without one."""
    return key_from(header(scope, b"authorization"), header(scope, b"x-api-key"))


def key_from(authorization: bytes, api_key: bytes) -> bytes:
    """The key in an ``authorization`` value (``Bearer KEY``), else in ``api_key``; b"" without
    one. Other transports (gRPC metadata) call it with their two values."""
    scheme, _, token = authorization.partition(b" ")
    if scheme.lower() == b"bearer" and token.strip():
        return token.strip()
    return api_key.strip()


async def _send_401(send: Send, message: str, challenge: str) -> None:
    payload = to_json(error_body(message))
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        (b"www-authenticate", challenge.encode()),
    ]
    await send({"type": "http.response.start", "status": 401, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
