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

import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

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
from prometheus_client.core import CounterMetricFamily
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sampleproject.monitoring.counting import SLOTS, count_values

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Rows an ArrayCounter puts aside before counting them. Few enough that counting them is a
# short pause (a few dozen µs): at 4,096 each count showed in the latency tail (one animal a
# request, 8 connections: p99 3.9 ms and p99.9 11 ms, against 2.6 and 4.3 ms at 256).
SETTLE_ROWS = 256
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

    def __init__(self, classes: Mapping[int, str] | None = None) -> None:
        """``classes``: the class names by code, each a series of the predictions counter."""
        classes = classes or {}
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
        # class code -> its series (codes absent from ``classes`` count nowhere)
        series_of_code = np.full(max(classes, default=0) + 1, len(classes), dtype=np.intp)
        series_of_code[list(classes)] = np.arange(len(classes))
        self.predictions = ArrayCounter(
            "sampleproject_predictions",
            "Animals predicted, by predicted class",
            (("class_name",), [(name,) for name in classes.values()]),
            lambda codes: np.bincount(series_of_code[codes], minlength=len(classes) + 1)[:-1],
            self.registry,
        )
        self.inputs = ArrayCounter(
            "sampleproject_input_values",
            "Animals received for prediction, by feature and value",
            (("feature", "value"), [(name, str(value)) for name, value in SLOTS]),
            count_values,
            self.registry,
        )
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
        self.inputs.add(features)

    def count_predictions(self, codes: npt.NDArray[np.int64]) -> None:
        """Count a batch's predicted classes."""
        self.predictions.add(codes)

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


class ArrayCounter:
    """A Prometheus counter of observations whose series are all known in advance.

    ``count`` turns a batch of observations (NumPy rows) into one count per series. In one
    process, a request only puts its rows aside, and they are counted together, in one
    vectorised pass, when :data:`SETTLE_ROWS` are waiting or when the registry is scraped:
    for one animal, counting on every request cost more than the model (16 locked increments
    for its inputs, then several small NumPy calls). With several workers, prometheus-client's
    multiprocess mode reads only its shared files, which any worker may be asked to sum at
    any time, so each request's counts go to those files at once.
    """

    def __init__(  # pylint: disable=too-many-arguments
        self,
        name: str,
        documentation: str,
        labels: tuple[tuple[str, ...], Sequence[tuple[str, ...]]],
        count: Callable[[npt.NDArray[Any]], npt.NDArray[np.int64]],
        registry: CollectorRegistry,
    ) -> None:
        """``labels``: the label names, then every series' label values."""
        self.name = name
        self.documentation = documentation
        self.labelnames, self.series = labels[0], tuple(labels[1])
        self._count = count
        self._totals = np.zeros(len(self.series), dtype=np.int64)
        self._waiting: list[npt.NDArray[Any]] = []
        self._waiting_rows = 0
        self._shared: list[Any] | None = None
        if os.environ.get(MULTIPROC_ENV):
            counter = Counter(name, documentation, self.labelnames, registry=registry)
            self._shared = [counter.labels(*values) for values in self.series]
        else:
            registry.register(self)  # a collector: see collect()

    def add(self, rows: npt.NDArray[Any]) -> None:
        """Count the observations ``rows`` (now, or with others before the next scrape)."""
        if self._shared is None:
            self._waiting.append(rows)
            self._waiting_rows += len(rows)
            if self._waiting_rows >= SETTLE_ROWS:  # bounded memory between scrapes
                self._settle()
            return
        counts = self._count(rows)
        hit = np.flatnonzero(counts)
        for index, count in zip(hit.tolist(), counts[hit].tolist(), strict=True):
            self._shared[index].inc(count)

    def totals(self) -> npt.NDArray[np.int64]:
        """Every series' count so far (in one process)."""
        self._settle()
        return self._totals

    def _settle(self) -> None:
        if self._waiting:
            self._totals += self._count(np.concatenate(self._waiting))
            self._waiting.clear()
            self._waiting_rows = 0

    def collect(self) -> Iterator[CounterMetricFamily]:
        """The counter's family, every series included (at 0 too: rate() needs them)."""
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for values, total in zip(self.series, self.totals().tolist(), strict=True):
            family.add_metric(values, total)
        yield family


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
        answer = StatusOf(send)
        try:
            await self.app(scope, receive, answer)
        finally:
            # The router stores the matched route in the scope; no route: a 404 or similar.
            path = getattr(scope.get("route"), "path", UNMATCHED_PATH)
            self.metrics.observe(scope["method"], path, answer.status, time.perf_counter() - start)


class StatusOf:  # pylint: disable=too-few-public-methods
    """An ASGI ``send`` that passes every message on and notes the answer's status code."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.status = 500  # if the application fails before it answers

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        await self._send(message)
