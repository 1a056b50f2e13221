"""A clean clone of the repository, for tests that run tools over the files git tracks.

In a clone of the last commit, as CI checks it out, nothing else changes the files while a
tool runs (the working tree may be edited meanwhile), and a test may add files freely.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import ROOT, require_checkout, require_tool


def clean_clone(destination: Path) -> Path:
    """Clone the repository's last commit into ``destination``; return it."""
    require_checkout()
    subprocess.run(
        [require_tool("git"), "clone", "--quiet", "--shared", str(ROOT), str(destination)],
        check=True,
        timeout=120,
    )
    return destination
