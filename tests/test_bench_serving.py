"""The serving benchmark: wrk's summary, the floor's answers, the answer check, a short run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bench import servers, wrk
from bench.bench_serving import differences
from sampleproject.inference.model import default_model_dir
from sampleproject.serving.app import create_app
from sampleproject.serving.settings import ServeSettings
from tests.conftest import ROOT, require, require_tool

# Real wrk outputs (wrk 4.1, the benchmark's script with its done() hook). In the first, the
# thread statistics end in "87.50%": an unanchored "50%\s+(\S+)" read "Latency" as the p50.
SLOW_SERVER = """\
Running 1s test @ http://127.0.0.1:18140/predict
  1 threads and 1 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   128.25ms   68.77ms 295.94ms   88.89%
    Req/Sec     9.12      2.47    10.00     87.50%
  Latency Distribution
     50%  104.05ms
     75%  107.97ms
     90%  295.94ms
     99%  295.94ms
  8 requests in 1.00s, 1.00KB read
Requests/sec:      7.97
Transfer/sec:      1.00KB
wrk-summary: {"requests": 8, "duration_us": 1003921, "non_2xx": 0, "socket_errors": 0, \
"p50_us": 104049, "p99_us": 295944}
"""
NOT_FOUND = """\
Running 1s test @ http://127.0.0.1:18133/nope
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     5.85ms    8.56ms  67.04ms   95.31%
    Req/Sec     1.88k   722.71     2.80k    60.00%
  Latency Distribution
     50%    3.16ms
     75%    4.36ms
     90%    8.76ms
     99%   54.35ms
  1871 requests in 1.00s, 303.44KB read
  Non-2xx or 3xx responses: 1871
Requests/sec:   1864.23
Transfer/sec:    302.34KB
wrk-summary: {"requests": 1871, "duration_us": 1003634, "non_2xx": 1871, "socket_errors": 0, \
"p50_us": 3163, "p99_us": 54345}
"""


def text_figure(output: str, label: str) -> str:
    """A figure of wrk's text summary: the value after ``label`` at a line's start."""
    (line,) = [line for line in output.splitlines() if line.strip().startswith(label)]
    return line.split()[-1]


def test_the_percentiles_are_read_from_the_summary_not_from_the_thread_statistics() -> None:
    summary = wrk.parse(SLOW_SERVER)
    assert f"{summary.p50_ms:.2f}ms" == text_figure(SLOW_SERVER, "50%")
    assert f"{summary.p99_ms:.2f}ms" == text_figure(SLOW_SERVER, "99%")
    assert summary.requests == 8
    assert f"{summary.rps:.2f}" == text_figure(SLOW_SERVER, "Requests/sec:")


def test_non_2xx_answers_are_counted() -> None:
    summary = wrk.parse(NOT_FOUND)
    assert summary.non_2xx == summary.requests == 1871
    assert summary.socket_errors == 0


def test_an_output_without_the_summary_line_is_refused_with_the_output() -> None:
    text = SLOW_SERVER.split("wrk-summary:", maxsplit=1)[0]
    with pytest.raises(SystemExit, match="no summary in wrk's output") as caught:
        wrk.parse(text)
    assert "87.50%" in str(caught.value)


def test_the_wrk_script_posts_the_body_and_prints_its_summary() -> None:
    script = wrk.script('{"legs": 4}')
    assert 'wrk.body = "{\\"legs\\": 4}"' in script
    assert "function done(summary, latency, requests)" in script
    assert wrk.MARK in script


def test_the_floor_answers_as_sampleproject_serve_does() -> None:
    require((default_model_dir() / "zoo.json").exists(), "no trained model: run `make train`")
    from bench.floor_app import app as floor_app

    animals = servers.zoo_animals()[::10]
    app = create_app(ServeSettings(model_dir=default_model_dir()))
    with TestClient(app) as ours, TestClient(floor_app) as floor:
        for body in [animals[0], animals[-1], animals]:
            expected = ours.post("/predict", json=body)
            answer = floor.post("/predict", json=body)
            assert answer.status_code == expected.status_code == 200
            assert answer.json() == expected.json()


def test_a_server_answering_another_class_or_other_probabilities_is_refused() -> None:
    expected = ([1, 2], [[0.9, 0.1], [0.2, 0.8]])
    assert differences(expected, ([1, 2], [[0.9000004, 0.1], [0.2, 0.8]]), "all") == []
    assert differences(expected, ([1, 2], None), "all") == []  # MLflow: codes only
    assert differences(expected, ([1, 3], None), "all") == ["all, animal 2: class 3, not 2"]
    (problem,) = differences(expected, ([1, 2], [[0.9, 0.1], [0.2, 0.81]]), "all")
    assert problem.startswith("all, animal 2: probabilities 1.0e-02 away")
    assert differences(expected, ([1], None), "one") == ["one: 1 answers for 2 animals"]


def test_every_peer_pins_its_framework() -> None:
    for peer in servers.PEERS:
        if peer != "mlflow":  # the project's own MLflow
            assert servers.pinned(peer)


@pytest.mark.slow
def test_a_short_comparison_of_the_floor_and_ours_checks_their_answers_and_prints_the_table(
    tmp_path: Path,
) -> None:
    require_tool("wrk")
    markdown = tmp_path / "serving.md"
    command = [sys.executable, str(ROOT / "bench" / "bench_serving.py"), "--peers", "none"]
    command += ["--duration", "1", "--rounds", "1", "--connections", "8", "--batch", "10"]
    command += ["--venvs", str(tmp_path / "venvs"), "--markdown", str(markdown)]
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "NOT TIMED" not in result.stdout
    rows = [line for line in result.stdout.splitlines() if line.startswith(("floor", "sample"))]
    # The floor (the ratios' reference), ours, the floor on the loop ours runs on, then ours
    # on the ecosystem's protocols (timed against their peers, none here).
    assert [row.split("  ")[0] for row in rows] == [
        "floor: raw ASGI app on uvicorn httptools+uvloop",
        "sampleproject serve",
        "floor: raw ASGI app on uvicorn httptools+asyncio",
        "sampleproject serve, V2 infer",
        "sampleproject serve, /invocations",
    ]
    assert "Throughput ratios of sampleproject serve" in result.stdout
    assert "Protocol ratios (one animal / 10 animals a request, 8 connections): no peer timed." in (
        result.stdout
    )
    assert "| `sampleproject serve` | 8 |" in markdown.read_text(encoding="utf-8")
