"""Tests of sampleproject.atomic: the target is complete or untouched, never partial."""

from __future__ import annotations

import os
import stat
import threading
import time
from pathlib import Path

import pytest

from sampleproject.atomic import (
    ABANDONED_AFTER_SECONDS,
    STAGING_SUFFIX,
    atomic_write,
    staging_folder,
)


class Boom(Exception):
    """Raised inside the ``with`` block to simulate a crash."""


def write_then_fail(target: Path, data: str | bytes, error: BaseException) -> None:
    """Write ``data`` (text or bytes) with ``atomic_write``, then raise ``error`` in the block."""
    if isinstance(data, str):
        with atomic_write(target) as text:
            text.write(data)
            raise error
    with atomic_write(target, "wb") as binary:
        binary.write(data)
        raise error


def test_text_write_creates_the_file(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    with atomic_write(target) as out:
        out.write("héllo\n")
    assert target.read_text(encoding="utf-8") == "héllo\n"
    assert list(tmp_path.iterdir()) == [target]


def test_binary_write_replaces_the_old_content(tmp_path: Path) -> None:
    target = tmp_path / "model.bin"
    target.write_bytes(b"old")
    with atomic_write(str(target), "wb") as out:
        out.write(b"\x00new")
    assert target.read_bytes() == b"\x00new"
    assert list(tmp_path.iterdir()) == [target]


def test_nothing_is_visible_before_the_block_ends(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old", encoding="utf-8")
    with atomic_write(target) as out:
        out.write("new")
        out.flush()
        assert target.read_text(encoding="utf-8") == "old"
    assert target.read_text(encoding="utf-8") == "new"


def test_an_exception_leaves_no_target_and_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    with pytest.raises(Boom):
        write_then_fail(target, "partial", Boom())
    assert not target.exists()
    assert not any(tmp_path.iterdir())


def test_an_exception_keeps_the_old_content(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt):
        write_then_fail(target, b"partial", KeyboardInterrupt())
    assert target.read_bytes() == b"old"
    assert list(tmp_path.iterdir()) == [target]


def test_the_file_gets_the_usual_permissions(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    with atomic_write(target) as out:
        out.write("x")
    umask = os.umask(0o022)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_missing_folder_is_an_error_and_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError), atomic_write(tmp_path / "no" / "out.txt"):
        pass
    assert not any(tmp_path.iterdir())


def test_an_unknown_mode_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="mode"):
        atomic_write(tmp_path / "x", "a")  # type: ignore[call-overload]
    assert not any(tmp_path.iterdir())


# --- What the target is (issue 23, item 10) --------------------------------------------


def test_a_symbolic_link_s_target_is_replaced_and_the_link_stays(tmp_path: Path) -> None:
    target = tmp_path / "real.txt"
    target.write_text("old", encoding="utf-8")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    with atomic_write(link) as out:
        out.write("new")
    assert link.is_symlink()
    assert target.read_text(encoding="utf-8") == "new"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["link.txt", "real.txt"]


def test_a_folder_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    with pytest.raises(IsADirectoryError), atomic_write(folder):
        pytest.fail("the block must not run")
    assert not any(folder.iterdir())
    assert list(tmp_path.iterdir()) == [folder]


def test_a_fifo_is_written_as_a_stream(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    read: list[bytes] = []
    reader = threading.Thread(target=lambda: read.append(fifo.read_bytes()))
    reader.start()
    with atomic_write(fifo, "wb") as out:
        out.write(b"streamed")
    reader.join(timeout=30)
    assert read == [b"streamed"]
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert list(tmp_path.iterdir()) == [fifo]


# --- Temporary files that a killed writer left (issue 23, item 10) ----------------------


def leftover(folder: Path, name: str, *, age: float) -> Path:
    """A file named as a temporary file of ours, last written ``age`` seconds ago."""
    path = folder / name
    path.write_text("half of something", encoding="utf-8")
    when = time.time() - age
    os.utime(path, (when, when))
    return path


def test_the_next_write_removes_what_a_killed_writer_left_and_nothing_else(
    tmp_path: Path,
) -> None:
    old = ABANDONED_AFTER_SECONDS + 60
    abandoned = leftover(tmp_path, ".out.txt.k1ll3d9x.tmp", age=old)
    young = leftover(tmp_path, ".out.txt.y0ung123.tmp", age=1)  # may not be locked yet
    other_target = leftover(tmp_path, ".other.txt.k1ll3d9x.tmp", age=old)
    not_ours = leftover(tmp_path, ".out.txt.notes", age=old)
    with atomic_write(tmp_path / "out.txt") as out:
        out.write("new")
    assert not abandoned.exists()
    assert all(path.exists() for path in (young, other_target, not_ours))


def test_a_live_writer_s_temporary_file_is_never_removed(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    with atomic_write(target) as slow:
        slow.write("slow writer")
        (temporary,) = tmp_path.glob(".out.txt.*.tmp")
        when = time.time() - ABANDONED_AFTER_SECONDS - 60  # as if it had written long ago
        os.utime(temporary, (when, when))
        with atomic_write(target) as fast:  # another writer of the same file, meanwhile
            fast.write("fast writer")
        assert temporary.exists()  # locked by its writer: kept
    assert target.read_text(encoding="utf-8") == "slow writer"  # the last to finish
    assert list(tmp_path.iterdir()) == [target]


def test_an_abandoned_staging_folder_is_removed_by_the_next_one(tmp_path: Path) -> None:
    abandoned = tmp_path / f".7-k1ll3d9x{STAGING_SUFFIX}"
    abandoned.mkdir()
    (abandoned / "zoo.json").write_text("{}", encoding="utf-8")
    when = time.time() - ABANDONED_AFTER_SECONDS - 60
    os.utime(abandoned, (when, when))
    with staging_folder(tmp_path, prefix=".8-") as staging:
        (staging / "zoo.json").write_text("{}", encoding="utf-8")
        staging.rename(tmp_path / "8")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["8"]
