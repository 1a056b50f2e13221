"""The front of the application: what every HTTP request crosses before any endpoint.

Outermost first: the request ID (:mod:`~sampleproject.serving.request_id`, always), the request
span (:mod:`~sampleproject.serving.otel`, with ``--tracing``), the API key check
(:mod:`~sampleproject.serving.api_keys`, with ``--api-key-file``). They are pure ASGI layers
in front of the direct ``/predict`` path and of FastAPI, so they cover every endpoint, present
and future, without a change there. What is off is not in the stack at all: it costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial

from starlette.types import ASGIApp

from sampleproject.serving.api_keys import ApiKeyMiddleware, ApiKeys
from sampleproject.serving.metrics import Metrics
from sampleproject.serving.request_id import RequestIdMiddleware
from sampleproject.serving.settings import ServeSettings


@dataclass
class Front:
    """The front layers (outermost first), and what to do with them on a reload and at exit."""

    layers: list[Callable[[ASGIApp], ASGIApp]] = field(default_factory=list)
    reloaders: list[Callable[[], object]] = field(default_factory=list)
    closers: list[Callable[[], None]] = field(default_factory=list)

    def reload(self) -> None:
        """Read again what can change while serving (SIGHUP, ``--reload-interval``)."""
        for reload in self.reloaders:
            reload()

    def close(self) -> None:
        """At shutdown (the spans not exported yet are sent)."""
        for close in self.closers:
            close()


def front_of(
    settings: ServeSettings, metrics: Metrics, paths: Callable[[], Iterable[str]]
) -> Front:
    """The layers ``settings`` ask for; ``paths``: the API's route templates (span names)."""
    built = Front(layers=[RequestIdMiddleware])
    if settings.tracing:
        from sampleproject.serving import otel  # only now: off, nothing of the SDK loads

        layer, stop = otel.start(paths)
        built.layers.append(layer)
        built.closers.append(stop)
    if settings.api_key_file is not None:
        keys = ApiKeys(settings.api_key_file)
        built.layers.append(partial(ApiKeyMiddleware, keys=keys, metrics=metrics))
        built.reloaders.append(keys.reload)
    return built
