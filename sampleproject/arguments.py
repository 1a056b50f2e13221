"""argparse, tuned for this command line: one-line usage errors, and a fast help formatter.

Imported only when argparse is really needed (help, options, commands, bad input): the
adder's common case, two numbers, is answered without argparse (see ``cli.main``).
"""

from __future__ import annotations

import argparse
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (argparse prints the usage too)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps our line breaks, and asks the terminal's width without importing shutil.

    argparse builds a formatter for every argument it adds, and without a width it imports
    shutil (and with it zlib, bz2 and lzma) to ask the terminal: a tenth of our start-up.
    """

    def __init__(self, prog: str) -> None:
        super().__init__(prog, width=_terminal_width())


def _terminal_width() -> int:
    try:
        return int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size().columns  # of stdout, as shutil would ask
    except OSError:
        return 80  # not a terminal (a pipe, a file, a test)


def add_verbose_option(parser: argparse.ArgumentParser) -> None:
    """The ``-v/--verbose`` switch that every command shares."""
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log what happens to stderr"
    )
