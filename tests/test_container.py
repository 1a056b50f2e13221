"""The container image: the Dockerfile's lint, the check's own judgement, and the real check.

The real check builds the image and runs it (``tools/container/check.py``, also ``make
image-test``); it is slow and marked ``container``. The others take well under a second.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT, build_image, require_tool
from tools.container import check, engine


def test_dockerfile_passes_hadolint() -> None:
    hadolint = require_tool("hadolint")
    result = subprocess.run(
        [hadolint, "Dockerfile"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def _training_layer_sources() -> list[str]:
    """The files and folders the Dockerfile copies for its training step (``RUN make train``)."""
    lines = (ROOT / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ").splitlines()
    end = lines.index("RUN make train")
    start = max(number for number, line in enumerate(lines[:end]) if not line.startswith("COPY"))
    return [source for line in lines[start + 1 : end] for source in line.split()[1:-1]]


def _missing_from_training_layer(paths: list[str]) -> list[str]:
    """Those of ``paths`` (relative to the root) that the training layer does not copy."""
    sources = _training_layer_sources()
    # __init__.py is copied earlier, with the dependency files (it holds the version).
    copied = [*sources, "sampleproject/__init__.py"]

    def is_copied(path: str) -> bool:
        return any(path == source or path.startswith(source.rstrip("/") + "/") for source in copied)

    return [path for path in paths if not is_copied(path)]


@pytest.mark.slow  # imports the training stack (MLflow...): seconds
def test_the_training_layer_copies_every_module_training_imports() -> None:
    # The image trains in a layer of its own from a list of files. A module that training
    # imports and that list misses would fail the image build; this says which, at once.
    imported = subprocess.run(
        [
            sys.executable,
            "-c",
            # The command line's own dispatch to `train` (with its lazy imports), the
            # training itself stubbed: what `train` imports before it trains, then the job.
            "import sys, sampleproject.cli, sampleproject.commands.train as train;"
            "train.run = lambda args: 0; sampleproject.cli.main(['train']);"
            "import sampleproject.training.job;"
            "print(*(m.__file__ for n, m in sys.modules.items() if n.startswith('sampleproject')))",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    sources = _training_layer_sources()
    assert "sampleproject/data/" in sources
    assert "sampleproject/config/" in sources
    paths = [Path(file).relative_to(ROOT).as_posix() for file in imported]
    missing = _missing_from_training_layer(paths)
    assert not missing, f"add to the Dockerfile's training layer: {missing}"


def test_the_image_trains_from_every_input_the_makefile_trains_from() -> None:
    # The model's inputs are the Makefile's TRAIN_INPUTS; the image's training layer must
    # copy them all, or the image would train from other files than `make` does.
    database = subprocess.run(
        [require_tool("make"), "-pnq"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout
    line = next(line for line in database.splitlines() if line.startswith("TRAIN_INPUTS :="))
    inputs = line.removeprefix("TRAIN_INPUTS :=").split()
    assert "sampleproject/data/zoo.data" in inputs
    missing = _missing_from_training_layer(inputs)
    assert not missing, f"add to the Dockerfile's training layer: {missing}"


def _sbom(components: list[str]) -> dict[str, object]:
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "components": [
            {"type": "library", "name": name, "bom-ref": name, "version": "1"}
            for name in components
        ],
    }


def _dist(folder: Path, sbom: dict[str, object] | None) -> Path:
    with zipfile.ZipFile(folder / "sampleproject-1.0-py3-none-any.whl", "w") as wheel:
        for name in ("sampleproject/model/zoo.onnx", "sampleproject/model/zoo.json"):
            wheel.writestr(name, "x")
    if sbom is not None:
        (folder / "sbom.cdx.json").write_text(json.dumps(sbom), encoding="utf-8")
    return folder


def test_dist_check_accepts_wheel_and_runtime_sbom(tmp_path: Path) -> None:
    detail = check.check_dist(_dist(tmp_path, _sbom(sorted(check.RUNTIME_PACKAGES))))
    assert "sampleproject-1.0-py3-none-any.whl" in detail


@pytest.mark.parametrize(
    ("sbom", "reason"),
    [
        (None, "no sbom.cdx.json"),
        ({"bomFormat": "SPDX"}, "not a CycloneDX document"),
        ({**_sbom(["numpy"]), "components": "numpy"}, "not valid CycloneDX"),
        (_sbom(["numpy", "onnxruntime"]), "lacks"),
        (_sbom([*check.RUNTIME_PACKAGES, "scikit-learn"]), "build-only ['scikit-learn']"),
    ],
)
def test_dist_check_rejects_a_missing_invalid_or_wrong_sbom(
    tmp_path: Path, sbom: dict[str, object] | None, reason: str
) -> None:
    with pytest.raises(check.CheckFailed, match=reason.replace("[", r"\[")):
        check.check_dist(_dist(tmp_path, sbom))


def test_build_args_without_git_keep_the_dockerfile_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "sampleproject").mkdir()
    (tmp_path / "sampleproject" / "__init__.py").write_text('__version__ = "9.8"\n')
    monkeypatch.setenv("SONAR_HOST_URL", "")  # empty = not set (the Dockerfile's default)
    assert engine.build_args(tmp_path, "base:1") == {"BASE_IMAGE": "base:1", "VERSION": "9.8"}
    monkeypatch.setenv("SONAR_HOST_URL", "http://sonarqube:9000")
    assert engine.build_args(tmp_path, "base:1")["SONAR_HOST_URL"] == "http://sonarqube:9000"


def _docker_client(folder: Path, version: str, *, buildx: bool) -> str:
    """A stand-in ``docker`` client that answers ``version`` and ``buildx version`` only."""
    folder.mkdir()
    client = folder / "docker"
    client.write_text(
        "#!/bin/sh\n"
        f'[ "$1" = version ] && {{ echo {version}; exit 0; }}\n'
        f'[ "$1" = buildx ] && exit {0 if buildx else 1}\n'
        "exit 2\n",
        encoding="utf-8",
    )
    client.chmod(0o755)
    return str(client)


def test_a_docker_client_without_buildx_gets_one_line_naming_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    new = _docker_client(tmp_path / "new", "28.2.2", buildx=False)
    monkeypatch.setenv("PATH", str(tmp_path / "new"))
    monkeypatch.delenv("DOCKER_CLIENT", raising=False)
    monkeypatch.setattr(engine, "OTHER_DOCKER_CLIENTS", ())
    with pytest.raises(SystemExit) as stopped:
        engine.docker()
    message = str(stopped.value.code)
    assert message.count("\n") == 0
    assert f"{new} (28.2.2) has no buildx" in message
    assert "docker-buildx-plugin" in message


@pytest.mark.parametrize(("buildx", "chosen"), [(False, "old"), (True, "new")])
def test_the_tooling_uses_a_client_with_buildx_or_an_older_one_with_buildkit_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, buildx: bool, chosen: str
) -> None:
    clients = {
        "new": _docker_client(tmp_path / "new", "28.2.2", buildx=buildx),
        "old": _docker_client(tmp_path / "old", "20.10.24+dfsg1", buildx=False),
    }
    monkeypatch.setenv("PATH", str(tmp_path / "new"))
    monkeypatch.delenv("DOCKER_CLIENT", raising=False)
    monkeypatch.setattr(engine, "OTHER_DOCKER_CLIENTS", (clients["old"],))
    docker = engine.docker()
    assert (docker.program, docker.env) == (clients[chosen], {"DOCKER_BUILDKIT": "1"})


def _check(image: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``python -m tools.container.check --image IMAGE`` with podman; output captured."""
    return subprocess.run(
        [sys.executable, "-m", "tools.container.check", "--image", image],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
        env={**os.environ, "CONTAINER_ENGINE": "podman", **env},
    )


@pytest.mark.slow
@pytest.mark.container
def test_image_builds_and_passes_the_real_check_with_podman(
    podman_image: tuple[engine.Engine, str],
) -> None:
    # Docker's turn is in tests/test_docker.py, against a private dockerd.
    result = _check(podman_image[1], {})
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert "image check passed" in result.stdout


@pytest.mark.slow
@pytest.mark.container
def test_the_image_builds_and_passes_the_check_on_debian_13_with_python_3_13(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # constraints.txt claims every supported Python: the newest one builds, passes the whole
    # pipeline inside the build (tests, gate) and runs. Debian 13's python3 is 3.13.
    require_tool("podman")
    podman = engine.podman()
    base, image = f"{engine.LOCAL_BASE_NAME}:trixie", "pyapp-python3.13"
    monkeypatch.setenv("BASE_IMAGE", base)  # made from Debian 13 when missing
    build_image(podman, image)
    version = podman.run(
        "run",
        "--rm",
        "--network",
        "none",
        "--entrypoint",
        "python3",
        image,
        "--version",
        capture=True,
    ).stdout
    assert version.startswith("Python 3.13."), version
    result = _check(image, {})
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
