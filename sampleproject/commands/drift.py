"""``sampleproject drift``: has what the model sees moved away from its training data?

Compares value counts (of a file of animals, or of a Prometheus scrape of ``serve``) with the
training distribution recorded in the model's metadata, and reports the Population
Stability Index (PSI) of every feature and of the predicted classes::

    sampleproject drift animals.csv                          # a batch of inputs
    sampleproject drift --metrics http://127.0.0.1:8000/metrics --plot drift.png
    sampleproject drift --write-rules training-distribution.yml   # for Prometheus' alerts

Exit status: 0 when every PSI is at most the threshold, 1 when one is above, 2 when drift
could not be measured (bad arguments or input, no model, or a model without the training
distribution).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from sampleproject.arguments import add_model_options
from sampleproject.errors import SampleProjectError, UsageError

if TYPE_CHECKING:
    from sampleproject.inference.model import TrainingDistribution
    from sampleproject.inference.predictor import Predictor
    from sampleproject.monitoring.drift import DriftReport, Observed

DESCRIPTION = """\
Measure drift: compare the model's inputs with its training data, feature by
feature, with the Population Stability Index (PSI). PSI below 0.1: stable;
0.1 to 0.25: a moderate shift; above 0.25: a significant shift.

The inputs are a CSV or JSON Lines FILE of animals (the formats of 'predict';
'-' reads stdin; the animals are predicted too, to compare the predicted
classes), or --metrics: the /metrics of a running 'sampleproject serve' (a URL,
or a file saved from it), whose counters hold every input since it started.

Exit status: 0 no PSI above --threshold, 1 drift above it, 2 drift could not be
measured (bad arguments or input, no model or no training distribution)."""

DEFAULT_THRESHOLD = 0.25


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``drift``."""
    parser.add_argument(
        "file", nargs="?", metavar="FILE", help="CSV or JSON Lines file of animals ('-' = stdin)"
    )
    parser.add_argument(
        "--metrics",
        metavar="URL|FILE",
        help="a scrape of serve's metrics instead of FILE: http(s)://host:port/metrics, or a file",
    )
    parser.add_argument(
        "--input-format", choices=("csv", "jsonl"), help="FILE's format (default: as predict)"
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=DEFAULT_THRESHOLD,
        metavar="PSI",
        help="exit 1 when a PSI is above this (default: %(default)s, a significant shift)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--plot", type=Path, metavar="PNG", help="also draw the distributions (needs matplotlib)"
    )
    parser.add_argument(
        "--write-rules",
        type=Path,
        metavar="FILE",
        help="write Prometheus recording rules with the training proportions (for the drift "
        "alerts) and exit; no FILE or --metrics",
    )
    add_model_options(parser, "the one serve serves, to compare with its training data")


def run(args: argparse.Namespace) -> int:
    """Measure and report drift; or write the recording rules."""
    _check(args)
    try:
        return _run(args)
    except UsageError:
        raise
    except SampleProjectError as error:
        # Exit status 1 means "drift": a failure to measure (a broken model) is not one.
        raise UsageError(str(error)) from None


def _check(args: argparse.Namespace) -> None:
    given = [bool(args.file), bool(args.metrics), bool(args.write_rules)]
    if sum(given) != 1:
        raise UsageError("give one of FILE, --metrics URL|FILE or --write-rules FILE")
    if args.input_format and not args.file:
        raise UsageError("--input-format needs a FILE")
    if args.write_rules and (args.plot or args.json):
        raise UsageError("--write-rules writes rules only: no --plot or --json")
    if not args.threshold > 0:
        raise UsageError(f"--threshold must be above 0, not {args.threshold}")
    for option, path in (("--plot", args.plot), ("--write-rules", args.write_rules)):
        if path and not path.parent.is_dir():
            raise UsageError(f"{option} {path}: no such folder {path.parent}")
    if args.plot:
        from sampleproject.monitoring.plot import check_available

        check_available()  # before any work: a missing matplotlib is said first


def _run(args: argparse.Namespace) -> int:
    from sampleproject.inference.location import train_hint
    from sampleproject.inference.predictor import ModelSource
    from sampleproject.monitoring import drift

    # The model verified and loaded, as predict and serve load it: the reference is the
    # metadata of exactly the model that answers (and a FILE's animals are predicted by it).
    model = ModelSource(args.model, args.model_dir).load()
    reference = model.predictor.metadata.training_distribution
    if reference is None:
        raise UsageError(
            f"the model {model.source} has no training distribution in its metadata: "
            f"it needs a model trained by this version ({train_hint()})"
        )
    class_names = model.predictor.class_names
    if args.write_rules:
        return _write_rules(args.write_rules, reference, class_names)
    observed = _observe(args, model.predictor) if args.file else _scrape(args.metrics)
    report = drift.compare(reference, class_names, observed)
    if args.plot:
        from sampleproject.monitoring.plot import write_plot

        write_plot(report, args.plot, args.threshold)
    print(_json(report, args.threshold) if args.json else _table(report, args.threshold))
    return 1 if report.above(args.threshold) else 0


def _write_rules(path: Path, reference: TrainingDistribution, class_names: tuple[str, ...]) -> int:
    from sampleproject.atomic import atomic_write
    from sampleproject.monitoring.rules import recording_rules

    try:
        with atomic_write(path) as file:
            file.write(recording_rules(reference, class_names))
    except OSError as error:
        raise UsageError(f"cannot write {path}: {error.strerror}") from None
    return 0


def _observe(args: argparse.Namespace, predictor: Predictor) -> Observed:
    from sampleproject.formats import detect_format
    from sampleproject.monitoring.sources import observe_file
    from sampleproject.streams import open_input

    source = "<stdin>" if args.file == "-" else args.file
    with open_input(args.file) as stream:
        fmt, lines = detect_format(args.file, args.input_format, stream)
        return observe_file(lines, source, fmt, predictor)


def _scrape(location: str) -> Observed:
    from sampleproject.monitoring.sources import observe_scrape, read_scrape

    return observe_scrape(read_scrape(location), location)


def _table(report: DriftReport, threshold: float) -> str:
    from sampleproject.monitoring import psi

    above = report.above(threshold)
    lines = [
        f"{report.animals} animals from {report.source} against {report.training_rows} "
        "training rows: Population Stability Index (PSI) per feature",
        f"{'feature':<16}{'PSI':>8}  level",
    ]
    for shift in report.shifts:
        mark = "  above the threshold" if shift in above else ""
        lines.append(f"{shift.name:<16}{shift.psi:>8.3f}  {psi.level(shift.psi)}{mark}")
    if above:
        names = ", ".join(shift.name for shift in above)
        lines.append(f"drift: {len(above)} above the threshold {threshold:g} ({names})")
    else:
        lines.append(f"no drift: every PSI is at most the threshold {threshold:g}")
    return "\n".join(lines)


def _json(report: DriftReport, threshold: float) -> str:
    import json

    return json.dumps(
        {
            "source": report.source,
            "animals": report.animals,
            "training_rows": report.training_rows,
            "threshold": threshold,
            "psi": {shift.name: round(shift.psi, 6) for shift in report.shifts},
            "above_threshold": [shift.name for shift in report.above(threshold)],
        }
    )
