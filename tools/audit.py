"""pip-audit over the pinned dependencies, with one clear line when it cannot audit.

    python tools/audit.py [--requirement constraints.txt]

pip-audit looks every pinned package up in a vulnerability service (PyPI's JSON API by
default). Where that service cannot be reached (an offline machine, a mirror or proxy that
serves only the package index), pip-audit reports every package as "not found", finds nothing
and succeeds, which reads like a clean bill of health. This wrapper tells the two apart:

- known vulnerabilities: they are listed and the exit status is 1;
- no package could be looked up (or the service is unreachable): one line says the audit was
  skipped and why, and the exit status is 0, so an offline build still passes;
- otherwise: the number of packages audited, and 0.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# What pip-audit's errors say when the service is out of reach, as opposed to a real failure.
NETWORK_ERRORS = (
    "ConnectionError",
    "ConnectTimeout",
    "ReadTimeout",
    "Max retries exceeded",
    "Name or service not known",
    "Temporary failure in name resolution",
    "Failed to resolve",
    "Network is unreachable",
    "Connection refused",
)
SKIP_PREFIX = "pip-audit: skipped"


@dataclass(frozen=True)
class Verdict:
    """What to print and how to exit."""

    passed: bool
    lines: list[str]


def judge(report: dict[str, Any], service: str) -> Verdict:
    """Decide from pip-audit's JSON report (``--format json``)."""
    dependencies = report.get("dependencies", [])
    audited = [dep for dep in dependencies if "skip_reason" not in dep]
    findings = [
        f"{dep['name']} {dep['version']}: {vuln['id']}"
        f" (fixed in: {', '.join(vuln['fix_versions']) or 'no release yet'})"
        for dep in audited
        for vuln in dep.get("vulns", [])
    ]
    if findings:
        return Verdict(False, [f"pip-audit: {len(findings)} known vulnerabilities:", *findings])
    if not audited:
        return Verdict(
            True,
            [
                f"{SKIP_PREFIX}: the {service} vulnerability service answered for none of the "
                f"{len(dependencies)} pinned packages (unreachable from here); nothing was audited"
            ],
        )
    lines = [f"pip-audit: no known vulnerabilities in {len(audited)} pinned packages"]
    if len(audited) < len(dependencies):
        lines.append(f"pip-audit: {len(dependencies) - len(audited)} packages could not be audited")
    return Verdict(True, lines)


def judge_failure(stderr: str, service: str) -> Verdict:
    """Decide when pip-audit failed without a report: offline is a skip, anything else fails."""
    if any(marker in stderr for marker in NETWORK_ERRORS):
        return Verdict(True, [f"{SKIP_PREFIX}: the {service} vulnerability service is unreachable"])
    return Verdict(False, ["pip-audit failed:", stderr.strip()])


def audit(requirement: Path, service: str) -> Verdict:
    """Run pip-audit on a fully pinned requirements file and judge the outcome."""
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "audit.json"
        # --no-deps --disable-pip: the file pins everything already, so there is nothing to
        # resolve and no virtual environment to build; only the look-ups remain.
        completed = subprocess.run(
            [
                *(sys.executable, "-m", "pip_audit", "--requirement", str(requirement)),
                *("--no-deps", "--disable-pip", "--vulnerability-service", service),
                *("--format", "json", "--output", str(output), "--progress-spinner", "off"),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if output.is_file() and output.stat().st_size:
            return judge(json.loads(output.read_text(encoding="utf-8")), service)
    return judge_failure(completed.stderr, service)


def main(argv: list[str] | None = None) -> int:
    """Audit, print the verdict, exit 1 only on known vulnerabilities or a real failure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requirement", type=Path, default=Path("constraints.txt"))
    parser.add_argument("--service", choices=["pypi", "osv"], default="pypi")
    args = parser.parse_args(argv)
    verdict = audit(args.requirement, args.service)
    print("\n".join(verdict.lines), file=sys.stdout if verdict.passed else sys.stderr)
    return 0 if verdict.passed else 1


if __name__ == "__main__":
    sys.exit(main())
