"""Benchmark: ``sampleproject serve`` under a hundred hostile connections at once.

One server (one worker, the default limits, no access log) on core 0; the clients on core 1.
A normal client sends a one-animal POST every 20 ms on a kept-alive connection, first alone
(the floor), then while the hostile connections run, each opening a new one as soon as the
server closes it, in four kinds (a quarter each):

- ``never-ending header``: a header line that never ends, 1 KiB every 10 ms;
- ``header trickle``: the same, a byte every half second (a slowloris);
- ``slow body``: a POST declaring 1,000 bytes, then a byte every half second;
- ``idle``: opens, sends nothing.

It prints the normal client's latencies in both phases and their ratio, the server's memory
(RSS) before and at its highest during the attack, and for each kind the connections made,
how many the server closed, the answers they got and the longest life against the bound the
documentation gives it (docs/security.md), give or take :data:`SLACK`. Goals (issue 23): RSS
growth at most 50 MB, the normal client's p99 under 50 ms, every hostile connection closed
within its bound.

    .venv/bin/python bench/bench_hostile.py                  # 15 s quiet, then 45 s hostile
    .venv/bin/python bench/bench_hostile.py --quiet 5 --hostile 40 --connections 200
    .venv/bin/python bench/bench_hostile.py --markdown docs/bench/hostile.md
    .venv/bin/python bench/bench_hostile.py --tree /tmp/before   # another checkout's serve

Run it alone (``flock /work/team/bench.lock`` on a shared machine). Linux (/proc); taskset
pins when it is there. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import multiprocessing
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make the project's modules importable
    sys.path.insert(0, str(ROOT))

# pylint: disable=wrong-import-position
from bench import doc_table  # noqa: E402
from bench.bench_soak import rss_kib  # noqa: E402
from bench.servers import free_port, wait_until_up  # noqa: E402
from sampleproject.serving.connections import LINGER_SECONDS  # noqa: E402
from sampleproject.serving.settings import ServeSettings  # noqa: E402

GOALS = "goals: RSS growth <= 50 MB, normal p99 < 50 ms, every hostile connection within bound"
ANIMAL = json.dumps({"hair": 1, "milk": 1, "legs": 4, "toothed": 1, "backbone": 1}).encode()
NORMAL_EVERY = 0.02  # seconds between the normal client's requests
# What a hostile connection's measured life may exceed its bound by: the time to connect and
# to notice the close, in one event loop running all of them.
SLACK = 0.5
SLOW_HEAD = b"GET /health HTTP/1.1\r\nHost: bench\r\nX-Never-Ending: "
SLOW_BODY = (
    b"POST /predict HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
    b"Content-Length: 1000\r\n\r\n"
)


@dataclass(frozen=True)
class Kind:
    """A kind of hostile connection: what it sends first, then piece by piece, how often."""

    name: str
    first: bytes
    piece: bytes
    every: float
    bound: Callable[[ServeSettings], float]  # the latest the server closes it (docs)


DEFAULTS = ServeSettings()
KINDS = (
    # Refused as soon as the head passes max_header_bytes; the header timeout at the latest.
    Kind(
        "never-ending header",
        SLOW_HEAD,
        b"a" * 1024,
        0.01,
        lambda s: s.header_timeout + LINGER_SECONDS,
    ),
    Kind("header trickle", SLOW_HEAD, b"a", 0.5, lambda s: s.header_timeout + LINGER_SECONDS),
    Kind(
        "slow body",
        SLOW_BODY,
        b" ",
        0.5,
        lambda s: s.header_timeout + s.body_timeout + LINGER_SECONDS,
    ),
    Kind("idle", b"", b"", 1.0, lambda s: s.header_timeout),
)


@dataclass(frozen=True)
class Life:
    """One hostile connection: its kind, how long it lived, whether the server closed it
    (else the benchmark did, at the end), and the first line the server answered."""

    kind: str
    seconds: float
    closed_by_server: bool
    answer: str


async def misbehave(kind: Kind, port: int, stop_at: float) -> Life:
    """One connection of ``kind``, until the server closes it or the time is up."""
    loop = asyncio.get_running_loop()
    opened = loop.time()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    received = bytearray()

    async def read() -> None:
        try:
            while chunk := await reader.read(65536):
                received.extend(chunk)
        except OSError:
            pass

    reading = asyncio.create_task(read())
    try:
        writer.write(kind.first)
        while not reading.done() and loop.time() < stop_at:
            if kind.piece:
                writer.write(kind.piece)
                await asyncio.wait_for(writer.drain(), timeout=kind.bound(DEFAULTS))
            await asyncio.wait([reading], timeout=kind.every)
    except (OSError, asyncio.TimeoutError):
        await asyncio.wait([reading], timeout=1)
    closed = reading.done()
    reading.cancel()
    writer.close()
    answer = bytes(received).split(b"\r\n", 1)[0].decode("latin-1") or "(no answer)"
    return Life(kind.name, loop.time() - opened, closed, answer)


async def attack(port: int, connections: int, seconds: float) -> list[Life]:
    """``connections`` hostile connections for ``seconds``, each reopened when closed."""
    loop = asyncio.get_running_loop()
    stop_at = loop.time() + seconds
    lives: list[Life] = []

    async def keep_one(kind: Kind) -> None:
        while loop.time() < stop_at:
            try:
                lives.append(await misbehave(kind, port, stop_at))
            except OSError as error:  # refused at connect: try again soon
                lives.append(Life(kind.name, 0.0, True, f"connect: {error.strerror}"))
                await asyncio.sleep(0.1)

    await asyncio.gather(*(keep_one(KINDS[number % len(KINDS)]) for number in range(connections)))
    return lives


def attacker(port: int, connections: int, seconds: float, out: Any) -> None:
    """The hostile clients' process: runs the attack, puts what happened on ``out``."""
    out.put(asyncio.run(attack(port, connections, seconds)))


def normal_client(port: int, seconds: float) -> tuple[list[float], int]:
    """A POST every 20 ms on a kept-alive connection for ``seconds``: the latencies (ms) and
    how many requests failed (the connection is then opened again)."""
    latencies, failures = [], 0
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Content-Type": "application/json"}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        start = time.perf_counter()
        try:
            connection.request("POST", "/predict", body=ANIMAL, headers=headers)
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                failures += 1
            latencies.append((time.perf_counter() - start) * 1000)
        except (OSError, http.client.HTTPException):
            failures += 1
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        time.sleep(max(0.0, NORMAL_EVERY - (time.perf_counter() - start)))
    connection.close()
    return latencies, failures


def percentile(values: list[float], fraction: float) -> float:
    """The ``fraction`` quantile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class PeakMemory:  # pylint: disable=too-few-public-methods
    """The highest RSS of a process, sampled every 0.2 s in a thread."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak_kib = pid, rss_kib(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            self.peak_kib = max(self.peak_kib, rss_kib(self.pid))

    def stop(self) -> int:
        """Stop sampling; the peak in KiB."""
        self._stop.set()
        self._thread.join()
        return self.peak_kib


def pin(core: int) -> list[str]:
    """``taskset -c CORE`` where taskset exists and the machine has two cores or more."""
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        return ["taskset", "-c", str(core)]
    return []


def under_attack(port: int, pid: int, args: argparse.Namespace) -> dict[str, Any]:
    """The hostile phase: the attack in its own process, the normal client here."""
    results: Any = multiprocessing.get_context("spawn").Queue()
    process = multiprocessing.get_context("spawn").Process(
        target=attacker, args=(port, args.connections, args.hostile, results)
    )
    memory = PeakMemory(pid)
    process.start()
    time.sleep(1)  # the hostile connections are open
    latencies, failures = normal_client(port, args.hostile - 2)
    lives: list[Life] = results.get(timeout=args.hostile + 120)
    process.join()
    return {"latencies": latencies, "failures": failures, "lives": lives, "peak": memory.stop()}


def kind_rows(lives: list[Life], settings: ServeSettings) -> list[list[object]]:
    """Per kind: connections, closed by the server, answers, longest life and its bound."""
    rows = []
    for kind in KINDS:
        mine = [life for life in lives if life.kind == kind.name]
        closed = [life for life in mine if life.closed_by_server]
        answers = statistics.multimode([life.answer for life in closed]) if closed else ["-"]
        longest = max((life.seconds for life in mine), default=0.0)
        bound = kind.bound(settings)
        rows.append(
            [
                kind.name,
                len(mine),
                len(closed),
                answers[0],
                f"{longest:.1f}",
                f"{bound:.0f}",
                "yes" if longest <= bound + SLACK else "NO",
            ]
        )
    return rows


def report(quiet: tuple[list[float], int], hostile: dict[str, Any], before_kib: int) -> list[str]:
    """The figures, as lines (and the summary line)."""
    floor, loaded = quiet[0], hostile["latencies"]
    growth_mb = (hostile["peak"] - before_kib) * 1024 / 1e6
    p99_floor, p99 = percentile(floor, 0.99), percentile(loaded, 0.99)
    lines = [
        f"normal client alone:        {len(floor)} requests, p50 {percentile(floor, 0.5):.2f} ms,"
        f" p99 {p99_floor:.2f} ms, max {max(floor):.1f} ms, failed {quiet[1]}",
        f"normal client under attack: {len(loaded)} requests, p50 {percentile(loaded, 0.5):.2f} "
        f"ms, p99 {p99:.2f} ms, max {max(loaded):.1f} ms, failed {hostile['failures']}; "
        f"p99 {p99 / p99_floor:.2f}x alone",
        f"server RSS: {before_kib / 1024:.1f} MiB before, {hostile['peak'] / 1024:.1f} MiB at "
        f"its highest: {growth_mb:+.1f} MB",
    ]
    within = all(row[-1] == "yes" for row in kind_rows(hostile["lives"], DEFAULTS))
    figures = {
        "p99_alone_ms": f"{p99_floor:.2f}",
        "p99_attack_ms": f"{p99:.2f}",
        "rss_growth_mb": f"{growth_mb:.1f}",
        "hostile": len(hostile["lives"]),
        "closed_by_server": sum(life.closed_by_server for life in hostile["lives"]),
        "within_bounds": "yes" if within else "no",
        "normal_failures": hostile["failures"],
    }
    lines.append("summary: " + " ".join(f"{key}={value}" for key, value in figures.items()))
    return lines


HEADERS = ["hostile connections", "made", "closed by the server", "answer", "longest s", "bound s"]


def main() -> int:
    """Start the server, run both phases, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--quiet", type=float, default=15, help="seconds of the client alone")
    parser.add_argument("--hostile", type=float, default=45, help="seconds of the attack")
    parser.add_argument("--connections", type=int, default=100, help="hostile connections")
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    parser.add_argument(
        "--tree",
        type=Path,
        default=ROOT,
        help="serve another checkout's code (e.g. a worktree of the commit before a change)",
    )
    args = parser.parse_args()
    port = free_port()
    command = [sys.executable, "-m", "sampleproject", "serve", "--port", str(port)]
    print(
        f"sampleproject serve ({args.tree}), 1 worker, default limits; {args.connections} hostile "
        f"connections for {args.hostile:g} s after {args.quiet:g} s of a normal client alone; "
        f"{os.cpu_count()} CPUs"
    )
    with tempfile.TemporaryDirectory() as temp, (Path(temp) / "serve.log").open("wb") as log:
        process = subprocess.Popen(  # pylint: disable=consider-using-with
            [*pin(0), *command, "--workers", "1", "--no-access-log"],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=args.tree,  # ``python -m`` imports that tree's package first
        )
        try:
            wait_until_up(f"http://127.0.0.1:{port}/ready", process, 60, Path(temp) / "serve.log")
            os.sched_setaffinity(0, {1} if (os.cpu_count() or 1) > 1 else {0})
            quiet = normal_client(port, args.quiet)
            before = rss_kib(process.pid)
            hostile = under_attack(port, process.pid, args)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
        log_lines = (Path(temp) / "serve.log").read_text(encoding="utf-8").splitlines()
    rows = kind_rows(hostile["lives"], DEFAULTS)
    print(doc_table.table([*HEADERS, "within"], rows, numeric=(1, 2, 4, 5)), end="")
    lines = report(quiet, hostile, before)
    lines.insert(-1, f"server log: {len(log_lines)} lines")
    print("\n".join(lines))
    print(GOALS)
    if args.markdown:
        doc_table.write(args.markdown, [*HEADERS, "within"], rows, lines[:-1], (1, 2, 4, 5))
    return 0


if __name__ == "__main__":
    sys.exit(main())
