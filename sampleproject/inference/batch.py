"""Batch prediction I/O: stream CSV or JSON Lines rows in, validated chunks out, results back.

Rows are read lazily and handled :data:`CHUNK_ROWS` at a time, so memory stays flat however long
the file is. Each chunk is validated by pydantic against :class:`schema.Animal` in one call;
the first bad row is reported with its line number and column, as a :class:`UsageError`.
"""

from __future__ import annotations

import csv
import json
import operator
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import IO, Any, Protocol

import numpy as np
import numpy.typing as npt
from pydantic import TypeAdapter, ValidationError

from sampleproject import schema
from sampleproject.errors import UsageError
from sampleproject.formats import Format
from sampleproject.inference.predictor import Predictions, Predictor

CHUNK_ROWS = 4096
INPUT_COLUMNS: tuple[str, ...] = (schema.NAME_COLUMN, *schema.FEATURES)
OUTPUT_COLUMNS: tuple[str, ...] = (schema.NAME_COLUMN, "class_code", "class_name", "probability")


class NamedAnimal(schema.Animal):
    """An input row: an animal's features and, optionally, its name (copied to the output)."""

    animal_name: str | None = None


_ROWS = TypeAdapter(list[NamedAnimal])
_features_of = operator.attrgetter(*schema.FEATURES)  # one C call per row instead of 16 getattr


@dataclass(frozen=True)
class Chunk:
    """Validated rows: their names (None when absent) and their features, ``[n, 16]`` float32."""

    names: list[str | None]
    features: npt.NDArray[np.float32]


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


Rows = Iterator[tuple[int, dict[str, Any]]]  # (line number, {column: raw value})


def read_rows(
    lines: Iterable[str], fmt: Format, source: str, ignore: frozenset[str] = frozenset()
) -> Rows:
    """The rows of ``lines`` as ``(line number, {column: value})``, raw (not validated yet).

    Columns named in ``ignore`` are left out; any other unknown column is an error.
    """
    return _read_csv(lines, source, ignore) if fmt == "csv" else _read_jsonl(lines, source, ignore)


def _ignore_hint(name: str) -> str:
    return f"; --ignore-columns {name} ignores it"


def _read_csv(lines: Iterable[str], source: str, ignore: frozenset[str]) -> Rows:
    reader = csv.reader(lines, strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise UsageError(f"{source}: empty input, expected a header row naming the columns")
        columns = [name.strip() for name in header]
        _check_header(columns, source, ignore)
        kept = [index for index, name in enumerate(columns) if name not in ignore]
        for row in reader:
            if not any(field.strip() for field in row):
                continue  # a blank line, or a spreadsheet's empty row of commas
            if len(row) != len(columns):
                raise UsageError(
                    f"{source} line {reader.line_num}: expected {len(columns)} fields "
                    f"as in the header, found {len(row)}"
                )
            yield reader.line_num, {columns[index]: row[index] for index in kept}
    except csv.Error as error:
        raise UsageError(f"{source} line {reader.line_num}: malformed CSV: {error}") from None


def _check_header(columns: list[str], source: str, ignore: frozenset[str]) -> None:
    for name in columns:
        if name not in INPUT_COLUMNS and name not in ignore:
            raise UsageError(
                f"{source} line 1: unknown column {name!r} "
                f"(expected {', '.join(schema.FEATURES)} and optionally {schema.NAME_COLUMN})"
                + _ignore_hint(name)
            )
        if columns.count(name) > 1:
            raise UsageError(f"{source} line 1: column {name!r} appears twice")
    missing = [name for name in schema.FEATURES if name not in columns or name in ignore]
    if missing:
        raise UsageError(f"{source} line 1: missing column(s) {', '.join(missing)}")


def _read_jsonl(lines: Iterable[str], source: str, ignore: frozenset[str]) -> Rows:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue  # a blank line, e.g. at the end
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise UsageError(
                f"{source} line {number}: invalid JSON: {error.msg} (character {error.colno})"
            ) from None
        if not isinstance(row, dict):
            raise UsageError(
                f"{source} line {number}: expected a JSON object, found {type(row).__name__}"
            )
        yield number, {key: value for key, value in row.items() if key not in ignore}


def validated_chunks(rows: Rows, source: str, size: int = CHUNK_ROWS) -> Iterator[Chunk]:
    """Validate ``rows`` ``size`` at a time; stop at the first bad row with its line and column."""
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        try:
            animals = _ROWS.validate_python([row for _, row in batch])
        except ValidationError as error:
            raise _row_error(error, [number for number, _ in batch], source) from None
        yield Chunk(
            names=[animal.animal_name for animal in animals],
            features=np.array([_features_of(animal) for animal in animals], dtype=np.float32),
        )


def _row_error(error: ValidationError, lines: list[int], source: str) -> UsageError:
    # pydantic checks list items in order, so the first error is in the first bad row.
    first = error.errors()[0]
    index, *where = first["loc"]
    column = ".".join(map(str, where))
    if first["type"] == "extra_forbidden":
        message = f"unknown column (expected {', '.join(INPUT_COLUMNS)})" + _ignore_hint(column)
    elif first["type"] == "missing":
        message = "missing value"
    else:
        message = f"{first['msg'].removeprefix('Value error, ')} (got {first['input']!r})"
    return UsageError(f"{source} line {lines[int(index)]}, column {column}: {message}")


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------


class Writer(Protocol):  # pylint: disable=too-few-public-methods
    """Writes the predictions of one chunk after another."""

    def write(self, chunk: Chunk, predictions: Predictions) -> None:
        """Write one chunk's predictions."""


class CsvWriter:  # pylint: disable=too-few-public-methods
    """``animal_name,class_code,class_name,probability`` (the name is empty when not given)."""

    def __init__(self, out: IO[str], predictor: Predictor) -> None:
        self._writer = csv.writer(out, lineterminator="\n")
        self._writer.writerow(OUTPUT_COLUMNS)
        self._predictor = predictor

    def write(self, chunk: Chunk, predictions: Predictions) -> None:
        """Write one chunk's predictions."""
        codes = predictions.codes.tolist()
        self._writer.writerows(
            zip(
                chunk.names,
                codes,
                map(self._predictor.name_of, codes),
                np.char.mod("%.4f", predictions.probability).tolist(),
                strict=True,
            )
        )


class JsonlWriter:  # pylint: disable=too-few-public-methods
    """One JSON object per line: name (when given), class code and name, every probability."""

    def __init__(self, out: IO[str], predictor: Predictor) -> None:
        self._out = out
        self._predictor = predictor

    def write(self, chunk: Chunk, predictions: Predictions) -> None:
        """Write one chunk's predictions."""
        records = self._predictor.records(predictions)
        self._out.writelines(
            json.dumps(record if name is None else {schema.NAME_COLUMN: name, **record}) + "\n"
            for name, record in zip(chunk.names, records, strict=True)
        )


def make_writer(fmt: Format, out: IO[str], predictor: Predictor) -> Writer:
    """The writer of format ``fmt``."""
    return CsvWriter(out, predictor) if fmt == "csv" else JsonlWriter(out, predictor)


def predict_stream(  # pylint: disable=too-many-arguments
    lines: Iterable[str],
    source: str,
    in_format: Format,
    writer: Writer,
    predictor: Predictor,
    *,
    ignore: frozenset[str] = frozenset(),
) -> int:
    """Read, validate, predict and write chunk by chunk; return the number of rows."""
    count = 0
    for chunk in validated_chunks(read_rows(lines, in_format, source, ignore), source):
        writer.write(chunk, predictor.predict(chunk.features))
        count += len(chunk.names)
    return count
