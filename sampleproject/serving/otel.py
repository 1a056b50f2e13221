"""Tracing on (``serve --tracing``): OpenTelemetry's SDK, OTLP/HTTP exporter and ASGI layer.

Imported only when tracing is on; its packages are the ``tracing`` extra
(``pip install 'sampleproject[tracing]'``, in the container image). Where the traces go is
OpenTelemetry's standard configuration, which the SDK reads from the environment itself:
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_ENDPOINT`` plus
``/v1/traces``; default ``http://localhost:4318/v1/traces``), ``OTEL_EXPORTER_OTLP_HEADERS``,
``OTEL_TRACES_SAMPLER`` and ``OTEL_TRACES_SAMPLER_ARG`` (default: every request, or as the
caller's ``traceparent`` says), ``OTEL_SERVICE_NAME`` (default ``sampleproject``).

OTLP over HTTP with protobuf, not gRPC: every collector and tracing back end accepts both, and
the HTTP exporter needs no gRPC runtime (grpcio alone would be several times the size of the
whole extra). Spans leave in batches from a background thread (``BatchSpanProcessor``): no
request waits for the receiver, and while the receiver is slow or down the queue (2,048 spans)
fills and further spans are dropped, never requests. At shutdown the queue is flushed, for at
most :data:`FLUSH_SECONDS`.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import Span
from starlette.types import ASGIApp, Scope

from sampleproject import __version__
from sampleproject.serving import request_id, tracing
from sampleproject.serving.metrics import STANDARD_METHODS

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
    tracing.use(provider.get_tracer("sampleproject.serving", __version__))
    layer = partial(
        OpenTelemetryMiddleware,
        tracer_provider=provider,
        # The metrics are Prometheus' (/metrics): no OpenTelemetry metrics on the side.
        meter_provider=NoOpMeterProvider(),
        # One span for the request, not one more for each ASGI message sent and received.
        exclude_spans=["receive", "send"],
        server_request_hook=_add_request_id,
        default_span_details=SpanNames(paths),
    )

    def stop() -> None:
        tracing.use(None)
        flush = threading.Thread(target=provider.shutdown, name="flush spans", daemon=True)
        flush.start()
        flush.join(FLUSH_SECONDS)

    return layer, stop


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


def _add_request_id(span: Span, _scope: dict[str, Any]) -> None:
    found = request_id.current()
    if found is not None and span.is_recording():
        span.set_attribute(REQUEST_ID_ATTRIBUTE, found)


class SpanNames:  # pylint: disable=too-few-public-methods
    """The request span's name: the method and the route, ``POST /predict`` or
    ``GET /v2/models/{name}`` (a template, as OpenTelemetry's conventions ask), for the paths of
    the API's OpenAPI document; the method alone for any other, so that scanners' made-up URLs
    and methods cannot make up span names."""

    def __init__(self, paths: Callable[[], Iterable[str]]) -> None:
        self._read_paths = paths
        self._static: frozenset[str] | None = None
        self._templates: tuple[tuple[re.Pattern[str], str], ...] = ()

    def __call__(self, scope: Scope) -> tuple[str, dict[str, Any]]:
        if self._static is None:  # read at the first request, when every route is there
            self._learn(list(self._read_paths()))
        method = scope.get("method", "")
        method = method if method in STANDARD_METHODS else "HTTP"
        route = self.route(scope.get("path", ""))
        return (method if route is None else f"{method} {route}"), {}

    def route(self, path: str) -> str | None:
        """The route template that ``path`` matches (None: none does)."""
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
