"""The Population Stability Index (PSI): how far one distribution has moved from another.

For bins with proportions ``e`` (expected: the training data) and ``a`` (actual: the inputs
seen since), ``PSI = sum((a - e) * ln(a / e))``. It is 0 for identical distributions and
grows with the shift; it is symmetric in ``a`` and ``e``. The usual reading:

- below 0.1: no significant shift;
- 0.1 to 0.25: a moderate shift, worth watching;
- above 0.25: a significant shift: the model sees data unlike its training data.

A bin that one side never fills would make the logarithm infinite, so both proportions are
floored at :data:`EPSILON` (0.0001) first: an empty bin then counts as "very rare", and a
value that training never saw but that now makes 30 % of the inputs adds about 2.4.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

EPSILON = 1e-4
MODERATE = 0.1
SIGNIFICANT = 0.25


def proportions(counts: Sequence[int]) -> list[float]:
    """Each count's share of the total (all 0.0 when the total is 0)."""
    total = sum(counts)
    return [count / total if total else 0.0 for count in counts]


def psi(expected: Sequence[float], actual: Sequence[float]) -> float:
    """The PSI of ``actual`` against ``expected``: proportions over the same bins."""
    if len(expected) != len(actual):
        raise ValueError("expected and actual need the same bins")
    total = 0.0
    for share_expected, share_actual in zip(expected, actual, strict=True):
        e, a = max(share_expected, EPSILON), max(share_actual, EPSILON)
        total += (a - e) * math.log(a / e)
    return total


def level(value: float) -> str:
    """``stable``, ``moderate`` or ``significant``, by the usual thresholds."""
    if value < MODERATE:
        return "stable"
    return "moderate" if value <= SIGNIFICANT else "significant"
