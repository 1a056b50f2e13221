"""The container image: the Dockerfile's lint, the check's own judgement, and the real check.

The real check builds the image and runs it (``tools/container/check.py``, also ``make
image-test``); it is slow and marked ``container``. The others take well under a second.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT, require, require_tool
from tools.container import check, engine


def test_dockerfile_passes_hadolint() -> None:
    hadolint = require_tool("hadolint")
    result = subprocess.run(
        [hadolint, "Dockerfile"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


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


@pytest.mark.slow
@pytest.mark.container
def test_image_builds_and_passes_the_real_check() -> None:
    can_install = os.geteuid() == 0 and shutil.which("apt-get") is not None
    require(
        any(shutil.which(tool) for tool in ("docker", "podman")) or can_install,
        "no container engine, and podman cannot be installed here (needs root and apt-get)",
    )
    result = subprocess.run(
        [sys.executable, "-m", "tools.container.check", "--build"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert "image check passed" in result.stdout
