"""Shared test helpers.

Real tests need real tools (podman, PostgreSQL, wrk...). On a developer's machine a missing
tool skips the test with the reason; in CI (``CI`` set, as every CI system does) it fails it,
so a missing install step can never hide behind a skip.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.container import engine
from tools.sources import copy_sources

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


def run_make(
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float | None = None,
    project: Path = ROOT,
) -> subprocess.CompletedProcess[str]:
    """``make ARGS`` in the project (or a copy of it), as a user runs it; output captured,
    status not checked."""
    return subprocess.run(
        [require_tool("make"), "--no-print-directory", *args],
        cwd=project,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


@contextlib.contextmanager
def tmpfs(folder: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` (``mount``'s units: 64k, 16m) mounted on the new folder
    ``folder`` (needs root), unmounted afterwards."""
    require(os.geteuid() == 0, "mounting a tmpfs needs root")
    mount, umount = require_tool("mount"), require_tool("umount")
    folder.mkdir()
    mounted = subprocess.run(
        [mount, "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    require(mounted.returncode == 0, f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run([umount, str(folder)], check=True)


def make_with_this_environment(
    *args: str, project: Path, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """``make ARGS`` in a copy of the project, with this test run's environment.

    ``-o`` its marker: make must not reinstall this environment from the copy (whose files
    are newer), or the editable install would point at the copy after the test.
    """
    marker = Path(sys.prefix) / ".installed-sampleproject"
    return run_make(
        "-o", str(marker), *args, project=project, env={"VIRTUAL_ENV": sys.prefix}, timeout=timeout
    )


@pytest.fixture(scope="session")
def root() -> Path:
    """The project's root folder."""
    return ROOT


MODEL_FILES = ("sampleproject/model/zoo.onnx", "sampleproject/model/zoo.json")


def require_checkout() -> None:
    """Skip (locally) or fail (in CI) outside a git checkout: an sdist, a container build."""
    require((ROOT / ".git").exists(), "needs the git repository (a checkout, not an sdist)")


def copy_checkout(destination: Path, *extra: str) -> Path:
    """A copy of the working tree as a fresh checkout would have it, plus the ``extra`` files."""
    require_checkout()
    return copy_sources(ROOT, destination, *extra)


def copy_project(destination: Path) -> Path:
    """A copy of the working tree as a fresh checkout (plus the trained model) would have it."""
    require(
        all((ROOT / name).exists() for name in MODEL_FILES), "no trained model: run `make train`"
    )
    return copy_checkout(destination, *MODEL_FILES)


def build(project: Path, outdir: Path, *kinds: str) -> None:
    """Build distributions the way the Makefile does (PEP 517 front end, pinned backend)."""
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1700000000"}
    subprocess.run(
        [sys.executable, "-m", "build", *kinds, "--no-isolation", "--outdir", str(outdir), "."],
        cwd=project,
        env=env,
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built from a copy of this working tree."""
    project = copy_project(tmp_path_factory.mktemp("wheel-build") / "project")
    outdir = tmp_path_factory.mktemp("wheel")
    build(project, outdir, "--wheel")
    return next(outdir.glob("*.whl"))


@pytest.fixture(scope="session")
def runtime_env(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A brand-new virtual environment with only the wheel installed; returns its bin/ folder.

    Installed as a user would (``pip install sampleproject-*.whl``), with the pinned versions
    of constraints.txt, so it holds the runtime dependencies and nothing of the training stack.
    """
    venv = tmp_path_factory.mktemp("runtime-env") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--constraint",
            str(ROOT / "constraints.txt"),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    return venv / "bin"


def server_env() -> dict[str, str]:
    """The environment, with ours first on PATH (its `mlflow` has the PostgreSQL driver)."""
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


@pytest.fixture(name="mlflow_server", scope="session")
def mlflow_server_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A real MLflow tracking server on a private PostgreSQL cluster (tools/mlflow-server);
    yields its state folder (``tracking-uri`` in it); stops both afterwards."""
    require_tool("bash")
    require(
        any(Path("/usr/lib/postgresql").glob("*/bin/initdb")),
        "PostgreSQL is not installed (see tools/install-system-deps.sh)",
    )
    scripts = ROOT / "tools" / "mlflow-server"
    state = tmp_path_factory.mktemp("mlflow-server")
    try:
        started = subprocess.run(
            [str(scripts / "start.sh"), str(state)],
            env=server_env(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert started.returncode == 0, started.stderr
        yield state
    finally:
        subprocess.run([str(scripts / "stop.sh"), str(state)], timeout=60, check=False)


@pytest.fixture(scope="session")
def podman_image() -> tuple[engine.Engine, str]:
    """The image ``pyapp``, built once per test session with podman: (the engine, the tag).

    Builds cost minutes: the image check and the Kubernetes run share this one. podman is
    installed from Debian's packages when missing (as root); its storage is .container/.
    """
    can_install = os.geteuid() == 0 and shutil.which("apt-get") is not None
    require(
        shutil.which("podman") is not None or can_install,
        "podman is not installed and cannot be installed here (needs root and apt-get)",
    )
    podman = engine.podman()
    build_image(podman, engine.DEFAULT_TAG)
    return podman, engine.DEFAULT_TAG


def build_image(container_engine: engine.Engine, tag: str) -> None:
    """Build the image; a failed build fails with the end of its output (the gate's table)."""
    try:
        engine.build(container_engine, tag, quiet=True)
    except subprocess.CalledProcessError as error:
        output = f"{error.stdout or ''}{error.stderr or ''}"
        pytest.fail(f"the image build failed:\n{output[-4000:]}")
