"""Experiment tracking with MLflow: what was trained, on what, how well, and the model itself.

The default store is embedded: a SQLite file (``mlruns/mlflow.db``) with the artifacts in a
folder beside it, so tracking needs no server. ``--tracking-uri`` or ``MLFLOW_TRACKING_URI``
point it at a tracking server instead; the code is the same.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import mlflow
import mlflow.sklearn
import pandas as pd
from matplotlib.figure import Figure
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient
from mlflow.tracking.registry import UnsupportedModelRegistryStoreURIException
from sklearn.ensemble import RandomForestClassifier

from sampleproject.errors import SampleProjectError, UsageError
from sampleproject.inference.registry import (
    DEFAULT_TRACKING_URI,
    REGISTERED_MODEL,
    TRACKING_URI_ENV,
)
from sampleproject.training.data import Dataset

_SQLITE_PREFIX = "sqlite:///"
# The types that skops (MLflow's safe format for scikit-learn models) must trust to load a
# forest: its trees. We trust them because we wrote the file ourselves.
_SKOPS_TRUSTED_TYPES = ["sklearn.tree._tree.Tree"]


@contextlib.contextmanager
def one_line_errors(tracking_uri: str) -> Iterator[None]:
    """MLflow's errors as one line (its messages can span paragraphs; the first says what)."""
    try:
        yield
    except MlflowException as error:
        first_line = str(error).strip().splitlines()[0]
        raise SampleProjectError(f"MLflow ({tracking_uri}): {first_line}") from error


def resolve_tracking_uri(uri: str | None) -> str:
    """The option, else ``MLFLOW_TRACKING_URI``, else the embedded default."""
    return uri or os.environ.get(TRACKING_URI_ENV) or DEFAULT_TRACKING_URI


@contextlib.contextmanager
def tracked_run(tracking_uri: str, experiment: str, *, verbose: bool = False) -> Iterator[str]:
    """Start an MLflow run in ``experiment``; yield its id.

    The run ends as FINISHED, or as FAILED when the block raises (MLflow does that).
    """
    if not verbose:
        # MLflow logs its database set-up and migrations at INFO level: noise for a user.
        logging.getLogger("mlflow").setLevel(logging.WARNING)
    mlflow.set_tracking_uri(tracking_uri)
    experiment_id = _experiment_id(tracking_uri, experiment)
    with mlflow.start_run(experiment_id=experiment_id) as run:
        yield run.info.run_id


def _experiment_id(tracking_uri: str, name: str) -> str:
    existing = mlflow.get_experiment_by_name(name)
    if existing is not None:
        experiment_id: str = existing.experiment_id
        return experiment_id
    # With a SQLite store MLflow puts artifacts in ./mlruns of whatever the current folder
    # is; keep them beside the database instead, so the store is one self-contained folder.
    artifact_location = None
    if tracking_uri.startswith(_SQLITE_PREFIX):
        database = Path(tracking_uri.removeprefix(_SQLITE_PREFIX)).resolve()
        artifact_location = (database.parent / "artifacts").as_uri()
    created: str = mlflow.create_experiment(name, artifact_location=artifact_location)
    return created


def prepare_store(tracking_uri: str) -> None:
    """Create the folder of a SQLite tracking database (SQLite creates only the file)."""
    if tracking_uri.startswith(_SQLITE_PREFIX):
        Path(tracking_uri.removeprefix(_SQLITE_PREFIX)).parent.mkdir(parents=True, exist_ok=True)


def check_server(tracking_uri: str, timeout: float = 5.0) -> None:
    """Fail at once, in one line, when a tracking server does not answer.

    MLflow's client retries with growing pauses for minutes before it gives up; asking the
    server's /health first says what is wrong before any training or any run begins.
    """
    _check_scheme(tracking_uri)
    if not tracking_uri.startswith(("http://", "https://")):
        return
    url = f"{tracking_uri.rstrip('/')}/health"
    try:
        # http(s) only: other URIs returned above.
        with urllib.request.urlopen(url, timeout=timeout):  # noqa: S310  # nosec B310
            return
    except urllib.error.HTTPError:
        return  # it answers (a proxy or an older server without /health): let MLflow talk
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise SampleProjectError(
            f"cannot reach the MLflow tracking server at {tracking_uri} ({reason}): nothing "
            "was trained; start it, or unset MLFLOW_TRACKING_URI for the local store"
        ) from None


def _check_scheme(tracking_uri: str) -> None:
    """One line when MLflow has no store for the URI (its own message is a paragraph)."""
    try:
        MlflowClient(tracking_uri)  # opens no connection: a server is asked only when used
    except UnsupportedModelRegistryStoreURIException:
        scheme = tracking_uri.partition(":")[0]
        raise UsageError(
            f"MLflow cannot track to {tracking_uri}: unknown scheme '{scheme}' "
            "(use a server's http(s):// URL, sqlite:///FILE or a folder)"
        ) from None


def log_evaluation(
    params: Mapping[str, Any],
    metrics: Mapping[str, float],
    data_sha256: str,
    confusion_matrix: Figure,
) -> None:
    """Log the run's parameters, cross-validated metrics, data checksum and figure."""
    mlflow.log_params({**params, "data_sha256": data_sha256})
    mlflow.set_tag("data_sha256", data_sha256)
    mlflow.log_metrics(dict(metrics))
    mlflow.log_figure(confusion_matrix, "confusion_matrix.png")


def log_model(classifier: RandomForestClassifier, dataset: Dataset) -> None:
    """Log the scikit-learn model in the run, servable by ``mlflow models serve``.

    It is not what the registry hands to deployment: see :func:`register_files`.
    """
    features = dataset.features
    with warnings.catch_warnings():
        # MLflow hints that integer columns cannot hold missing values; ours never miss any
        # (the schema requires every column), so integers are the right type.
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
        _log_sklearn_model(classifier, features)


def register_files(
    run_id: str, artifact_path: str, tags: Mapping[str, str], *, verbose: bool = False
) -> str | None:
    """Register the run's folder ``artifact_path`` as a new version of the model.

    The version's files are exactly what serving loads (``zoo.onnx`` and its checksummed
    ``zoo.json``), so a deployment by alias fetches two files and needs no MLflow flavour.
    Returns the version, or None when the store has no model registry.
    """
    client = MlflowClient()
    # MLflow prints progress lines to stderr; the summary reports the version.
    quiet: contextlib.AbstractContextManager[object] = (
        contextlib.nullcontext() if verbose else contextlib.redirect_stderr(io.StringIO())
    )
    try:
        with quiet:
            _create_registered_model(client)
            source = f"{client.get_run(run_id).info.artifact_uri}/{artifact_path}"
            version = client.create_model_version(
                REGISTERED_MODEL, source, run_id=run_id, tags=dict(tags)
            )
    except UnsupportedModelRegistryStoreURIException:
        return None  # e.g. a plain file store: the run still has the files
    return str(version.version)


def _create_registered_model(client: MlflowClient) -> None:
    try:
        client.create_registered_model(
            REGISTERED_MODEL,
            description="The Zoo classifier: zoo.onnx and zoo.json, as `sampleproject serve` "
            "loads them",
        )
    except MlflowException as error:
        if error.error_code != "RESOURCE_ALREADY_EXISTS":
            raise


def _log_sklearn_model(classifier: RandomForestClassifier, features: pd.DataFrame) -> Any:
    return mlflow.sklearn.log_model(
        classifier,
        name="model",
        # Integer columns named as schema.FEATURES in, a class code out: what the HTTP API
        # of ``mlflow models serve`` checks requests against.
        signature=infer_signature(features, classifier.predict(features)),
        input_example=features.head(3),
        skops_trusted_types=_SKOPS_TRUSTED_TYPES,
        # Given, not inferred: inference runs the model in a subprocess, which is slow.
        pip_requirements=mlflow.sklearn.get_default_pip_requirements(),
    )


def log_files(files: Mapping[str, bytes], artifact_path: str) -> None:
    """Log in-memory files (name -> content) as artifacts of the run."""
    with tempfile.TemporaryDirectory() as folder:
        for name, content in files.items():
            (Path(folder) / name).write_bytes(content)
        mlflow.log_artifacts(folder, artifact_path=artifact_path)


def set_tag(name: str, value: str) -> None:
    """Tag the active run."""
    mlflow.set_tag(name, value)
