"""The benchmarks' figures as a Markdown table, for the docs (``--markdown FILE``).

The docs page includes the generated files, so its figures are always those of a real run,
with the conditions they were taken in.
"""

from __future__ import annotations

import datetime
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from sampleproject.atomic import atomic_write


def conditions() -> str:
    """When, where and how the figures were taken: date, processors, load, command."""
    load = os.getloadavg()[0]
    command = shlex.join(["python", *sys.argv])
    today = datetime.datetime.now(tz=datetime.timezone.utc).date().isoformat()
    return (
        f"Measured on {today} with `{command}`: {os.cpu_count()} processors, "
        f"load average {load:.1f} at the end of the run."
    )


def table(
    headers: Sequence[str], rows: Sequence[Sequence[object]], numeric: Sequence[int] = ()
) -> str:
    """A Markdown table; the columns at the ``numeric`` positions are right-aligned."""
    align = ["---:" if column in numeric else "---" for column in range(len(headers))]
    lines = [headers, align, *rows]
    return "".join("| " + " | ".join(str(cell) for cell in line) + " |\n" for line in lines)


def write(
    path: Path,
    headers: Sequence[str],
    rows: Sequence[Sequence[object]],
    notes: Sequence[str],
    numeric: Sequence[int] = (),
) -> None:
    """Write the table, then the notes and the conditions, atomically, to ``path``."""
    notes_text = "".join(f"{note}\n\n" for note in notes)
    text = table(headers, rows, numeric) + "\n" + notes_text + conditions()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as out:
        out.write(text + "\n")
    print(f"wrote {path}")
