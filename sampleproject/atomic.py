"""Write a file so that readers see either the old content or the complete new one.

``open(path, "w")`` truncates the target first: a crash, a full disk or Ctrl-C in the middle
leaves a half-written file behind, and a half-written model or prediction file looks like a
real one. :func:`atomic_write` writes to a temporary file in the target's folder instead,
flushes it to disk, and only then renames it over the target. A rename within one file
system is atomic (POSIX ``rename``, Windows ``MoveFileEx``), so nothing partial is ever visible.

What the target is decides what "replace" means, as a user expects it:

- a symbolic link: its target is replaced, and the link stays (a rename would replace the
  link itself with a file);
- a folder: refused at once (:class:`IsADirectoryError`), before anything is written;
- a FIFO, a terminal, ``/dev/null``: not a file to replace but a stream, written directly
  (renaming over ``/dev/null`` as root would replace the device).

Temporary files left behind: an exception or a signal turned into one (see
:mod:`sampleproject.streams`) removes its own, but ``kill -9`` cannot be caught. So each
writer holds a lock (``flock``) on its temporary file until the rename, and the next write
to the same target removes the temporary files that no process holds and that are older than
:data:`ABANDONED_AFTER_SECONDS` (a just-created file may not be locked yet). The kernel drops
a dead process's locks, so a live writer's file is never taken. Only the current user's
files, and only names this module makes (``.NAME.*.tmp``), are removed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Literal, overload

_fcntl: Any
try:
    import fcntl as _fcntl
except ImportError:  # Windows: no flock, so nothing is ever judged abandoned
    _fcntl = None

# Far longer than a writer takes between creating its temporary file and locking it.
ABANDONED_AFTER_SECONDS = 60.0
# The suffix of the folders that staging_folder makes (ours, when abandoned).
STAGING_SUFFIX = ".partial"


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
def _atomic_write(path: Path, mode: str, encoding: str) -> Iterator[IO[Any]]:
    text_encoding = None if "b" in mode else encoding
    kind = _kind(path)
    if kind == "folder":
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    if kind == "stream":
        with open(path, mode, encoding=text_encoding) as stream:  # noqa: PTH123 (a device)
            yield stream
        return
    target = Path(os.path.realpath(path))  # through symbolic links: the link stays
    remove_abandoned(target.parent, f".{target.name}.", ".tmp")
    # Same folder as the target: a rename across file systems would be a copy, not atomic.
    fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    temp = Path(temp_name)
    lock = _hold(os.dup(fd))  # locked until renamed: closing the file does not unlock it
    try:
        with os.fdopen(fd, mode, encoding=text_encoding) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())  # the data is on disk before the name points at it
        # mkstemp creates the file readable by its owner only; give it the usual permissions.
        temp.chmod(0o666 & ~_UMASK)
        temp.replace(target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    finally:
        _unlock(lock)


def _kind(path: Path) -> Literal["absent", "file", "folder", "stream"]:
    """What ``path`` is, through symbolic links."""
    try:
        found = path.stat()
    except FileNotFoundError:
        return "absent"  # or a link to nothing yet: its target will be created
    if stat.S_ISDIR(found.st_mode):
        return "folder"
    return "file" if stat.S_ISREG(found.st_mode) else "stream"


@contextlib.contextmanager
def staging_folder(parent: Path, prefix: str) -> Iterator[Path]:
    """A new, locked folder in ``parent`` to fill and then rename into place.

    Whatever is still at its name when the block ends (it was not renamed) is removed; a
    folder abandoned by a killed process is removed by the next ``staging_folder`` in
    ``parent`` (the rule of :func:`remove_abandoned`).
    """
    remove_abandoned(parent, ".", STAGING_SUFFIX)
    folder = Path(tempfile.mkdtemp(prefix=prefix, suffix=STAGING_SUFFIX, dir=parent))
    lock = None if _fcntl is None else _hold(os.open(folder, os.O_RDONLY))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)  # nothing there once it was renamed
        _unlock(lock)


def remove_abandoned(folder: Path, prefix: str, suffix: str) -> None:
    """Remove the files or folders ``prefix*suffix`` in ``folder`` that their writer abandoned.

    Abandoned: owned by this user, not locked by any process, and older than
    :data:`ABANDONED_AFTER_SECONDS`. Best effort: whatever cannot be checked stays.
    """
    if _fcntl is None:
        return
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        name = entry.name
        if name.startswith(prefix) and name.endswith(suffix) and len(name) > len(prefix + suffix):
            with contextlib.suppress(OSError):
                _remove_if_abandoned(entry)


def _remove_if_abandoned(entry: os.DirEntry[str]) -> None:
    found = entry.stat(follow_symlinks=False)
    is_folder = stat.S_ISDIR(found.st_mode)
    if not (is_folder or stat.S_ISREG(found.st_mode)) or found.st_uid != os.geteuid():
        return
    if time.time() - found.st_mtime < ABANDONED_AFTER_SECONDS:
        return
    fd = os.open(entry.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        _fcntl.flock(fd, _fcntl.LOCK_EX | _fcntl.LOCK_NB)  # BlockingIOError: its writer lives
        if os.fstat(fd).st_ino != found.st_ino:
            return
        if is_folder:
            shutil.rmtree(entry.path)
        else:
            Path(entry.path).unlink()
    finally:
        os.close(fd)


def _hold(fd: int) -> int | None:
    """``fd``, now holding an exclusive lock on its file (None without locks; fd closed).

    The lock belongs to the open file, not to one descriptor: a duplicate of the descriptor
    keeps it while the other is closed, until the duplicate is closed too.
    """
    if _fcntl is None:
        os.close(fd)
        return None
    # On a file system without locks this fails, and then nothing there is ever removed.
    with contextlib.suppress(OSError):
        _fcntl.flock(fd, _fcntl.LOCK_EX | _fcntl.LOCK_NB)
    return fd


def _unlock(held: int | None) -> None:
    if held is not None:
        os.close(held)


__all__ = ["atomic_write", "remove_abandoned", "staging_folder"]
