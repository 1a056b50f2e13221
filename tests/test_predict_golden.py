"""``predict`` answers the golden corpus exactly as it did before the batch path was optimised.

The corpus (``tests/golden_predict.py``) holds valid files in every spelling the validation
accepts and invalid ones of every kind; ``tests/golden/predict.json`` what ``predict`` printed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sampleproject.inference.model import MODEL_DIR_ENV, default_model_dir
from tests.conftest import require
from tests.golden_predict import GOLDEN, Case, cases, run_case

CASES = cases()


@pytest.fixture(name="golden", scope="module")
def golden_fixture() -> dict[str, dict[str, object]]:
    """The recorded answers, by case name."""
    answers: dict[str, dict[str, object]] = json.loads(GOLDEN.read_text(encoding="utf-8"))
    return answers


@pytest.fixture(autouse=True)
def _shipped_model(monkeypatch: pytest.MonkeyPatch) -> None:
    require((default_model_dir() / "zoo.json").exists(), "no trained model: run `make train`")
    monkeypatch.delenv(MODEL_DIR_ENV, raising=False)


def test_the_corpus_and_the_golden_file_name_the_same_cases(
    golden: dict[str, dict[str, object]],
) -> None:
    assert sorted(case.name for case in CASES) == sorted(golden)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_predict_answers_as_recorded(
    case: Case, golden: dict[str, dict[str, object]], tmp_path: Path
) -> None:
    assert run_case(case, tmp_path) == golden[case.name]
