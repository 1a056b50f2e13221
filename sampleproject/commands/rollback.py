"""``sampleproject rollback VERSION``: point the champion alias back at an earlier version."""

from __future__ import annotations

import argparse

from sampleproject.arguments import add_registry_options
from sampleproject.inference.registry import CHAMPION, REGISTERED_MODEL
from sampleproject.training.prerequisites import require_training_stack

DESCRIPTION = f"""\
Move the MLflow registry alias '{CHAMPION}' of {REGISTERED_MODEL} back to VERSION at once,
without evaluation (it earned its place before). The move (who, when, why) is recorded on
the version; deployments serving the alias pick it up on reload (SIGHUP). A promotion running
at the same time compares itself with VERSION before it moves the alias."""


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the command's options."""
    parser.add_argument("version", metavar="VERSION", help="the version to serve again")
    add_registry_options(parser)


def run(args: argparse.Namespace) -> int:
    """Move the alias; print what it pointed at before."""
    require_training_stack()
    from sampleproject.training import promotion
    from sampleproject.training.tracking import one_line_errors, resolve_tracking_uri

    uri = resolve_tracking_uri(args.tracking_uri)
    with one_line_errors(uri):
        previous = promotion.rollback(promotion.registry_client(uri), args.version, args.reason)
    print(f"{CHAMPION} is now version {args.version} (was {previous})")
    return 0
