"""A real MLflow tracking server, with a PostgreSQL backend store, receives a training run.

tools/mlflow-server/start.sh starts a private PostgreSQL cluster (Debian's packages, installed
by tools/install-system-deps.sh) and ``mlflow server`` on loopback ports; ``sampleproject train``
logs to it through ``MLFLOW_TRACKING_URI`` alone, as a user pointed at a team's server would,
and the test reads everything back through the MLflow client and the database itself.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BIN, server_env

pytestmark = [pytest.mark.slow, pytest.mark.mlflow_server]

REGISTERED_MODEL = "zoo-classifier"  # the name `sampleproject train` registers
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _train(uri: str, experiment: str, output: Path) -> dict[str, Any]:
    """Run `sampleproject train` against the server; return the metadata it exported."""
    command = [str(BIN / "sampleproject"), "train", "--output-dir", str(output)]
    trained = subprocess.run(
        [*command, "--experiment", experiment],
        env={**server_env(), "MLFLOW_TRACKING_URI": uri},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert trained.returncode == 0, trained.stderr
    metadata: dict[str, Any] = json.loads((output / "zoo.json").read_text(encoding="utf-8"))
    return metadata


def test_training_run_is_tracked_on_the_server(mlflow_server: Path, tmp_path: Path) -> None:
    """Run, metrics, data checksum, confusion matrix and model version, read back."""
    from mlflow.tracking import MlflowClient

    uri = (mlflow_server / "tracking-uri").read_text(encoding="utf-8").strip()
    experiment = f"server-test-{uuid.uuid4().hex[:8]}"  # a fresh experiment: one run in it
    metadata = _train(uri, experiment, tmp_path / "model")

    client = MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(experiment)
    assert found is not None
    runs = client.search_runs([found.experiment_id])
    assert len(runs) == 1
    run = runs[0]
    assert run.info.status == "FINISHED"
    # The server holds the figures that the exported metadata reports.
    for name, value in metadata["metrics"].items():
        assert run.data.metrics[name] == pytest.approx(value)
    assert run.data.params["data_sha256"] == metadata["data_sha256"]

    # The picture went through the server's artifact proxy into its artifact folder.
    assert run.info.artifact_uri.startswith("mlflow-artifacts:")
    picture = Path(
        client.download_artifacts(run.info.run_id, "confusion_matrix.png", str(tmp_path))
    )
    assert picture.read_bytes().startswith(PNG_SIGNATURE)
    # (The server is shared with other tests: look in this run's folder.)
    stored = list((mlflow_server / "artifacts").rglob(f"{run.info.run_id}/**/confusion_matrix.png"))
    assert len(stored) == 1
    assert stored[0].read_bytes() == picture.read_bytes()

    versions = client.search_model_versions(f"name='{REGISTERED_MODEL}'")
    assert run.info.run_id in {version.run_id for version in versions}


def test_runs_are_stored_in_postgresql(mlflow_server: Path) -> None:
    """The backend store really is the PostgreSQL cluster: its `runs` table has the runs."""
    import psycopg
    from mlflow.tracking import MlflowClient

    uri = (mlflow_server / "tracking-uri").read_text(encoding="utf-8").strip()
    client = MlflowClient(tracking_uri=uri)
    experiment_id = client.create_experiment(f"storage-test-{uuid.uuid4().hex[:8]}")
    run_id = client.create_run(experiment_id).info.run_id

    # start.sh's cluster trusts connections over its private Unix socket (in its own folder).
    socket_dir = (mlflow_server / "pg-dir").read_text(encoding="utf-8").strip()
    port = (mlflow_server / "pg-port").read_text(encoding="utf-8").strip()
    with psycopg.connect(host=socket_dir, port=port, user="mlflow", dbname="mlflow") as connection:
        row = connection.execute(
            "SELECT experiment_id FROM runs WHERE run_uuid = %s", (run_id,)
        ).fetchone()
    assert row is not None
    assert str(row[0]) == experiment_id
