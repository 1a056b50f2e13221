"""Third-party libraries' own folders, kept out of the user's home folder.

matplotlib, which ``train``, ``promote`` and ``rollback`` import through the training code
and ``drift`` through its plot, creates ~/.config/matplotlib and writes its font cache to
~/.cache/matplotlib; with a home it cannot write to, it warns on stderr and makes a
temporary folder itself. Given one of ours instead (``MPLCONFIGDIR``, removed when the
command ends), it does neither: the font cache is built again each run, about 0.07 s of CPU
here. The user's matplotlibrc is then not read either, so the plots do not depend on it.
(ONNX Runtime's and MLflow's telemetry are turned off in ``sampleproject/__init__.py``.)
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

# The commands that import matplotlib (tests/test_private_dirs.py runs every command).
MATPLOTLIB_COMMANDS = frozenset({"train", "promote", "rollback", "drift"})
MATPLOTLIB_ENV = "MPLCONFIGDIR"


@contextmanager
def for_command(name: str) -> Iterator[None]:
    """Run command ``name`` with its libraries' folders in a temporary folder."""
    if name not in MATPLOTLIB_COMMANDS or os.environ.get(MATPLOTLIB_ENV):
        yield  # nothing to redirect, or the user chose a folder
        return
    with tempfile.TemporaryDirectory(prefix="sampleproject-matplotlib-") as folder:
        os.environ[MATPLOTLIB_ENV] = folder
        try:
            yield
        finally:
            del os.environ[MATPLOTLIB_ENV]
