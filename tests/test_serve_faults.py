"""``serve`` when the model's source fails with an OS error: it starts or serves on, and says why.

A cache that cannot store a version, a file where a folder should be, a loader that meets
``PermissionError``: at start-up the server must come up not ready (``/ready`` 503 with the
reason) rather than exit with a traceback; in a reload the old model must serve on, the
reason must be in ``/ready`` and the failure counted in ``/metrics`` (issue 23, item 6).
"""

from __future__ import annotations

import json
import re
import signal
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from sampleproject.errors import SampleProjectError
from sampleproject.inference.model import default_model_dir
from sampleproject.inference.predictor import LoadedModel, load_predictor
from sampleproject.serving.app import create_app
from sampleproject.serving.model_state import Loader
from sampleproject.serving.settings import ServeSettings
from tests.test_registry import StandIn, shipped_sha256, stand_in_fixture
from tests.test_serve_real import Server, start, stop

__all__ = ["stand_in_fixture"]  # the stand-in registry, for the tests below

CHAMPION_REF = "models:/zoo-classifier@champion"


def reloads(client: TestClient) -> dict[str, float]:
    """``sampleproject_model_reloads_total`` by result."""
    return {
        sample.labels["result"]: sample.value
        for family in text_string_to_metric_families(client.get("/metrics").text)
        for sample in family.samples
        if sample.name == "sampleproject_model_reloads_total"
    }


def blocked_version(cache: Path, version: str) -> Path:
    """A file where version ``version``'s folder of the cache goes; the versions folder."""
    versions = cache / "zoo-classifier" / "versions"
    versions.mkdir(parents=True, exist_ok=True)
    (versions / version).write_text("not a folder", encoding="utf-8")
    return versions


def test_a_cache_that_cannot_store_the_model_leaves_serve_up_and_not_ready(
    stand_in: StandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    versions = blocked_version(tmp_path, "1")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", stand_in.uri)
    app = create_app(ServeSettings(model=CHAMPION_REF, cache_dir=tmp_path))
    with TestClient(app) as client:
        response = client.get("/ready")
        assert client.get("/health").status_code == 200
    assert response.status_code == 503
    assert response.json() == {
        "status": "failed",
        "error": f"{CHAMPION_REF}: cannot store version 1 in the model cache {versions}: "
        "Not a directory",
    }


def planned(*plan: LoadedModel | Exception) -> Loader:
    """A loader that returns or raises the steps of ``plan``, one a load."""
    steps = list(plan)

    def loader(_current: LoadedModel | None) -> LoadedModel:
        step = steps.pop(0)
        if isinstance(step, Exception):
            raise step
        return step

    return loader


def test_a_reload_that_meets_an_os_error_is_refused_shown_and_counted() -> None:
    loader = planned(
        LoadedModel(load_predictor(default_model_dir()), CHAMPION_REF, "1"),
        PermissionError(13, "Permission denied", "/cache/zoo-classifier/versions"),
    )
    with TestClient(create_app(loader=loader)) as client:
        assert client.portal.call(client.app.state.model.load) is False
        response = client.get("/ready")
        counted = reloads(client)
    assert response.status_code == 200  # the old model serves on
    assert response.json()["model_version"] == "1"
    assert response.json()["reload_error"] == "/cache/zoo-classifier/versions: Permission denied"
    assert counted == {"success": 0, "failure": 1}


def test_an_os_error_while_not_ready_is_the_new_reason_and_a_later_load_serves() -> None:
    loader = planned(
        SampleProjectError("the registry is down"),
        IsADirectoryError(21, "Is a directory", "/cache/zoo-classifier/aliases/champion"),
        LoadedModel(load_predictor(default_model_dir()), CHAMPION_REF, "1"),
    )
    with TestClient(create_app(loader=loader)) as client:
        assert client.get("/ready").json()["error"] == "the registry is down"
        assert client.portal.call(client.app.state.model.load) is False
        failed = client.get("/ready")
        assert client.portal.call(client.app.state.model.load) is True
        assert client.get("/ready").status_code == 200
        # Reloads count the moves of a model that serves (the alert says "the previous
        # model still serves"); the loads before it are what /ready and model_ready show.
        assert reloads(client) == {"success": 0, "failure": 0}
    assert failed.status_code == 503
    assert failed.json()["error"] == "/cache/zoo-classifier/aliases/champion: Is a directory"


# --- The same, with a real server process ------------------------------------------------


@pytest.mark.slow
def test_serve_with_a_cache_that_cannot_store_the_model_starts_and_says_why(
    stand_in: StandIn, tmp_path: Path
) -> None:
    versions = blocked_version(tmp_path / "cache", "1")
    env = {"MLFLOW_TRACKING_URI": stand_in.uri}
    args = ("--model", CHAMPION_REF, "--cache-dir", str(tmp_path / "cache"))
    server = start(tmp_path, *args, env=env, until="/health")
    try:
        status, body = server.get("/ready")
    finally:
        assert stop(server) == 0
    assert status == 503
    assert json.loads(body)["error"] == (
        f"{CHAMPION_REF}: cannot store version 1 in the model cache {versions}: Not a directory"
    )
    assert "Traceback" not in server.log.read_text(encoding="utf-8")


@pytest.mark.slow
def test_a_reload_that_cannot_store_the_new_version_is_refused_and_counted(
    stand_in: StandIn, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    env = {"MLFLOW_TRACKING_URI": stand_in.uri}
    server = start(tmp_path, "--model", CHAMPION_REF, "--cache-dir", str(cache), env=env)
    try:
        assert json.loads(server.get("/ready")[1])["model_version"] == "1"
        stand_in.add_version("2", default_model_dir(), sha256_tag=shipped_sha256())
        stand_in.aliases["champion"] = "2"
        versions = blocked_version(cache, "2")
        server.process.send_signal(signal.SIGHUP)
        ready = wait_for_reload_error(server)
        metrics = server.get("/metrics")[1].decode()
    finally:
        assert stop(server) == 0
    assert ready["model_version"] == "1"  # the old model serves on
    assert ready["reload_error"] == (
        f"{CHAMPION_REF}: cannot store version 2 in the model cache {versions}: Not a directory"
    )
    assert re.search(r'sampleproject_model_reloads_total\{result="failure"\} 1\.0', metrics)
    log = server.log.read_text(encoding="utf-8")
    assert "Task exception was never retrieved" not in log
    assert "Traceback" not in log


def wait_for_reload_error(server: Server) -> dict[str, object]:
    """/ready, once it shows a refused reload (at most 30 s)."""
    deadline = time.monotonic() + 30
    while True:
        status, body = server.get("/ready")
        answer: dict[str, object] = json.loads(body)
        if status == 200 and "reload_error" in answer:
            return answer
        assert time.monotonic() < deadline, f"no refused reload in /ready: {answer}"
        time.sleep(0.1)
