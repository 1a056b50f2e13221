"""The local quality gate on reports written for the purpose: each gate passes and fails."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools import quality_gate

GOOD_MYPY = "Success: no issues found in 12 source files\n"


def write_reports(
    folder: Path,
    *,
    failures: int = 0,
    branch_rate: float = 0.95,
    pylint_score: float = 9.8,
    pylint_errors: int = 0,
    bandit_severity: str = "LOW",
    ruff: list[dict[str, object]] | None = None,
    unformatted: tuple[str, ...] = (),
    mypy: str = GOOD_MYPY,
) -> Path:
    """A full set of reports in the tools' own formats, passing unless told otherwise."""
    (folder / "junit.xml").write_text(
        f'<testsuites><testsuite name="pytest" tests="10" failures="{failures}" errors="0" '
        'skipped="1"/></testsuites>',
        encoding="utf-8",
    )
    (folder / "coverage.xml").write_text(
        f'<coverage branch-rate="{branch_rate}" line-rate="0.97"/>', encoding="utf-8"
    )
    counts = {"fatal": 0, "error": pylint_errors, "warning": 1, "convention": 0}
    (folder / "pylint.json").write_text(
        json.dumps({"statistics": {"messageTypeCount": counts, "score": pylint_score}}),
        encoding="utf-8",
    )
    bandit = {"results": [{"issue_severity": bandit_severity, "test_id": "B101"}], "errors": []}
    (folder / "bandit.json").write_text(json.dumps(bandit), encoding="utf-8")
    (folder / "ruff.json").write_text(json.dumps(ruff or []), encoding="utf-8")
    verdict = "".join(f"Would reformat: {name}\n" for name in unformatted)
    verdict += f"{len(unformatted)} files would be reformatted, 9 files already formatted\n"
    (folder / "ruff-format.txt").write_text(verdict, encoding="utf-8")
    (folder / "mypy.txt").write_text(mypy, encoding="utf-8")
    return folder


def test_clean_reports_pass_and_the_table_is_kept(tmp_path: Path) -> None:
    output = tmp_path / "gate.txt"
    status = quality_gate.main(["--reports", str(write_reports(tmp_path)), "--output", str(output)])
    assert status == 0
    table = output.read_text(encoding="utf-8")
    assert "quality gate: passed" in table
    assert "10 tests, 0 failed, 1 skipped" in table
    assert "95.0%" in table


@pytest.mark.parametrize(
    ("override", "gate"),
    [
        ({"failures": 1}, "unit tests"),
        ({"branch_rate": 0.899}, "branch coverage"),
        ({"pylint_score": 9.49}, "pylint"),
        ({"pylint_errors": 1}, "pylint"),
        ({"bandit_severity": "MEDIUM"}, "bandit"),
        ({"ruff": [{"code": "F401"}]}, "ruff"),
        ({"unformatted": ("a.py",)}, "ruff format"),
        ({"mypy": "a.py:3:1: error: Name 'x' is not defined  [name-defined]\n"}, "mypy"),
        ({"mypy": ""}, "mypy"),
    ],
)
def test_each_gate_fails_on_its_own(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    override: dict[str, object],
    gate: str,
) -> None:
    output = tmp_path / "gate.txt"
    reports = write_reports(tmp_path, **override)  # type: ignore[arg-type]
    assert quality_gate.main(["--reports", str(reports), "--output", str(output)]) == 1
    failing = [line for line in capsys.readouterr().out.splitlines() if line.endswith("FAIL")]
    assert len(failing) == 1
    assert failing[0].startswith(gate)
    assert not output.exists()


def test_a_missing_report_fails_its_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (write_reports(tmp_path) / "ruff.json").unlink()
    assert quality_gate.main(["--reports", str(tmp_path)]) == 1
    assert "report unreadable" in capsys.readouterr().out


def test_model_metrics_are_gated_by_their_thresholds(tmp_path: Path) -> None:
    metadata = tmp_path / "zoo.json"
    metadata.write_text(
        json.dumps(
            {
                "metrics": {"accuracy": 0.95, "f1_macro": 0.70},
                "thresholds": {"min_accuracy": 0.9, "min_f1_macro": 0.8},
            }
        ),
        encoding="utf-8",
    )
    results = {result.gate: result.passed for result in quality_gate.check_model(metadata)}
    assert results == {"model accuracy": True, "model f1_macro": False}
