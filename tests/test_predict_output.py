"""``predict --output`` does what a user expects of whatever the path is.

The input itself (by name, through a link, or as stdin) is refused: the predictions would
replace the animals. A folder is refused before anything is predicted (exit 2, one line).
``-`` is stdout, a symbolic link's target gets the predictions (the link stays), and a FIFO
is written as the stream it is (issue 23, item 10; issue 24's ``predict -o DIR``).
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from sampleproject import cli
from sampleproject.inference.model import MODEL_DIR_ENV, default_model_dir
from tests.conftest import require
from tests.test_predict import animals_csv

TIMEOUT = 60


@pytest.fixture(autouse=True)
def _shipped_model(monkeypatch: pytest.MonkeyPatch) -> None:
    require((default_model_dir() / "zoo.json").exists(), "no trained model: run `make train`")
    monkeypatch.delenv(MODEL_DIR_ENV, raising=False)


@pytest.fixture(name="animals")
def animals_fixture(tmp_path: Path) -> Path:
    """The shipped animals, as a CSV file in a folder of its own."""
    source = tmp_path / "animals.csv"
    source.write_text(animals_csv(), encoding="utf-8")
    return source


def predict(
    *args: str | Path, cwd: Path, stdin: int | None = None
) -> subprocess.CompletedProcess[str]:
    """``sampleproject predict ARGS`` in a process of its own."""
    return subprocess.run(
        [sys.executable, "-m", "sampleproject", "predict", *map(str, args)],
        cwd=cwd,
        stdin=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=TIMEOUT,
    )


@pytest.fixture(name="expected", scope="module")
def expected_fixture(tmp_path_factory: pytest.TempPathFactory) -> str:
    """What ``predict`` writes on stdout for the animals."""
    folder = tmp_path_factory.mktemp("expected")
    (folder / "animals.csv").write_text(animals_csv(), encoding="utf-8")
    done = predict(folder / "animals.csv", cwd=folder)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("how", ["its name", "a symbolic link", "a hard link", "stdin from it"])
def test_an_output_that_is_the_input_is_refused_and_the_input_kept(
    animals: Path, tmp_path: Path, how: str
) -> None:
    before = animals.read_bytes()
    output = animals
    if how == "a symbolic link":
        output = tmp_path / "link.csv"
        output.symlink_to(animals)
    elif how == "a hard link":
        output = tmp_path / "hard.csv"
        os.link(animals, output)
    if how == "stdin from it":
        with animals.open("rb") as stdin:
            done = predict("-", "-o", output, cwd=tmp_path, stdin=stdin.fileno())
    else:
        done = predict(animals, "-o", output, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == (
        f"sampleproject: error: --output {output} is the input file: the results would "
        "replace it; write them to another file\n"
    )
    assert done.stdout == ""
    assert animals.read_bytes() == before
    assert not list(tmp_path.glob(".*.tmp"))


def test_an_output_folder_is_refused_before_anything_is_predicted(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    # The input never ends: only a refusal before the rows are read can answer in time.
    with subprocess.Popen(
        [sys.executable, "-m", "sampleproject", "predict", "-", "-o", str(folder)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdin is not None
        lines = animals_csv().splitlines(keepends=True)
        process.stdin.write("".join(lines[:3]))
        process.stdin.flush()
        try:
            status = process.wait(timeout=TIMEOUT)
        finally:
            process.kill()
        out, err = process.communicate()
    assert status == 2
    assert err == (
        f"sampleproject: error: --output {folder} is a folder: give the name of a file to write\n"
    )
    assert out == ""
    assert not list(folder.iterdir())


def test_an_output_dash_is_stdout(animals: Path, tmp_path: Path, expected: str) -> None:
    done = predict(animals, "-o", "-", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == expected
    assert not (tmp_path / "-").exists()


@pytest.mark.parametrize("target_exists", [True, False])
def test_an_output_link_writes_its_target_and_stays_a_link(
    animals: Path, tmp_path: Path, target_exists: bool, expected: str
) -> None:
    (tmp_path / "runs").mkdir()
    target = tmp_path / "runs" / "predictions.csv"
    if target_exists:
        target.write_text("last month's predictions\n", encoding="utf-8")
    link = tmp_path / "latest.csv"
    link.symlink_to(target)
    done = predict(animals, "-o", link, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert link.is_symlink()
    assert link.readlink() == target
    assert target.read_text(encoding="utf-8") == expected
    assert sorted(path.name for path in (tmp_path / "runs").iterdir()) == ["predictions.csv"]


def test_an_output_fifo_is_written_as_a_stream(
    animals: Path, tmp_path: Path, expected: str
) -> None:
    fifo = tmp_path / "predictions.fifo"
    os.mkfifo(fifo)
    with subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE, text=True) as reader:
        try:
            done = predict(animals, "-o", fifo, "--output-format", "csv", cwd=tmp_path)
            read, _ = reader.communicate(timeout=TIMEOUT)
        finally:
            reader.kill()
    assert done.returncode == 0, done.stderr
    assert read == expected
    assert stat.S_ISFIFO(fifo.lstat().st_mode)  # still the FIFO, not a file in its place
    assert sorted(path.name for path in tmp_path.iterdir()) == ["animals.csv", "predictions.fifo"]


def test_the_refusals_are_the_same_in_process(
    animals: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # As the subprocess tests above, without a process: what a caller of cli.main gets.
    assert cli.main(["predict", str(animals), "-o", str(tmp_path)]) == 2
    assert cli.main(["predict", str(animals), "-o", str(animals)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        f"sampleproject: error: --output {tmp_path} is a folder: give the name of a file to write",
        f"sampleproject: error: --output {animals} is the input file: the results would "
        "replace it; write them to another file",
    ]
