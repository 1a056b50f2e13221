"""``make rename``: a fork renames the project in one step, and the renamed project builds."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import run_make
from tests.documented import documented
from tests.repository import clean_clone

OLD_SPELLINGS = ("sampleproject", "pyapp")  # case-insensitive: SAMPLEPROJECT_, SampleProject too


def leftovers(project: Path) -> str:
    """Lines of tracked text files that still hold an old spelling."""
    pattern = ["-e", OLD_SPELLINGS[0], "-e", OLD_SPELLINGS[1]]
    command = ["git", "grep", "-I", "-i", "-n", *pattern]
    return subprocess.run(command, cwd=project, capture_output=True, text=True, check=False).stdout


@pytest.fixture(scope="module", name="fork")
def fixture_fork(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One clone for the refusals (never the working tree: a bug would rename it)."""
    return clean_clone(tmp_path_factory.mktemp("rename") / "fork")


@pytest.mark.parametrize("name", ["Zoo", "zoo-app", "1zoo", "sampleproject", ""])
def test_an_invalid_name_is_refused_in_one_line(fork: Path, name: str) -> None:
    result = run_make("rename", f"NAME={name}", project=fork)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 2  # our line, then make's own
    assert "Traceback" not in result.stderr
    assert leftovers(fork) != ""  # nothing renamed
    assert (fork / "sampleproject").is_dir()


@pytest.mark.slow
def test_rename_leaves_no_old_name_and_moves_the_package_and_scripts(tmp_path: Path) -> None:
    project = clean_clone(tmp_path / "fork")
    _make, *args = documented("docs/index.md", "make rename NAME=zoo_app IMAGE=zoo-server")
    result = run_make(*args, env={"VIRTUAL_ENV": ""}, project=project)
    assert result.returncode == 0, result.stderr
    assert leftovers(project) == ""
    assert (project / "zoo_app" / "cli.py").is_file()
    assert not (project / "sampleproject").exists()
    assert (project / "scripts" / "zoo-server-entrypoint").is_file()
    setup = (project / "setup.py").read_text(encoding="utf-8")
    assert 'name="zoo_app"' in setup
    assert '"zoo_app = zoo_app.cli:main"' in setup
    assert "IMAGE ?= zoo-server" in (project / "Makefile").read_text(encoding="utf-8")
    assert "zoo_app_predictions_total" in (project / "docs" / "serve.md").read_text("utf-8")
    assert "class ZooAppError" in (project / "zoo_app" / "errors.py").read_text("utf-8")
    # It runs once: its tool, make target and test are gone.
    itself = ("tools/rename.py", "tools/rename.mk", "tests/test_rename.py")
    assert not [path for path in itself if (project / path).exists()]
    assert run_make("rename", "NAME=other", project=project).returncode != 0


@pytest.mark.slow
def test_a_renamed_clone_passes_the_whole_pipeline(tmp_path: Path) -> None:
    """The full ``make`` (fresh environment, training, tests, reports, gate, wheel): minutes."""
    project = clean_clone(tmp_path / "fork")
    # Without the test run's own environment: the fork makes and uses its own .venv.
    fresh = {"VIRTUAL_ENV": ""}
    _make, *args = documented("docs/index.md", "make rename NAME=zoo")
    renamed = run_make(*args, env=fresh, project=project)
    assert renamed.returncode == 0, renamed.stderr
    # The front page's `make`, as the seed's `make clean && make` (in a fresh clone, the same).
    for front in ("README.md", "docs/index.md"):
        documented(front, "make")
    for seed in ("README.md", "docs/pipeline.md"):
        pipeline = documented(seed, "make clean && make")
    result = subprocess.run(
        ["bash", "-c", " ".join(pipeline)],
        cwd=project,
        env={**os.environ, **fresh},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (project / "dist" / "zoo-1.0.0-py3-none-any.whl").is_file()
    assert "IMAGE ?= zoo\n" in (project / "Makefile").read_text(encoding="utf-8")
    command = [str(project / ".venv" / "bin" / "zoo"), "45", "46"]
    assert subprocess.run(command, capture_output=True, text=True, check=True).stdout == "91\n"
