"""Benchmark: ``sampleproject serve`` under constant concurrent load for minutes (a soak test).

One uvicorn worker on a loopback port is loaded by wrk (same one-animal POST throughout)
for a warm-up, then window after window (a minute each by default) until the time is up.
After every window it prints requests/s, p99 latency against the first window's, non-2xx
answers, socket errors, the server's resident memory (RSS) and the machine's load (other
processes on the same cores move the p99); at the end the RSS growth since the warm-up, the
server's own count of 5xx answers (from /metrics) and the worst p99 ratio. Expected: RSS
growth < 5 %, no 5xx, no socket errors, p99 within 2x of the first.

    .venv/bin/python bench/bench_soak.py              # 3 minutes, one-minute windows
    .venv/bin/python bench/bench_soak.py --minutes 10 --connections 64
    .venv/bin/python bench/bench_soak.py --minutes 0.25 --window 5 --warmup 3   # a smoke run

Needs wrk (Debian: apt-get install wrk; tools/install-system-deps.sh installs it) and Linux
(/proc for the RSS). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make the other benchmarks importable
    sys.path.insert(0, str(ROOT))

# The serving benchmark's wrk runs and free port, shared.
from bench import wrk  # noqa: E402  pylint: disable=wrong-import-position
from bench.servers import free_port, wait_until_up  # noqa: E402  pylint: disable=wrong-import-position

BIN = Path(sys.executable).parent
GOALS = "goals: RSS growth < 5 %, 0 5xx, 0 socket errors, p99 <= 2x the first window's"
ANIMAL = {"hair": 1, "milk": 1, "legs": 4, "toothed": 1, "backbone": 1, "breathes": 1}


@dataclass
class Window:
    """What wrk measured in one window, and the server's memory after it."""

    rps: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: int
    rss_kib: int


def rss_kib(pid: int) -> int:
    """The resident memory of process ``pid`` in KiB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise SystemExit(f"no VmRSS for process {pid}")


def run_wrk(url: str, script: Path, seconds: float, args: argparse.Namespace) -> wrk.Summary:
    """wrk's summary of ``seconds`` of load on ``url``."""
    return wrk.Wrk(args.connections, args.threads).run(url, script, seconds)


def window_of(measured: wrk.Summary, pid: int) -> Window:
    """A :class:`Window` from wrk's summary, and the server's memory now."""
    return Window(
        rps=measured.rps,
        p99_ms=measured.p99_ms,
        requests=measured.requests,
        non_2xx=measured.non_2xx,
        socket_errors=measured.socket_errors,
        rss_kib=rss_kib(pid),
    )


def server_5xx(port: int) -> int:
    """The 5xx answers the server itself counted (its /metrics)."""
    url = f"http://127.0.0.1:{port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    pattern = r'^sampleproject_http_requests_total\{[^}]*status="5\d\d"[^}]*\} ([\d.e+]+)$'
    return int(sum(float(value) for value in re.findall(pattern, text, re.MULTILINE)))


def soak(port: int, pid: int, args: argparse.Namespace, workdir: Path) -> list[Window]:
    """Warm up, then load window after window; print each as it ends."""
    script = workdir / "post.lua"
    script.write_text(wrk.script(json.dumps(ANIMAL)), encoding="utf-8")
    url = f"http://127.0.0.1:{port}/predict"
    run_wrk(url, script, args.warmup, args)
    baseline = rss_kib(pid)
    print(f"after {args.warmup:g} s of warm-up: RSS {baseline / 1024:.1f} MiB")
    print(
        f"{'window':>6}{'requests/s':>12}{'p99 ms':>9}{'p99/first':>10}{'non-2xx':>9}"
        f"{'socket err':>11}{'RSS MiB':>9}{'load 1 min':>11}"
    )
    windows: list[Window] = []
    deadline = time.monotonic() + args.minutes * 60
    while (left := deadline - time.monotonic()) >= 1:
        window = window_of(run_wrk(url, script, min(args.window, left), args), pid)
        windows.append(window)
        print(
            f"{len(windows):>6}{window.rps:>12.0f}{window.p99_ms:>9.2f}"
            f"{window.p99_ms / windows[0].p99_ms:>10.2f}{window.non_2xx:>9}"
            f"{window.socket_errors:>11}{window.rss_kib / 1024:>9.1f}"
            f"{os.getloadavg()[0]:>11.1f}",
            flush=True,
        )
    windows.insert(0, Window(0, 0, 0, 0, 0, baseline))  # the baseline, for the summary
    return windows


def summary(windows: list[Window], errors_5xx: int) -> str:
    """The run's figures in one line (``key=value``), for people and for the smoke test."""
    baseline, measured = windows[0], windows[1:]
    growth = 100 * (measured[-1].rss_kib - baseline.rss_kib) / baseline.rss_kib
    worst = max(window.p99_ms for window in measured) / measured[0].p99_ms
    figures = {
        "windows": len(measured),
        "requests": sum(window.requests for window in measured),
        "rss_growth_pct": f"{growth:.1f}",
        "server_5xx": errors_5xx,
        "non_2xx": sum(window.non_2xx for window in measured),
        "socket_errors": sum(window.socket_errors for window in measured),
        "p99_first_ms": f"{measured[0].p99_ms:.2f}",
        "p99_worst_ratio": f"{worst:.2f}",
    }
    return "summary: " + " ".join(f"{key}={value}" for key, value in figures.items())


def main() -> int:
    """Start the server, soak it, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--minutes", type=float, default=3, help="measured load, after warm-up")
    parser.add_argument("--window", type=float, default=60, help="seconds per measurement")
    parser.add_argument("--warmup", type=float, default=30, help="seconds of load first")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")

    port = free_port()
    print(
        f"sampleproject serve, 1 worker, no access log; wrk {args.threads} threads, "
        f"{args.connections} connections, one-animal POST; {args.minutes:g} min in "
        f"{args.window:g} s windows; {os.cpu_count()} CPUs"
    )
    with tempfile.TemporaryDirectory() as temp, (Path(temp) / "serve.log").open("wb") as log:
        process = subprocess.Popen(  # pylint: disable=consider-using-with
            [
                str(BIN / "sampleproject"),
                "serve",
                "--port",
                str(port),
                "--workers",
                "1",
                "--no-access-log",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            ready = f"http://127.0.0.1:{port}/ready"
            wait_until_up(ready, process, 60, Path(temp) / "serve.log")
            windows = soak(port, process.pid, args, Path(temp))
            errors_5xx = server_5xx(port)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    if len(windows) < 2:
        raise SystemExit("no window measured: give more --minutes than --window")
    print(summary(windows, errors_5xx))
    print(GOALS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
