"""SonarQube's analysis configuration, verified up to the server's door.

No SonarQube server runs here. What is verified without one: sonar-project.properties names
paths that exist and reports the pipeline makes; the scanner (pysonar) reads the file, with
the exact command line `make sonar` gives it, and resolves every property to the file's
value; the SCM switch of container builds overrides the file; and pysonar's dry run, which
validates the coverage report, passes on the reports and fails without them.

What needs a real server: the token's validity, the server's Python analyser (rules, the
import of the pylint/bandit/ruff/mypy reports), its quality gate and the published dashboard.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, require_tool, run_make

PROPERTIES = ROOT / "sonar-project.properties"
REPORT_KEY = re.compile(r"\.reportPaths?$")
SERVER = {"SONAR_HOST_URL": "http://sonarqube:9000", "SONAR_TOKEN": "not-a-real-token"}


def properties() -> dict[str, str]:
    """The file, read by pysonar's own reader (Java properties syntax)."""
    from pysonar_scanner.configuration import (  # type: ignore[import-untyped]
        sonar_project_properties,
    )

    loaded: dict[str, str] = sonar_project_properties.load(ROOT)
    return loaded


def report_paths() -> list[str]:
    """Every report path the configuration names."""
    return [
        path.strip()
        for key, value in properties().items()
        if REPORT_KEY.search(key)
        for path in value.split(",")
    ]


def supported_pythons() -> list[str]:
    """The Python versions setup.py's classifiers declare."""
    text = (ROOT / "setup.py").read_text(encoding="utf-8")
    return re.findall(r'"Programming Language :: Python :: (3\.\d+)"', text)


def package_version() -> str:
    """The version in sampleproject/__init__.py (read as text, as setup.py does)."""
    text = (ROOT / "sampleproject" / "__init__.py").read_text(encoding="utf-8")
    found = re.search(r'^__version__ = "(.+)"$', text, re.MULTILINE)
    assert found is not None
    return found.group(1)


def make_sonar_arguments() -> list[str]:
    """The arguments `make sonar` passes to pysonar (from `make -n`, nothing is run)."""
    printed = run_make("-n", "sonar", env=SERVER)
    assert printed.returncode == 0, printed.stderr
    lines = printed.stdout.replace("\\\n", " ").splitlines()
    command = next(line for line in lines if "pysonar " in line)
    # The shell would expand "$SONAR_HOST_URL" and "$SONAR_TOKEN" from the environment.
    return [
        re.sub(r"\$(\w+)", lambda variable: SERVER[variable.group(1)], word)
        for word in shlex.split(command)[1:]
    ]


def test_the_file_exists_and_names_the_project() -> None:
    assert PROPERTIES.is_file()
    config = properties()
    assert config["sonar.projectKey"] == "sampleproject"
    assert config["sonar.sourceEncoding"] == "UTF-8"


def test_sources_and_tests_exist() -> None:
    config = properties()
    for key in ("sonar.sources", "sonar.tests"):
        for path in config[key].split(","):
            assert (ROOT / path.strip()).exists(), f"{key}: {path}"
    assert "sampleproject" in config["sonar.sources"].split(",")


def test_python_versions_are_the_supported_ones() -> None:
    assert properties()["sonar.python.version"].split(",") == supported_pythons()


def test_scm_is_on_and_switchable() -> None:
    config = properties()
    assert config["sonar.scm.provider"] == "git"
    assert config["sonar.scm.disabled"] == "false"
    # The container build (no .git inside) switches it off.
    assert '"sonar.scm.disabled": "true"' in (ROOT / "Dockerfile").read_text(encoding="utf-8")


def test_every_report_is_a_pipeline_output_under_reports() -> None:
    paths = report_paths()
    keys = [key for key in properties() if REPORT_KEY.search(key)]
    # Tests, coverage and the four external analysers.
    assert len(keys) == 6
    for path in paths:
        assert path.startswith("reports/"), path
        # `make -q` exits 0 (up to date) or 1 (out of date) for a file it knows how to make,
        # and 2 when there is no rule for it.
        known = run_make("-q", path)
        assert known.returncode in (0, 1), f"the Makefile makes no {path}"


def _pysonar_configuration(
    monkeypatch: pytest.MonkeyPatch, arguments: list[str], environment: dict[str, str]
) -> dict[str, object]:
    """Configuration as pysonar resolves it from its command line, the file and environment."""
    from pysonar_scanner.configuration.configuration_loader import (  # type: ignore[import-untyped]
        ConfigurationLoader,
    )

    for name in list(os.environ):
        if name.startswith("SONAR_"):
            monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(sys, "argv", ["pysonar", *arguments])
    config: dict[str, object] = ConfigurationLoader.load()
    return config


def test_pysonar_resolves_every_property_with_make_sonars_command_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    arguments = make_sonar_arguments()
    config = _pysonar_configuration(monkeypatch, arguments, {})
    for key, value in properties().items():
        assert str(config[key]) == value, key
    assert config["sonar.host.url"] == SERVER["SONAR_HOST_URL"]
    assert config["sonar.token"] == SERVER["SONAR_TOKEN"]
    assert config["sonar.projectVersion"] == package_version()
    assert config["sonar.qualitygate.wait"] is True


def test_pysonar_lets_the_container_build_switch_scm_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """The way the Dockerfile does it: a JSON parameter in the environment beats the file."""
    json_params = {"SONAR_SCANNER_JSON_PARAMS": '{"sonar.scm.disabled": "true"}'}
    config = _pysonar_configuration(monkeypatch, [], json_params)
    assert config["sonar.scm.disabled"] == "true"


def _dry_run(base: Path) -> subprocess.CompletedProcess[str]:
    """pysonar's dry run: resolves the configuration and validates the coverage report."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("SONAR_")}
    return subprocess.run(
        [require_tool("pysonar"), "--dry-run"],
        cwd=base,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_pysonar_dry_run_checks_the_coverage_report(tmp_path: Path) -> None:
    """In a copy of the configuration: fails without the report, passes with a Cobertura one."""
    (tmp_path / PROPERTIES.name).write_bytes(PROPERTIES.read_bytes())
    coverage = properties()["sonar.python.coverage.reportPaths"]

    missing = _dry_run(tmp_path)
    assert missing.returncode == 1
    assert f"Coverage report not found: {coverage}" in missing.stdout + missing.stderr

    (tmp_path / coverage).parent.mkdir(parents=True)
    (tmp_path / coverage).write_text(
        '<?xml version="1.0" ?><coverage version="7"><packages/></coverage>', encoding="utf-8"
    )
    present = _dry_run(tmp_path)
    assert present.returncode == 0, present.stdout + present.stderr
    assert f"Coverage report check passed: {coverage}" in present.stdout + present.stderr


@pytest.mark.slow
def test_make_sonar_dry_run_on_the_pipelines_reports() -> None:
    """The real target on the real reports, stopped at the door by pysonar's dry run."""
    result = run_make("sonar", "SONAR_ARGS=--dry-run", env=SERVER, timeout=1800)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Configuration validation PASSED" in output
    assert (
        f"Coverage report check passed: {properties()['sonar.python.coverage.reportPaths']}"
        in output
    )
