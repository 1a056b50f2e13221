"""``sampleproject serve``: the prediction API over HTTP (FastAPI on uvicorn).

Settings come from flags, else from environment variables (the container sets them), else
from defaults: loopback only, port 8000, one worker. They are declared, typed and validated
once, in :mod:`sampleproject.serving.settings`; this module only turns them into flags.
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

from sampleproject.errors import SampleProjectError, UsageError, install_extra

if TYPE_CHECKING:
    from sampleproject.serving.settings import ServeSettings

DESCRIPTION = """\
Serve predictions over HTTP: POST /predict, GET /health, /ready, /metrics,
the OpenAPI schema at /openapi.json and interactive docs at /docs; the Open
Inference Protocol (V2: /v2/..., and over gRPC with --grpc-port) and MLflow's
scoring protocol (POST /invocations, GET /ping).

The model is the shipped one, a folder (--model-dir), or a version from the MLflow
registry (--model models:/zoo-classifier@champion, with $MLFLOW_TRACKING_URI naming
the tracking server); a fetched model is cached, so a restart works while the server
is down. SIGHUP reloads the model (an alias may have moved) without dropping a request;
a model that does not verify is refused and the old one serves on.

Every option can also be set by the environment variable named in its help;
a flag wins over the variable. Logs go to stderr. On SIGTERM (or Ctrl-C) the
server stops accepting connections, finishes the requests in flight and exits 0."""

# What --tracing imports (sampleproject/serving/otel.py): the packages of the tracing extra.
TRACING_MODULES = (
    "opentelemetry.sdk",
    "opentelemetry.exporter.otlp.proto.http",
)

# How argparse shows a value (the settings validate it, so every flag is read as text).
_METAVARS = {
    "model": "REF",
    "model_dir": "DIR",
    "cache_dir": "DIR",
    "max_body_bytes": "N",
    "max_animals": "N",
    "reload_interval": "SECONDS",
    "max_header_bytes": "N",
    "max_headers": "N",
    "header_timeout": "SECONDS",
    "body_timeout": "SECONDS",
    "keep_alive_timeout": "SECONDS",
    "max_connections": "N",
    "grpc_port": "PORT",
    "api_key_file": "FILE",
}


def configure(parser: argparse.ArgumentParser) -> None:
    """One flag per setting, its help and default read from the settings' declaration."""
    from sampleproject.serving.settings import ENV_PREFIX, ServeSettings

    for name, field in ServeSettings.model_fields.items():
        env = f"${ENV_PREFIX}{name.upper()}"
        default = "" if field.default is None else f"; default {field.default}"
        help_text = f"{field.description} ({env}{default})".replace("%", "%%")
        flag = f"--{name.replace('_', '-')}"
        if field.annotation is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, help=help_text)
        else:
            parser.add_argument(flag, metavar=_METAVARS.get(name), help=help_text)


def run(args: argparse.Namespace) -> int:
    """Check the settings and the model, then run uvicorn until SIGTERM or Ctrl-C."""
    import signal
    import tempfile
    from contextlib import ExitStack

    from sampleproject.inference.model import MODEL_DIR_ENV
    from sampleproject.serving import server
    from sampleproject.serving.metrics import MULTIPROC_ENV

    settings = _checked_settings(args)
    # uvicorn imports the application in each worker process: settings travel by environment.
    os.environ.update(settings.to_env())
    if settings.model:
        os.environ.pop(MODEL_DIR_ENV, None)
    with ExitStack() as stack:
        if settings.workers > 1 and not os.environ.get(MULTIPROC_ENV):
            # Workers share their metrics through files in this folder (removed at exit).
            metrics_dir = stack.enter_context(
                tempfile.TemporaryDirectory(prefix="sampleproject-metrics-")
            )
            os.environ[MULTIPROC_ENV] = metrics_dir
        # uvicorn stops gracefully on SIGTERM or Ctrl-C and then raises the signal again, for
        # the handler that was there before it: with these no-op handlers the process then
        # exits 0, as a clean shutdown should, rather than "killed by SIGTERM" (143) or a
        # KeyboardInterrupt (130).
        for stop in (signal.SIGTERM, signal.SIGINT):
            signal.signal(stop, lambda _signal, _frame: None)
        if not server.run(settings):
            raise SampleProjectError("the server did not start (see the log above)")
    return 0


def _checked_settings(args: argparse.Namespace) -> ServeSettings:
    """The settings, with the model checked as far as it can be before the server starts."""
    from pathlib import Path

    from sampleproject.inference import registry
    from sampleproject.inference.model import load_metadata, read_verified_model, resolve_model_dir
    from sampleproject.serving import protocols
    from sampleproject.serving.settings import ServeSettings, load_settings

    settings = load_settings(
        **{name: getattr(args, name) for name, _ in ServeSettings.model_fields.items()}
    )
    protocols.check(settings)
    _check_edges(settings)
    if settings.model:
        if settings.model_dir:
            raise UsageError("give --model (a registry reference) or --model-dir, not both")
        # A malformed reference is a usage error now; the registry's answer (an unknown
        # alias, a server that is down...) is the running server's /ready, since it can change.
        registry.parse_ref(settings.model)
        return settings
    if settings.model_dir and not Path(settings.model_dir).is_dir():
        raise UsageError(f"--model-dir {settings.model_dir}: no such folder")
    # Refuse a missing, tampered or truncated model now, with one clear line, rather than
    # start a server that can never become ready.
    model_dir = resolve_model_dir(settings.model_dir).resolve()
    read_verified_model(model_dir, load_metadata(model_dir))
    return settings.model_copy(update={"model_dir": model_dir})


def _check_edges(settings: ServeSettings) -> None:
    """A bad key file, or tracing without its packages: one line now, not a worker's crash."""
    import importlib.util

    from sampleproject.serving.api_keys import read_key_file

    if settings.api_key_file is not None:
        read_key_file(settings.api_key_file)
    if settings.tracing:
        try:
            missing = [name for name in TRACING_MODULES if importlib.util.find_spec(name) is None]
        except ModuleNotFoundError:  # a parent package is missing
            missing = list(TRACING_MODULES)
        if missing:
            raise UsageError(f"--tracing needs the tracing extra: {install_extra('tracing')}")
