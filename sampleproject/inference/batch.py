"""Batch prediction I/O: stream CSV or JSON Lines rows in, validated chunks out, results back.

Rows are read lazily and handled :data:`CHUNK_ROWS` at a time, so memory stays flat however long
the file is. The rules are pydantic's, :class:`schema.Animal`'s; the first bad row is reported
with its line number and column, as a :class:`UsageError`.

Speed: most files spell every value as one digit ("0", "1", "4"), and such a chunk is checked
as a whole with NumPy, without a Python object per row. A chunk that is not entirely so (a
" 1", a ``true``, a bad value, a quoted name that needs escaping) goes through pydantic, row by
row, exactly as before: the fast path accepts only what pydantic accepts with the same values,
and every error message comes from the pydantic path.
"""

from __future__ import annotations

import csv
import io
import json
import operator
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import chain, islice, repeat
from typing import IO, Any, Protocol, cast

import numpy as np
import numpy.typing as npt
from pydantic import TypeAdapter, ValidationError

from sampleproject import schema
from sampleproject.errors import UsageError
from sampleproject.formats import Format
from sampleproject.inference import fastpath
from sampleproject.inference.predictor import Predictions, Predictor

CHUNK_ROWS = 4096
INPUT_COLUMNS: tuple[str, ...] = (schema.NAME_COLUMN, *schema.FEATURES)
OUTPUT_COLUMNS: tuple[str, ...] = (schema.NAME_COLUMN, "class_code", "class_name", "probability")


class NamedAnimal(schema.Animal):
    """An input row: an animal's features and, optionally, its name (copied to the output)."""

    animal_name: str | None = None


_ROWS = TypeAdapter(list[NamedAnimal])
_json_string = json.encoder.encode_basestring_ascii  # as json.dumps writes a str (in C)
_NAMED = '{"animal_name": %s, '


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
    for numbers, rows, columns in _csv_chunks(lines, source, ignore, CHUNK_ROWS):
        yield from zip(numbers, _csv_dicts(rows, columns, ignore), strict=True)


def _csv_chunks(
    lines: Iterable[str], source: str, ignore: frozenset[str], size: int
) -> Iterator[tuple[list[int], list[list[str]], list[str]]]:
    """The CSV rows ``size`` at a time: (line numbers, rows, the header's columns).

    Blank rows are skipped; a row with the wrong number of fields or malformed CSV ends the
    reading with its line number.
    """
    reader = csv.reader(lines, strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise UsageError(f"{source}: empty input, expected a header row naming the columns")
        columns = [name.strip() for name in header]
        _check_header(columns, source, ignore)
        width, legs = len(columns), columns.index("legs")
        numbers: list[int] = []
        rows: list[list[str]] = []
        for row in reader:
            # Cheap test first: a row of the right width whose legs are given is not blank.
            if len(row) != width or not row[legs].strip():
                if not any(field.strip() for field in row):
                    continue  # a blank line, or a spreadsheet's empty row of commas
                if len(row) != width:
                    raise UsageError(
                        f"{source} line {reader.line_num}: expected {width} fields "
                        f"as in the header, found {len(row)}"
                    )
            rows.append(row)
            numbers.append(reader.line_num)
            if len(rows) == size:
                yield numbers, rows, columns
                numbers, rows = [], []
        if rows:
            yield numbers, rows, columns
    except csv.Error as error:
        raise UsageError(f"{source} line {reader.line_num}: malformed CSV: {error}") from None


def _csv_dicts(
    rows: list[list[str]], columns: list[str], ignore: frozenset[str]
) -> list[dict[str, Any]]:
    kept = [index for index, name in enumerate(columns) if name not in ignore]
    return [{columns[index]: row[index] for index in kept} for row in rows]


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
        if line.strip():  # else a blank line, e.g. at the end
            yield number, _jsonl_row(number, line, source, ignore)


def _jsonl_row(number: int, line: str, source: str, ignore: frozenset[str]) -> dict[str, Any]:
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
    return {key: value for key, value in row.items() if key not in ignore}


def _jsonl_chunks(lines: Iterable[str], size: int) -> Iterator[tuple[list[int], list[str]]]:
    """The non-blank lines ``size`` at a time, with their line numbers (not parsed yet)."""
    numbers: list[int] = []
    texts: list[str] = []
    for number, line in enumerate(lines, start=1):
        if line.strip():  # else a blank line, e.g. at the end
            numbers.append(number)
            texts.append(line)
            if len(texts) == size:
                yield numbers, texts
                numbers, texts = [], []
    if texts:
        yield numbers, texts


def validated_chunks(rows: Rows, source: str, size: int = CHUNK_ROWS) -> Iterator[Chunk]:
    """Validate ``rows`` ``size`` at a time; stop at the first bad row with its line and column."""
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield _validated([row for _, row in batch], [number for number, _ in batch], source)


def _validated(rows: list[dict[str, Any]], numbers: list[int], source: str) -> Chunk:
    """pydantic's validation of one chunk: its values, or the first bad row's error."""
    try:
        animals = _ROWS.validate_python(rows)
    except ValidationError as error:
        raise _row_error(error, numbers, source) from None
    return Chunk(
        names=[animal.animal_name for animal in animals],
        features=fastpath.validated_features(animals),
    )


def chunks(
    lines: Iterable[str],
    fmt: Format,
    source: str,
    ignore: frozenset[str] = frozenset(),
    size: int = CHUNK_ROWS,
) -> Iterator[Chunk]:
    """The validated chunks of ``lines``: as ``validated_chunks(read_rows(...))``, faster.

    A chunk whose every value is one allowed digit is checked with NumPy at once; any other
    goes through pydantic, so the answers and the error messages are the same.
    """
    if fmt == "csv":
        return _csv_validated(lines, source, ignore, size)
    return _jsonl_validated(lines, source, ignore, size)


def _csv_validated(
    lines: Iterable[str], source: str, ignore: frozenset[str], size: int
) -> Iterator[Chunk]:
    positions: tuple[int, ...] = ()
    for numbers, rows, columns in _csv_chunks(lines, source, ignore, size):
        positions = positions or tuple(map(columns.index, schema.FEATURES))
        features = fastpath.csv_features(rows, positions)
        if features is None:
            yield _validated(_csv_dicts(rows, columns, ignore), numbers, source)
        elif schema.NAME_COLUMN in columns and schema.NAME_COLUMN not in ignore:
            names = list(map(operator.itemgetter(columns.index(schema.NAME_COLUMN)), rows))
            yield Chunk(names, features)
        else:
            yield Chunk([None] * len(rows), features)


def _jsonl_validated(
    lines: Iterable[str], source: str, ignore: frozenset[str], size: int
) -> Iterator[Chunk]:
    for numbers, texts in _jsonl_chunks(lines, size):
        # The first row's layout (key order, spacing) is the one expected of the others.
        layout = fastpath.JsonLayout.of(texts[0], ignore)
        parsed = layout.parse(texts) if layout else None
        if parsed is None:
            rows = [_jsonl_row(*line, source, ignore) for line in zip(numbers, texts, strict=True)]
            yield _validated(rows, numbers, source)
        else:
            yield Chunk(*parsed)


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

    def finish(self) -> None:
        """Write what an output of no rows still has (after the last chunk)."""


# A name with one of these is quoted by the csv module: such a chunk is written by it.
_CSV_QUOTED = re.compile(r'[",\r\n\x00]')


class CsvWriter:  # pylint: disable=too-few-public-methods
    """``animal_name,class_code,class_name,probability`` (the name is empty when not given)."""

    def __init__(self, out: IO[str], predictor: Predictor) -> None:
        self._out = out
        self._writer = csv.writer(out, lineterminator="\n")
        # The header goes out with the first rows, so a run whose first chunk fails prints
        # nothing on stdout (its error alone, on stderr).
        self._header_due = True
        self._predictor = predictor
        # ",code,name," of each class code, as the csv module writes it
        self._middle = [""] * (max(predictor.class_codes) + 1)
        for code in predictor.class_codes:
            line = io.StringIO()
            csv.writer(line, lineterminator="").writerow(["", code, predictor.name_of(code), ""])
            self._middle[code] = line.getvalue()

    def finish(self) -> None:
        """The header, if no row came (an input of a header alone still gets one)."""
        if self._header_due:
            self._writer.writerow(OUTPUT_COLUMNS)
            self._header_due = False

    def write(self, chunk: Chunk, predictions: Predictions) -> None:
        """Write one chunk's predictions."""
        self.finish()
        codes = predictions.codes.tolist()
        # "%.4f" of the float32 probability, as a float64 (exact), as np.char.mod formats it
        probabilities = map("%.4f\n".__mod__, predictions.probability.astype(np.float64).tolist())
        names = _texts(chunk.names)
        if _CSV_QUOTED.search("".join(names)):
            self._writer.writerows(
                zip(
                    chunk.names,
                    codes,
                    map(self._predictor.name_of, codes),
                    (text[:-1] for text in probabilities),
                    strict=True,
                )
            )
            return
        middles = map(self._middle.__getitem__, codes)
        self._out.write(
            "".join(chain.from_iterable(zip(names, middles, probabilities, strict=True)))
        )


class JsonlWriter:  # pylint: disable=too-few-public-methods
    """One JSON object per line: name (when given), class code and name, every probability.

    The text is json.dumps' (its separators, ASCII escapes, shortest float repr), written
    by one format string per row. A chunk holds few distinct probabilities (6 decimals, a
    forest's averages): each is turned to text once.
    """

    def __init__(self, out: IO[str], predictor: Predictor) -> None:
        self._out = out
        names = ", ".join(f"{json.dumps(name)}: %s" for name in predictor.class_names)
        self._row = '%s%s%s, "probabilities": {' + names + "}}\n"
        self._middle = [""] * (max(predictor.class_codes) + 1)
        for code in predictor.class_codes:
            self._middle[code] = json.dumps(
                {"class_code": code, "class_name": predictor.name_of(code), "probability": 0}
            )[1:-2]

    def finish(self) -> None:
        """Nothing: JSON Lines has no header."""

    def write(self, chunk: Chunk, predictions: Predictions) -> None:
        """Write one chunk's predictions."""
        heads: Iterable[str]
        if None not in chunk.names:
            heads = map(_NAMED.__mod__, map(_json_string, _texts(chunk.names)))
        elif chunk.names.count(None) == len(chunk.names):
            heads = repeat("{", len(chunk.names))
        else:
            heads = ["{" if name is None else _NAMED % _json_string(name) for name in chunk.names]
        rows = zip(
            heads,
            map(self._middle.__getitem__, predictions.codes.tolist()),
            *_float_texts(predictions),
            strict=True,
        )
        self._out.write("".join(map(self._row.__mod__, rows)))


def _float_texts(predictions: Predictions) -> list[list[str]]:
    """The rounded probability, then each class's, as json.dumps writes them: columns of text."""
    values = np.column_stack(
        [predictions.rounded_probability(), predictions.rounded_probabilities()]
    )
    if np.signbit(values).any():  # -0.0 == 0.0 for np.unique, not for repr: no shortcut
        return [list(map(repr, column)) for column in values.T.tolist()]
    distinct, where = np.unique(values, return_inverse=True)
    texts = np.array(list(map(repr, distinct.tolist())), dtype=object)
    columns: list[list[str]] = texts[where.reshape(values.shape).T].tolist()
    return columns


def _texts(names: list[str | None]) -> list[str]:
    """``names`` with None as "" (the same list when there is no None)."""
    if None in names:
        return ["" if name is None else name for name in names]
    return cast("list[str]", names)


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
    for chunk in chunks(lines, in_format, source, ignore):
        writer.write(chunk, predictor.predict(chunk.features))
        count += len(chunk.names)
    writer.finish()
    return count
