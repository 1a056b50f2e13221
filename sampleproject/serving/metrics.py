"""Prometheus metrics of the API: requests, latencies, inputs and predictions per class.

A pure ASGI middleware measures every request (cheaper than Starlette's BaseHTTPMiddleware,
which runs each request in an extra task). The path label is the route's template, such as
``/predict``, never the raw URL, so a scanner trying random URLs cannot create new series;
likewise a method outside HTTP's standard ones is counted as ``other``. Every label thus comes
from a bounded set, and ``/metrics`` and the process stay the same size whatever clients send.

With several uvicorn workers each process counts on its own; prometheus-client's multiprocess
mode (``PROMETHEUS_MULTIPROC_DIR``, set by ``serve``) writes the values to files in a shared
folder and ``/metrics`` adds them up, whichever worker answers the scrape.

The inputs are counted per feature and value (``sampleproject_input_values_total``), the
series that drift is measured from. Their labels come from the schema's domains only (36
series), never from a request, and a request costs one vectorised count plus one increment
per value it contains (see :mod:`sampleproject.monitoring.counting`).
"""

from __future__ import annotations

import collections
import os
import time
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sampleproject.monitoring.counting import SLOTS, count_values

if TYPE_CHECKING:
    from sampleproject.inference.predictor import Predictor

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Latency buckets from 0.5 ms: a prediction takes well under a millisecond.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
# The methods of RFC 9110 and PATCH (RFC 5789); any other is labelled OTHER_METHOD.
STANDARD_METHODS = frozenset(
    ("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH")
)
OTHER_METHOD = "other"
UNMATCHED_PATH = "unmatched"


class Metrics:  # pylint: disable=too-many-instance-attributes  # one per metric
    """The API's metrics, in a registry of their own (one per application)."""

    def __init__(self, class_names: tuple[str, ...] = ()) -> None:
        # The *_created series (a timestamp per series) double the output and tell Prometheus
        # nothing that it does not already know; the switch is process-wide.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "sampleproject_http_requests",
            "HTTP requests, by method, route and status code",
            ["method", "path", "status"],
            registry=self.registry,
        )
        # (method, path, status) -> their request counter and latency histogram; the labels
        # come from bounded sets (see the module's docstring), and so does this cache.
        self._request_series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self.latency = Histogram(
            "sampleproject_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route",
            ["method", "path"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.predictions = Counter(
            "sampleproject_predictions",
            "Animals predicted, by predicted class",
            ["class_name"],
            registry=self.registry,
        )
        for name in class_names:  # every class is shown from the start, at 0
            self.predictions.labels(name)
        self.inputs = Counter(
            "sampleproject_input_values",
            "Animals received for prediction, by feature and value",
            ["feature", "value"],
            registry=self.registry,
        )
        # Every series exists from the start, at 0 (Prometheus' rate() needs them), and each
        # slot's child is looked up once here rather than by label on every request.
        self._input_slots = [self.inputs.labels(name, str(value)) for name, value in SLOTS]
        # The served model. With several workers a gauge is combined over the live ones:
        # ready only if every worker is, and a model's info is 1 while any worker serves it.
        self.ready = Gauge(
            "sampleproject_model_ready",
            "1 when a verified model is serving, else 0",
            registry=self.registry,
            multiprocess_mode="livemin",
        )
        self.model_info = Gauge(
            "sampleproject_model_info",
            "The model being served (1), by registry version and SHA-256 of the model file",
            ["version", "sha256"],
            registry=self.registry,
            multiprocess_mode="livemax",
        )
        self.reloads = Counter(
            "sampleproject_model_reloads",
            "Model reloads, by result (success: a new model serves; failure: refused)",
            ["result"],
            registry=self.registry,
        )
        for result in ("success", "failure"):
            self.reloads.labels(result)

    def serving(self, old: tuple[str, str] | None, new: tuple[str, str]) -> None:
        """The model ``(version, sha256)`` replaced ``old`` (None at start-up)."""
        if old is not None and old != new:
            self.model_info.labels(*old).set(0)  # 0 rather than gone: multiprocess files keep it
        self.model_info.labels(*new).set(1)
        self.ready.set(1)

    def count_inputs(self, features: npt.NDArray[np.float32]) -> None:
        """Count the feature values of a batch of animals (``[n, 16]``, validated)."""
        counts = count_values(features)
        hit = np.flatnonzero(counts)
        for slot, count in zip(hit.tolist(), counts[hit].tolist(), strict=True):
            self._input_slots[slot].inc(count)

    def count_predictions(self, codes: npt.NDArray[np.int64], predictor: Predictor) -> None:
        """Count a batch's predicted classes (one increment per class present)."""
        for code, count in collections.Counter(codes.tolist()).items():
            self.predictions.labels(predictor.name_of(code)).inc(count)

    def observe(self, method: str, path: str, status: int, seconds: float) -> None:
        """Count one answered request (a non-standard ``method`` is counted as ``other``)."""
        key = (method, path, status)
        series = self._request_series.get(key)
        if series is None:  # looked up by label once per combination, not on every request
            label = method if method in STANDARD_METHODS else OTHER_METHOD
            series = (
                self.requests.labels(label, path, str(status)),
                self.latency.labels(label, path),
            )
            self._request_series[key] = series
        series[0].inc()
        series[1].observe(seconds)

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format (:data:`CONTENT_TYPE`)."""
        if os.environ.get(MULTIPROC_ENV):
            # Every worker's values, read from the shared folder.
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)


CONTENT_TYPE = CONTENT_TYPE_LATEST


class MetricsMiddleware:  # pylint: disable=too-few-public-methods
    """Pure ASGI middleware: counts and times every HTTP request."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # if the application fails before it answers

        async def send_and_record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record_status)
        finally:
            # The router stores the matched route in the scope; no route: a 404 or similar.
            path = getattr(scope.get("route"), "path", UNMATCHED_PATH)
            self.metrics.observe(scope["method"], path, status, time.perf_counter() - start)
