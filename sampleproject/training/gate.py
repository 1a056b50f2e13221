"""The model quality gate: cross-validated metrics against the configured minimums."""

from __future__ import annotations

from collections.abc import Mapping

from sampleproject.errors import SampleProjectError


class QualityGateError(SampleProjectError):
    """A metric fell under its threshold; nothing is exported."""


def gate_failures(metrics: Mapping[str, float], minimums: Mapping[str, float]) -> list[str]:
    """One line per metric under its minimum (empty: the gate passes)."""
    return [
        f"{name} {metrics[name]:.4f} < {minimum:.4f}"
        for name, minimum in sorted(minimums.items())
        if metrics[name] < minimum
    ]


def check_gate(metrics: Mapping[str, float], minimums: Mapping[str, float]) -> None:
    """Raise :class:`QualityGateError` when a metric is under its minimum."""
    failures = gate_failures(metrics, minimums)
    if failures:
        raise QualityGateError(
            f"model quality gate failed ({'; '.join(failures)}): nothing was exported"
        )
