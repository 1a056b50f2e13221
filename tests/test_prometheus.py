"""The Prometheus rules (deploy/prometheus/): promtool's checks and unit tests, and a real
Prometheus server that scrapes a real ``sampleproject serve``."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from sampleproject.monitoring import psi
from sampleproject.schema import LEG_COUNTS
from tests.conftest import BIN, ROOT, require_tool
from tests.test_serve_real import ANIMAL, Server, free_port, start, stop

RULES = ROOT / "deploy" / "prometheus"
RULE_FILES = (RULES / "alerts.yml", RULES / "training-distribution.yml")
UNIT_TESTS = sorted((ROOT / "tests" / "prometheus").glob("*_test.yml"))


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    """``promtool ARGS`` (output captured, status not checked)."""
    return subprocess.run(
        [require_tool("promtool"), *args], capture_output=True, text=True, check=False, timeout=120
    )


def alert_names() -> list[str]:
    """Every alert that alerts.yml defines."""
    groups = yaml.safe_load(RULE_FILES[0].read_text(encoding="utf-8"))["groups"]
    return [rule["alert"] for group in groups for rule in group["rules"] if "alert" in rule]


def test_the_rule_files_are_valid() -> None:
    checked = promtool("check", "rules", *map(str, RULE_FILES))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count("SUCCESS") == len(RULE_FILES)


def test_the_alerts_pass_their_unit_tests() -> None:
    tested = promtool("test", "rules", *map(str, UNIT_TESTS))
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert tested.stdout.count("SUCCESS") == len(UNIT_TESTS)


def test_every_alert_is_tested_firing_and_not_firing() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for path in UNIT_TESTS:
        for case in yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check["exp_alerts"] else quiet).add(check["alertname"])
    names = set(alert_names())
    assert len(names) >= 7
    assert names == firing == quiet


def test_a_broken_alert_fails_its_unit_tests(tmp_path: Path) -> None:
    # The unit tests can fail: with a drift threshold no PSI reaches, the drift test must.
    rules = tmp_path / "deploy" / "prometheus"
    rules.mkdir(parents=True)
    text = RULE_FILES[0].read_text(encoding="utf-8")
    broken = text.replace("input_psi:rate1h > 0.25", "input_psi:rate1h > 100")
    assert broken != text
    (rules / "alerts.yml").write_text(broken, encoding="utf-8")
    (rules / "training-distribution.yml").write_text(
        RULE_FILES[1].read_text(encoding="utf-8"), encoding="utf-8"
    )
    (tmp_path / "tests" / "prometheus").mkdir(parents=True)
    copy = tmp_path / "tests" / "prometheus" / "drift_test.yml"
    copy.write_text(
        (ROOT / "tests" / "prometheus" / "drift_test.yml").read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    tested = promtool("test", "rules", str(copy))
    assert tested.returncode == 1
    assert "alertname: SampleProjectInputDrift" in tested.stdout + tested.stderr


def test_prometheus_computes_the_psi_that_the_drift_command_computes() -> None:
    rules = yaml.safe_load(RULE_FILES[1].read_text(encoding="utf-8"))["groups"][0]["rules"]
    legs = {
        int(rule["labels"]["value"]): float(rule["expr"].removeprefix("vector(").rstrip(")"))
        for rule in rules
        if rule["labels"].get("feature") == "legs"
    }
    only_two_legs = [1.0 if value == 2 else 0.0 for value in LEG_COUNTS]  # "drifted" job
    expected = round(psi.psi([legs[value] for value in LEG_COUNTS], only_two_legs), 3)
    unit_test = yaml.safe_load(
        (ROOT / "tests" / "prometheus" / "drift_test.yml").read_text(encoding="utf-8")
    )
    samples = unit_test["tests"][0]["promql_expr_test"][0]["exp_samples"]
    drifted = next(sample for sample in samples if 'job="drifted"' in sample["labels"])
    assert drifted["value"] == expected


# --- a real Prometheus -------------------------------------------------------------------


def api(port: int, path: str, **params: str) -> Any:
    """The ``data`` of Prometheus' HTTP API answer at ``path`` (None when it does not answer)."""
    url = f"http://127.0.0.1:{port}/api/v1/{path}?{urllib.parse.urlencode(params)}"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.load(response)["data"]
    except (urllib.error.URLError, OSError):
        return None


def query(port: int, expression: str) -> list[dict[str, Any]]:
    """The result vector of an instant query ([] while Prometheus does not answer)."""
    data = api(port, "query", query=expression)
    return [] if data is None else list(data["result"])


def wait_for(port: int, expression: str, process: subprocess.Popen[bytes], log: Path) -> float:
    """Wait (up to a minute) until ``expression`` has a sample; its value."""
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, log.read_text(encoding="utf-8")
        result = query(port, expression)
        if result:
            return float(result[0]["value"][1])
        assert time.monotonic() < deadline, f"no sample of {expression}:\n" + log.read_text(
            encoding="utf-8"
        )
        time.sleep(0.5)


@pytest.fixture(name="served")
def served_fixture(tmp_path: Path) -> Iterator[Server]:
    """A real ``sampleproject serve``, stopped afterwards."""
    server = start(tmp_path)
    yield server
    assert stop(server) == 0


@pytest.mark.slow
@pytest.mark.prometheus
def test_a_real_prometheus_scrapes_serve_and_evaluates_the_rules(
    served: Server, tmp_path: Path
) -> None:
    binary = require_tool("prometheus")
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        json.dumps(  # JSON is YAML: a config with absolute paths and no quoting to get wrong
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(path) for path in RULE_FILES],
                "scrape_configs": [
                    {
                        "job_name": "sampleproject",
                        "static_configs": [{"targets": [f"127.0.0.1:{served.port}"]}],
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    for _ in range(5):  # five aardvarks: every one has 4 legs
        assert served.post(json.dumps(ANIMAL).encode())[0] == 200
    log = tmp_path / "prometheus.log"
    with log.open("wb") as output:
        process = subprocess.Popen(  # pylint: disable=consider-using-with
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:

        def value(expression: str) -> float:
            return wait_for(port, expression, process, log)

        assert value('up{job="sampleproject"}') == 1
        assert value("sampleproject_model_ready") == 1  # what the not-ready alert reads
        assert value('sampleproject_model_reloads_total{result="failure"}') == 0
        assert value("sampleproject_model_info") == 1
        assert value('sampleproject_input_values_total{feature="legs",value="4"}') == 5
        assert value('sampleproject_input_values_total{feature="legs",value="2"}') == 0
        assert value('sampleproject_predictions_total{class_name="mammal"}') == 5
        assert value('sampleproject_http_requests_total{path="/predict",status="200"}') == 5
        assert value('sampleproject_http_request_duration_seconds_count{path="/predict"}') == 5
        # The rules run on the real series: the training proportions, and the live PSI,
        # equal to the drift command's on a scrape of the same server.
        share = 'sampleproject:training_proportion{feature="legs",value="4"}'
        assert value(share) == pytest.approx(0.376238)
        for _ in range(5):  # more traffic while Prometheus watches, so rate() has an increase
            assert served.post(json.dumps([ANIMAL, ANIMAL]).encode())[0] == 200
        # ">= 0" leaves out NaN, the PSI while rate() has seen no increase yet.
        in_prometheus = value('sampleproject:input_psi:rate1h{feature="legs"} >= 0')
        command = subprocess.run(
            [str(BIN / "sampleproject"), "drift", "--json", "--metrics", served.url("/metrics")],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert command.returncode == 1, command.stderr  # only aardvarks: drift
        assert json.loads(command.stdout)["psi"]["legs"] == pytest.approx(in_prometheus, abs=1e-3)
        groups = api(port, "rules")["groups"]
        assert len(groups) == 3  # the two of alerts.yml and the training distribution
        assert {rule["health"] for group in groups for rule in group["rules"]} == {"ok"}
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.returncode == 0, log.read_text(encoding="utf-8")
