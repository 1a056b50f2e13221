"""The ``sampleproject`` command: adds two numbers, and runs the model's subcommands.

``sampleproject 45 46`` must keep working as the seed defined it while ``train``, ``predict``
and ``serve`` live beside it. argparse subparsers cannot express "either a command name or
two numbers", so the first argument decides: a command name dispatches to that command, and
anything else is read as the adder's two numbers.

Speed: this module is imported on every run, so it imports only the standard library's
light modules. A command's module (and with it NumPy, ONNX Runtime or MLflow) is imported
only when that command runs; the adder never pays for the ML stack.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from sampleproject import __version__
from sampleproject.errors import SampleProjectError

# Importing typing costs milliseconds at every start; type checkers read these names anyway
# (mypy and pyright treat any constant named TYPE_CHECKING as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import NoReturn

PROG = "sampleproject"

# Command name -> (module, one-line summary). The summary lives here so that ``--help``
# can list every command without importing any of them. A command's module provides
# ``DESCRIPTION`` (its help text), ``configure(parser)`` (adds its arguments) and
# ``run(args) -> int`` (does the work, importing what it needs, and returns the exit status).
COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("sampleproject.commands.train", "train, evaluate, gate and export the Zoo model"),
    "predict": ("sampleproject.commands.predict", "predict the class of animals"),
    "serve": ("sampleproject.commands.serve", "serve predictions over HTTP"),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sampleproject`` console script and ``python -m sampleproject``."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        if args_list and args_list[0] in COMMANDS:
            return _run_command(args_list[0], args_list[1:])
        return _run_adder(args_list)
    except SampleProjectError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return 130  # the shell's convention for "stopped by Ctrl-C" (128 + SIGINT)
    except BrokenPipeError:
        # ``sampleproject predict big.csv | head`` closes our stdout early: not an error.
        _silence_stdout()
        return 0


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


def setup_logging(verbose: bool, argv: Sequence[str]) -> None:
    """Turn on logging to stderr (only when asked: importing logging costs start-up time)."""
    if not verbose:
        return
    import logging  # pylint: disable=import-outside-toplevel
    import socket  # pylint: disable=import-outside-toplevel

    logging.basicConfig(
        level=logging.DEBUG,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,  # we are the application: our settings win over any earlier ones
    )
    logging.getLogger(PROG).info("host %s, arguments %s", socket.gethostname(), list(argv))


def _adder_parser() -> argparse.ArgumentParser:
    commands = "\n".join(f"  {name:<9} {summary}" for name, (_, summary) in COMMANDS.items())
    parser = ArgumentParser(
        prog=PROG,
        usage=f"{PROG} [-h] [--version] [-v] X Y\n       {PROG} {{{','.join(COMMANDS)}}} ...",
        description="Add two numbers exactly: integers of any size, negatives and decimals.",
        epilog=(
            f"commands:\n{commands}\n\n"
            f"examples:\n  {PROG} 45 46           prints 91\n"
            f"  {PROG} 0.1 0.2         prints 0.3\n"
            f"  {PROG} -- -1e3 1       '--' ends the options, for numbers such as -1e3\n"
            f"  {PROG} predict --help  help on a command"
        ),
        formatter_class=HelpFormatter,
    )
    parser.add_argument("x", metavar="X", help="first number, e.g. 45, -5, 0.1 or 1e3")
    parser.add_argument("y", metavar="Y", help="second number")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    add_verbose_option(parser)
    return parser


def _run_adder(argv: list[str]) -> int:
    from sampleproject import adder  # pylint: disable=import-outside-toplevel

    parser = _adder_parser()
    args = parser.parse_args(argv)  # exits with status 2 and a usage line on bad arguments
    setup_logging(args.verbose, argv)
    try:
        x, y = adder.parse_number(args.x), adder.parse_number(args.y)
    except adder.InvalidNumberError as error:
        parser.error(str(error))
    total = adder.format_number(adder.add(x, y))
    if args.verbose:
        import logging  # pylint: disable=import-outside-toplevel

        logging.getLogger(PROG).info("inputs %s and %s, result %s", x, y, total)
    print(total)
    return 0


def _run_command(name: str, argv: list[str]) -> int:
    module_name, summary = COMMANDS[name]
    command = importlib.import_module(module_name)
    parser = ArgumentParser(
        prog=f"{PROG} {name}",
        description=getattr(command, "DESCRIPTION", summary),
        formatter_class=HelpFormatter,
    )
    add_verbose_option(parser)
    command.configure(parser)
    args = parser.parse_args(argv)
    setup_logging(args.verbose, [name, *argv])
    return int(command.run(args))


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not complain."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
