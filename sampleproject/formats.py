"""The file formats of animals and predictions: their names, file extensions and detection.

A module of its own, with nothing heavy in it: ``predict --help`` lists the formats without
importing the batch I/O (NumPy, pydantic), which reads and writes them; ``predict`` and
``drift`` detect a file's format with it.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import chain
from pathlib import PurePath
from typing import Literal, TextIO

from sampleproject.errors import UsageError

Format = Literal["csv", "jsonl"]
FORMATS: tuple[Format, ...] = ("csv", "jsonl")
EXTENSIONS: dict[str, Format] = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}


def format_of(path: str | None) -> Format | None:
    """The format that ``path``'s extension names, if any."""
    return EXTENSIONS.get(PurePath(path).suffix.lower()) if path else None


def detect_format(file: str, given: Format | None, stream: TextIO) -> tuple[Format, Iterable[str]]:
    """The input's format (given, else from the extension, else sniffed) and its lines."""
    if given:
        return given, stream
    if file != "-":
        detected = format_of(file)
        if detected is None:
            raise UsageError(
                f"cannot tell the format of {file} from its extension; "
                "use --input-format csv or --input-format jsonl"
            )
        return detected, stream
    # stdin has no name: a JSON object starts with "{", a CSV header with a column name.
    peeked: list[str] = []
    for line in stream:
        peeked.append(line)
        if line.strip():
            break
    sniffed: Format = "jsonl" if "".join(peeked).lstrip().startswith("{") else "csv"
    return sniffed, chain(peeked, stream)
