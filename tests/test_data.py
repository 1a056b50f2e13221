"""Tests of the training data: the shipped file, and the errors a bad file gets."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from sampleproject.cli import main
from sampleproject.errors import UsageError
from sampleproject.schema import FEATURES
from sampleproject.training.data import load_dataset

SHIPPED = Path(__file__).resolve().parent.parent / "sampleproject" / "data" / "zoo.data"
GOOD_ROW = "aardvark,1,0,0,1,0,0,1,1,1,1,0,0,4,0,0,1,1"


def write_rows(tmp_path: Path, *rows: str) -> Path:
    """A data file ``bad.data`` of ``rows``."""
    path = tmp_path / "bad.data"
    path.write_text("".join(f"{row}\n" for row in rows), encoding="utf-8")
    return path


def with_column(column: int, value: str) -> str:
    """GOOD_ROW with column ``column`` (0-based) replaced by ``value``."""
    cells = GOOD_ROW.split(",")
    cells[column] = value
    return ",".join(cells)


def test_the_shipped_data_loads_with_every_class() -> None:
    dataset = load_dataset(SHIPPED)
    assert len(dataset) == 101
    assert list(dataset.features.columns) == list(FEATURES)
    assert dataset.features.shape == (101, 16)
    assert np.bincount(dataset.labels).tolist() == [0, 41, 20, 5, 13, 4, 8, 10]
    assert dataset.names[:2] == ("aardvark", "antelope")
    assert dataset.sha256 == hashlib.sha256(SHIPPED.read_bytes()).hexdigest()


def test_a_row_is_read_in_schema_order(tmp_path: Path) -> None:
    dataset = load_dataset(write_rows(tmp_path, GOOD_ROW))
    assert dataset.features.iloc[0].tolist() == [int(v) for v in GOOD_ROW.split(",")[1:17]]
    assert dataset.labels.tolist() == [1]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            with_column(13, "3"),
            "bad.data line 3, column legs: legs must be one of 0, 2, 4, 5, 6, 8",
        ),
        (
            with_column(1, "2"),
            "bad.data line 3, column hair: Input should be less than or equal to 1",
        ),
        (with_column(4, "yes"), "bad.data line 3, column milk:"),
        (
            with_column(17, "8"),
            "bad.data line 3, column type: type must be one of 1, 2, 3, 4, 5, 6, 7",
        ),
        (with_column(17, ""), "bad.data line 3, column type:"),
        (GOOD_ROW + ",1", "bad.data line 3: expected 18 columns"),
        (GOOD_ROW.rsplit(",", 1)[0], "bad.data line 3: expected 18 columns"),
        ("", "bad.data line 3: expected 18 columns"),
    ],
)
def test_a_bad_row_is_named_by_line_and_column(tmp_path: Path, row: str, message: str) -> None:
    path = write_rows(tmp_path, GOOD_ROW, GOOD_ROW, row, GOOD_ROW)
    with pytest.raises(UsageError) as raised:
        load_dataset(path)
    assert str(raised.value).startswith(message)


def test_the_bad_value_is_quoted(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"\(found '3'\)$"):
        load_dataset(write_rows(tmp_path, with_column(13, "3")))


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "bad.data: no rows"), (b"caf\xe9,1\n", "bad.data: not UTF-8 text")],
)
def test_an_empty_or_binary_file_is_refused(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.data"
    path.write_bytes(content)
    with pytest.raises(UsageError, match=message):
        load_dataset(path)


def test_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read the training data"):
        load_dataset(tmp_path / "missing.data")


def test_train_reports_a_bad_file_in_one_line_with_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_rows(tmp_path, GOOD_ROW, with_column(13, "7"))
    output = tmp_path / "model"
    status = main(["train", "--data", str(path), "--output-dir", str(output)])
    captured = capsys.readouterr()
    assert status == 2
    assert captured.err == (
        "sampleproject: error: bad.data line 2, column legs: "
        "legs must be one of 0, 2, 4, 5, 6, 8 (found '7')\n"
    )
    assert captured.out == ""
    assert not output.exists()
