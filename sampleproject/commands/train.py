"""``sampleproject train``: train, evaluate, gate, export and track the Zoo classifier.

This module is imported for ``sampleproject train --help`` too, so it imports only the
standard library; the training stack (scikit-learn, MLflow...) is imported by :func:`run`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sampleproject.arguments import add_tracking_uri_option
from sampleproject.inference.model import default_model_dir
from sampleproject.inference.registry import REGISTERED_MODEL
from sampleproject.training.prerequisites import packaged_inputs, require_training_stack

DESCRIPTION = """\
Train the Zoo classifier on the data, estimate its quality with stratified cross-validation,
check the quality gate, export the model to ONNX, check that the ONNX model predicts exactly
what the scikit-learn model predicts, and write zoo.onnx and zoo.json. The run (parameters,
metrics, confusion matrix, model) is tracked in MLflow and the model version registered.

Needs the training stack, the wheel's train extra:
pip install 'sampleproject-VERSION-py3-none-any.whl[train]'.
"""

# One experiment for the model's runs, named as the model.
DEFAULT_EXPERIMENT = REGISTERED_MODEL


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the command's options."""
    parser.add_argument(
        "--data",
        type=Path,
        metavar="PATH",
        help="training data, UCI Zoo CSV format (default: the data shipped in the package)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        metavar="PATH",
        help="training configuration, TOML (default: the package's config/train.toml)",
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        metavar="DIR",
        default=default_model_dir(),
        help="where zoo.onnx and zoo.json go (default: the package's model folder, %(default)s)",
    )
    add_tracking_uri_option(parser)
    parser.add_argument(
        "--experiment",
        metavar="NAME",
        default=DEFAULT_EXPERIMENT,
        help="MLflow experiment name (default: %(default)s)",
    )


def run(args: argparse.Namespace) -> int:
    """Train; print a short summary."""
    require_training_stack()
    from sampleproject.training import job, tracking

    with packaged_inputs() as (default_data, default_config):
        result = job.train(
            job.TrainOptions(
                data=args.data or default_data,
                config=args.config or default_config,
                output_dir=args.output_dir,
                tracking_uri=tracking.resolve_tracking_uri(args.tracking_uri),
                experiment=args.experiment,
                verbose=args.verbose,
            )
        )
    metrics = result.metrics
    print(
        f"cross-validated accuracy {metrics['accuracy']:.3f} ± {metrics['accuracy_std']:.3f}, "
        f"macro F1 {metrics['f1_macro']:.3f} ± {metrics['f1_macro_std']:.3f}: quality gate passed"
    )
    print(f"model: {result.model_path}")
    print(f"metadata: {result.metadata_path}")
    registered = (
        f", registered as {REGISTERED_MODEL} version {result.model_version}"
        if result.model_version
        else ""
    )
    print(f"MLflow run {result.run_id}{registered}")
    print(f"trained in {result.seconds:.1f} s")
    return 0
