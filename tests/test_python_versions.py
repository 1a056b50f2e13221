"""The supported Pythons are declared once, in setup.py's classifiers; what cannot be derived
from them (CI matrices, the tools' target versions) is checked against them here."""

from __future__ import annotations

import re
import sys

import yaml

from tests.conftest import ROOT

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 only
    import tomli as tomllib


def supported() -> list[str]:
    """The versions setup.py's classifiers name, oldest first."""
    setup = (ROOT / "setup.py").read_text(encoding="utf-8")
    versions = re.findall(r'"Programming Language :: Python :: (3\.\d+)"', setup)
    return sorted(versions, key=lambda version: int(version.split(".")[1]))


def test_setup_py_requires_the_oldest_supported_python() -> None:
    setup = (ROOT / "setup.py").read_text(encoding="utf-8")
    assert len(supported()) >= 2
    assert f'python_requires=">={supported()[0]}"' in setup


def test_every_ci_matrix_runs_every_supported_python() -> None:
    github = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text("utf-8"))
    assert github["jobs"]["test"]["strategy"]["matrix"]["python-version"] == supported()
    gitlab = yaml.safe_load((ROOT / ".gitlab-ci.yml").read_text(encoding="utf-8"))
    assert gitlab["test"]["parallel"]["matrix"] == [{"PYTHON_VERSION": supported()}]


def test_the_tools_check_for_the_oldest_supported_python() -> None:
    oldest = supported()[0]
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert settings["tool"]["ruff"]["target-version"] == "py" + oldest.replace(".", "")
    assert settings["tool"]["mypy"]["python_version"] == oldest
    assert settings["tool"]["pylint"]["main"]["py-version"] == oldest
