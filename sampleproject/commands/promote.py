"""``sampleproject promote``: make a registered version the champion, if it earns it.

Like ``train``, it needs the training stack (it cross-validates); the standard library is
all this module imports until :func:`run`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sampleproject.arguments import add_registry_options
from sampleproject.inference.registry import CHAMPION, REGISTERED_MODEL
from sampleproject.training.prerequisites import packaged_inputs, require_training_stack

DESCRIPTION = f"""\
Move the MLflow registry alias '{CHAMPION}' of {REGISTERED_MODEL} to VERSION (default: the
newest) when its recipe passes the quality gate and its cross-validated macro F1 is at
least the champion's, both evaluated now on the same data, folds and seed. A refused
promotion prints both figures and exits 1. The move (who, when, why) is recorded on the
version. Deployments that serve models:/{REGISTERED_MODEL}@{CHAMPION} pick it up on reload.

Promotions and rollbacks run at once are safe: the alias is moved under a lock that the
registry holds, and only when the champion compared with is still the champion.

Needs the training stack, the wheel's train extra:
pip install 'sampleproject-VERSION-py3-none-any.whl[train]'."""


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the command's options."""
    parser.add_argument("version", nargs="?", metavar="VERSION", help="default: the newest")
    add_registry_options(parser)
    parser.add_argument(
        "--data", type=Path, metavar="PATH", help="evaluation data (default: shipped)"
    )
    parser.add_argument(
        "--config", type=Path, metavar="PATH", help="folds, seed and gate (default: shipped)"
    )


def run(args: argparse.Namespace) -> int:
    """Evaluate, decide, move the alias; print the decision."""
    require_training_stack()
    from sampleproject.training import promotion
    from sampleproject.training.config import load_config
    from sampleproject.training.data import load_dataset
    from sampleproject.training.tracking import one_line_errors, resolve_tracking_uri

    with packaged_inputs() as (default_data, default_config):
        config = load_config(args.config or default_config)
        dataset = load_dataset(args.data or default_data)
    uri = resolve_tracking_uri(args.tracking_uri)
    with one_line_errors(uri):
        client = promotion.registry_client(uri)
        decision = promotion.promote(
            client, args.version or promotion.latest_version(client), config, dataset, args.reason
        )
    print(f"{CHAMPION} is now version {decision.candidate}: {decision.summary()}")
    return 0
