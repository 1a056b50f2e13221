"""``promote`` and ``rollback`` on a real MLflow store (SQLite), in the fast suite.

The store's schema is created once per session (MLflow's migrations take seconds) and
copied for each test. Versions are registered the way ``train`` registers them, from runs
that logged the recipe's parameters; the whole loop with trained models and a tracking
server is test_mlops_loop.py.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
from pathlib import Path

import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from sampleproject import cli
from sampleproject.inference.model import default_model_dir
from sampleproject.inference.registry import CHAMPION, REGISTERED_MODEL
from sampleproject.training import promotion

# The shipped recipe, a worse one that still passes the gate, and one under the gate.
SHIPPED = {"n_estimators": 100, "max_depth": 8, "min_samples_leaf": 1}
WORSE = {"n_estimators": 10, "max_depth": 4, "min_samples_leaf": 1}
UNDER_GATE = {"n_estimators": 5, "max_depth": 3, "min_samples_leaf": 1}


@pytest.fixture(name="empty_store", scope="session")
def empty_store_fixture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite tracking store with MLflow's schema and nothing in it."""
    database = tmp_path_factory.mktemp("empty-store") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{database}").search_experiments()
    return database


@pytest.fixture(name="store")
def store_fixture(empty_store: Path, tmp_path: Path) -> str:
    """A fresh copy of the empty store; its tracking URI."""
    database = tmp_path / "mlflow.db"
    shutil.copyfile(empty_store, database)
    return f"sqlite:///{database}"


def register(uri: str, recipe: dict[str, int]) -> str:
    """Register a version as ``train`` does, from a run that logged ``recipe``."""
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(REGISTERED_MODEL)
    experiment_id = (
        client.create_experiment(REGISTERED_MODEL)
        if experiment is None
        else experiment.experiment_id
    )
    run = client.create_run(experiment_id)
    for name, value in {**recipe, "seed": 42, "cv_folds": 4}.items():
        client.log_param(run.info.run_id, name, value)
    client.set_terminated(run.info.run_id)
    with contextlib.suppress(MlflowException):  # registered with an earlier version
        client.create_registered_model(REGISTERED_MODEL)
    source = f"{run.info.artifact_uri}/onnx"
    return str(
        client.create_model_version(REGISTERED_MODEL, source, run_id=run.info.run_id).version
    )


def champion(uri: str) -> str | None:
    """The version the champion alias points at."""
    return promotion.current_champion(MlflowClient(tracking_uri=uri))


def test_the_first_version_that_passes_the_gate_becomes_champion(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    version = register(store, SHIPPED)
    assert cli.main(["promote", "--tracking-uri", store, "--reason", "first"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{CHAMPION} is now version {version}: version {version} f1_macro 0.")
    assert out.endswith("; there was no champion\n")
    assert champion(store) == version
    recorded = MlflowClient(tracking_uri=store).get_model_version(REGISTERED_MODEL, version)
    assert recorded.tags["champion_why"].startswith("promoted (version")
    assert recorded.tags["champion_why"].endswith("): first")
    assert recorded.tags["champion_by"]
    assert (recorded.description or "").splitlines()[-1].endswith("): first")


def test_a_tie_is_promoted_and_a_worse_version_is_refused_with_both_figures(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    first, same, worse = (register(store, recipe) for recipe in (SHIPPED, SHIPPED, WORSE))
    assert cli.main(["promote", first, "--tracking-uri", store]) == 0
    assert cli.main(["promote", same, "--tracking-uri", store]) == 0
    assert champion(store) == same
    capsys.readouterr()
    assert cli.main(["promote", worse, "--tracking-uri", store]) == 1
    err = capsys.readouterr().err
    found = re.fullmatch(
        rf"sampleproject: error: worse than the champion \(version {worse} f1_macro (0\.\d{{4}}), "
        rf"champion version {same} (0\.\d{{4}})\): not promoted\n",
        err,
    )
    assert found, err
    # The champion's figure is the one training recorded for the shipped recipe.
    shipped = json.loads((default_model_dir() / "zoo.json").read_text(encoding="utf-8"))
    assert found[2] == f"{shipped['metrics']['f1_macro']:.4f}"
    assert float(found[1]) < float(found[2])
    assert champion(store) == same


def test_a_version_under_the_gate_is_refused(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    version = register(store, UNDER_GATE)
    assert cli.main(["promote", version, "--tracking-uri", store]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"sampleproject: error: version {version} fails the quality gate (")
    assert re.search(r"f1_macro 0\.\d{4} < 0\.8000", err), err
    assert champion(store) is None


def test_rollback_moves_the_champion_back_and_says_from_where(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = register(store, SHIPPED), register(store, SHIPPED)
    for version in (first, second):
        assert cli.main(["promote", version, "--tracking-uri", store]) == 0
    capsys.readouterr()
    assert cli.main(["rollback", first, "--tracking-uri", store, "--reason", "bad answers"]) == 0
    assert capsys.readouterr().out == f"{CHAMPION} is now version {first} (was {second})\n"
    assert champion(store) == first
    recorded = MlflowClient(tracking_uri=store).get_model_version(REGISTERED_MODEL, first)
    assert recorded.tags["champion_why"] == f"rolled back from version {second}: bad answers"
    assert len((recorded.description or "").splitlines()) == 2  # promoted, then rolled back


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (["rollback", "9"], 2, f"{REGISTERED_MODEL} has no version 9"),
        (["promote", "9"], 2, f"{REGISTERED_MODEL} has no version 9"),
        (["promote"], 1, f"no version of {REGISTERED_MODEL} is registered: run train"),
    ],
)
def test_unknown_versions_are_one_line(
    store: str, capsys: pytest.CaptureFixture[str], args: list[str], status: int, message: str
) -> None:
    assert cli.main([*args, "--tracking-uri", store]) == status
    assert capsys.readouterr().err == f"sampleproject: error: {message}\n"
