"""Count the values of every feature in a batch of animals, vectorised.

Every (feature, value) pair of the schema's domains has a *slot* (36 of them: 15 flags with
two values, legs with six). A batch ``[n, 16]`` is turned into slot numbers with one
fancy-indexing lookup and counted with one :func:`numpy.bincount`: the cost per request is a
few NumPy calls, whatever the number of animals, and no Python loop per animal or feature.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from sampleproject.schema import FEATURE_VALUES, FEATURES

# Slot i counts the animals whose feature SLOTS[i][0] has the value SLOTS[i][1].
SLOTS: tuple[tuple[str, int], ...] = tuple(
    (name, value) for name in FEATURES for value in FEATURE_VALUES[name]
)


def _slot_table() -> npt.NDArray[np.intp]:
    """``table[column, value]`` = the slot of that feature's value (-1 off the domain)."""
    table = np.full((len(FEATURES), max(max(values) for values in FEATURE_VALUES.values()) + 1), -1)
    for slot, (name, value) in enumerate(SLOTS):
        table[FEATURES.index(name), value] = slot
    return table.astype(np.intp)


_SLOT_OF = _slot_table()
_COLUMNS = np.arange(len(FEATURES))


def count_values(features: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """How many animals of ``features`` (``[n, 16]``, validated) take each slot's value."""
    values = np.asarray(features).astype(np.intp, copy=False)
    slots = _SLOT_OF[_COLUMNS, values]  # [n, 16]: broadcasts the columns over the rows
    counts: npt.NDArray[np.int64] = np.bincount(slots.ravel(), minlength=len(SLOTS))
    return counts


def by_feature(counts: npt.ArrayLike) -> dict[str, dict[int, int]]:
    """Slot counts as ``{feature: {value: count}}``, in the schema's order."""
    result: dict[str, dict[int, int]] = {name: {} for name in FEATURES}
    for (name, value), count in zip(SLOTS, np.asarray(counts).tolist(), strict=True):
        result[name][value] = int(count)
    return result
