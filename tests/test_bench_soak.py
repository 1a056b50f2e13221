"""The soak benchmark runs: a short smoke run of bench/bench_soak.py (figures, no timing)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT, require_tool

pytestmark = pytest.mark.slow


def test_a_short_soak_reports_its_figures_and_no_server_or_socket_errors() -> None:
    require_tool("wrk")
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "bench_soak.py"),
            "--minutes",
            "0.25",
            "--window",
            "5",
            "--warmup",
            "3",
            "--connections",
            "8",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("summary: ")]
    figures = dict(item.split("=") for item in line.removeprefix("summary: ").split())
    assert int(figures["windows"]) >= 2
    assert int(figures["requests"]) > 0
    assert figures["server_5xx"] == "0"
    assert figures["non_2xx"] == "0"
    assert figures["socket_errors"] == "0"
    assert -100 < float(figures["rss_growth_pct"]) < 1000  # a percentage was measured
    assert float(figures["p99_worst_ratio"]) >= 1.0  # the worst window against the first
