"""The hostile-connections benchmark runs: a short smoke run of bench/bench_hostile.py
(figures, no timing asserted)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def test_a_short_attack_reports_its_figures_and_the_normal_client_is_always_answered() -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "bench_hostile.py"),
            *("--quiet", "2", "--hostile", "6", "--connections", "12"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("summary: ")]
    figures = dict(item.split("=") for item in line.removeprefix("summary: ").split())
    assert int(figures["hostile"]) >= 12  # every hostile connection was made, some again
    assert int(figures["closed_by_server"]) > 0  # the never-ending headers, at least
    assert figures["normal_failures"] == "0"
    assert float(figures["p99_attack_ms"]) > 0  # a latency was measured
    assert "| never-ending header |" in result.stdout
