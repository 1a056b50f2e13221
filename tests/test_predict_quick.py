"""The one-animal ``predict`` opens the model without pydantic, and only when that is right."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sampleproject.errors import SampleProjectError
from sampleproject.features import CLASS_NAMES
from sampleproject.inference.model import default_model_dir
from sampleproject.inference.predictor import load_predictor
from sampleproject.inference.quick import plain_session
from tests.conftest import require

Metadata = dict[str, Any]


@pytest.fixture(name="model_copy")
def model_copy_fixture(tmp_path: Path) -> Path:
    """A copy of the shipped model folder, to damage."""
    require((default_model_dir() / "zoo.json").exists(), "no trained model: run `make train`")
    return Path(shutil.copytree(default_model_dir(), tmp_path / "model"))


def _set(path: str, value: object) -> Callable[[Metadata], None]:
    def change(metadata: Metadata) -> None:
        *parents, last = path.split(".")
        target: Any = metadata
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        if isinstance(target, list):
            target[int(last)] = value
        elif value is KeyError:
            del target[last]
        else:
            target[last] = value

    return change


CHANGES = {
    "unchanged": lambda metadata: None,
    "no training distribution": _set("training_distribution", KeyError),
    "null training distribution": _set("training_distribution", None),
    "extra key": _set("notes", "kept"),
    "code as text": _set("classes.0.code", "1"),
    "code as float": _set("classes.0.code", 1.0),
    "code as boolean": _set("classes.0.code", True),
    "name as number": _set("classes.0.name", 1),
    "no classes": _set("classes", []),
    "path in model_file": _set("model_file", "../zoo.onnx"),
    "short sha256": _set("model_sha256", "abc"),
    "upper-case sha256": _set("model_sha256", "A" * 64),
    "other features": _set("features.0", "wings"),
    "no outputs": _set("outputs", KeyError),
    "label as number": _set("outputs.label", 3),
    "no input name": _set("input_name", KeyError),
    "rows as text": _set("training_distribution.rows", "101"),
    "zero rows": _set("training_distribution.rows", 0),
    "counts as text": _set("training_distribution.features.hair.0", "58"),
    "counts off by one": _set("training_distribution.features.hair.0", 1),
    "a value missing": _set("training_distribution.features.legs.8", KeyError),
    "a feature missing": _set("training_distribution.features.hair", KeyError),
    "negative class count": _set("training_distribution.predicted_classes.counts.bird", -1),
    "a class missing": _set("training_distribution.predicted_classes.counts.bird", KeyError),
    "no source": _set("training_distribution.predicted_classes.source", KeyError),
    "not an object": lambda metadata: metadata.clear(),
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=list(CHANGES))
def test_the_quick_path_opens_only_what_the_validated_path_opens(
    model_copy: Path, change: Callable[[Metadata], None]
) -> None:
    path = model_copy / "zoo.json"
    metadata = json.loads(path.read_text(encoding="utf-8"))
    change(metadata)
    path.write_text(json.dumps(metadata), encoding="utf-8")
    session = plain_session(model_copy, threads=1)
    try:
        predictor = load_predictor(model_copy, threads=1)
    except SampleProjectError:
        assert session is None  # the usual path then says why, in its own words
        return
    if session is not None:
        row = [[1, 0, 0, 1, 0, 0, 1, 1, 1, 1, 0, 0, 4, 0, 0, 1]]
        assert session.records(session.predict(row)) == predictor.records(predictor.predict(row))


def test_the_shipped_model_opens_without_pydantic() -> None:
    require((default_model_dir() / "zoo.json").exists(), "no trained model: run `make train`")
    code = (
        "import sys; from sampleproject import cli; "
        "status = cli.main(['predict', '--hair', '--legs', '4']); "
        "print(status, 'pydantic' in sys.modules, file=sys.stderr)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stderr.split() == ["0", "False"]
    assert done.stdout.split()[0] in CLASS_NAMES.values()
