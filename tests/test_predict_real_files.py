"""Files people really have: a byte-order mark, CRLF, quotes, blank lines, extra columns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_predict import (
    HEADER,
    animals_csv,
    animals_jsonl,
    data_rows,
    read_csv_output,
    run,
)

BOM = "\ufeff"


def spreadsheet_csv() -> str:
    """The shipped animals as a spreadsheet saves them: BOM, CRLF, every field quoted."""
    lines = [",".join(f'"{name}"' for name in HEADER.split(","))]
    lines += [",".join(f'"{field}"' for field in row[:-1]) for row in data_rows()]
    return BOM + "\r\n".join(lines) + "\r\n" + ",," * 8 + "\r\n" + "\r\n"


def predict_file(
    capsys: pytest.CaptureFixture[str], path: Path, content: str, *args: str
) -> tuple[int, str, str]:
    """Write ``content`` to ``path`` (UTF-8 bytes as given) and predict it in-process."""
    path.write_bytes(content.encode("utf-8"))
    return run([str(path), *args], capsys)


def test_a_spreadsheets_csv_gives_the_same_predictions_as_a_plain_one(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, plain, _ = predict_file(capsys, tmp_path / "plain.csv", animals_csv())
    assert status == 0
    status, saved, err = predict_file(capsys, tmp_path / "excel.csv", spreadsheet_csv())
    assert (status, err) == (0, "")
    assert saved == plain
    assert len(read_csv_output(saved)) == len(data_rows())


def test_json_lines_with_a_bom_and_crlf_give_the_same_predictions(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, plain, _ = predict_file(capsys, tmp_path / "plain.jsonl", animals_jsonl())
    assert status == 0
    windows = BOM + animals_jsonl().replace("\n", "\r\n") + "\r\n"
    status, saved, err = predict_file(capsys, tmp_path / "windows.jsonl", windows)
    assert (status, err) == (0, "")
    assert saved == plain


@pytest.mark.parametrize("content", [BOM + animals_csv(), BOM + animals_jsonl()])
def test_stdin_with_a_bom_is_sniffed_and_read(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, content: str
) -> None:
    status, out, err = run(["-", "--output-format", "csv"], capsys, content, monkeypatch)
    assert (status, err) == (0, "")
    assert len(read_csv_output(out)) == len(data_rows())


def test_a_bad_row_in_a_crlf_file_with_a_bom_keeps_its_line_number(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rows = data_rows()
    rows[50][13] = "9"  # legs of the 51st animal: line 52 with the header
    content = BOM + animals_csv(rows).replace("\n", "\r\n")
    status, _, err = predict_file(capsys, tmp_path / "a.csv", content)
    assert status == 2
    assert "a.csv line 52, column legs: legs must be one of" in err


def test_the_training_datas_label_column_is_refused_with_the_option_that_ignores_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    training = HEADER + ",type\n" + "".join(",".join(row) + "\n" for row in data_rows())
    status, _, err = predict_file(capsys, tmp_path / "zoo.csv", training)
    assert status == 2
    assert "line 1: unknown column 'type'" in err
    assert err.rstrip().endswith("--ignore-columns type ignores it")

    status, ignored, err = run([str(tmp_path / "zoo.csv"), "--ignore-columns", "type"], capsys)
    assert (status, err) == (0, "")
    assert ignored == predict_file(capsys, tmp_path / "plain.csv", animals_csv())[1]


def test_an_id_in_json_lines_is_refused_with_a_hint_then_ignored_when_asked(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    lines = [json.loads(line) for line in animals_jsonl().splitlines()]
    with_ids = "".join(json.dumps({"id": n, **line}) + "\n" for n, line in enumerate(lines))
    status, _, err = predict_file(capsys, tmp_path / "a.jsonl", with_ids)
    assert status == 2
    assert "a.jsonl line 1, column id: unknown column" in err
    assert "--ignore-columns id ignores it" in err

    status, out, err = run([str(tmp_path / "a.jsonl"), "--ignore-columns", "id, type"], capsys)
    assert (status, err) == (0, "")
    assert out == predict_file(capsys, tmp_path / "plain.jsonl", animals_jsonl())[1]


def test_ignoring_columns_needs_a_file(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(["--legs", "4", "--ignore-columns", "id"], capsys)
    assert status == 2
    assert "--ignore-columns need a FILE" in err
