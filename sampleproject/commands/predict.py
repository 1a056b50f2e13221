"""``sampleproject predict``: the class of one animal from flags, or of many from a file.

One animal::

    sampleproject predict --hair --milk --legs 4 --tail        # prints e.g. "mammal 0.98"

Many animals, CSV or JSON Lines, from a file or stdin (``-``), to stdout or ``--output``::

    sampleproject predict animals.csv --output predictions.csv
    cat animals.jsonl | sampleproject predict - --output-format csv
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from sampleproject import features
from sampleproject.arguments import add_model_options
from sampleproject.errors import SampleProjectError, UsageError
from sampleproject.formats import FORMATS, detect_format, format_of

if TYPE_CHECKING:
    from sampleproject.inference.predictor import Predictor
    from sampleproject.inference.session import Session


DESCRIPTION = """\
Predict the class of animals with the shipped model (ONNX Runtime), a model
folder (--model-dir) or a version from the MLflow registry (--model).

One animal: give its features as flags, e.g. --hair --milk --legs 4 --tail;
prints the class name and its probability. Flags not given are 0 (false).

Many animals: give a CSV or JSON Lines FILE ('-' reads stdin). A CSV file has a
header row with the 16 feature columns and optionally animal_name; a JSON Lines
file has one object per line with the same keys (flags left out are 0). Other
columns (an id, the training data's type) are refused unless --ignore-columns
names them. UTF-8 with or without a byte-order mark, LF or CRLF line ends. The
predictions are written as CSV or JSON Lines, in input order."""


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``predict``."""
    parser.add_argument(
        "file", nargs="?", metavar="FILE", help="CSV or JSON Lines file of animals ('-' = stdin)"
    )
    one = parser.add_argument_group("one animal (instead of FILE)")
    for name in (*features.BOOLEAN_FEATURES, *features.TRAILING_BOOLEAN_FEATURES):
        one.add_argument(f"--{name}", action="store_true", help=f"{name} = 1")
    one.add_argument(
        "--legs", type=int, choices=features.LEG_COUNTS, help="number of legs (required)"
    )
    one.add_argument(
        "--json", action="store_true", help="print a JSON object with every class's probability"
    )
    many = parser.add_argument_group("many animals (FILE)")
    many.add_argument(
        "--input-format", choices=FORMATS, help="default: from FILE's extension or content"
    )
    many.add_argument(
        "--output-format",
        choices=FORMATS,
        help="default: from --output's extension, else the input's format",
    )
    many.add_argument(
        "-o", "--output", metavar="PATH", help="write here, complete or not at all ('-' = stdout)"
    )
    many.add_argument(
        "--ignore-columns",
        metavar="NAMES",
        type=_column_names,
        default=frozenset(),
        help="comma-separated columns to ignore, e.g. id,type (default: refuse unknown columns)",
    )
    add_model_options(parser, "$MLFLOW_TRACKING_URI names the server; fetched models are cached")


def run(args: argparse.Namespace) -> int:
    """Predict one animal or a file of them."""
    flags = [name for name in features.FEATURES if name != "legs" and getattr(args, name)]
    if args.file is None:
        if args.legs is None:
            raise UsageError("give --legs N for one animal, or a FILE of animals")
        if args.input_format or args.output_format or args.output or args.ignore_columns:
            raise UsageError(
                "--input-format, --output-format, --output and --ignore-columns need a FILE"
            )
        return _predict_one(args, flags)
    if flags or args.legs is not None or args.json:
        raise UsageError("give either a FILE or one animal's flags, not both")
    return _predict_file(args)


def _load(args: argparse.Namespace, threads: int = 0) -> Predictor:
    from sampleproject.inference.predictor import ModelSource

    return ModelSource(args.model, args.model_dir, threads=threads).load().predictor


def _predict_one(args: argparse.Namespace, flags: list[str]) -> int:
    import json

    # argparse checked the values (flags 0/1, legs among the counts): no pydantic needed.
    row = [args.legs if name == "legs" else int(name in flags) for name in features.FEATURES]
    # One row: a single thread starts faster than ONNX Runtime's pool.
    session = _open_quickly(args, threads=1) or _load(args, threads=1)
    record = session.records(session.predict([row]))[0]
    if args.json:
        print(json.dumps(record))
    else:
        print(f"{record['class_name']} {record['probability']:.2f}")
    return 0


def _open_quickly(args: argparse.Namespace, threads: int) -> Session | None:
    """The model folder's session without importing pydantic, when that is sure to be right."""
    if args.model:
        return None  # a registry reference: fetched and checked the usual way
    from sampleproject.inference.quick import plain_session

    return plain_session(args.model_dir, threads)


def _predict_file(args: argparse.Namespace) -> int:
    from sampleproject.streams import termination_as_exit

    predictor = _load(args)  # first: a broken model is reported before any input is read
    source = "<stdin>" if args.file == "-" else args.file
    try:
        with termination_as_exit():
            count = _predict_file_to(args, predictor, source)
    except BrokenPipeError:
        raise  # stdout closed by its reader: the CLI ends quietly
    except OSError as error:  # a full disk or a failing device, while writing
        target = args.output or "<stdout>"
        raise SampleProjectError(f"cannot write {target}: {error.strerror}") from None
    if args.verbose:
        import logging

        logging.getLogger(__name__).info("predicted %d animals from %s", count, source)
    return 0


def _predict_file_to(args: argparse.Namespace, predictor: Predictor, source: str) -> int:
    from sampleproject.inference import batch
    from sampleproject.streams import open_input, open_output

    with open_input(args.file) as stream:
        in_format, lines = detect_format(args.file, args.input_format, stream)
        # Checked before any row is predicted; the file appears only if every row was.
        with open_output(args.output, stream) as out:
            out_format = args.output_format or format_of(args.output) or in_format
            writer = batch.make_writer(out_format, out, predictor)
            return batch.predict_stream(
                lines, source, in_format, writer, predictor, ignore=args.ignore_columns
            )


def _column_names(text: str) -> frozenset[str]:
    return frozenset(name.strip() for name in text.split(",") if name.strip())
