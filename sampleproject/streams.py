"""The files the commands read and write, as a user of a command line expects them.

- ``-`` is stdin as the input and stdout as the output.
- Input is UTF-8 text, with or without a byte-order mark; errors are one line (exit 2).
- An output file is written atomically (:mod:`sampleproject.atomic`): complete or not at all,
  a symbolic link's target replaced (the link stays), a FIFO or device written as a stream;
  a folder, or the input file itself, is refused before anything is read or predicted.
- SIGTERM, SIGHUP and SIGQUIT end a run as Ctrl-C does, so that nothing half-written stays.
"""

from __future__ import annotations

import io
import os
import signal
import stat
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO, TextIO

from sampleproject.errors import UsageError

# The signals whose default action ends the process at once (SIGINT is Ctrl-C's
# KeyboardInterrupt already); Windows has only SIGTERM of them.
_TERMINATING = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP", "SIGQUIT") if hasattr(signal, name)
)


@contextmanager
def open_input(file: str) -> Iterator[TextIO]:
    """``file`` as UTF-8 text ('-' = stdin); a decoding error becomes a one-line usage error."""
    # newline="" lets the csv module see the line endings, as its documentation asks;
    # utf-8-sig drops the byte-order mark that spreadsheets and Windows editors write.
    try:
        if file == "-":
            stream = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig", newline="")
        else:
            stream = Path(file).open(encoding="utf-8-sig", newline="")  # noqa: SIM115 (closed below)
    except OSError as error:
        raise UsageError(f"cannot read {file}: {error.strerror}") from None
    try:
        yield stream
    except UnicodeDecodeError:
        raise UsageError(f"{file} is not UTF-8 text") from None
    finally:
        if file != "-":
            stream.close()


@contextmanager
def open_output(path: str | None, source: IO[str]) -> Iterator[IO[str]]:
    """Where results go: stdout (no path, or ``-``), else ``path``, complete or not at all.

    ``source`` is the input being read: an output that is the same file is refused, since
    the results would replace what they were computed from.
    """
    if path is None or path == "-":
        yield sys.stdout
        return
    from sampleproject.atomic import atomic_write

    if _same_file(path, source):
        raise UsageError(
            f"--output {path} is the input file: the results would replace it; "
            "write them to another file"
        )
    if Path(path).is_dir():
        raise UsageError(f"--output {path} is a folder: give the name of a file to write")
    with ExitStack() as stack:
        try:
            out = stack.enter_context(atomic_write(path))
        except OSError as error:
            raise UsageError(f"cannot write {path}: {error.strerror}") from None
        yield out


def _same_file(path: str, source: IO[str]) -> bool:
    """Whether ``path`` (through links) is the regular file that ``source`` reads."""
    try:
        output, read = Path(path).stat(), os.fstat(source.fileno())
    except (OSError, ValueError):  # absent, or a stream without a descriptor
        return False
    same = (output.st_dev, output.st_ino) == (read.st_dev, read.st_ino)
    return same and stat.S_ISREG(output.st_mode)


@contextmanager
def termination_as_exit() -> Iterator[None]:
    """SIGTERM, SIGHUP and SIGQUIT end the run as Ctrl-C does: ``with`` blocks clean up.

    Their default action kills the process at once, which would leave a temporary output
    file behind; exiting with 128 + the signal's number keeps the shell's convention for
    "killed by". A signal that was ignored (``nohup`` ignores SIGHUP) stays ignored.
    """

    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = {number: signal.getsignal(number) for number in _TERMINATING}
    replaced = {
        number: handler
        for number, handler in previous.items()
        if handler is not None and handler is not signal.SIG_IGN  # None: not Python's own
    }
    for number in replaced:
        signal.signal(number, stop)
    try:
        yield
    finally:
        for number, handler in replaced.items():
            signal.signal(number, handler)
