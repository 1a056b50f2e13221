"""Tracing on (``serve --tracing``): OpenTelemetry's SDK and OTLP/HTTP exporter, and the
request span's ASGI layer.

Imported only when tracing is on; its packages are the ``tracing`` extra
(the wheel's ``[tracing]``, in the container image). Where the traces go is
OpenTelemetry's standard configuration, which the SDK reads from the environment itself:
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_ENDPOINT`` plus
``/v1/traces``; default ``http://localhost:4318/v1/traces``), ``OTEL_EXPORTER_OTLP_HEADERS``,
``OTEL_TRACES_SAMPLER`` and ``OTEL_TRACES_SAMPLER_ARG`` (default: every request, or as the
caller's ``traceparent`` says), ``OTEL_PROPAGATORS``, ``OTEL_SERVICE_NAME`` (default
``sampleproject``).

OTLP over HTTP with protobuf, not gRPC: every collector and tracing back end accepts both, and
the HTTP exporter needs no gRPC runtime (grpcio alone is several times the size of the whole
extra). Spans leave in batches from a background thread (``BatchSpanProcessor``): no request
waits for the receiver, and while the receiver is slow or down the queue (2,048 spans) fills
and further spans are dropped, never requests. At shutdown the queue is flushed, for at most
:data:`FLUSH_SECONDS`.

The request span is :class:`RequestSpans`, a small layer of our own rather than
OpenTelemetry's ASGI instrumentation (``opentelemetry-instrumentation-asgi``): measured
in-process on the one-animal ``/predict``, that middleware cost more than the rest of the
request even when the sampler recorded nothing (it decodes every header and rebuilds the URL
for attributes of every request, sampled or not); this layer reads only what a recorded span
needs, and only when the span records. It keeps the instrumentation's semantics: a SERVER
span named after the route, the caller's trace context taken up (``traceparent``), the stable
HTTP attribute names of OpenTelemetry's semantic conventions, an error status for a 5xx.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from opentelemetry import context, propagate, trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import SpanKind, StatusCode, Tracer
from starlette.types import ASGIApp, Receive, Scope, Send

from sampleproject import __version__
from sampleproject.serving import request_id, tracing
from sampleproject.serving.metrics import STANDARD_METHODS, StatusOf

SERVICE = "sampleproject"
# At shutdown, the spans not exported yet have this long to leave: with an unreachable
# receiver the exporter would retry for its whole timeout (10 s) and delay the exit as much.
FLUSH_SECONDS = 3.0
# The span attribute with the request's ID (OpenTelemetry has no standard name for it).
REQUEST_ID_ATTRIBUTE = "sampleproject.request_id"


def exporter() -> SpanExporter:
    """Where spans go: OTLP over HTTP, configured by the ``OTEL_EXPORTER_OTLP_*`` variables."""
    return OTLPSpanExporter()


def start(
    paths: Callable[[], Iterable[str]],
) -> tuple[Callable[[ASGIApp], ASGIApp], Callable[[], None]]:
    """Turn tracing on for this process: the request span's ASGI layer, and what stops it
    (flushing the spans not exported yet). ``paths``: the API's route templates, for the
    spans' names (read at the first request)."""
    # Shut down by stop(), within FLUSH_SECONDS; not again at exit, where the SDK would wait
    # up to 30 s for a receiver that does not answer.
    provider = TracerProvider(resource=_resource(), shutdown_on_exit=False)
    provider.add_span_processor(BatchSpanProcessor(exporter()))
    tracer = provider.get_tracer("sampleproject.serving", __version__)
    tracing.use(tracer)

    def stop() -> None:
        tracing.use(None)
        flush = threading.Thread(target=provider.shutdown, name="flush spans", daemon=True)
        flush.start()
        flush.join(FLUSH_SECONDS)

    return partial(RequestSpans, tracer=tracer, names=SpanNames(paths)), stop


def _resource() -> Resource:
    """The service's name (unless ``OTEL_SERVICE_NAME`` or ``OTEL_RESOURCE_ATTRIBUTES`` name
    it) and version."""
    attributes: dict[str, Any] = {SERVICE_VERSION: __version__}
    named = os.environ.get("OTEL_SERVICE_NAME") or "service.name=" in os.environ.get(
        "OTEL_RESOURCE_ATTRIBUTES", ""
    )
    if not named:
        attributes[SERVICE_NAME] = SERVICE
    return Resource.create(attributes)


class RequestSpans:  # pylint: disable=too-few-public-methods
    """Pure ASGI middleware: each HTTP request in a SERVER span, current while it is answered
    (the ``validate`` and ``model`` spans of :func:`tracing.span` are its children)."""

    def __init__(self, app: ASGIApp, *, tracer: Tracer, names: SpanNames) -> None:
        self.app = app
        self._tracer = tracer
        self._names = names
        # The headers the propagators read (traceparent, tracestate, baggage by default).
        self._fields = frozenset(name.encode() for name in propagate.get_global_textmap().fields)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"] if scope["method"] in STANDARD_METHODS else "_OTHER"
        route = self._names.route(scope["path"])
        parent = self._parent(scope)
        name = method if route is None else f"{method} {route}"
        span = self._tracer.start_span(name.replace("_OTHER", "HTTP"), parent, SpanKind.SERVER)
        answer = StatusOf(send)
        token = context.attach(trace.set_span_in_context(span, parent))
        try:
            await self.app(scope, receive, answer)
        finally:
            context.detach(token)
            if span.is_recording():
                span.set_attributes(_attributes(scope, method, route, answer.status))
                if answer.status >= 500:  # noqa: PLR2004  # the server's errors, not the client's
                    span.set_status(StatusCode.ERROR)
            span.end()

    def _parent(self, scope: Scope) -> Context | None:
        """The caller's trace context, when the request carries one."""
        carrier = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope["headers"]
            if name in self._fields
        }
        return propagate.extract(carrier) if carrier else None


def _attributes(scope: Scope, method: str, route: str | None, status: int) -> dict[str, Any]:
    """A recorded request span's attributes (OpenTelemetry's HTTP semantic conventions)."""
    attributes: dict[str, Any] = {
        "http.request.method": method,
        "url.path": scope["path"],
        "url.scheme": scope.get("scheme", "http"),
        "network.protocol.version": scope.get("http_version", "1.1"),
        "http.response.status_code": status,
    }
    if route is not None:
        attributes["http.route"] = route
    if scope.get("client"):
        attributes["client.address"] = scope["client"][0]
    found = request_id.current()
    if found is not None:
        attributes[REQUEST_ID_ATTRIBUTE] = found
    return attributes


class SpanNames:  # pylint: disable=too-few-public-methods
    """The routes of the API's OpenAPI document, for the request span's name: the method and
    the route, ``POST /predict`` or ``GET /v2/models/{name}`` (a template, as OpenTelemetry's
    conventions ask); the method alone for any other path, so that scanners' made-up URLs and
    methods cannot make up span names."""

    def __init__(self, paths: Callable[[], Iterable[str]]) -> None:
        self._read_paths = paths
        self._static: frozenset[str] | None = None
        self._templates: tuple[tuple[re.Pattern[str], str], ...] = ()

    def route(self, path: str) -> str | None:
        """The route template that ``path`` matches (None: none does)."""
        if self._static is None:  # read at the first request, when every route is there
            self._learn(list(self._read_paths()))
        if path in (self._static or ()):
            return path
        return next((template for rule, template in self._templates if rule.fullmatch(path)), None)

    def _learn(self, paths: list[str]) -> None:
        self._static = frozenset(path for path in paths if "{" not in path)
        self._templates = tuple(
            (re.compile(re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(path))), path)
            for path in paths
            if "{" in path
        )
