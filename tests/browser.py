"""A real browser for the tests: Debian's Chromium, driven by Playwright, kept offline.

Playwright (PyPI) drives the system's Chromium (``/usr/bin/chromium``, Debian's package); it
never downloads a browser of its own (no ``playwright install``). Every request a page makes
goes through :class:`OfflinePage`'s route: loopback requests go on, any other is aborted and
recorded, and the tests assert that none was recorded. Chromium's own background traffic
(updates, sync, safe browsing) is switched off by its flags, and its resolver knows no host
but the local ones, so nothing could leave the machine even past the route.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import Browser, Page, Request, Route, expect, sync_playwright

from tests.conftest import BIN, require

CHROMIUM = Path("/usr/bin/chromium")
# What is known to work here (/work/.library/env/machines/python.md, "Known to work"), and a
# resolver that answers for loopback only.
CHROMIUM_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
)
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
TIMEOUT_MS = 30_000  # a shared 2-core machine: pages and assertions get time
expect.set_options(timeout=TIMEOUT_MS)


def is_local(url: str) -> bool:
    """True for the URLs a page may load: loopback, and those that need no network."""
    parts = urlsplit(url)
    if parts.scheme in {"data", "blob", "about"}:
        return True
    return parts.hostname in LOCAL_HOSTS


@dataclass
class OfflinePage:
    """A page whose requests to other hosts are aborted and listed in ``outside``."""

    page: Page
    outside: list[str] = field(default_factory=list)

    def route(self, route: Route, request: Request) -> None:
        """Let loopback requests through; abort and record any other."""
        if is_local(request.url):
            route.continue_()
        else:
            self.outside.append(request.url)
            route.abort()


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless, under Playwright; closed afterwards."""
    require(CHROMIUM.is_file(), f"{CHROMIUM} is missing (tools/install-system-deps.sh: chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=list(CHROMIUM_FLAGS), headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


@contextlib.contextmanager
def offline_page(browser: Browser) -> Iterator[OfflinePage]:
    """A new context and page of ``browser``, every request routed through the check."""
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    checked = OfflinePage(page)
    context.route("**/*", checked.route)
    try:
        yield checked
    finally:
        context.close()


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for(url: str, seconds: float = 60.0) -> None:
    """Until ``url`` answers 200."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (loopback, http)
                return
        except (urllib.error.URLError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@contextlib.contextmanager
def served_api() -> Iterator[str]:
    """``sampleproject serve`` on a free loopback port; its base URL. Stopped by SIGTERM."""
    port = free_port()
    command = [str(BIN / "sampleproject"), "serve", "--port", str(port), "--no-access-log"]
    with subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=dict(os.environ)
    ) as server:
        try:
            url = f"http://127.0.0.1:{port}"
            wait_for(f"{url}/ready")
            yield url
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)


@contextlib.contextmanager
def served_folder(folder: Path) -> Iterator[str]:
    """A static file server for ``folder`` on a free loopback port (a thread); its base URL."""
    handler = partial(_QuietHandler, directory=str(folder))
    with ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            thread.join()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # pylint: disable=redefined-builtin
        """No access log on the test's stderr."""
