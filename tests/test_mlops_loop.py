"""The MLOps loop for real: train, promote, serve by alias, promote again, reload, roll back.

A real MLflow tracking server (PostgreSQL backend) is the hand-off between training and
serving. A real ``serve`` with two workers stays under continuous load from several clients
while the champion alias moves and SIGHUP reloads it, a corrupted version included: not one
request may fail, and every answer must be the answer of a verified model.
"""

from __future__ import annotations

import http.client
import json
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from sampleproject.inference.predictor import load_predictor
from sampleproject.schema import Animal
from tests.conftest import BIN, server_env
from tests.test_serve_real import Server, free_port, start, stop

pytestmark = [pytest.mark.slow, pytest.mark.mlflow_server]

CHAMPION_REF = "models:/zoo-classifier@champion"
SHIPPED_CONFIG = Path(__file__).parent.parent / "sampleproject" / "config" / "train.toml"
# Animals whose probabilities differ between the two trained models (checked below).
ANIMALS: list[dict[str, Any]] = [
    {"hair": 1, "milk": 1, "legs": 4, "tail": 1, "toothed": 1, "backbone": 1, "breathes": 1},
    {"eggs": 1, "aquatic": 1, "legs": 0, "fins": 1, "backbone": 1, "toothed": 1},
    {"eggs": 1, "legs": 6, "breathes": 1, "airborne": 1},
]
CLIENTS = 4


@dataclass
class Registry:
    """The tracking server and what the test put in its registry."""

    uri: str
    env: dict[str, str]
    folders: dict[str, Path] = field(default_factory=dict)  # version -> trained model folder


def sampleproject(registry: Registry, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``sampleproject ARGS`` against the tracking server."""
    return subprocess.run(
        [str(BIN / "sampleproject"), *args],
        env=registry.env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def train(registry: Registry, folder: Path, config_changes: dict[str, str]) -> str:
    """Train with the shipped configuration changed by ``{old line: new line}``; the version."""
    config = SHIPPED_CONFIG.read_text(encoding="utf-8")
    for old, new in config_changes.items():
        assert old in config
        config = config.replace(old, new)
    folder.mkdir(parents=True)
    (folder / "train.toml").write_text(config, encoding="utf-8")
    trained = sampleproject(
        registry, "train", "--config", str(folder / "train.toml"), "--output-dir", str(folder)
    )
    assert trained.returncode == 0, trained.stderr
    match = re.search(r"registered as zoo-classifier version (\d+)", trained.stdout)
    assert match, trained.stdout
    registry.folders[match[1]] = folder
    return match[1]


@pytest.fixture(name="registry", scope="module")
def registry_fixture(mlflow_server: Path) -> Registry:
    """The server, with an empty model cache for this module's processes."""
    uri = (mlflow_server / "tracking-uri").read_text(encoding="utf-8").strip()
    cache = mlflow_server / "model-cache"
    env = {**server_env(), "MLFLOW_TRACKING_URI": uri, "SAMPLEPROJECT_CACHE_DIR": str(cache)}
    return Registry(uri, env)


def expected_answers(folder: Path) -> list[dict[str, Any]]:
    """What the model in ``folder`` answers for :data:`ANIMALS` (as the API's JSON)."""
    predictor = load_predictor(folder)
    rows = [Animal.model_validate(animal).as_row() for animal in ANIMALS]
    answers: list[dict[str, Any]] = json.loads(
        json.dumps(predictor.records(predictor.predict(rows)))
    )
    return answers


class Load:
    """Several clients posting :data:`ANIMALS` over keep-alive connections until stopped."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.answers: list[bytes] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._client) for _ in range(CLIENTS)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def _client(self) -> None:
        body = json.dumps(ANIMALS).encode()
        headers = {"Content-Type": "application/json"}
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        while not self._stop.is_set():
            try:
                connection.request("POST", "/predict", body, headers)
                response = connection.getresponse()
                answer = response.read()
            except (OSError, http.client.HTTPException) as error:
                self.failures.append(repr(error))
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                continue
            if response.status == 200:
                self.answers.append(answer)
            else:
                self.failures.append(f"{response.status} {answer[:200]!r}")
        connection.close()


def ready(server: Server) -> dict[str, Any]:
    """One answer of /ready, as JSON."""
    status, body = server.get("/ready")
    answer: dict[str, Any] = json.loads(body)
    answer["http_status"] = status
    return answer


def reload_until(server: Server, check: Any, what: str) -> dict[str, Any]:
    """SIGHUP the server, then wait until every worker's /ready passes ``check``."""
    server.process.send_signal(signal.SIGHUP)
    answer = wait_until(server, check)
    assert check(answer), f"{what}: {answer}"
    return answer


def wait_until(server: Server, check: Any) -> dict[str, Any]:
    """Poll /ready until 20 answers in a row pass ``check`` (the workers answer at random),
    for at most a minute; the last answer."""
    deadline = time.monotonic() + 60
    passed = 0
    while passed < 20 and time.monotonic() < deadline:
        answer = ready(server)
        passed = passed + 1 if check(answer) else 0
        time.sleep(0.02)
    return answer


@pytest.fixture(name="versions", scope="module")
def versions_fixture(
    registry: Registry, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """Two good versions (other seeds give other probabilities), one worse, one under the gate."""
    root = tmp_path_factory.mktemp("trained")
    return {
        "first": train(registry, root / "first", {}),
        "second": train(registry, root / "second", {"seed = 42": "seed = 7"}),
        "worse": train(
            registry,
            root / "worse",
            {"n_estimators = 100": "n_estimators = 10", "max_depth = 8": "max_depth = 4"},
        ),
        "under_gate": train(
            registry,
            root / "under",
            {
                "n_estimators = 100": "n_estimators = 5",
                "max_depth = 8": "max_depth = 3",
                "min_f1_macro = 0.80": "min_f1_macro = 0.5",
            },
        ),
    }


def test_promotion_refuses_a_worse_version_and_one_under_the_gate(
    registry: Registry, versions: dict[str, str]
) -> None:
    promoted = sampleproject(registry, "promote", versions["first"], "--reason", "first model")
    assert promoted.returncode == 0, promoted.stderr
    first = versions["first"]
    assert re.fullmatch(
        rf"champion is now version {first}: version {first} f1_macro 0\.\d{{4}}; "
        r"there was no champion\n",
        promoted.stdout,
    ), promoted.stdout

    worse = sampleproject(registry, "promote", versions["worse"])
    assert worse.returncode == 1
    # Both figures, on one line: the candidate's and the champion's.
    assert re.fullmatch(
        r"sampleproject: error: worse than the champion \(version \d+ f1_macro 0\.\d{4}, "
        r"champion version \d+ 0\.\d{4}\): not promoted\n",
        worse.stderr,
    ), worse.stderr
    under = sampleproject(registry, "promote", versions["under_gate"])
    assert under.returncode == 1
    assert "fails the quality gate (f1_macro 0." in under.stderr

    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=registry.uri)
    champion = client.get_model_version_by_alias("zoo-classifier", "champion")
    assert champion.version == versions["first"]
    assert champion.tags["champion_why"].endswith(": first model")
    assert "champion: promoted" in (champion.description or "")


def test_serve_follows_the_alias_under_load_and_refuses_a_corrupted_version(
    registry: Registry, versions: dict[str, str], tmp_path: Path
) -> None:
    first, second = versions["first"], versions["second"]
    answers = {version: expected_answers(registry.folders[version]) for version in (first, second)}
    assert answers[first] != answers[second]  # so that an answer tells its model

    server = start(
        tmp_path, "--model", CHAMPION_REF, "--workers", "2", "--no-access-log", env=registry.env
    )
    # A second server watches the alias on its own (no signal): it follows the promotion.
    (tmp_path / "polling").mkdir()
    polling = start(
        tmp_path / "polling",
        "--model",
        CHAMPION_REF,
        "--reload-interval",
        "0.5",
        env=registry.env,
    )
    try:
        assert ready(server)["model_version"] == first
        assert ready(polling)["model_version"] == first
        with Load(server.port) as load:
            succeeds(sampleproject(registry, "promote", second))
            reload_until(server, lambda answer: answer.get("model_version") == second, "promotion")
            followed = wait_until(polling, lambda answer: answer.get("model_version") == second)
            assert followed.get("model_version") == second, followed
            assert stop(polling) == 0

            corrupted = register_corrupted_version(registry, first, second)
            refused = reload_until(
                server, lambda answer: "reload_error" in answer, "corrupted version"
            )
            assert refused["http_status"] == 200
            assert refused["model_version"] == second
            assert f"version {corrupted}" in refused["reload_error"]

            rolled_back = succeeds(
                sampleproject(registry, "rollback", first, "--reason", "bad answers")
            )
            assert rolled_back == f"champion is now version {first} (was {corrupted})\n"
            reload_until(server, lambda answer: answer.get("model_version") == first, "rollback")
            time.sleep(0.5)  # some load on the final model too
        metrics = server.get("/metrics")[1].decode()
    finally:
        assert stop(server) == 0
        stop(polling)

    assert not load.failures, load.failures
    assert_every_answer_is_from(load.answers, answers)
    assert re.search(r'sampleproject_model_reloads_total\{result="failure"\} [1-9]', metrics)
    info = rf'sampleproject_model_info\{{sha256="\w+",version="{first}"\}} 1\.0'
    assert re.search(info, metrics)
    assert_recorded(registry, first, f"rolled back from version {corrupted}: bad answers")


def succeeds(done: subprocess.CompletedProcess[str]) -> str:
    """The output of a command that must succeed."""
    assert done.returncode == 0, done.stderr
    return done.stdout


def assert_recorded(registry: Registry, version: str, why: str) -> None:
    """The last move of the champion alias to ``version`` is recorded on it, with ``why``."""
    from mlflow.tracking import MlflowClient

    recorded = MlflowClient(tracking_uri=registry.uri).get_model_version("zoo-classifier", version)
    assert recorded.tags["champion_why"] == why
    assert (recorded.description or "").endswith(f"champion: {why}")


def assert_every_answer_is_from(bodies: list[bytes], answers: dict[str, Any]) -> None:
    """Each body is the answer of one of the models (version -> answer), and each answered."""
    seen = dict.fromkeys(answers, 0)
    for body in bodies:
        matches = [version for version, answer in answers.items() if json.loads(body) == answer]
        assert matches, f"an answer from no verified model: {body[:300]!r}"
        seen[matches[0]] += 1
    assert all(count > 0 for count in seen.values()), seen


def register_corrupted_version(registry: Registry, good: str, other: str) -> str:
    """A version whose zoo.json is ``other``'s but whose model file is ``good``'s, made
    champion directly (as a mistaken manual move would): it must never serve."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=registry.uri)
    experiment = client.get_experiment_by_name("zoo-classifier")
    assert experiment is not None
    run = client.create_run(experiment.experiment_id, run_name="corrupted")
    folder = registry.folders[other].parent / "corrupted"
    folder.mkdir()
    (folder / "zoo.json").write_bytes((registry.folders[other] / "zoo.json").read_bytes())
    (folder / "zoo.onnx").write_bytes((registry.folders[good] / "zoo.onnx").read_bytes())
    client.log_artifacts(run.info.run_id, str(folder), artifact_path="onnx")
    client.set_terminated(run.info.run_id)
    sha256 = json.loads((folder / "zoo.json").read_text(encoding="utf-8"))["model_sha256"]
    version = client.create_model_version(
        "zoo-classifier",
        f"{run.info.artifact_uri}/onnx",
        run_id=run.info.run_id,
        tags={"model_sha256": sha256},
    )
    client.set_registered_model_alias("zoo-classifier", "champion", version.version)
    return str(version.version)


@pytest.mark.parametrize("reference", ["models:/zoo-classifier@nobody", "models:/no-such/1"])
def test_a_reference_the_registry_does_not_know_is_one_line_and_status_2(
    registry: Registry, reference: str
) -> None:
    done = sampleproject(registry, "predict", "--model", reference, "--legs", "4")
    assert done.returncode == 2
    # The registry's own words (which depend on what it holds), after the reference.
    said = rf"sampleproject: error: {re.escape(reference)}: MLflow registry: "
    pattern = said + r"[^\n]+ not found\.?\n"
    assert re.fullmatch(pattern, done.stderr), done.stderr


def test_a_restart_works_from_the_cache_while_the_server_is_down(
    registry: Registry, versions: dict[str, str], tmp_path: Path
) -> None:
    fetched = sampleproject(registry, "predict", "--model", CHAMPION_REF, "--legs", "4")
    assert fetched.returncode == 0, fetched.stderr  # the champion is in the cache now
    down = {**registry.env, "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{free_port()}"}
    server = start(tmp_path, "--model", CHAMPION_REF, env=down)
    try:
        answer = ready(server)
        assert answer["http_status"] == 200
        assert answer["model_version"] in versions.values()
    finally:
        assert stop(server) == 0
    assert "using the cached copy of models:/zoo-classifier@champion" in server.log.read_text(
        encoding="utf-8"
    )


def test_an_unreachable_server_and_an_empty_cache_keep_serve_unready(tmp_path: Path) -> None:
    down = {
        "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{free_port()}",
        "SAMPLEPROJECT_CACHE_DIR": str(tmp_path / "empty-cache"),
    }
    started = start(tmp_path, "--model", CHAMPION_REF, env=down, until="/health")
    try:
        answer = ready(started)
        assert answer["http_status"] == 503
        assert answer["status"] == "failed"
        assert answer["error"].startswith(f"{CHAMPION_REF}: cannot reach the MLflow tracking")
        assert started.get("/health")[0] == 200
    finally:
        assert stop(started) == 0
