"""``predict`` answers the golden corpus exactly as it did before the batch path was optimised.

The corpus (``tests/golden_predict.py``) holds valid files in every spelling the validation
accepts and invalid ones of every kind; ``tests/golden/predict.json`` what ``predict`` printed.
"""

from __future__ import annotations

import io
import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from sampleproject import schema
from sampleproject.errors import UsageError
from sampleproject.formats import Format
from sampleproject.inference import batch
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


SPELLINGS = ["0", "1", "4", "2", " 1", "1.0", "01", "", "x", "7", "true", "1.5"]


def random_file(fmt: str, seed: int) -> str:
    """A small file whose values are mostly plain digits, sometimes another spelling."""
    rng = random.Random(seed)  # noqa: S311 (test data, not secrets)
    lines = [] if fmt == "jsonl" else [",".join(("animal_name", *schema.FEATURES)) + "\n"]
    for number in range(rng.randint(1, 40)):
        values = [
            rng.choice(SPELLINGS) if rng.random() < 0.02 else rng.choice("01")
            for _ in schema.FEATURES
        ]
        values[schema.FEATURES.index("legs")] = (
            rng.choice("024568") if rng.random() > 0.02 else rng.choice(SPELLINGS)
        )
        if fmt == "csv":
            lines.append(",".join((f"animal {number}", *values)) + "\n")
        else:
            record = {"animal_name": f"animal {number}"} | {
                name: int(value) if value.isdigit() else value
                for name, value in zip(schema.FEATURES, values, strict=True)
            }
            lines.append(json.dumps(record) + "\n")
    return "".join(lines)


def outcome(chunks: Iterator[batch.Chunk]) -> tuple[list[object], str]:
    """The chunks' names and features (as lists), and the error message if any."""
    seen: list[object] = []
    try:
        for chunk in chunks:
            seen.append((chunk.names, chunk.features.tolist()))
    except UsageError as error:
        return seen, str(error)
    return seen, ""


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_the_numpy_path_and_pydantic_give_the_same_values_and_errors(fmt: Format) -> None:
    for seed in range(200):
        text = random_file(fmt, seed)
        fast = batch.chunks(io.StringIO(text), fmt, "f", size=7)
        slow = batch.validated_chunks(batch.read_rows(io.StringIO(text), fmt, "f"), "f", size=7)
        assert outcome(fast) == outcome(slow), text
