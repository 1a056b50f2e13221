"""``sampleproject predict``: one animal from flags, many from CSV or JSON Lines, bad input."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sampleproject import cli, schema
from sampleproject.errors import UsageError
from sampleproject.inference import batch
from sampleproject.inference.model import MODEL_DIR_ENV, default_model_dir
from tests.conftest import BIN, require

DATA = Path(schema.__file__).parent / "data" / "zoo.data"
HEADER = ",".join(batch.INPUT_COLUMNS)


@pytest.fixture(autouse=True)
def _shipped_model(monkeypatch: pytest.MonkeyPatch) -> None:
    require((default_model_dir() / "zoo.json").exists(), "no trained model: run `make train`")
    monkeypatch.delenv(MODEL_DIR_ENV, raising=False)


def data_rows() -> list[list[str]]:
    """The shipped data set's rows, as strings."""
    with DATA.open(encoding="utf-8", newline="") as file:
        return [row for row in csv.reader(file) if row]


def labels() -> dict[str, str]:
    """Animal name -> class name, from the data set."""
    return {row[0]: schema.CLASS_NAMES[int(row[-1])] for row in data_rows()}


def animals_csv(rows: list[list[str]] | None = None) -> str:
    """The shipped data as a prediction input: names and features, without the class."""
    rows = data_rows() if rows is None else rows
    return HEADER + "\n" + "".join(",".join(row[:-1]) + "\n" for row in rows)


def animals_jsonl() -> str:
    """The shipped data as JSON Lines input (names and features)."""
    lines = []
    for row in data_rows():
        record: dict[str, object] = {schema.NAME_COLUMN: row[0]}
        record.update(zip(schema.FEATURES, map(int, row[1:-1]), strict=True))
        lines.append(json.dumps(record) + "\n")
    return "".join(lines)


def run(
    args: list[str],
    capsys: pytest.CaptureFixture[str],
    stdin: str | bytes | None = None,
    monkeypatch: pytest.MonkeyPatch | None = None,
) -> tuple[int, str, str]:
    """``sampleproject predict ARGS`` in-process: (exit status, stdout, stderr)."""
    if stdin is not None:
        assert monkeypatch is not None
        data = stdin.encode() if isinstance(stdin, str) else stdin
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    try:
        status = cli.main(["predict", *args])
    except SystemExit as exit_:  # argparse's errors
        status = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return status, out, err


def agreement(predicted: dict[str, str]) -> float:
    """The share of animals whose predicted class is their labelled class."""
    truth = labels()
    return sum(predicted[name] == truth[name] for name in truth) / len(truth)


# --- one animal --------------------------------------------------------------------------


def flags_of(name: str) -> list[str]:
    """The command-line flags of the data set's animal ``name``."""
    row = next(row for row in data_rows() if row[0] == name)
    values = dict(zip(schema.FEATURES, row[1:-1], strict=True))
    flags = [
        f"--{feature}" for feature, value in values.items() if feature != "legs" and value == "1"
    ]
    return [*flags, "--legs", values["legs"]]


@pytest.mark.parametrize("animal", ["aardvark", "penguin", "carp"])
def test_one_animal_from_flags_prints_its_class_and_probability(
    capsys: pytest.CaptureFixture[str], animal: str
) -> None:
    status, out, err = run(flags_of(animal), capsys)
    assert (status, err) == (0, "")
    name, probability = out.split()
    assert name == labels()[animal]
    assert 0 < float(probability) <= 1


def test_one_animal_as_json_has_every_class(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run([*flags_of("aardvark"), "--json"], capsys)
    answer = json.loads(out)
    assert status == 0
    assert answer["class_name"] == "mammal"
    assert answer["class_code"] == 1
    assert set(answer["probabilities"]) == set(schema.CLASS_NAMES.values())
    assert answer["probability"] == max(answer["probabilities"].values())
    assert sum(answer["probabilities"].values()) == pytest.approx(1, abs=1e-4)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--hair"], "give --legs N"),
        (["--legs", "3"], "--legs: invalid choice"),  # 3.12.8+ quotes the value
        (["--legs", "four"], "invalid int value"),
        (["--legs", "4", "--wings"], "unrecognized arguments: --wings"),
        (["--legs", "4", "--output", "x.csv"], "need a FILE"),
        (["animals.csv", "--hair"], "not both"),
        (["animals.csv", "--json"], "not both"),
    ],
)
def test_bad_flags_are_usage_errors(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    status, out, err = run(args, capsys)
    assert status == 2
    assert out == ""
    assert message in err
    assert err.count("\n") == 1


# --- many animals ------------------------------------------------------------------------


def read_csv_output(text: str) -> list[dict[str, str]]:
    """CSV text as a list of rows."""
    return list(csv.DictReader(io.StringIO(text)))


def test_a_csv_file_is_predicted_to_csv_on_stdout(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = tmp_path / "animals.csv"
    source.write_text(animals_csv(), encoding="utf-8")
    status, out, err = run([str(source)], capsys)
    assert (status, err) == (0, "")
    rows = read_csv_output(out)
    assert list(rows[0]) == list(batch.OUTPUT_COLUMNS)
    assert [row[schema.NAME_COLUMN] for row in rows] == [row[0] for row in data_rows()]
    assert agreement({row["animal_name"]: row["class_name"] for row in rows}) > 0.9
    for row in rows:
        assert schema.CLASS_NAMES[int(row["class_code"])] == row["class_name"]
        assert 0 < float(row["probability"]) <= 1


def test_a_jsonl_file_is_predicted_to_jsonl(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = tmp_path / "animals.jsonl"
    source.write_text(animals_jsonl() + "\n", encoding="utf-8")  # a blank line at the end
    status, out, _ = run([str(source)], capsys)
    records = [json.loads(line) for line in out.splitlines()]
    assert status == 0
    assert len(records) == len(data_rows())
    assert agreement({r["animal_name"]: r["class_name"] for r in records}) > 0.9
    assert set(records[0]) == {
        "animal_name",
        "class_code",
        "class_name",
        "probability",
        "probabilities",
    }


def test_formats_convert_both_ways_and_agree(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "a.csv").write_text(animals_csv(), encoding="utf-8")
    (tmp_path / "a.jsonl").write_text(animals_jsonl(), encoding="utf-8")
    _, from_csv, _ = run([str(tmp_path / "a.csv"), "--output-format", "jsonl"], capsys)
    _, from_jsonl, _ = run([str(tmp_path / "a.jsonl"), "--output-format", "csv"], capsys)
    by_name = {r["animal_name"]: r["class_name"] for r in read_csv_output(from_jsonl)}
    assert by_name == {
        record["animal_name"]: record["class_name"]
        for record in map(json.loads, from_csv.splitlines())
    }


def test_rows_without_names_keep_their_order(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    lines = [json.dumps({"legs": 2, "feathers": 1}), json.dumps({"legs": 0, "fins": 1})]
    (tmp_path / "a.jsonl").write_text("\n".join(lines), encoding="utf-8")
    _, out, _ = run([str(tmp_path / "a.jsonl"), "--output-format", "csv"], capsys)
    rows = read_csv_output(out)
    assert [row["animal_name"] for row in rows] == ["", ""]
    _, jsonl, _ = run([str(tmp_path / "a.jsonl")], capsys)
    assert all("animal_name" not in json.loads(line) for line in jsonl.splitlines())


def test_output_goes_to_a_file_with_the_same_content(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "a.csv").write_text(animals_csv(), encoding="utf-8")
    _, on_stdout, _ = run([str(tmp_path / "a.csv")], capsys)
    status, out, _ = run([str(tmp_path / "a.csv"), "--output", str(tmp_path / "p.csv")], capsys)
    assert (status, out) == (0, "")
    assert (tmp_path / "p.csv").read_text(encoding="utf-8") == on_stdout
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp left


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_stdin_is_read_and_its_format_sniffed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    text = animals_csv() if fmt == "csv" else "\n  \n" + animals_jsonl()
    status, out, err = run(["-", "--output-format", "csv"], capsys, text, monkeypatch)
    assert (status, err) == (0, "")
    assert len(read_csv_output(out)) == len(data_rows())


def test_the_input_format_can_be_forced(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "animals.txt").write_text(animals_csv(), encoding="utf-8")
    status, _, err = run([str(tmp_path / "animals.txt")], capsys)
    assert status == 2
    assert "--input-format" in err
    status, out, _ = run([str(tmp_path / "animals.txt"), "--input-format", "csv"], capsys)
    assert status == 0
    assert len(read_csv_output(out)) == len(data_rows())


def test_chunks_stream_and_a_late_error_names_its_line() -> None:
    rows = [(n, {"legs": "4", "hair": "1"}) for n in range(2, 9)] + [(9, {"legs": "7"})]
    chunks = batch.validated_chunks(iter(rows), "big.csv", size=3)
    assert [len(next(chunks).names) for _ in range(2)] == [3, 3]  # read lazily, chunk by chunk
    with pytest.raises(UsageError, match=r"big\.csv line 9, column legs"):
        list(chunks)


# --- bad input ---------------------------------------------------------------------------

GOOD = ",".join(data_rows()[0][:-1])


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("a.csv", "", "empty input"),
        ("a.csv", HEADER + ",wings\n", "line 1: unknown column 'wings'"),
        ("a.csv", HEADER.replace(",legs", "") + "\n", "line 1: missing column(s) legs"),
        ("a.csv", HEADER + ",hair\n", "line 1: column 'hair' appears twice"),
        ("a.csv", f"{HEADER}\n{GOOD}\n{GOOD},1\n", "line 3: expected 17 fields"),
        (
            "a.csv",
            f"{HEADER}\n{GOOD}\n{GOOD.replace(',4,', ',3,')}\n",
            "line 3, column legs: legs must be one of 0, 2, 4, 5, 6, 8 (got '3')",
        ),
        (
            "a.csv",
            f"{HEADER}\n{GOOD.replace('aardvark,1', 'aardvark,2')}\n",
            "line 2, column hair: Input should be less than or equal to 1",
        ),
        (
            "a.csv",
            f"{HEADER}\n{GOOD.replace('aardvark,1', 'aardvark,')}\n",
            "line 2, column hair: Input should be a valid integer",
        ),
        ("a.csv", f'{HEADER}\n"aardvark{GOOD[8:]}\n', "line 2: malformed CSV"),
        ("a.jsonl", '{"legs": 4}\n{"legs": 4,\n', "a.jsonl line 2: invalid JSON"),
        ("a.jsonl", '{"legs": 4}\n[1, 2]\n', "line 2: expected a JSON object, found list"),
        ("a.jsonl", '{"legs": 4, "wings": 2}\n', "line 1, column wings: unknown column"),
        ("a.jsonl", '\n{"hair": 1}\n', "line 2, column legs: missing value"),
        ("a.jsonl", '{"legs": 4, "animal_name": 7}\n', "line 1, column animal_name"),
    ],
)
def test_bad_input_names_its_line_exits_2_and_writes_no_output(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str, content: str, message: str
) -> None:
    source = tmp_path / name
    source.write_text(content, encoding="utf-8")
    target = tmp_path / "out" / "predictions.csv"
    target.parent.mkdir()
    status, out, err = run([str(source), "--output", str(target)], capsys)
    assert status == 2
    assert out == ""
    assert err.startswith(f"sampleproject: error: {source}")
    assert message in err
    assert not list(target.parent.iterdir())  # neither the file nor a temporary one


def test_an_existing_output_file_is_untouched_on_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rows = data_rows()
    rows[50][13] = "9"  # legs of the 51st animal: line 52 with the header
    (tmp_path / "a.csv").write_text(animals_csv(rows), encoding="utf-8")
    (tmp_path / "p.csv").write_text("previous\n", encoding="utf-8")
    status, _, err = run([str(tmp_path / "a.csv"), "-o", str(tmp_path / "p.csv")], capsys)
    assert status == 2
    assert "line 52, column legs" in err
    assert (tmp_path / "p.csv").read_text(encoding="utf-8") == "previous\n"


def test_a_bad_stdin_row_is_reported_as_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    status, _, err = run(["-"], capsys, '{"legs": 4}\n{"legs": 1}\n', monkeypatch)
    assert status == 2
    assert "<stdin> line 2, column legs" in err


def test_input_that_is_not_utf8_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "a.csv").write_bytes(HEADER.encode() + b"\n\xff\xfe\n")
    status, _, err = run([str(tmp_path / "a.csv")], capsys)
    assert status == 2
    assert "is not UTF-8 text" in err


def test_a_missing_input_file_or_output_folder_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, _, err = run([str(tmp_path / "none.csv")], capsys)
    assert status == 2
    assert "cannot read" in err
    (tmp_path / "a.csv").write_text(animals_csv(), encoding="utf-8")
    status, _, err = run([str(tmp_path / "a.csv"), "-o", str(tmp_path / "no" / "p.csv")], capsys)
    assert status == 2
    assert "cannot write" in err


# --- the model ---------------------------------------------------------------------------


@pytest.fixture(name="damaged_model")
def damaged_model_fixture(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """A copy of the shipped model, tampered with or truncated (``request.param``)."""
    folder = Path(shutil.copytree(default_model_dir(), tmp_path / "model"))
    onnx = folder / "zoo.onnx"
    data = onnx.read_bytes()
    onnx.write_bytes(data[:-10] if request.param == "truncated" else b"\x00" + data[1:])
    return folder


@pytest.mark.parametrize("damaged_model", ["tampered", "truncated"], indirect=True)
def test_a_damaged_model_is_refused_in_one_line(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    damaged_model: Path,
    tmp_path: Path,
) -> None:
    status, out, err = run(["--legs", "4", "--model-dir", str(damaged_model)], capsys)
    assert (status, out) == (1, "")
    assert "does not match the SHA-256" in err
    assert err.count("\n") == 1
    # The environment variable selects the model too; a batch is refused before any output.
    monkeypatch.setenv(MODEL_DIR_ENV, str(damaged_model))
    (tmp_path / "a.csv").write_text(animals_csv(), encoding="utf-8")
    status, _, err = run([str(tmp_path / "a.csv"), "-o", str(tmp_path / "p.csv")], capsys)
    assert status == 1
    assert "refusing to load it" in err
    assert not (tmp_path / "p.csv").exists()


def test_verbose_logs_the_count(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(animals_csv(), encoding="utf-8")
    status, _, err = run(["-v", str(tmp_path / "a.csv")], capsys)
    assert status == 0
    assert f"predicted {len(data_rows())} animals" in err


# --- for real: the installed command -----------------------------------------------------


@pytest.mark.slow
def test_the_command_predicts_from_a_pipe(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(BIN / "sampleproject"), "predict", "-", "--output", str(tmp_path / "p.jsonl")],
        input=animals_csv(),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    records = (tmp_path / "p.jsonl").read_text(encoding="utf-8").splitlines()
    assert agreement({r["animal_name"]: r["class_name"] for r in map(json.loads, records)}) > 0.9


@pytest.mark.slow
def test_the_command_refuses_bad_input_with_status_2(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(f"{HEADER}\n{GOOD.replace(',4,', ',7,')}\n", encoding="utf-8")
    done = subprocess.run(
        [str(BIN / "sampleproject"), "predict", str(tmp_path / "a.csv"), "-o", str(tmp_path / "p")],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr == (
        f"sampleproject: error: {tmp_path / 'a.csv'} line 2, column legs: "
        "legs must be one of 0, 2, 4, 5, 6, 8 (got '7')\n"
    )
    assert not (tmp_path / "p").exists()
