"""The file formats of animals and predictions: their names and their file extensions.

A module of its own, with nothing heavy in it: ``predict --help`` lists the formats without
importing the batch I/O (NumPy, pydantic), which reads and writes them.
"""

from __future__ import annotations

from typing import Literal

Format = Literal["csv", "jsonl"]
FORMATS: tuple[Format, ...] = ("csv", "jsonl")
EXTENSIONS: dict[str, Format] = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}
