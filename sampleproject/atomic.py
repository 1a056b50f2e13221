"""Write a file so that readers see either the old content or the complete new one.

``open(path, "w")`` truncates the target first: a crash, a full disk or Ctrl-C in the middle
leaves a half-written file behind, and a half-written model or prediction file looks like a
real one. :func:`atomic_write` writes to a temporary file in the target's folder instead,
flushes it to disk, and only then renames it over the target. A rename within one file
system is atomic (POSIX ``rename``, Windows ``MoveFileEx``), so nothing partial is ever visible.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Literal, overload


def _read_umask() -> int:
    # The only portable way to read the umask is to set it and put it back; done once, at
    # import, because the umask is process-wide and another thread could create a file meanwhile.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


@overload
def atomic_write(
    path: str | os.PathLike[str], mode: Literal["w"] = "w", *, encoding: str = "utf-8"
) -> contextlib.AbstractContextManager[IO[str]]: ...


@overload
def atomic_write(
    path: str | os.PathLike[str], mode: Literal["wb"], *, encoding: str = "utf-8"
) -> contextlib.AbstractContextManager[IO[bytes]]: ...


def atomic_write(
    path: str | os.PathLike[str], mode: Literal["w", "wb"] = "w", *, encoding: str = "utf-8"
) -> contextlib.AbstractContextManager[IO[str]] | contextlib.AbstractContextManager[IO[bytes]]:
    """Open ``path`` for writing; the file appears (or is replaced) only when the block succeeds.

    ``mode`` is ``"w"`` (text, ``encoding``) or ``"wb"`` (bytes). If the ``with`` block raises,
    the target is left as it was and the temporary file is removed::

        with atomic_write("model/zoo.json") as out:
            out.write(text)
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', not {mode!r}")
    return _atomic_write(Path(path), mode, encoding)


@contextlib.contextmanager
def _atomic_write(target: Path, mode: str, encoding: str) -> Iterator[IO[Any]]:
    # Same folder as the target: a rename across file systems would be a copy, not atomic.
    fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())  # the data is on disk before the name points at it
        # mkstemp creates the file readable by its owner only; give it the usual permissions.
        temp.chmod(0o666 & ~_UMASK)
        temp.replace(target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


__all__ = ["atomic_write"]
