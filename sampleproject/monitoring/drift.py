"""Compare what the model sees with what it was trained on: one PSI per feature.

The reference is the training distribution recorded in the model's metadata; the observed
side is value counts, from a file of animals or from a Prometheus scrape of ``serve``
(:mod:`.sources`). The predicted classes are compared too, as one more row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sampleproject.inference.model import TrainingDistribution
from sampleproject.monitoring import psi
from sampleproject.schema import FEATURE_VALUES, FEATURES

PREDICTED_CLASS = "predicted_class"  # the row of the predicted classes


@dataclass(frozen=True)
class Observed:
    """Counts seen at run time: of each feature's values, and of each predicted class."""

    features: Mapping[str, Mapping[int, int]]  # every feature of the schema, every value
    classes: Mapping[str, int]  # may be empty (or all 0) when predictions were not counted
    source: str  # where the counts come from, for the report

    @property
    def animals(self) -> int:
        """How many animals were counted (each animal counts once in every feature)."""
        return max((sum(counts.values()) for counts in self.features.values()), default=0)


@dataclass(frozen=True)
class Shift:
    """One feature (or the predicted class): its bins, both distributions and their PSI."""

    name: str
    bins: tuple[str, ...]
    expected: tuple[float, ...]  # training proportions
    actual: tuple[float, ...]  # observed proportions
    psi: float


@dataclass(frozen=True)
class DriftReport:
    """Every feature's shift, and the predicted classes' when they were counted."""

    shifts: tuple[Shift, ...]
    animals: int
    training_rows: int
    source: str

    def above(self, threshold: float) -> list[Shift]:
        """The shifts whose PSI exceeds ``threshold``."""
        return [shift for shift in self.shifts if shift.psi > threshold]


def compare(
    reference: TrainingDistribution, class_names: tuple[str, ...], observed: Observed
) -> DriftReport:
    """The drift of ``observed`` from ``reference``."""
    shifts = []
    for name in FEATURES:
        counts = observed.features[name]
        values = FEATURE_VALUES[name]
        expected = reference.feature_proportions(name)
        shifts.append(
            _shift(
                name,
                tuple(map(str, values)),
                [expected[value] for value in values],
                [counts.get(value, 0) for value in values],
            )
        )
    if sum(observed.classes.values()):
        expected_classes = reference.class_proportions(class_names)
        shifts.append(
            _shift(
                PREDICTED_CLASS,
                class_names,
                [expected_classes[name] for name in class_names],
                [observed.classes.get(name, 0) for name in class_names],
            )
        )
    return DriftReport(tuple(shifts), observed.animals, reference.rows, observed.source)


def _shift(name: str, bins: tuple[str, ...], expected: list[float], counts: list[int]) -> Shift:
    actual = psi.proportions(counts)
    return Shift(name, bins, tuple(expected), tuple(actual), psi.psi(expected, actual))
