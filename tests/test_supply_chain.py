"""Supply chain: `make audit` (pip-audit over the pins) and `make secrets` (detect-secrets).

The secrets scan is shown to work on a clean copy of the repository and to fail when a
(fake) credential is committed. pip-audit's verdict logic is tested in-process on reports of
each kind; the real `make audit` runs too, and passes either with a clean audit or with the
one skip line that says the vulnerability service was out of reach.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, require_tool
from tests.repository import clean_clone
from tools import audit

VENV = Path(sys.prefix)  # the environment the tests run in; make uses it as VIRTUAL_ENV
INSTALLED = VENV / ".installed-sampleproject"


def make(target: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`make TARGET` in ``cwd``, with our environment, never reinstalling it."""
    return subprocess.run(
        [require_tool("make"), "--no-print-directory", target, f"VIRTUAL_ENV={VENV}"]
        # -o: treat the environment as up to date (a copy's files are newer than its marker).
        + (["-o", str(INSTALLED)] if INSTALLED.exists() else []),
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


# --- secrets -------------------------------------------------------------------------------


@pytest.fixture(name="clone")
def clone_fixture(tmp_path: Path) -> Path:
    """The secrets scan reads the files git tracks: a clean clone, where a test may add one."""
    return clean_clone(tmp_path / "repo")


@pytest.mark.slow
def test_secrets_scan_passes_on_the_repository(clone: Path) -> None:
    result = make("secrets", clone)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_secrets_scan_finds_a_committed_key(clone: Path) -> None:
    # A fake AWS key pair (AWS's documentation example), assembled here so that this test
    # file itself does not hold one.
    key_id = "AKIA" + "IOSFODNN7EXAMPLE"
    leak = clone / "sampleproject" / "settings.py"
    leak.write_text(f'AWS_ACCESS_KEY_ID = "{key_id}"\n', encoding="utf-8")
    subprocess.run(["git", "add", str(leak)], cwd=clone, check=True)

    result = make("secrets", clone)
    assert result.returncode != 0
    assert "AWS Access Key" in result.stdout
    assert "sampleproject/settings.py" in result.stdout


# --- audit ---------------------------------------------------------------------------------


def _dependency(name: str, vulns: list[dict[str, object]] | None = None) -> dict[str, object]:
    return {"name": name, "version": "1.0", "vulns": vulns or []}


def _skipped(name: str) -> dict[str, object]:
    return {"name": name, "skip_reason": f"Dependency not found on PyPI: {name} (1.0)"}


def test_audit_fails_on_a_known_vulnerability() -> None:
    vuln: dict[str, object] = {"id": "PYSEC-0000-1", "fix_versions": ["1.1"]}
    report = {"dependencies": [_dependency("safe"), _dependency("unsafe", [vuln])]}
    verdict = audit.judge(report, "pypi")
    assert not verdict.passed
    assert "unsafe 1.0: PYSEC-0000-1 (fixed in: 1.1)" in verdict.lines


def test_audit_passes_when_every_package_was_audited_clean() -> None:
    verdict = audit.judge({"dependencies": [_dependency("a"), _dependency("b")]}, "pypi")
    assert verdict.passed
    assert verdict.lines == ["pip-audit: no known vulnerabilities in 2 pinned packages"]


def test_audit_says_how_many_packages_it_could_not_audit() -> None:
    verdict = audit.judge({"dependencies": [_dependency("a"), _skipped("b")]}, "pypi")
    assert verdict.passed
    assert verdict.lines[-1] == "pip-audit: 1 packages could not be audited"


def test_audit_skips_with_one_line_when_nothing_could_be_looked_up() -> None:
    verdict = audit.judge({"dependencies": [_skipped("a"), _skipped("b")]}, "pypi")
    assert verdict.passed
    assert len(verdict.lines) == 1
    assert verdict.lines[0].startswith(audit.SKIP_PREFIX)


def test_audit_skips_when_the_service_is_unreachable() -> None:
    stderr = "requests.exceptions.ConnectionError: Max retries exceeded with url: /v1/query"
    verdict = audit.judge_failure(stderr, "osv")
    assert verdict.passed
    assert verdict.lines == [f"{audit.SKIP_PREFIX}: the osv vulnerability service is unreachable"]


def test_audit_fails_when_pip_audit_fails_for_another_reason() -> None:
    verdict = audit.judge_failure("ERROR: requirements.txt: No such file", "pypi")
    assert not verdict.passed


@pytest.mark.slow
def test_make_audit_audits_or_says_it_skipped() -> None:
    result = make("audit", ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith((audit.SKIP_PREFIX, "pip-audit: no known vulnerabilities")), last
