"""The local quality gate: reads the pipeline's reports and passes or fails the build.

SonarQube applies a quality gate on its server; without a server this script is the embedded
default. It reads the same report files SonarQube imports (so both judge the same evidence),
prints one table (each gate, its figure, pass or fail) and exits 1 if any gate fails.

    python tools/quality_gate.py --reports reports --model-metadata sampleproject/model/zoo.json
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import xml.etree.ElementTree as ET  # our own report files, not untrusted input
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# The thresholds. They are deliberately strict for a small code base; a fork can relax them
# here, in one place, and the table in docs/pipeline.md shows them.
MIN_BRANCH_COVERAGE = 0.90
MIN_PYLINT_SCORE = 9.5
BANDIT_FAILING_SEVERITIES = ("MEDIUM", "HIGH")
MYPY_ISSUE = re.compile(r"^[^:\s][^:]*:\d+(?::\d+)?: (error|warning|note):")


@dataclass(frozen=True)
class Result:
    """One row of the gate's table."""

    gate: str
    figure: str
    passed: bool


def check_tests(reports: Path) -> Result:
    """Every test ran green, and there was at least one."""
    root = ET.parse(reports / "junit.xml").getroot()  # noqa: S314
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    totals = {
        key: sum(int(suite.get(key, "0")) for suite in suites)
        for key in ("tests", "failures", "errors", "skipped")
    }
    failed = totals["failures"] + totals["errors"]
    figure = f"{totals['tests']} tests, {failed} failed, {totals['skipped']} skipped"
    return Result("unit tests", figure, failed == 0 and totals["tests"] > 0)


def check_coverage(reports: Path) -> Result:
    """Branch coverage of the package, as coverage.py computed it."""
    root = ET.parse(reports / "coverage.xml").getroot()  # noqa: S314
    rate = float(root.get("branch-rate", "0"))
    figure = f"{rate:.1%} (min {MIN_BRANCH_COVERAGE:.0%})"
    return Result("branch coverage", figure, rate >= MIN_BRANCH_COVERAGE)


def check_pylint(reports: Path) -> Result:
    """No error or fatal message, and a score at or above the minimum."""
    statistics = json.loads((reports / "pylint.json").read_text(encoding="utf-8"))["statistics"]
    counts = statistics["messageTypeCount"]
    errors = counts.get("error", 0) + counts.get("fatal", 0)
    score = float(statistics["score"])
    figure = f"score {score:.2f} (min {MIN_PYLINT_SCORE}), {errors} errors"
    return Result("pylint", figure, errors == 0 and score >= MIN_PYLINT_SCORE)


def check_bandit(reports: Path) -> Result:
    """No security finding of medium severity or higher, and every file analysed."""
    report = json.loads((reports / "bandit.json").read_text(encoding="utf-8"))
    serious = [r for r in report["results"] if r["issue_severity"] in BANDIT_FAILING_SEVERITIES]
    unparsed = len(report.get("errors", []))
    figure = f"{len(serious)} medium/high, {len(report['results'])} in all, {unparsed} unparsed"
    return Result("bandit", figure, not serious and unparsed == 0)


def check_ruff(reports: Path) -> Result:
    """No ruff finding at all."""
    findings = json.loads((reports / "ruff.json").read_text(encoding="utf-8"))
    return Result("ruff", f"{len(findings)} findings", not findings)


def check_format(reports: Path) -> Result:
    """Every file as ``ruff format`` writes it; ruff said so itself (its summary line)."""
    text = (reports / "ruff-format.txt").read_text(encoding="utf-8")
    unformatted = re.findall(r"^Would reformat: (.+)$", text, re.MULTILINE)
    summary = re.search(r"files? (already formatted|would be reformatted)", text)
    return Result(
        "ruff format", f"{len(unformatted)} files to reformat", bool(summary) and not unformatted
    )


def check_mypy(reports: Path) -> Result:
    """No mypy message, and mypy said so itself (an empty report could mean it crashed)."""
    text = (reports / "mypy.txt").read_text(encoding="utf-8")
    issues = [line for line in text.splitlines() if MYPY_ISSUE.match(line)]
    succeeded = "Success: no issues found" in text
    return Result("mypy", f"{len(issues)} issues", succeeded and not issues)


def check_model(metadata_path: Path) -> list[Result]:
    """The model's cross-validated metrics against the thresholds it was trained with."""
    metadata = json.loads(metadata_path.read_text(encoding="utf-8"))
    results = []
    for name, minimum in sorted(metadata["thresholds"].items()):
        metric = name.removeprefix("min_")
        value = float(metadata["metrics"][metric])
        figure = f"{value:.3f} (min {minimum})"
        results.append(Result(f"model {metric}", figure, value >= float(minimum)))
    return results


CHECKS: tuple[Callable[[Path], Result], ...] = (
    check_tests,
    check_coverage,
    check_pylint,
    check_bandit,
    check_ruff,
    check_format,
    check_mypy,
)


def run_checks(reports: Path, model_metadata: Path | None) -> list[Result]:
    """Every gate's result; a missing or unreadable report is a failed gate, not a crash."""
    results = []
    for check in CHECKS:
        try:
            results.append(check(reports))
        except (OSError, ValueError, KeyError, ET.ParseError) as error:
            name = check.__name__.removeprefix("check_")
            results.append(Result(name, f"report unreadable: {error}", False))
    if model_metadata is not None:
        try:
            results.extend(check_model(model_metadata))
        except (OSError, ValueError, KeyError) as error:
            results.append(Result("model", f"metadata unreadable: {error}", False))
    return results


def format_table(results: list[Result]) -> str:
    """The results as a plain-text table, with a verdict line."""
    width = max(len(result.gate) for result in results)
    figure_width = max(len(result.figure) for result in results)
    lines = [f"{'gate':<{width}}  {'figure':<{figure_width}}  result"]
    lines.append("-" * len(lines[0].rstrip()) + "-" * 4)
    for result in results:
        verdict = "pass" if result.passed else "FAIL"
        lines.append(f"{result.gate:<{width}}  {result.figure:<{figure_width}}  {verdict}")
    passed = all(result.passed for result in results)
    lines.append(f"quality gate: {'passed' if passed else 'FAILED'}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Print the table; write it to --output only when every gate passes."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--reports", type=Path, default=Path("reports"))
    parser.add_argument("--model-metadata", type=Path, help="the trained model's zoo.json")
    parser.add_argument("--output", type=Path, help="where to keep the table when it passes")
    args = parser.parse_args(argv)
    results = run_checks(args.reports, args.model_metadata)
    table = format_table(results)
    sys.stdout.write(table)
    if not all(result.passed for result in results):
        return 1
    if args.output is not None:
        args.output.write_text(table, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
