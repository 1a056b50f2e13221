"""Fast, in-process tests of the training steps (the real end-to-end runs: test_train_real.py)."""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
from sklearn.ensemble import RandomForestClassifier

from sampleproject.cli import main
from sampleproject.commands import train as train_command
from sampleproject.errors import INSTALL_TRAIN_EXTRA, SampleProjectError, UsageError
from sampleproject.schema import CLASS_NAMES, FEATURE_VALUES, FEATURES
from sampleproject.training import export, gate, metadata, prerequisites, tracking
from sampleproject.training.config import TrainConfig, load_config
from sampleproject.training.data import Dataset, load_dataset
from sampleproject.training.evaluation import confusion_matrix_figure, cross_validate
from sampleproject.training.model import build_classifier

PACKAGE = Path(__file__).resolve().parent.parent / "sampleproject"
SHIPPED_CONFIG = PACKAGE / "config" / "train.toml"
# A small forest keeps these tests fast; the shipped configuration is tested end to end.
SMALL = TrainConfig.model_validate({"seed": 7, "model": {"n_estimators": 10}})


@pytest.fixture(scope="module", name="dataset")
def fixture_dataset() -> Dataset:
    """The shipped data."""
    return load_dataset(PACKAGE / "data" / "zoo.data")


@pytest.fixture(scope="module", name="fitted")
def fixture_fitted(dataset: Dataset) -> RandomForestClassifier:
    """A small forest fitted on every row."""
    return build_classifier(SMALL).fit(dataset.features, dataset.labels)


@pytest.fixture(scope="module", name="onnx_bytes")
def fixture_onnx_bytes(fitted: RandomForestClassifier) -> bytes:
    """The small forest as ONNX."""
    return export.export_onnx(fitted)


# Configuration ---------------------------------------------------------------------------


def test_the_shipped_configuration_loads() -> None:
    config = load_config(SHIPPED_CONFIG)
    assert config.cross_validation.folds == 4
    assert config.gate.minimums() == {"accuracy": 0.85, "f1_macro": 0.80}
    assert config.params()["seed"] == config.seed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("seed = 1\n[gate]\nmin_acuracy = 0.9\n", "train.toml: gate.min_acuracy: Extra inputs"),
        (
            "seed = 1\n[model]\nn_estimators = 0\n",
            "train.toml: model.n_estimators: Input should be",
        ),
        ("[gate]\n", "train.toml: seed: Field required"),
        ("seed = \n", "train.toml: not valid TOML"),
    ],
)
def test_a_bad_configuration_is_a_usage_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "train.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UsageError, match=message):
        load_config(path)


def test_a_missing_configuration_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read the training configuration"):
        load_config(tmp_path / "missing.toml")


# Cross-validation ------------------------------------------------------------------------


def test_cross_validation_scores_every_fold_and_predicts_every_row(dataset: Dataset) -> None:
    result = cross_validate(build_classifier(SMALL), dataset, folds=4, seed=SMALL.seed)
    assert len(result.accuracy) == len(result.f1_macro) == 4
    assert result.predictions.shape == dataset.labels.shape
    assert set(result.predictions.tolist()) <= set(CLASS_NAMES)
    metrics = result.metrics()
    assert set(metrics) == {"accuracy", "accuracy_std", "f1_macro", "f1_macro_std"}
    # The mean accuracy over equal-ish folds is close to the out-of-fold accuracy.
    assert metrics["accuracy"] == pytest.approx(
        float(np.mean(result.predictions == dataset.labels)), abs=0.02
    )
    assert 0.5 < metrics["accuracy"] <= 1.0
    assert metrics["accuracy_std"] == pytest.approx(float(np.std(result.accuracy)))


def test_cross_validation_is_deterministic(dataset: Dataset) -> None:
    first = cross_validate(build_classifier(SMALL), dataset, folds=4, seed=3)
    second = cross_validate(build_classifier(SMALL), dataset, folds=4, seed=3)
    assert first.metrics() == second.metrics()
    assert (first.predictions == second.predictions).all()


def test_more_folds_than_rows_of_a_class_is_refused(dataset: Dataset) -> None:
    with pytest.raises(UsageError, match=r"class 5 \(amphibian\) has 4 rows: 5-fold"):
        cross_validate(build_classifier(SMALL), dataset, folds=5, seed=1)


def test_a_class_without_rows_is_refused(dataset: Dataset) -> None:
    keep = dataset.labels != 3
    without_reptiles = Dataset(
        names=tuple(name for name, kept in zip(dataset.names, keep, strict=True) if kept),
        features=dataset.features[keep],
        labels=dataset.labels[keep],
        sha256=dataset.sha256,
    )
    with pytest.raises(UsageError, match=r"class 3 \(reptile\) has 0 rows"):
        cross_validate(build_classifier(SMALL), without_reptiles, folds=4, seed=1)


def test_the_confusion_matrix_is_a_png_of_every_class(dataset: Dataset) -> None:
    figure = confusion_matrix_figure(dataset.labels, dataset.labels)
    labels = [label.get_text() for label in figure.get_axes()[0].get_xticklabels()]
    assert labels == list(CLASS_NAMES.values())
    png = io.BytesIO()
    figure.savefig(png, format="png")
    assert png.getvalue().startswith(b"\x89PNG\r\n\x1a\n")


# Quality gate ----------------------------------------------------------------------------


def test_the_gate_passes_metrics_at_or_above_their_minimums() -> None:
    metrics = {"accuracy": 0.9, "f1_macro": 0.8}
    assert gate.gate_failures(metrics, {"accuracy": 0.9, "f1_macro": 0.5}) == []
    gate.check_gate(metrics, {"accuracy": 0.5})


def test_the_gate_names_every_metric_under_its_minimum() -> None:
    metrics = {"accuracy": 0.84, "f1_macro": 0.7}
    minimums = {"accuracy": 0.85, "f1_macro": 0.8}
    assert gate.gate_failures(metrics, minimums) == [
        "accuracy 0.8400 < 0.8500",
        "f1_macro 0.7000 < 0.8000",
    ]
    with pytest.raises(
        gate.QualityGateError, match=r"accuracy 0\.8400 < 0\.8500; f1_macro"
    ) as raised:
        gate.check_gate(metrics, minimums)
    assert raised.value.exit_code == 1


# ONNX export and parity ------------------------------------------------------------------


def test_the_onnx_model_follows_the_contract(onnx_bytes: bytes) -> None:
    session = onnxruntime.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    (features,) = session.get_inputs()
    assert (features.name, features.type, features.shape) == (
        "features",
        "tensor(float)",
        [None, len(FEATURES)],
    )
    outputs = {output.name: (output.type, output.shape) for output in session.get_outputs()}
    assert outputs == {
        "label": ("tensor(int64)", [None]),
        "probabilities": ("tensor(float)", [None, 7]),
    }


def test_onnx_predicts_what_scikit_learn_predicts(
    onnx_bytes: bytes, fitted: RandomForestClassifier, dataset: Dataset
) -> None:
    export.check_parity(onnx_bytes, fitted, dataset.features)  # raises on a difference
    session = onnxruntime.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    labels, probabilities = session.run(None, {"features": dataset.features.to_numpy(np.float32)})
    assert (labels == fitted.predict(dataset.features)).all()
    assert np.allclose(probabilities, fitted.predict_proba(dataset.features), atol=1e-5)


def test_the_export_is_deterministic(fitted: RandomForestClassifier, onnx_bytes: bytes) -> None:
    assert export.export_onnx(fitted) == onnx_bytes


def test_the_export_is_the_same_in_every_process() -> None:
    """Python salts string hashes per process; the bytes must not depend on that salt."""
    code = (
        "import hashlib, sys\n"
        "from sklearn.ensemble import RandomForestClassifier\n"
        "from sampleproject.training.data import load_dataset\n"
        "from sampleproject.training.export import export_onnx\n"
        "data = load_dataset(__import__('pathlib').Path(sys.argv[1]))\n"
        "model = RandomForestClassifier(n_estimators=3, random_state=0)\n"
        "model.fit(data.features, data.labels)\n"
        "print(hashlib.sha256(export_onnx(model)).hexdigest())\n"
    )
    data = Path(__file__).parent.parent / "sampleproject" / "data" / "zoo.data"
    digests = {
        subprocess.run(
            [sys.executable, "-c", code, str(data)],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("0", "1")  # two salts that ordered skl2onnx's opsets differently
    }
    assert len(digests) == 1


def test_parity_fails_on_other_labels(onnx_bytes: bytes, dataset: Dataset) -> None:
    # A model of shuffled labels predicts other classes than the exported one.
    shuffled = np.random.default_rng(0).permutation(dataset.labels)
    other = build_classifier(SMALL).fit(dataset.features, shuffled)
    with pytest.raises(export.ParityError, match=r"rows get another label \(row \d+: ONNX"):
        export.check_parity(onnx_bytes, other, dataset.features)


def test_parity_fails_on_other_probabilities(
    onnx_bytes: bytes, fitted: RandomForestClassifier, dataset: Dataset
) -> None:
    # Another seed: the same labels on the training rows, other probabilities.
    other = RandomForestClassifier(n_estimators=10, random_state=99).fit(
        dataset.features, dataset.labels
    )
    assert (other.predict(dataset.features) == fitted.predict(dataset.features)).all()
    with pytest.raises(export.ParityError, match="probabilities differ by up to"):
        export.check_parity(onnx_bytes, other, dataset.features)


# Metadata and model files ----------------------------------------------------------------


def make_metadata(onnx_bytes: bytes) -> dict[str, object]:
    """Metadata of ``onnx_bytes`` with made-up figures."""
    return metadata.build_metadata(
        onnx_bytes,
        metrics={"accuracy": 0.9, "f1_macro": 0.8},
        thresholds={"accuracy": 0.85},
        data_sha256="d" * 64,
        params={"seed": 7},
        distribution={"rows": 1},
    )


def test_the_metadata_describes_the_model(onnx_bytes: bytes) -> None:
    meta = make_metadata(onnx_bytes)
    assert meta["model_file"] == "zoo.onnx"
    assert meta["model_sha256"] == hashlib.sha256(onnx_bytes).hexdigest()
    assert meta["features"] == list(FEATURES)
    assert meta["classes"][0] == {"code": 1, "name": "mammal"}  # type: ignore[index]
    assert len(meta["classes"]) == 7  # type: ignore[arg-type]
    assert meta["input_name"] == "features"
    assert meta["outputs"] == {"label": "label", "probabilities": "probabilities"}
    assert meta["metrics"] == {"accuracy": 0.9, "f1_macro": 0.8}
    assert meta["thresholds"] == {"accuracy": 0.85}
    assert meta["data_sha256"] == "d" * 64
    assert meta["params"] == {"seed": 7}
    assert meta["training_distribution"] == {"rows": 1}
    versions = meta["versions"]
    assert isinstance(versions, dict)
    assert {"python", "scikit-learn", "skl2onnx", "onnx", "onnxruntime"} <= set(versions)


def test_the_training_distribution_counts_every_value_of_every_feature(dataset: Dataset) -> None:
    predicted = np.full(len(dataset), 4, dtype=np.int64)  # as if every row were a fish
    predicted[:3] = 6
    distribution = metadata.training_distribution(dataset.features, predicted)
    assert distribution["rows"] == len(dataset)
    counts = distribution["features"]
    assert list(counts) == list(FEATURES)
    for name in FEATURES:
        assert list(counts[name]) == [str(value) for value in FEATURE_VALUES[name]]
        assert sum(counts[name].values()) == len(dataset)
    column = dataset.features["legs"]
    assert counts["legs"]["4"] == int((column == 4).sum())
    assert counts["hair"]["1"] == int(dataset.features["hair"].sum())
    assert distribution["predicted_classes"] == {
        "source": "cross_validated_predictions",
        "counts": {**dict.fromkeys(CLASS_NAMES.values(), 0), "fish": len(dataset) - 3, "bug": 3},
    }


def test_a_value_that_no_row_takes_is_counted_as_zero(dataset: Dataset) -> None:
    features = dataset.features.copy()
    features["legs"] = 4
    distribution = metadata.training_distribution(features, dataset.labels)
    assert distribution["features"]["legs"] == {
        "0": 0,
        "2": 0,
        "4": len(dataset),
        "5": 0,
        "6": 0,
        "8": 0,
    }


def test_the_metadata_text_is_stable_json(onnx_bytes: bytes) -> None:
    text = metadata.dump_metadata(make_metadata(onnx_bytes))
    assert text == metadata.dump_metadata(make_metadata(onnx_bytes))
    assert text.endswith("}\n")
    keys = list(json.loads(text))
    assert keys == sorted(keys)


def test_write_model_writes_both_files_and_replaces_old_ones(
    tmp_path: Path, onnx_bytes: bytes
) -> None:
    output = tmp_path / "new" / "model"
    text = metadata.dump_metadata(make_metadata(onnx_bytes))
    for _ in range(2):  # the second write replaces the first
        model_path, metadata_path = metadata.write_model(output, onnx_bytes, text)
    assert sorted(path.name for path in output.iterdir()) == ["zoo.json", "zoo.onnx"]
    assert model_path.read_bytes() == onnx_bytes
    written = json.loads(metadata_path.read_text(encoding="utf-8"))
    assert written["model_sha256"] == hashlib.sha256(model_path.read_bytes()).hexdigest()


# Tracking set-up -------------------------------------------------------------------------


def test_the_tracking_uri_comes_from_the_option_then_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking.resolve_tracking_uri(None) == "sqlite:///mlruns/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert tracking.resolve_tracking_uri(None) == "http://127.0.0.1:5000"
    assert tracking.resolve_tracking_uri("sqlite:///x.db") == "sqlite:///x.db"


def test_an_unreachable_tracking_server_stops_training_before_it_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as sock:  # a loopback port nothing listens on
        sock.bind(("127.0.0.1", 0))
        uri = f"http://127.0.0.1:{sock.getsockname()[1]}"
    output = tmp_path / "model"
    status = main(["train", "--tracking-uri", uri, "--output-dir", str(output)])
    err = capsys.readouterr().err
    assert status == 1
    assert err == (
        f"sampleproject: error: cannot reach the MLflow tracking server at {uri} "
        "([Errno 111] Connection refused): nothing was trained; start it, or unset "
        "MLFLOW_TRACKING_URI for the local store\n"
    )
    assert not output.exists()  # no model written; and no run could be started


def test_prepare_store_creates_the_folder_of_a_sqlite_database(tmp_path: Path) -> None:
    tracking.prepare_store(f"sqlite:///{tmp_path}/store/mlflow.db")
    assert (tmp_path / "store").is_dir()
    tracking.prepare_store("http://127.0.0.1:5000")  # nothing to create for a server
    assert [path.name for path in tmp_path.iterdir()] == ["store"]


# The command -----------------------------------------------------------------------------


def test_train_help_imports_no_training_stack() -> None:
    code = (
        "import sys\n"
        "from sampleproject.cli import main\n"
        "try:\n    main(['train', '--help'])\n"
        "except SystemExit as done:\n    assert done.code == 0\n"
        "heavy = ('sklearn', 'mlflow', 'onnx', 'skl2onnx', 'matplotlib', 'pandas', 'numpy')\n"
        "print(sorted(name for name in heavy if name in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert "--output-dir DIR" in result.stdout
    assert result.stdout.rstrip().endswith("[]")


def test_train_without_the_training_stack_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "skl2onnx", None)  # as if it were not installed
    assert prerequisites.missing_training_packages() == ["skl2onnx"]
    assert main(["train", "--output-dir", str(tmp_path / "model")]) == 1
    captured = capsys.readouterr()
    assert captured.err == (
        f"sampleproject: error: training needs skl2onnx: {INSTALL_TRAIN_EXTRA}\n"
    )
    assert not (tmp_path / "model").exists()


def test_the_default_output_is_the_package_model_folder() -> None:
    parser = argparse.ArgumentParser()
    train_command.configure(parser)
    assert parser.parse_args([]).output_dir == PACKAGE / "model"


@pytest.mark.parametrize("status", [200, 404])
def test_a_tracking_server_that_answers_is_left_to_mlflow(status: int) -> None:
    import http.server  # pylint: disable=import-outside-toplevel
    import threading  # pylint: disable=import-outside-toplevel

    class Health(http.server.BaseHTTPRequestHandler):
        """Answers /health with ``status``."""

        # http.server calls do_<METHOD>: the name is not ours to choose.
        def do_GET(self) -> None:  # pylint: disable=invalid-name
            """200 for an MLflow server, 404 for one without /health."""
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: object) -> None:  # quiet
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        tracking.check_server(f"http://127.0.0.1:{server.server_address[1]}")  # no error
    finally:
        server.shutdown()
        server.server_close()


def test_mlflow_errors_become_their_first_line() -> None:
    from mlflow.exceptions import MlflowException  # pylint: disable=import-outside-toplevel

    with (
        pytest.raises(SampleProjectError, match=r"^MLflow \(sqlite:///x\): first line$"),
        tracking.one_line_errors("sqlite:///x"),
    ):
        raise MlflowException("first line\nand a long explanation")
