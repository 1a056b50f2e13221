"""Run the application under uvicorn, with one or several worker processes.

With several workers, uvicorn's supervisor answers SIGHUP by replacing every worker with a
new process. Here SIGHUP means "reload the model", which each worker does in place without
dropping a request, so the supervisor passes the signal on to its workers instead.
"""

from __future__ import annotations

import logging
import os
import signal
from copy import deepcopy
from typing import Any

import uvicorn
from uvicorn.config import LOGGING_CONFIG
from uvicorn.supervisors.multiprocess import Multiprocess

from sampleproject.serving.address import check_can_listen
from sampleproject.serving.connections import ConnectionLimits, connection_budget, protocol_with
from sampleproject.serving.settings import ServeSettings

logger = logging.getLogger("sampleproject.serving")

APP_FACTORY = "sampleproject.serving.app:app_from_env"
# The HTTP protocol is uvicorn's httptools one (it parses HTTP several times faster than h11)
# with the limits of serving/connections.py. The event loop is asyncio's, not uvloop's, even
# where uvloop is installed: under 64 connections uvloop's p99 latency was up to 10 times
# asyncio's at about the same throughput (it writes answers a loop cycle late, see
# https://github.com/MagicStack/uvloop/issues/631), measured in docs/benchmarks.md; its
# factory here adds a quiet report of failed accept() calls.
LOOP = "sampleproject.serving.connections:event_loop"
# How long in-flight requests may take to finish after SIGTERM (docker stop waits 10 s).
GRACEFUL_SHUTDOWN_SECONDS = 30


class _ReloadingSupervisor(Multiprocess):
    """uvicorn's supervisor, but SIGHUP reloads the workers' model instead of the workers."""

    def handle_hup(self) -> None:
        for process in self.processes:
            if process.pid is not None:
                os.kill(process.pid, signal.SIGHUP)


def run(settings: ServeSettings) -> bool:
    """Serve until SIGTERM or Ctrl-C; False when the server could not start (uvicorn says why).

    The workers read ``settings`` from the environment (see :meth:`ServeSettings.to_env`).
    """
    check_can_listen(settings.host, settings.port)  # a busy port: one line, before anything
    config = uvicorn.Config(
        APP_FACTORY,
        factory=True,
        loop=LOOP,
        # No WebSocket routes: an upgrade request is answered as plain HTTP, within the limits
        # (with a WebSocket library installed, uvicorn would hand the connection over).
        ws="none",
        timeout_keep_alive=settings.keep_alive_timeout,  # type: ignore[arg-type]  # a float works
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        access_log=settings.access_log,
        log_config=log_config(),
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    # Set once the Config has set up logging (it may log why the connection limit is lower).
    config.http = protocol_with(connection_limits(settings))
    if settings.workers == 1:
        server = uvicorn.Server(config)
        server.run()
        return server.started
    _ReloadingSupervisor(config, sockets=[config.bind_socket()]).run()
    return True


def connection_limits(settings: ServeSettings) -> ConnectionLimits:
    """The limits of every connection, the connection limit fitted to the descriptors."""
    budget = connection_budget(settings.max_connections)
    if budget < settings.max_connections:
        logger.warning(
            "max_connections lowered from %d to %d: the file-descriptor limit (ulimit -n) "
            "leaves no more",
            settings.max_connections,
            budget,
        )
    return ConnectionLimits(
        max_header_bytes=settings.max_header_bytes,
        max_headers=settings.max_headers,
        header_timeout=settings.header_timeout,
        body_timeout=settings.body_timeout,
        max_connections=budget,
    )


def log_config() -> dict[str, Any]:
    """uvicorn's logging, with the access log on stderr too (uvicorn puts it on stdout), and
    each access log line ending with the request's ID (see serving/request_id.py)."""
    config = deepcopy(LOGGING_CONFIG)
    config["handlers"]["access"]["stream"] = "ext://sys.stderr"
    config["filters"] = {"request_id": {"()": "sampleproject.serving.request_id.AccessLogFilter"}}
    config["handlers"]["access"]["filters"] = ["request_id"]
    config["formatters"]["access"]["fmt"] += " request_id=%(request_id)s"
    config["loggers"]["sampleproject"] = {"handlers": ["default"], "level": "INFO"}
    return config
