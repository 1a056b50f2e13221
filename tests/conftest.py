"""Shared test helpers.

Real tests need real tools (podman, PostgreSQL, wrk...). On a developer's machine a missing
tool skips the test with the reason; in CI (``CI`` set, as every CI system does) it fails it,
so a missing install step can never hide behind a skip.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # the environment the tests run in


def require(condition: bool, reason: str) -> None:
    """Skip (locally) or fail (in CI) when ``condition`` does not hold."""
    if condition:
        return
    if os.environ.get("CI"):
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


def require_tool(name: str) -> str:
    """The path of executable ``name``, looked up in our environment first, then on PATH."""
    path = shutil.which(name, path=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    require(path is not None, f"{name} is not installed (see tools/install-system-deps.sh)")
    assert path is not None
    return path


@pytest.fixture(scope="session")
def root() -> Path:
    """The project's root folder."""
    return ROOT
