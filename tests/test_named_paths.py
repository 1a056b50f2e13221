"""The scripts and the Makefile name only files that exist (a message that sends users to a
missing script is a dead end: tools/mlflow-server/start.sh once named one)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import ROOT

NAMED = re.compile(r"(?<![\w/.$-])((?:tools|scripts|tests|bench|docs|compose|deploy)/[\w./-]*\w)")
SCRIPTS = sorted({*ROOT.glob("tools/**/*.sh"), ROOT / "Makefile", ROOT / ".ci" / "run"})


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_project_path_a_script_names_exists(script: Path) -> None:
    # `-include FILE` is optional by definition (the rename removes tools/rename.mk).
    lines = script.read_text(encoding="utf-8").splitlines()
    named = set(
        NAMED.findall("\n".join(line for line in lines if not line.startswith("-include ")))
    )
    missing = [path for path in sorted(named) if "*" not in path and not (ROOT / path).exists()]
    assert missing == []
