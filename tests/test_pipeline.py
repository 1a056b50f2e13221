"""The Makefile pipeline, for real: reports in SonarQube's formats, up-to-date checks, SonarQube.

SonarQube itself cannot run here. These tests verify everything up to its door: every report
path in sonar-project.properties exists after ``make reports`` and parses the way SonarQube's
importers parse it (the patterns below follow SonarQube's Python import documentation).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET  # our own report files
from pathlib import Path

import pytest

from tests.conftest import ROOT, copy_project
from tests.conftest import run_make as make

pytestmark = pytest.mark.slow

PYLINT_LINE = re.compile(
    r"^(?P<file>[^:\s][^:]*):(?P<line>\d+): \[(?P<rule>[A-Z]\d{4})\([a-z0-9-]+\), [^\]]*\] .+$"
)
MYPY_LINE = re.compile(
    r"^(?P<file>[^:\s][^:]*):(?P<line>\d+)(?::\d+)?: (?:error|warning|note): "
    r".+?(?:\s+\[[a-z-]+\])?$"
)
BANDIT_KEYS = {"test_id", "filename", "line_number", "issue_severity", "issue_confidence"}
RUFF_KEYS = {"code", "message", "filename", "location"}


def sonar_properties() -> dict[str, str]:
    properties = {}
    for line in (ROOT / "sonar-project.properties").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            properties[key.strip()] = value.strip()
    return properties


@pytest.fixture(scope="module")
def reports() -> dict[str, Path]:
    """Run ``make reports``; return the report files that SonarQube is told about, by key."""
    result = make("reports")
    assert result.returncode == 0, result.stderr
    return {
        key: ROOT / path
        for key, value in sonar_properties().items()
        if key.endswith(("reportPath", "reportPaths"))
        for path in value.split(",")
    }


def test_every_configured_report_exists(reports: dict[str, Path]) -> None:
    expected = {"xunit", "coverage", "pylint", "bandit", "ruff", "mypy"}
    assert {key.split(".")[2] for key in reports} == expected
    for path in reports.values():
        assert path.is_file(), path


def test_junit_lists_test_cases(reports: dict[str, Path]) -> None:
    root = ET.parse(reports["sonar.python.xunit.reportPath"]).getroot()  # noqa: S314
    cases = list(root.iter("testcase"))
    assert len(cases) > 20
    assert all(case.get("classname") and case.get("name") for case in cases)


def test_coverage_is_cobertura_with_relative_paths(reports: dict[str, Path]) -> None:
    root = ET.parse(reports["sonar.python.coverage.reportPaths"]).getroot()  # noqa: S314
    assert root.tag == "coverage"
    assert float(root.get("branch-rate", "-1")) > 0
    # SonarQube resolves each file name against the <source> folders, and a relative source
    # against the project's base folder: both must be relative for the report to travel.
    sources = [Path(source.text or "") for source in root.iter("source")]
    assert sources
    assert not [source for source in sources if source.is_absolute()]
    names = [Path(cls.get("filename", "")) for cls in root.iter("class")]
    assert not [name for name in names if name.is_absolute()]
    resolved = {
        (source / name).as_posix()
        for name in names
        for source in sources
        if (ROOT / source / name).is_file()
    }
    assert len(resolved) == len(set(names))  # every file found, under one source
    assert "sampleproject/cli.py" in resolved


def test_pylint_report_lines_match_sonarqube_pattern(reports: dict[str, Path]) -> None:
    lines = reports["sonar.python.pylint.reportPaths"].read_text(encoding="utf-8").splitlines()
    messages = [line for line in lines if re.match(r"^\S+:\d+: ", line)]
    assert all(PYLINT_LINE.match(line) for line in messages), messages


def test_bandit_report_has_what_sonarqube_reads(reports: dict[str, Path]) -> None:
    report = json.loads(reports["sonar.python.bandit.reportPaths"].read_text(encoding="utf-8"))
    assert report["metrics"]["_totals"]["loc"] > 0  # bandit really read our code
    assert all(BANDIT_KEYS <= result.keys() for result in report["results"])


def test_ruff_and_mypy_reports_parse(reports: dict[str, Path]) -> None:
    findings = json.loads(reports["sonar.python.ruff.reportPaths"].read_text(encoding="utf-8"))
    assert isinstance(findings, list)
    assert all(RUFF_KEYS <= finding.keys() for finding in findings)
    mypy = reports["sonar.python.mypy.reportPaths"].read_text(encoding="utf-8").splitlines()
    assert mypy[-1].startswith(("Success:", "Found "))
    assert all(MYPY_LINE.match(line) for line in mypy[:-1]), mypy


def test_findings_are_written_in_the_formats_sonarqube_parses(tmp_path: Path) -> None:
    """Same tools and flags as the Makefile, on code with findings (ours has none to show)."""
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import os\nimport subprocess\n"
        "def f(x: str) -> int:\n    return subprocess.call(x, shell=True) + y\n"
    )
    bin_dir = Path(sys.executable).parent

    def tool(*args: str) -> None:
        command = [str(bin_dir / args[0]), *args[1:]]
        subprocess.run(command, cwd=tmp_path, capture_output=True, check=False)

    tool("pylint", "bad.py", f"--output-format=parseable:{tmp_path}/pylint.txt")
    pylint_text = (tmp_path / "pylint.txt").read_text()
    pylint = [line for line in pylint_text.splitlines() if "bad.py" in line]
    assert pylint
    assert all(PYLINT_LINE.match(line) for line in pylint), pylint

    tool("bandit", "--quiet", "bad.py", "--format", "json", "--output", "bandit.json")
    results = json.loads((tmp_path / "bandit.json").read_text())["results"]
    assert results
    assert all(BANDIT_KEYS <= result.keys() for result in results)

    tool(
        "ruff",
        "check",
        "--isolated",
        "--output-format",
        "json",
        "--output-file",
        "ruff.json",
        "bad.py",
    )
    findings = json.loads((tmp_path / "ruff.json").read_text())
    assert findings
    assert all(RUFF_KEYS <= finding.keys() for finding in findings)

    result = subprocess.run(
        [
            str(bin_dir / "mypy"),
            "--no-pretty",
            "--show-column-numbers",
            "--show-error-codes",
            "bad.py",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = result.stdout.splitlines()[:-1]
    assert lines
    assert all(MYPY_LINE.match(line) for line in lines), lines


def test_reports_are_up_to_date_until_a_source_changes(reports: dict[str, Path]) -> None:
    assert reports
    assert make("--question", "reports").returncode == 0  # nothing to do
    source = ROOT / "sampleproject" / "errors.py"
    stat = source.stat()
    try:
        newer = max(path.stat().st_mtime for path in reports.values()) + 60
        os.utime(source, (stat.st_atime, newer))  # changed after the reports were made
        assert make("--question", "reports").returncode == 1  # now out of date
    finally:
        os.utime(source, (stat.st_atime, stat.st_mtime))
    assert make("--question", "reports").returncode == 0


def test_publishing_needs_a_server_only_when_asked(reports: dict[str, Path]) -> None:
    assert reports
    without = {"SONAR_HOST_URL": "", "SONAR_TOKEN": ""}
    skipped = make("publish", env=without)
    assert skipped.returncode == 0
    assert "SONAR_HOST_URL is not set, publishing skipped" in skipped.stdout
    asked = make("sonar", env=without)
    assert asked.returncode != 0
    assert "set SONAR_HOST_URL and SONAR_TOKEN" in asked.stderr


def test_clean_removes_outputs_and_leaves_environments_and_image_storage(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    made = [
        project / "reports" / "junit.xml",
        project / "sampleproject" / "__pycache__" / "a.pyc",
        project / "site" / "index.html",
    ]
    kept = [
        project / ".venv" / "lib" / "__pycache__" / "b.pyc",
        project / ".container" / "storage" / "overlay" / "layer" / "__pycache__" / "c.pyc",
    ]
    for path in made + kept:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    result = make("clean", project=project)
    assert result.returncode == 0, result.stderr
    assert not [path for path in made if path.exists()]
    assert [path for path in kept if path.exists()] == kept
    assert (project / "sampleproject" / "cli.py").is_file()
