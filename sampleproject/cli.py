"""The ``sampleproject`` command: adds two numbers, and runs the model's subcommands.

``sampleproject 45 46`` must keep working as the seed defined it while ``train``, ``predict``
and ``serve`` live beside it. argparse subparsers cannot express "either a command name or
two numbers", so the first argument decides: a command name dispatches to that command, and
anything else is read as the adder's two numbers.

Speed: this module is imported on every run, so it imports almost nothing. Two numbers are
added without even argparse; argparse comes in for help, options, commands and errors, and a
command's module (and with it NumPy, ONNX Runtime or MLflow) only when that command runs.
"""

from __future__ import annotations

import importlib
import os
import sys

from sampleproject import __version__
from sampleproject.errors import SampleProjectError

# Importing typing costs milliseconds at every start; type checkers read these names anyway
# (mypy and pyright treat any constant named TYPE_CHECKING as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

PROG = "sampleproject"

# Command name -> (module, one-line summary). The summary lives here so that ``--help``
# can list every command without importing any of them. A command's module provides
# ``DESCRIPTION`` (its help text), ``configure(parser)`` (adds its arguments) and
# ``run(args) -> int`` (does the work, importing what it needs, and returns the exit status).
COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("sampleproject.commands.train", "train, evaluate, gate and export the Zoo model"),
    "predict": ("sampleproject.commands.predict", "predict the class of animals"),
    "serve": ("sampleproject.commands.serve", "serve predictions over HTTP"),
    "promote": ("sampleproject.commands.promote", "make a registered model version the champion"),
    "rollback": ("sampleproject.commands.rollback", "point the champion back at a version"),
    "drift": ("sampleproject.commands.drift", "compare the model's inputs with its training data"),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sampleproject`` console script and ``python -m sampleproject``."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        if args_list and args_list[0] in COMMANDS:
            return _run_command(args_list[0], args_list[1:])
        total = _add_two_numbers(args_list)
        if total is not None:
            print(total)
            return 0
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


def setup_logging(verbose: bool, argv: Sequence[str]) -> None:
    """Turn on logging to stderr (only when asked: importing logging costs start-up time)."""
    if not verbose:
        return
    import logging
    import socket

    logging.basicConfig(
        level=logging.DEBUG,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,  # we are the application: our settings win over any earlier ones
    )
    logging.getLogger(PROG).info("host %s, arguments %s", socket.gethostname(), list(argv))


def _add_two_numbers(argv: list[str]) -> str | None:
    """The adder's common case, exactly two numbers, answered without argparse.

    argparse (with re, enum and gettext) costs more start-up time than the rest of the
    program. Anything else (options, help, a bad number, a wrong count) returns None and goes
    through argparse, which gives the usual answers and error messages.
    """
    try:
        x, y = argv
    except ValueError:
        return None
    from sampleproject import adder

    try:
        return adder.add_texts(x, y)
    except adder.InvalidNumberError:
        return None


def _adder_parser() -> argparse.ArgumentParser:
    from sampleproject.arguments import ArgumentParser, HelpFormatter, add_verbose_option

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
    # Optional for argparse, required below: argparse checks required arguments before it
    # names unknown options, and `sampleproject --frobnicate` must hear about the option.
    parser.add_argument("x", metavar="X", nargs="?", help="first number, e.g. 45, -5, 0.1 or 1e3")
    parser.add_argument("y", metavar="Y", nargs="?", help="second number")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    add_verbose_option(parser)
    return parser


def _run_adder(argv: list[str]) -> int:
    from sampleproject import adder

    parser = _adder_parser()
    args = parser.parse_args(argv)  # exits with status 2 and a usage line on bad arguments
    missing = [name for name, value in (("X", args.x), ("Y", args.y)) if value is None]
    if missing:
        parser.error(f"the following arguments are required: {', '.join(missing)}")
    setup_logging(args.verbose, argv)
    try:
        total = adder.add_texts(args.x, args.y)
    except adder.InvalidNumberError as error:
        parser.error(str(error))
    if args.verbose:
        import logging

        logging.getLogger(PROG).info("inputs %s and %s, result %s", args.x, args.y, total)
    print(total)
    return 0


def _run_command(name: str, argv: list[str]) -> int:
    from sampleproject.arguments import ArgumentParser, HelpFormatter, add_verbose_option

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
    from sampleproject import private_dirs

    with private_dirs.for_command(name):
        return int(command.run(args))


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not complain."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
