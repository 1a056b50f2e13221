"""``predict -o`` when things go wrong for real: a full disk, a signal mid-way, ``kill -9``."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sampleproject.atomic import ABANDONED_AFTER_SECONDS
from tests.conftest import BIN, tmpfs
from tests.test_predict import animals_csv, data_rows

pytestmark = pytest.mark.slow

PREDICT = [str(BIN / "sampleproject"), "predict"]


def many_animals(count: int) -> str:
    """A CSV of ``count`` animals (the shipped ones, over and over)."""
    rows = data_rows()
    return animals_csv([rows[number % len(rows)] for number in range(count)])


@pytest.fixture(name="tiny_disk")
def tiny_disk_fixture(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs (needs root), unmounted after the test."""
    with tmpfs(tmp_path / "tiny", "64k") as folder:
        yield folder


def predict_file(folder: Path, animals: int, output: Path) -> subprocess.CompletedProcess[str]:
    """``predict FOLDER/animals.csv -o OUTPUT``, with that many animals in the file."""
    source = folder / "animals.csv"
    source.write_text(many_animals(animals), encoding="utf-8")
    return subprocess.run(
        [*PREDICT, str(source), "-o", str(output)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_a_full_disk_is_one_line_a_failure_and_no_file(tmp_path: Path, tiny_disk: Path) -> None:
    # About 600 KB of predictions.
    result = predict_file(tmp_path, 20_000, tiny_disk / "predictions.csv")
    assert result.returncode == 1
    assert result.stderr == (
        f"sampleproject: error: cannot write {tiny_disk / 'predictions.csv'}: "
        "No space left on device\n"
    )
    assert not list(tiny_disk.iterdir())  # neither the file nor a temporary one


def start_half_way(out: Path) -> subprocess.Popen[bytes]:
    """``predict - -o out/predictions.csv``, once it has written part of its output and waits
    for the rest of its input."""
    text = many_animals(50_000).encode()
    process = subprocess.Popen(  # pylint: disable=consider-using-with
        [*PREDICT, "-", "-o", str(out / "predictions.csv")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdin is not None
    # Half the input: the process has chunks predicted and written, and waits for more.
    process.stdin.write(text[: len(text) // 2])
    process.stdin.flush()
    deadline = time.monotonic() + 60
    while not any(path.stat().st_size > 0 for path in out.iterdir()):
        assert process.poll() is None
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return process


@pytest.mark.parametrize(
    ("signum", "status"),
    [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGQUIT, 131)],
)
def test_a_signal_in_the_middle_leaves_no_file_and_no_traceback(
    tmp_path: Path, signum: signal.Signals, status: int
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    process = start_half_way(out)
    process.send_signal(signum)
    # Wait with stdin still open: closing it first (communicate does) could let a busy process
    # read end-of-file, and so a cut last line, before it handles the signal.
    process.wait(timeout=30)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == status
    assert "Traceback" not in stderr.decode()
    assert stdout == b""
    assert not list(out.iterdir())  # neither the file nor a temporary one


def test_what_kill_9_leaves_is_removed_by_the_next_write_of_that_file(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    process = start_half_way(out)
    process.kill()  # SIGKILL: nothing can clean up
    process.communicate(timeout=30)
    (left,) = out.iterdir()
    assert left.name.startswith(".predictions.csv.")
    assert left.name.endswith(".tmp")
    # The next write removes it once it is older than a minute (younger, it may belong to a
    # writer that has not locked it yet): age it rather than wait.
    when = time.time() - ABANDONED_AFTER_SECONDS - 60
    os.utime(left, (when, when))
    done = predict_file(tmp_path, 10, out / "predictions.csv")
    assert done.returncode == 0, done.stderr
    assert [path.name for path in out.iterdir()] == ["predictions.csv"]
