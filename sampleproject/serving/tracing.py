"""OpenTelemetry tracing, off by default: what the serving code calls, whether it is on or not.

With ``serve --tracing`` each request is a trace: a server span for the request (made by a
layer in front of every endpoint, :class:`sampleproject.serving.otel.RequestSpans`), with a
``validate`` span for the body's validation and a ``model`` span for the model call inside it,
exported over OTLP/HTTP (see :mod:`sampleproject.serving.otel`).

Off, this module is all there is: :func:`span` returns one shared null context (about 0.1 µs)
and nothing of OpenTelemetry's SDK or exporter is imported. (FastAPI itself
imports the OpenTelemetry API, a few modules without any provider, for its own telemetry.)
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

_NO_SPAN: AbstractContextManager[Any] = nullcontext()


class _State:  # pylint: disable=too-few-public-methods
    """The tracer of this process while tracing is on (one application a process)."""

    tracer: Tracer | None = None


_STATE = _State()


def span(name: str) -> AbstractContextManager[Any]:
    """A span ``name``, child of the request's, while tracing is on; else nothing at all.

    ``with span("model") as current:`` gives the span (None when off), to add attributes to.
    """
    tracer = _STATE.tracer
    if tracer is None:
        return _NO_SPAN
    return tracer.start_as_current_span(name)


def use(tracer: Tracer | None) -> None:
    """Make :func:`span` record with ``tracer`` (None: tracing off)."""
    _STATE.tracer = tracer
