"""The served model: loaded at start-up, replaced atomically by a reload, never unverified.

A reload (SIGHUP, or a change of the registry alias seen by polling) loads the new model in
a thread beside the old one, which keeps answering; only a model that verified and loaded
replaces it, in one assignment. Requests already running keep the model they started with.
A model that fails is refused: the old one serves on, and the failure is logged and shown by
``/ready`` and ``/metrics``.

Whatever the loader meets (a registry error, an OS error from an unwritable cache, a bug) is
a refusal with its reason, never an exception that escapes: at start-up it would stop the
server, in a reload task it would only be "Task exception was never retrieved" in the log.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from sampleproject.errors import SampleProjectError
from sampleproject.inference.predictor import LoadedModel
from sampleproject.serving.metrics import Metrics

logger = logging.getLogger("sampleproject.serving")

# Loads the model, or returns None when the current one is still the right one.
Loader = Callable[[LoadedModel | None], LoadedModel | None]


class ServedModel:  # pylint: disable=too-few-public-methods
    """The model that answers requests, and why there is none or why a reload failed."""

    def __init__(self, loader: Loader, metrics: Metrics) -> None:
        self.current: LoadedModel | None = None
        self.error: str | None = None  # why no model could be loaded yet
        self.reload_error: str | None = None  # why the last reload was refused
        self._loader = loader
        self._metrics = metrics
        self._lock = asyncio.Lock()  # one load at a time

    async def load(self) -> bool:
        """Load (or reload) the model; True when a new model now serves."""
        async with self._lock:
            old = self.current
            try:
                new = await asyncio.to_thread(self._loader, old)
            # Whatever it is, it must not escape (see the module's docstring).
            except Exception as error:  # pylint: disable=broad-exception-caught
                self._refuse(old, _reason(error))
                return False
            if new is None:  # the source holds the model serving: nothing to do
                self.reload_error = None  # whatever failed before is no longer there
                return False
            self.current = new  # the swap: one assignment, atomic for the event loop
            self.error = self.reload_error = None
            self._metrics.serving(_labels(old), (new.version or "", new.sha256))
            if old is None:
                logger.info("model %s loaded from %s", _name(new), new.source)
            else:
                self._metrics.reloads.labels("success").inc()
                logger.info("model %s replaced model %s", _name(new), _name(old))
            return True

    def _refuse(self, old: LoadedModel | None, reason: str) -> None:
        if old is None:
            self.error = reason
            self._metrics.ready.set(0)
            logger.error("cannot load the model: %s", reason)
        else:
            self.reload_error = reason
            self._metrics.reloads.labels("failure").inc()
            logger.error("reload refused, model %s keeps serving: %s", _name(old), reason)


def _reason(error: Exception) -> str:
    """One line: the error's own message, an OS error's file and cause, or a bug's type."""
    if isinstance(error, SampleProjectError):
        return str(error)
    if isinstance(error, OSError):
        files = " -> ".join(str(name) for name in (error.filename, error.filename2) if name)
        return f"{files}: {error.strerror}" if files and error.strerror else str(error)
    # Not a failure the loader foresaw: a bug, whose traceback belongs in the log.
    logger.error("the model loader failed unexpectedly", exc_info=error)
    first_line = next(iter(str(error).splitlines()), "")
    return f"unexpected {type(error).__name__}: {first_line}"


def _labels(model: LoadedModel | None) -> tuple[str, str] | None:
    return None if model is None else (model.version or "", model.sha256)


def _name(model: LoadedModel) -> str:
    version = f"version {model.version} " if model.version else ""
    return f"{version}{model.sha256[:12]}"
