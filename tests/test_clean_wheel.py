"""``make bdist_wheel`` builds from a clean build folder: the wheel is exactly the package."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import copy_project, run_make

pytestmark = pytest.mark.slow

# The same archive dates in every build, whatever the copy's history (it has no .git).
ENV = {"SOURCE_DATE_EPOCH": "1700000000"}
VENV = f"VIRTUAL_ENV={sys.prefix}"  # the copies use the tests' environment


def make_wheel(project: Path) -> Path:
    """``make bdist_wheel`` in ``project``; the wheel it made."""
    result = run_make("bdist_wheel", VENV, env=ENV, project=project, timeout=600)
    assert result.returncode == 0, result.stderr
    (wheel,) = (project / "dist").glob("*.whl")
    return wheel


def names(wheel: Path) -> set[str]:
    """The files in ``wheel``."""
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def test_a_deleted_module_leaves_the_next_wheel_which_equals_a_fresh_build(
    tmp_path: Path,
) -> None:
    used = copy_project(tmp_path / "used")
    module = used / "sampleproject" / "leftover.py"
    module.write_text('"""A module that is deleted before the next build."""\n', encoding="utf-8")
    assert "sampleproject/leftover.py" in names(make_wheel(used))

    module.unlink()
    rebuilt = make_wheel(used)
    assert "sampleproject/leftover.py" not in names(rebuilt)

    fresh = make_wheel(copy_project(tmp_path / "fresh"))
    assert rebuilt.read_bytes() == fresh.read_bytes()
