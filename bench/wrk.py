"""wrk, the HTTP load generator: a POST body in, its summary out (read from JSON, not text).

wrk's text summary is for people: its thread statistics end in percentages (``87.50%``) that
a pattern for the latency distribution's ``50%`` also matches. So the script given to wrk
has a ``done()`` hook that prints the summary as one JSON line, which is what is read.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = {body}
"""
MARK = "wrk-summary:"
# Called once at the end: requests, errors and latency percentiles (microseconds) as JSON.
DONE = """
function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '%s {"requests": %d, "duration_us": %d, "non_2xx": %d, "socket_errors": %d, '
    .. '"p50_us": %d, "p99_us": %d}\\n',
    "MARK", summary.requests, summary.duration, errors.status,
    errors.connect + errors.read + errors.write + errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
""".replace("MARK", MARK)


@dataclass(frozen=True)
class Summary:
    """What wrk measured."""

    requests: int
    seconds: float
    non_2xx: int
    socket_errors: int
    p50_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        """Requests per second."""
        return self.requests / self.seconds


def script(body: str) -> str:
    """The wrk script that POSTs ``body`` (JSON) and prints the summary as JSON."""
    return LUA.format(body=json.dumps(body)) + DONE


def parse(output: str) -> Summary:
    """The summary printed by :data:`DONE` in wrk's ``output``."""
    found = re.search(rf"^{MARK} (.*)$", output, re.MULTILINE)
    if found is None:
        raise SystemExit(f"no summary in wrk's output (was the script's done() run?):\n{output}")
    figures = json.loads(found.group(1))
    return Summary(
        requests=figures["requests"],
        seconds=figures["duration_us"] / 1e6,
        non_2xx=figures["non_2xx"],
        socket_errors=figures["socket_errors"],
        p50_ms=figures["p50_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
    )


@dataclass(frozen=True)
class Wrk:
    """A wrk command: its connections and threads, and what runs it (e.g. taskset -c 1)."""

    connections: int
    threads: int = 1
    prefix: tuple[str, ...] = ()

    def run(self, url: str, lua: Path, seconds: float) -> Summary:
        """``seconds`` of load on ``url`` with the wrk script ``lua``: its summary."""
        # A 30 s timeout: wrk's default (2 s) would drop, not count, the slowest answers.
        command = [*self.prefix, "wrk", f"-t{self.threads}", f"-c{self.connections}"]
        command += [f"-d{max(1, round(seconds))}s", "--timeout", "30s", "-s", str(lua), url]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        return parse(output)
