"""``sampleproject train`` for real: the shipped data, a temporary MLflow store read back.

Each training takes seconds (MLflow's store, the model logging), hence ``slow``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
from mlflow.tracking import MlflowClient

from sampleproject.cli import main
from sampleproject.training.data import load_dataset

pytestmark = pytest.mark.slow

PACKAGE = Path(__file__).resolve().parent.parent / "sampleproject"
MODEL_FILES = ["zoo.json", "zoo.onnx"]


def store_uri(folder: Path) -> str:
    """The URI of a SQLite tracking store in ``folder``."""
    return f"sqlite:///{folder}/mlflow.db"  # folder is absolute: sqlite:////tmp/...


def train(output: Path, uri: str, *options: str) -> int:
    """Run ``sampleproject train`` in-process; its exit status."""
    return main(["train", "--output-dir", str(output), "--tracking-uri", uri, *options])


@pytest.fixture(scope="module", name="store")
def fixture_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder for the tracking store that the module's trainings share."""
    return tmp_path_factory.mktemp("mlflow")


@pytest.fixture(scope="module", name="trained")
def fixture_trained(store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The model folder of one real training with the shipped data and configuration."""
    output = tmp_path_factory.mktemp("first") / "model"
    assert train(output, store_uri(store)) == 0
    return output


def test_training_writes_the_model_and_its_metadata(trained: Path) -> None:
    assert sorted(path.name for path in trained.iterdir()) == MODEL_FILES
    meta = json.loads((trained / "zoo.json").read_text(encoding="utf-8"))
    assert meta["model_sha256"] == hashlib.sha256((trained / "zoo.onnx").read_bytes()).hexdigest()
    assert (
        meta["data_sha256"]
        == hashlib.sha256((PACKAGE / "data" / "zoo.data").read_bytes()).hexdigest()
    )
    for name, minimum in meta["thresholds"].items():
        assert meta["metrics"][name] >= minimum


def test_the_run_is_tracked_and_the_model_registered(trained: Path, store: Path) -> None:
    client = MlflowClient(tracking_uri=store_uri(store))
    experiment = client.get_experiment_by_name("zoo-classifier")
    assert experiment is not None
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FINISHED"
    meta = json.loads((trained / "zoo.json").read_text(encoding="utf-8"))
    assert run.data.params["data_sha256"] == meta["data_sha256"]
    assert run.data.params["n_estimators"] == str(meta["params"]["n_estimators"])
    assert run.data.tags["quality_gate"] == "passed"
    for name, value in meta["metrics"].items():
        assert run.data.metrics[name] == pytest.approx(value)
    artifacts = {artifact.path for artifact in client.list_artifacts(run.info.run_id)}
    assert "confusion_matrix.png" in artifacts
    onnx_artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "onnx")}
    assert onnx_artifacts == {"onnx/zoo.json", "onnx/zoo.onnx"}
    # The artifacts live beside the database, not in the current folder.
    assert (store / "artifacts").is_dir()
    (version,) = client.search_model_versions("name='zoo-classifier'")
    assert version.run_id == run.info.run_id
    # The version is what serving deploys: the ONNX files, with the model's checksum.
    assert version.source == f"{run.info.artifact_uri}/onnx"
    assert version.tags["model_sha256"] == meta["model_sha256"]


def test_the_onnx_model_predicts_what_the_tracked_model_predicts(
    trained: Path, store: Path
) -> None:
    import mlflow
    import mlflow.sklearn

    client = MlflowClient(tracking_uri=store_uri(store))
    (version,) = client.search_model_versions("name='zoo-classifier'")
    mlflow.set_tracking_uri(store_uri(store))
    classifier = mlflow.sklearn.load_model(f"runs:/{version.run_id}/model")
    features = load_dataset(PACKAGE / "data" / "zoo.data").features
    session = onnxruntime.InferenceSession(
        str(trained / "zoo.onnx"), providers=["CPUExecutionProvider"]
    )
    labels, probabilities = session.run(None, {"features": features.to_numpy(np.float32)})
    assert (labels == classifier.predict(features)).all()
    assert np.allclose(probabilities, classifier.predict_proba(features), atol=1e-5)


def test_training_twice_gives_identical_bytes(trained: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    assert train(again, store_uri(tmp_path)) == 0
    for name in MODEL_FILES:
        assert (again / name).read_bytes() == (trained / name).read_bytes(), name


def test_an_impossible_threshold_fails_the_gate_and_exports_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "strict.toml"
    shipped = (PACKAGE / "config" / "train.toml").read_text(encoding="utf-8")
    config.write_text(
        shipped.replace("min_accuracy = 0.85", "min_accuracy = 1.0"), encoding="utf-8"
    )
    output = tmp_path / "model"
    output.mkdir()
    status = train(output, store_uri(tmp_path), "--config", str(config), "--experiment", "strict")
    assert status == 1
    err = capsys.readouterr().err
    assert err.startswith("sampleproject: error: model quality gate failed (accuracy ")
    assert "< 1.0000" in err
    assert not any(output.iterdir())
    client = MlflowClient(tracking_uri=store_uri(tmp_path))
    experiment = client.get_experiment_by_name("strict")
    assert experiment is not None
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FAILED"
    assert run.data.tags["quality_gate"] == "failed"
    assert client.search_model_versions("name='zoo-classifier'") == []
