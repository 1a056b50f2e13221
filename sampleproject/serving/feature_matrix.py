"""Many animals' features as one matrix, checked against the declaration in one vectorised pass.

The protocols that take tables of numbers (the Open Inference Protocol's tensors, MLflow's
data frames and CSV) give the features as an ``[n, 16]`` array of numbers: each must be a
whole number from its feature's domain (flags 0 or 1, legs 0, 2, 4, 5, 6 or 8), the values
``/predict`` accepts. :func:`checked` says where the first one that is not is, and each
protocol words it in its own error format.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from sampleproject.serving import declared

WIDTH = len(declared.FEATURES)
# _ALLOWED[j, v]: v is a value of feature j (values from 0 to _TOP).
_TOP = max(max(values) for values in declared.FEATURE_VALUES.values())
_ALLOWED = np.zeros((WIDTH, _TOP + 1), dtype=bool)
for _column, _name in enumerate(declared.FEATURES):
    _ALLOWED[_column, list(declared.FEATURE_VALUES[_name])] = True
_COLUMNS = np.arange(WIDTH)


class BadValue(ValueError):
    """A value that is not one of its feature's: where it is, and what is wrong."""

    def __init__(self, row: int, column: int, value: Any, problem: str) -> None:
        self.row, self.column, self.problem = row, column, problem
        self.feature = declared.FEATURES[column]
        self.value = int(value) if float(value).is_integer() else float(value)
        super().__init__(f"animal {row}, {self.feature} = {self.value} {problem}")


def checked(matrix: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
    """``matrix`` (``[n, 16]``, integers or floats, features in model order) as the model's
    float32 input, once every value is a whole number from its feature's domain."""
    if matrix.dtype.kind == "f":
        whole = np.isfinite(matrix) & (np.floor(matrix) == matrix)
        if not whole.all():
            row, column = np.argwhere(~whole)[0].tolist()
            raise BadValue(row, column, matrix[row, column], "is not a whole number")
    clipped = np.clip(matrix, 0, _TOP).astype(np.intp)
    allowed = _ALLOWED[_COLUMNS, clipped] & (clipped == matrix)
    if not allowed.all():
        row, column = np.argwhere(~allowed)[0].tolist()
        values = ", ".join(map(str, declared.FEATURE_VALUES[declared.FEATURES[column]]))
        raise BadValue(row, column, matrix[row, column], f"is not one of {values}")
    return matrix.astype(np.float32)
