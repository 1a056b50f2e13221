"""Packaging, for real: build the distributions, inspect them, install the wheel afresh."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from sampleproject import __version__
from tests.conftest import ROOT, build, copy_checkout, copy_project, require_tool

pytestmark = pytest.mark.slow

DIST_INFO = f"sampleproject-{__version__}.dist-info"
DATA_SCRIPTS = f"sampleproject-{__version__}.data/scripts"
SHIPPED = {
    "sampleproject/__init__.py",
    "sampleproject/cli.py",
    "sampleproject/schema.py",
    "sampleproject/py.typed",
    "sampleproject/data/zoo.data",
    "sampleproject/data/LICENSE.zoo.md",
    "sampleproject/config/train.toml",
    "sampleproject/model/zoo.onnx",
    "sampleproject/model/zoo.json",
    f"{DATA_SCRIPTS}/pyapp-entrypoint",
    f"{DATA_SCRIPTS}/pyapp-healthcheck",
}


def names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def test_the_wheel_ships_package_data_and_scripts_but_no_tests(wheel: Path) -> None:
    content = names(wheel)
    assert not SHIPPED - content  # nothing promised is missing
    assert not [name for name in content if name.startswith(("tests/", "tools/", "bench/"))]
    with zipfile.ZipFile(wheel) as archive:
        entry_points = archive.read(f"{DIST_INFO}/entry_points.txt").decode()
        metadata = archive.read(f"{DIST_INFO}/METADATA").decode()
    assert "sampleproject = sampleproject.cli:main" in entry_points
    assert "Requires-Dist: onnxruntime" in metadata
    training = [line for line in metadata.splitlines() if line.startswith("Requires-Dist: mlflow")]
    assert training
    assert all('extra == "train"' in line or 'extra == "dev"' in line for line in training)


def test_two_builds_of_one_commit_are_byte_identical(wheel: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    build(copy_project(tmp_path / "project"), again, "--wheel")
    assert (again / wheel.name).read_bytes() == wheel.read_bytes()


def test_the_sdist_holds_what_manifest_promises(tmp_path: Path) -> None:
    build(copy_project(tmp_path / "project"), tmp_path / "dist", "--sdist")
    (sdist,) = (tmp_path / "dist").glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        members = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    promised = {
        "setup.py",
        "pyproject.toml",
        "MANIFEST.in",
        "README.md",
        "LICENSE",
        "requirements.txt",
        "constraints.txt",
        "Makefile",
        "Dockerfile",
        "sonar-project.properties",
        "scripts/pyapp-entrypoint",
        "scripts/pyapp-healthcheck",
        "sampleproject/data/zoo.data",
        "sampleproject/model/zoo.onnx",
        "sampleproject/model/zoo.json",
        "sampleproject/config/train.toml",
    }
    assert not promised - members
    assert not [name for name in members if name.startswith(("tests/", "reports/", "tools/"))]


def test_twine_and_check_wheel_contents_accept_the_wheel(wheel: Path) -> None:
    subprocess.run([require_tool("twine"), "check", "--strict", str(wheel)], check=True)
    subprocess.run([require_tool("check-wheel-contents"), str(wheel)], check=True)


def in_env(bin_dir: Path, *command: str) -> subprocess.CompletedProcess[str]:
    """Run a command as a user of that environment would: its bin/ first on PATH."""
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    env.pop("VIRTUAL_ENV", None)
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd="/", check=False)


def test_the_installed_wheel_works_from_path(runtime_env: Path) -> None:
    help_text = in_env(runtime_env, "sampleproject", "--help")
    assert help_text.returncode == 0
    assert "usage: sampleproject" in help_text.stdout
    added = in_env(runtime_env, "sampleproject", "45", "46")
    assert (added.returncode, added.stdout) == (0, "91\n")
    through_script = in_env(runtime_env, "pyapp-entrypoint", "45", "46")
    assert (through_script.returncode, through_script.stdout) == (0, "91\n")
    assert in_env(runtime_env, "python", "-c", "import sampleproject").returncode == 0
    # The environment runs our copy, not the checkout's.
    where = in_env(runtime_env, "python", "-c", "import sampleproject as p; print(p.__file__)")
    assert not where.stdout.startswith(str(ROOT))


def test_the_runtime_install_has_no_training_stack(runtime_env: Path) -> None:
    listed = in_env(runtime_env, "python", "-m", "pip", "list", "--format=freeze")
    installed = {line.split("==")[0].lower() for line in listed.stdout.splitlines()}
    assert {"onnxruntime", "numpy", "fastapi"} <= installed
    assert not installed & {"scikit-learn", "skl2onnx", "mlflow", "matplotlib", "pandas", "onnx"}


def test_setup_py_still_answers_the_seed_commands() -> None:
    def setup_py(*args: str) -> str:
        return (
            subprocess.run(
                [sys.executable, "setup.py", *args],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )

    assert setup_py("--name") == "sampleproject"
    assert setup_py("--version") == __version__


def test_the_seeds_setup_py_bdist_wheel_still_builds(tmp_path: Path) -> None:
    """Deprecated, but it works: the seed's `python setup.py bdist_wheel` builds the same wheel."""
    project = copy_project(tmp_path / "project")
    subprocess.run(
        [sys.executable, "setup.py", "--quiet", "bdist_wheel", "--dist-dir", str(tmp_path / "d")],
        cwd=project,
        capture_output=True,
        check=True,
    )
    (built,) = (tmp_path / "d").glob("*.whl")
    assert not SHIPPED - names(built)


@pytest.mark.parametrize(
    "command",
    [["setup.py", "--quiet", "bdist_wheel"], ["-m", "build", "--wheel", "--no-isolation", "."]],
    ids=["setup.py bdist_wheel", "python -m build"],
)
def test_without_a_trained_model_the_wheel_build_stops_saying_what_to_run(
    tmp_path: Path, command: list[str]
) -> None:
    """A fresh clone has no model: the seed's build says so instead of shipping a wheel
    that cannot predict."""
    project = copy_checkout(tmp_path / "project")  # the sources alone, no model
    result = subprocess.run(
        [sys.executable, *command], cwd=project, capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    line = (
        "error: no trained model (sampleproject/model/zoo.onnx, sampleproject/model/zoo.json "
        "missing): run 'make train' (or 'sampleproject train' in the development "
        "environment), then build again"
    )
    assert line in (result.stdout + result.stderr).splitlines()
    if command[0] == "setup.py":
        assert result.stderr.strip() == line  # the seed's command: that line alone
    assert not list(project.glob("dist/*.whl"))
