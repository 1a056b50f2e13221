"""The project's sources: the files git does not ignore.

.gitignore is the one list of what is not source (outputs, caches, environments), so a copy of
the project for a test or a benchmark holds what ``git ls-files`` lists and nothing else, as a
fresh checkout with the working tree's changes would.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def source_files(root: Path) -> list[Path]:
    """The files below ``root`` that git tracks or would track (not ignored), relative to it."""
    listed = subprocess.run(
        ["git", "-C", str(root), "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        capture_output=True,
        check=True,
    ).stdout.decode()
    # A tracked file deleted in the working tree is still listed: a fresh checkout lacks it.
    return [Path(name) for name in listed.split("\0") if name and (root / name).is_file()]


def copy_sources(root: Path, destination: Path, *extra: str) -> Path:
    """Copy the sources of ``root``, and the ``extra`` files (relative), to ``destination``.

    Dates and modes are kept (make compares dates; scripts stay executable).
    """
    for name in [*source_files(root), *map(Path, extra)]:
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, target)
    return destination
