"""The training job: data -> cross-validation -> gate -> fit -> ONNX -> parity -> files.

Every check comes before the first byte is written to the model folder, and the files are
written atomically, so the folder holds either the previous model or the new one, complete.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

from sampleproject.inference.model import METADATA_FILE
from sampleproject.training import export, gate, metadata, tracking
from sampleproject.training.config import TrainConfig, load_config
from sampleproject.training.data import Dataset, load_dataset
from sampleproject.training.evaluation import confusion_matrix_figure, cross_validate
from sampleproject.training.model import build_classifier

# The run's folder that holds the files serving needs; it is what the registry versions.
ONNX_ARTIFACTS = "onnx"


@dataclass(frozen=True)
class TrainOptions:
    """What ``sampleproject train`` was asked to do."""

    data: Path
    config: Path
    output_dir: Path
    tracking_uri: str
    experiment: str
    verbose: bool = False


@dataclass(frozen=True)
class TrainResult:
    """What it did."""

    metrics: dict[str, float]
    model_path: Path
    metadata_path: Path
    run_id: str
    model_version: str | None  # in the MLflow model registry, when the store has one
    seconds: float


def registry_tags(onnx_bytes: bytes, metrics: dict[str, float]) -> dict[str, str]:
    """What the registry shows of a version: the model's checksum and its figures."""
    return {
        "model_sha256": hashlib.sha256(onnx_bytes).hexdigest(),
        **{name: f"{value:.6f}" for name, value in metrics.items()},
    }


def train(options: TrainOptions) -> TrainResult:
    """Train, evaluate, gate, export and track the Zoo classifier."""
    started = time.perf_counter()
    config = load_config(options.config)
    dataset = load_dataset(options.data)
    tracking.prepare_store(options.tracking_uri)
    tracking.check_server(options.tracking_uri)
    with (
        tracking.one_line_errors(options.tracking_uri),
        tracking.tracked_run(
            options.tracking_uri, options.experiment, verbose=options.verbose
        ) as run_id,
    ):
        return _tracked_training(options, config, dataset, run_id, started)


def _tracked_training(
    options: TrainOptions, config: TrainConfig, dataset: Dataset, run_id: str, started: float
) -> TrainResult:
    classifier = build_classifier(config)
    params = config.params()
    evaluation = cross_validate(classifier, dataset, config.cross_validation.folds, config.seed)
    metrics = evaluation.metrics()
    tracking.log_evaluation(
        params,
        metrics,
        dataset.sha256,
        confusion_matrix_figure(dataset.labels, evaluation.predictions),
    )

    minimums = config.gate.minimums()
    try:
        gate.check_gate(metrics, minimums)
    except gate.QualityGateError:
        tracking.set_tag("quality_gate", "failed")
        raise
    tracking.set_tag("quality_gate", "passed")

    classifier.fit(dataset.features, dataset.labels)
    onnx_bytes = export.export_onnx(classifier)
    export.check_parity(onnx_bytes, classifier, dataset.features)
    metadata_text = metadata.dump_metadata(
        metadata.build_metadata(
            onnx_bytes,
            metrics=metrics,
            thresholds=minimums,
            data_sha256=dataset.sha256,
            params=params,
            distribution=metadata.training_distribution(dataset.features, evaluation.predictions),
        )
    )

    tracking.log_model(classifier, dataset)
    tracking.log_files(
        {metadata.MODEL_FILE: onnx_bytes, METADATA_FILE: metadata_text.encode()},
        artifact_path=ONNX_ARTIFACTS,
    )
    model_version = tracking.register_files(
        run_id, ONNX_ARTIFACTS, registry_tags(onnx_bytes, metrics), verbose=options.verbose
    )
    # Last: only a model that passed every check, and is tracked, reaches the model folder.
    model_path, metadata_path = metadata.write_model(options.output_dir, onnx_bytes, metadata_text)
    return TrainResult(
        metrics=metrics,
        model_path=model_path,
        metadata_path=metadata_path,
        run_id=run_id,
        model_version=model_version,
        seconds=time.perf_counter() - started,
    )
