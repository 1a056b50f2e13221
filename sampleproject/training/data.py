"""The training data: the UCI Zoo CSV file, read and validated against the shared schema.

Every row is validated by pydantic (:class:`sampleproject.schema.LabelledAnimal`), the same
declaration that checks ``predict``'s input and the HTTP API's payloads, so training and
serving cannot disagree on what a valid animal is. The first bad row stops the load with an
error that names the file, the line and the column.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import ValidationError

from sampleproject.errors import UsageError
from sampleproject.schema import DATA_COLUMNS, FEATURES, LabelledAnimal


@dataclass(frozen=True)
class Dataset:
    """The validated data: one row per animal."""

    names: tuple[str, ...]
    features: pd.DataFrame  # int64 columns named and ordered as schema.FEATURES
    labels: npt.NDArray[np.int64]  # class codes 1..7
    sha256: str  # of the file's bytes: identifies the data in MLflow and the metadata

    def __len__(self) -> int:
        return len(self.names)


def load_dataset(path: Path) -> Dataset:
    """Read the CSV file at ``path`` (no header, columns as schema.DATA_COLUMNS)."""
    try:
        content = path.read_bytes()
    except OSError as error:
        raise UsageError(f"cannot read the training data: {error}") from error
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UsageError(f"{path.name}: not UTF-8 text ({error.reason})") from error

    animals = _parse(path.name, text)
    if not animals:
        raise UsageError(f"{path.name}: no rows")
    return Dataset(
        names=tuple(animal.animal_name for animal in animals),
        features=pd.DataFrame(
            [animal.as_row() for animal in animals], columns=list(FEATURES), dtype="int64"
        ),
        labels=np.array([animal.type for animal in animals], dtype=np.int64),
        sha256=hashlib.sha256(content).hexdigest(),
    )


def _parse(name: str, text: str) -> list[LabelledAnimal]:
    reader = csv.reader(io.StringIO(text, newline=""))
    animals = []
    for row in reader:
        where = f"{name} line {reader.line_num}"
        if len(row) != len(DATA_COLUMNS):
            raise UsageError(
                f"{where}: expected {len(DATA_COLUMNS)} columns "
                f"({', '.join(DATA_COLUMNS)}), found {len(row)}"
            )
        try:
            animals.append(LabelledAnimal.model_validate(dict(zip(DATA_COLUMNS, row, strict=True))))
        except ValidationError as error:
            raise UsageError(f"{where}, {_describe(error)}") from error
    return animals


def _describe(error: ValidationError) -> str:
    """``column legs: legs must be one of ... (found '3')`` for the first error of a row."""
    first = error.errors()[0]
    column = ".".join(str(part) for part in first["loc"])
    # A validator's own message, without pydantic's "Value error, " prefix.
    message = str(first["ctx"]["error"]) if first["type"] == "value_error" else first["msg"]
    return f"column {column}: {message} (found {first['input']!r})"
