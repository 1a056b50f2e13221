"""``promote`` and ``rollback`` on a real MLflow store (SQLite), in the fast suite; at once,
in real processes, on SQLite and on the MLflow server (PostgreSQL), in the slow suite.

The store's schema is created once per session (MLflow's migrations take seconds) and
copied for each test. Versions are registered the way ``train`` registers them, from runs
that logged the recipe's parameters; the whole loop with trained models and a tracking
server is test_mlops_loop.py.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import resource
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from sampleproject import cli
from sampleproject.inference.model import default_model_dir
from sampleproject.inference.registry import CHAMPION, REGISTERED_MODEL
from sampleproject.training import champion_lock, promotion
from tests.conftest import BIN, require, server_env

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


def test_promotion_and_rollback_leave_no_lock_behind(store: str) -> None:
    version = register(store, SHIPPED)
    assert cli.main(["promote", version, "--tracking-uri", store]) == 0
    assert cli.main(["rollback", version, "--tracking-uri", store]) == 0
    client = MlflowClient(tracking_uri=store)
    names = [model.name for model in client.search_registered_models()]
    assert names == [REGISTERED_MODEL]


# --- Promotion and rollback against each other (issue 23, item 7) ------------------------
# A recipe that is quick to evaluate and the best, a slow one in the middle, and a slow one
# that is the worst (the first champion): a promotion that read the champion before its
# cross-validation and set the alias after it, unchecked, would let the slow middle one
# overwrite the best.
FAST_BEST = {"n_estimators": 10, "max_depth": 8, "min_samples_leaf": 1}  # f1_macro 0.8973
SLOW_MIDDLE = {"n_estimators": 1000, "max_depth": 4, "min_samples_leaf": 1}  # 0.8536
SLOW_WORST = {"n_estimators": 600, "max_depth": 3, "min_samples_leaf": 1}  # 0.8089


def test_a_promotion_compares_with_the_champion_of_the_moment_it_moves_the_alias(
    store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The interleaving, made certain: while this promotion cross-validates the champion it
    # read, another operator rolls the alias back to a better version (quick recipes here:
    # the timing is not what is tested).
    worst, best, middle = (register(store, recipe) for recipe in (WORSE, FAST_BEST, SHIPPED))
    client = MlflowClient(tracking_uri=store)
    client.set_registered_model_alias(REGISTERED_MODEL, CHAMPION, worst)
    evaluate = promotion.evaluate
    evaluated: list[str] = []

    def meanwhile(client: MlflowClient, version: str, *args: Any) -> dict[str, float]:
        evaluated.append(version)
        if version == worst:
            promotion.rollback(MlflowClient(tracking_uri=store), best, "another operator")
        return evaluate(client, version, *args)

    monkeypatch.setattr(promotion, "evaluate", meanwhile)
    with pytest.raises(promotion.PromotionRefused) as refused:
        promotion.promote(client, middle, *shipped_inputs(), "")
    assert f"champion version {best} 0.8973" in str(refused.value)
    assert evaluated == [middle, worst, best]  # compared again, with the new champion
    assert champion(store) == best


def shipped_inputs() -> tuple[Any, Any]:
    """The shipped training configuration and data set."""
    from sampleproject.training.config import load_config
    from sampleproject.training.data import load_dataset
    from sampleproject.training.prerequisites import packaged_inputs

    with packaged_inputs() as (data, config):
        return load_config(config), load_dataset(data)


def test_a_stale_lock_is_broken_and_a_live_one_waited_for(
    store: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = MlflowClient(tracking_uri=store)
    name = champion_lock.lock_name()
    client.create_registered_model(name, tags={champion_lock.HOLDER_TAG: "ghost pid 1"})
    with (
        caplog.at_level(logging.WARNING, logger="sampleproject.promotion"),
        champion_lock.champion_lock(client, "test", stale_seconds=0.5, wait_seconds=30),
    ):
        holder = client.get_registered_model(name).tags[champion_lock.HOLDER_TAG]
        assert "test (" in holder
    assert "breaking the lock zoo-classifier.champion-lock: ghost pid 1 held it for" in caplog.text
    assert [model.name for model in client.search_registered_models()] == []


def test_a_lock_that_stays_held_is_one_line(store: str) -> None:
    client = MlflowClient(tracking_uri=store)
    name = champion_lock.lock_name()
    client.create_registered_model(name, tags={champion_lock.HOLDER_TAG: "ann@host pid 7"})
    with (
        pytest.raises(champion_lock.LockTimeout) as raised,
        champion_lock.champion_lock(client, "test", stale_seconds=60, wait_seconds=0.5),
    ):
        pytest.fail("the lock was taken")
    assert str(raised.value) == (
        f"the champion is locked by ann@host pid 7 (the registered model {name}); try again "
        f"later, or delete {name} if that process is gone"
    )
    assert client.get_registered_model(name).tags[champion_lock.HOLDER_TAG] == "ann@host pid 7"


# With real processes, on the embedded store and on the MLflow server (PostgreSQL).
STORES = ["sqlite", pytest.param("server", marks=pytest.mark.mlflow_server)]


@pytest.fixture(name="shared_store")
def shared_store_fixture(request: pytest.FixtureRequest, store: str) -> Iterator[str]:
    """A tracking URI: the test's SQLite store, or the session's MLflow server, whose
    champion alias is put back as it was afterwards (other tests use that server)."""
    if request.param == "sqlite":
        yield store
        return
    server: Path = request.getfixturevalue("mlflow_server")
    uri = (server / "tracking-uri").read_text(encoding="utf-8").strip()
    client = MlflowClient(tracking_uri=uri)
    register(uri, SHIPPED)  # so that the registered model exists
    before = promotion.current_champion(client)
    try:
        yield uri
    finally:
        if before is None:
            client.delete_registered_model_alias(REGISTERED_MODEL, CHAMPION)
        else:
            client.set_registered_model_alias(REGISTERED_MODEL, CHAMPION, before)


def start_command(uri: str, *args: str) -> subprocess.Popen[str]:
    """``sampleproject ARGS --tracking-uri URI``, started in a process of its own."""
    return subprocess.Popen(
        [str(BIN / "sampleproject"), *args, "--tracking-uri", uri],
        env=server_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    """Wait for ``process``: (status, stdout, stderr)."""
    out, err = process.communicate(timeout=900)
    return process.returncode, out, err


@pytest.mark.slow
@pytest.mark.parametrize("shared_store", STORES, indirect=True)
def test_two_promotions_at_once_leave_the_better_version_champion(shared_store: str) -> None:
    worst, best, middle = (
        register(shared_store, recipe) for recipe in (SLOW_WORST, FAST_BEST, SLOW_MIDDLE)
    )
    client = MlflowClient(tracking_uri=shared_store)
    client.set_registered_model_alias(REGISTERED_MODEL, CHAMPION, worst)
    # Both read the worst as champion; the best finishes first, the middle one long after.
    processes = [start_command(shared_store, "promote", version) for version in (best, middle)]
    (best_status, _, best_err), (middle_status, _, middle_err) = map(finish, processes)
    assert best_status == 0, best_err
    assert champion(shared_store) == best
    assert middle_status == 1
    assert re.fullmatch(
        rf"sampleproject: error: worse than the champion \(version {middle} f1_macro 0\.8536, "
        rf"champion version {best} 0\.8973\): not promoted\n",
        middle_err,
    ), middle_err
    names = {model.name for model in client.search_registered_models()}
    assert champion_lock.lock_name() not in names


def cpu_seconds(pid: int) -> float:
    """The CPU time (user and system) that process ``pid`` has used so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_up_cpu_seconds(uri: str) -> float:
    """The CPU time a registry command takes to start and ask its first question (the
    imports of MLflow and scikit-learn, which vary with the machine's load): measured on a
    rollback to a version that does not exist."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    status, _, err = finish(start_command(uri, "rollback", "424242"))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert status == 2, err
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


@pytest.mark.slow
@pytest.mark.parametrize("shared_store", STORES, indirect=True)
def test_a_rollback_during_a_promotion_is_not_overwritten(shared_store: str) -> None:
    require(Path("/proc/self/stat").exists(), "reads a process's CPU time from /proc (Linux)")
    worst, best, middle = (
        register(shared_store, recipe) for recipe in (SLOW_WORST, FAST_BEST, SLOW_MIDDLE)
    )
    client = MlflowClient(tracking_uri=shared_store)
    client.set_registered_model_alias(REGISTERED_MODEL, CHAMPION, worst)
    promoting = start_command(shared_store, "promote", middle)
    # The rollback comes once the promotion is past its start-up and its first reads of the
    # registry (a second of CPU later), in the middle of cross-validating two slow recipes
    # (several seconds more). It runs in this process: no start-up of its own to wait for.
    start_up = start_up_cpu_seconds(shared_store)
    deadline = time.monotonic() + 600
    while cpu_seconds(promoting.pid) < start_up + 1.0:
        assert promoting.poll() is None, promoting.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert promotion.rollback(client, best, "") == worst
    assert promoting.poll() is None, "the promotion ended before the rollback: no race tested"
    status, _, err = finish(promoting)
    assert status == 1, err
    assert re.fullmatch(
        rf"sampleproject: error: worse than the champion \(version {middle} f1_macro 0\.8536, "
        rf"champion version {best} 0\.8973\): not promoted\n",
        err,
    ), err
    assert champion(shared_store) == best
    recorded = client.get_model_version(REGISTERED_MODEL, best)
    assert recorded.tags["champion_why"] == f"rolled back from version {worst}"


def test_a_lock_held_by_another_process_is_waited_for_then_taken(store: str) -> None:
    name = champion_lock.lock_name()
    held, order = threading.Event(), []

    def first() -> None:
        with champion_lock.champion_lock(MlflowClient(tracking_uri=store), "first"):
            held.set()
            time.sleep(1.0)
            order.append("first done")

    thread = threading.Thread(target=first)
    thread.start()
    assert held.wait(timeout=60)
    client = MlflowClient(tracking_uri=store)
    with champion_lock.champion_lock(client, "second", wait_seconds=60):
        order.append("second in")
        assert "second (" in client.get_registered_model(name).tags[champion_lock.HOLDER_TAG]
    thread.join(timeout=60)
    assert order == ["first done", "second in"]
    assert [model.name for model in client.search_registered_models()] == []


def test_a_holder_whose_lock_was_broken_leaves_the_new_holder_s_lock(store: str) -> None:
    client = MlflowClient(tracking_uri=store)
    name = champion_lock.lock_name()
    with champion_lock.champion_lock(client, "slow"):
        # Judged gone by another process, which broke the lock and took it.
        client.delete_registered_model(name)
        client.create_registered_model(name, tags={champion_lock.HOLDER_TAG: "newcomer"})
    assert client.get_registered_model(name).tags[champion_lock.HOLDER_TAG] == "newcomer"
