"""argparse, tuned for this command line: one-line usage errors, and a fast help formatter.

Imported only when argparse is really needed (help, options, commands, bad input): the
adder's common case, two numbers, is answered without argparse (see ``cli.main``).
"""

from __future__ import annotations

import argparse
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NoReturn


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but options match exactly, and a usage error is one line on stderr.

    No prefix abbreviations: ``--input`` must not quietly mean ``--input-format``, and a new
    option must not change what an old command line means.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

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
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens to stderr")


def add_model_options(parser: argparse.ArgumentParser, registry_note: str) -> None:
    """Where the model comes from: ``--model-dir DIR`` or ``--model REF``, not both."""
    model = parser.add_mutually_exclusive_group()
    model.add_argument(
        "--model-dir",
        metavar="DIR",
        help="folder with zoo.onnx and zoo.json (default: $SAMPLEPROJECT_MODEL_DIR, "
        "else the model shipped in the package)",
    )
    model.add_argument(
        "--model",
        metavar="REF",
        help="a version from the MLflow registry: models:/NAME@ALIAS or models:/NAME/VERSION "
        f"({registry_note})",
    )


def add_tracking_uri_option(parser: argparse.ArgumentParser) -> None:
    """``--tracking-uri``, which every command that talks to MLflow takes."""
    from sampleproject.inference.registry import DEFAULT_TRACKING_URI  # only for these commands

    parser.add_argument(
        "--tracking-uri",
        metavar="URI",
        help=f"MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else {DEFAULT_TRACKING_URI})",
    )


def add_registry_options(parser: argparse.ArgumentParser) -> None:
    """The options of the commands that move the champion alias (``promote``, ``rollback``)."""
    add_tracking_uri_option(parser)
    parser.add_argument("--reason", default="", help="why, recorded on the version")
