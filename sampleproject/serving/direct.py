"""``POST /predict`` on a direct path, ahead of FastAPI: a pure ASGI layer.

A profile of the FastAPI route showed its per-request machinery (dependency solving, the
request and response objects, a thread-pool hop for each synchronous dependency, a dozen
middleware frames) costing several times the model itself (see the serving profile in the
documentation's benchmarks page). This layer answers the requests that make up a prediction
service's traffic in one pass: read the body, parse and validate it in pydantic-core
(``validate_json``: JSON bytes to checked animals, no intermediate Python objects), run the
model, count, and send JSON bytes. A batch whose animals are all written alike (the same
fields in the same order, one-digit values, as a program writes them) is read with NumPy
instead, in one pass over its bytes (:func:`~sampleproject.inference.fastpath.array_features`),
without an object per animal.

The direct path validates in strict mode, which pydantic-core does without calling Python:
every value a JSON integer, flags 0 or 1, legs from the data's domain, no unknown field. That
accepts a subset of what the API accepts (it also takes ``true`` and ``1.0``) with the same
values. Anything else goes on to the usual stack (metrics, size limit, FastAPI) unchanged:
other paths and methods, a body not declared as ``application/json`` or without a declared
length within the limit, an empty body, a body the strict check refuses (replayed, so FastAPI
parses and validates it again: an invalid request gets its usual message, and a ``true`` its
usual answer), and requests while no model is loaded.

The FastAPI route stays the API's documented contract and answers those. Both paths share
the validation (:func:`schemas.predict_body`) and the prediction
(:func:`~sampleproject.serving.prediction.predict`); ``tests/test_serve_answers.py`` checks
that every answer is the one the FastAPI route alone gave.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import TypeAdapter, ValidationError
from pydantic_core import to_json
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sampleproject import schema
from sampleproject.inference.fastpath import array_features
from sampleproject.inference.predictor import LoadedModel
from sampleproject.serving import errors, schemas, tracing
from sampleproject.serving.limits import header
from sampleproject.serving.metrics import Metrics
from sampleproject.serving.model_state import ServedModel
from sampleproject.serving.prediction import features_of, predict_features

logger = logging.getLogger("sampleproject.serving")

PATH = "/predict"
JSON_HEADERS = [(b"content-type", b"application/json")]


class DirectPredict:  # pylint: disable=too-few-public-methods
    """Pure ASGI middleware: answers ``POST /predict`` itself when it can, else passes it on.

    It is the outermost layer, so that the requests it answers cross nothing else: it counts
    them in the metrics itself, and takes only bodies of a declared length within the limit
    (the HTTP server then reads exactly that many bytes). A body sent without a length, or
    over the limit, goes on to the size-limit middleware.
    """

    def __init__(  # pylint: disable=too-many-arguments
        self,
        app: ASGIApp,
        *,
        model: ServedModel,
        metrics: Metrics,
        max_animals: int,
        max_body_bytes: int,
    ) -> None:
        self.app = app
        self._model = model
        self._metrics = metrics
        self._max_body_bytes = max_body_bytes
        self._max_animals = max_animals
        self._animals = TypeAdapter[Any](schemas.predict_body(max_animals, schema.Animal))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The model that answers this request, whatever reloads meanwhile.
        model = self._model.current
        if not (
            scope["type"] == "http"
            and scope["path"] == PATH
            and scope["method"] == "POST"
            and model is not None
            and self._takes(scope)
        ):
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        body = await read_body(receive)
        if body is None:  # the client went away before its whole body came: nothing to answer
            self._metrics.observe("POST", PATH, errors.CLIENT_CLOSED, time.perf_counter() - start)
            return
        answer = self._answer(body, model) if body else None  # an empty body: FastAPI's 422
        if answer is None:
            await self.app(scope, _replay(body, receive), send)
            return
        try:
            await _send_json(send, *answer)
        finally:
            self._metrics.observe("POST", PATH, answer[0], time.perf_counter() - start)

    def _takes(self, scope: Scope) -> bool:
        """A body declared as ``application/json`` (with parameters or not), of a declared
        length within the limit."""
        media_type = header(scope, b"content-type").split(b";", 1)[0].strip().lower()
        length = header(scope, b"content-length")
        return (
            media_type == b"application/json"
            and length.isdigit()
            and int(length) <= self._max_body_bytes
        )

    def _answer(self, body: bytes, model: LoadedModel) -> tuple[int, Any] | None:
        """(status, JSON-ready body), or None for a body FastAPI should parse itself."""
        with tracing.span("validate"):
            read = self._read(body)
        if read is None:
            return None  # FastAPI validates it with every rule and says what is wrong
        try:
            return 200, predict_features(*read, model, self._metrics)
        except Exception:  # pylint: disable=broad-exception-caught  # a bug: log it, say 500
            logger.exception("unexpected error")
            return 500, errors.error_body(errors.INTERNAL_ERROR)

    def _read(self, body: bytes) -> tuple[npt.NDArray[np.float32], bool] | None:
        """The animals' features and whether the body is a list; None if not strictly valid."""
        # A batch whose animals are all written alike (as programs write them) is read with
        # NumPy in one pass, without an object per animal; else pydantic-core checks it.
        features = array_features(body, self._max_animals)
        if features is not None:
            return features, True
        try:
            animals = self._animals.validate_json(body, strict=True)
        except ValidationError:
            return None
        return features_of(animals)


async def read_body(receive: Receive) -> bytes | None:
    """The whole body, or None if the connection closed before it ended (every direct path
    reads so: a cut body is never predicted)."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away (or timed out)
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` again, then whatever the connection says next."""
    replayed = False

    async def receive_again() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive_again


async def _send_json(send: Send, status: int, content: Any) -> None:
    payload = to_json(content)
    headers = [*JSON_HEADERS, (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
