"""``sampleproject serve``: the prediction API over HTTP (FastAPI on uvicorn).

Settings come from flags, else from environment variables (the container sets them), else
from defaults: loopback only, port 8000, one worker. See ``sampleproject serve --help``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from sampleproject.errors import UsageError

DESCRIPTION = """\
Serve predictions over HTTP: POST /predict, GET /health, /ready, /metrics,
the OpenAPI schema at /openapi.json and interactive docs at /docs.

Every option can also be set by the environment variable named in its help;
a flag wins over the variable. Logs go to stderr. On SIGTERM (or Ctrl-C) the
server stops accepting connections, finishes the requests in flight and exits 0."""

# The container's entry point and health probe (scripts/) use these names too.
HOST_ENV = "SAMPLEPROJECT_HOST"
PORT_ENV = "SAMPLEPROJECT_PORT"
WORKERS_ENV = "SAMPLEPROJECT_WORKERS"
APP_FACTORY = "sampleproject.serving.app:app_from_env"
# How long in-flight requests may take to finish after SIGTERM (docker stop waits 10 s).
GRACEFUL_SHUTDOWN_SECONDS = 30


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise UsageError(f"${name} must be an integer, not {value!r}") from None


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``serve``."""
    defaults = {
        "host": os.environ.get(HOST_ENV) or "127.0.0.1",
        "port": _env_int(PORT_ENV, 8000),
        "workers": _env_int(WORKERS_ENV, 1),
        "max_body_bytes": _env_int("SAMPLEPROJECT_MAX_BODY_BYTES", 1024 * 1024),
        "max_animals": _env_int("SAMPLEPROJECT_MAX_ANIMALS", 1000),
    }
    parser.add_argument(
        "--host",
        default=defaults["host"],
        help=f"address to listen on (${HOST_ENV}; default %(default)s, loopback only; "
        "0.0.0.0 for every interface)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=defaults["port"],
        help=f"TCP port (${PORT_ENV}; default %(default)s)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=defaults["workers"],
        help=f"worker processes (${WORKERS_ENV}; default %(default)s); about one per core",
    )
    parser.add_argument(
        "--model-dir",
        metavar="DIR",
        # The variable is sampleproject.inference.model.MODEL_DIR_ENV, not imported here:
        # that module imports pydantic, and --help must stay fast.
        help="folder with zoo.onnx and zoo.json ($SAMPLEPROJECT_MODEL_DIR; default: shipped)",
    )
    parser.add_argument(
        "--max-body-bytes",
        type=int,
        default=defaults["max_body_bytes"],
        metavar="N",
        help="larger request bodies get 413 ($SAMPLEPROJECT_MAX_BODY_BYTES; default %(default)s)",
    )
    parser.add_argument(
        "--max-animals",
        type=int,
        default=defaults["max_animals"],
        metavar="N",
        help="most animals in one request ($SAMPLEPROJECT_MAX_ANIMALS; default %(default)s)",
    )
    parser.add_argument(
        "--access-log",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="log one line per request (default: on)",
    )


def run(args: argparse.Namespace) -> int:
    """Verify the model, then run uvicorn until SIGTERM or Ctrl-C."""
    import signal
    import tempfile
    from contextlib import ExitStack

    import uvicorn

    from sampleproject.inference.model import (
        MODEL_DIR_ENV,
        load_metadata,
        read_verified_model,
        resolve_model_dir,
    )
    from sampleproject.serving.app import MAX_ANIMALS_ENV, MAX_BODY_BYTES_ENV
    from sampleproject.serving.metrics import MULTIPROC_ENV

    _check(args)
    # Refuse a missing, tampered or truncated model now, with one clear line, rather than
    # start a server that can never become ready.
    model_dir = resolve_model_dir(args.model_dir).resolve()
    read_verified_model(model_dir, load_metadata(model_dir))

    # uvicorn imports the application in each worker process: settings travel by environment.
    os.environ[MODEL_DIR_ENV] = str(model_dir)
    os.environ[MAX_BODY_BYTES_ENV] = str(args.max_body_bytes)
    os.environ[MAX_ANIMALS_ENV] = str(args.max_animals)
    with ExitStack() as stack:
        if args.workers > 1 and not os.environ.get(MULTIPROC_ENV):
            # Workers share their metrics through files in this folder (removed at exit).
            metrics_dir = stack.enter_context(
                tempfile.TemporaryDirectory(prefix="sampleproject-metrics-")
            )
            os.environ[MULTIPROC_ENV] = metrics_dir
        # uvicorn stops gracefully on SIGTERM and then raises the signal again, for the
        # handler that was there before it: with this no-op handler the process then exits
        # 0, as a clean shutdown should, rather than "killed by SIGTERM" (143).
        signal.signal(signal.SIGTERM, lambda _signal, _frame: None)
        uvicorn.run(
            APP_FACTORY,
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            access_log=args.access_log,
            log_config=_log_config(),
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        )
    return 0


def _check(args: argparse.Namespace) -> None:
    if not 0 <= args.port <= 65535:  # noqa: PLR2004
        raise UsageError(f"--port must be between 0 and 65535, not {args.port}")
    for name in ("workers", "max_body_bytes", "max_animals"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1")
    if args.model_dir and not Path(args.model_dir).is_dir():
        raise UsageError(f"--model-dir {args.model_dir}: no such folder")


def _log_config() -> dict[str, Any]:
    """uvicorn's logging, with the access log on stderr too (uvicorn puts it on stdout)."""
    from copy import deepcopy

    from uvicorn.config import LOGGING_CONFIG

    config = deepcopy(LOGGING_CONFIG)
    config["handlers"]["access"]["stream"] = "ext://sys.stderr"
    config["loggers"]["sampleproject"] = {"handlers": ["default"], "level": "INFO"}
    return config
