"""Tests of sampleproject.atomic: the target is complete or untouched, never partial."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sampleproject.atomic import atomic_write


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
