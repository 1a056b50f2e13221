"""Can ``serve`` listen where it is told? Asked before the model loads, answered in one line.

uvicorn finds out only after the application has started, and then logs the error among its
start-up and shutdown lines and exits 1 (3 with several workers). Binding a probe socket
first, with the options uvicorn uses, turns an unknown host or a busy port into one line and
exit status 2 while nothing has started yet.
"""

from __future__ import annotations

import socket

from sampleproject.errors import UsageError


def check_can_listen(host: str, port: int) -> None:
    """Raise a one-line :class:`UsageError` when ``host:port`` cannot be listened on now."""
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as error:
        raise UsageError(f"cannot listen on {where}: unknown host ({error.strerror})") from None
    with socket.socket(family, kind, proto) as probe:
        # As uvicorn binds: a port whose last connections linger in TIME_WAIT is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            reason = (error.strerror or str(error)).lower()
            raise UsageError(f"cannot listen on {where}: {reason} (see --host, --port)") from None
