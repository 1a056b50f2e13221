"""Registry references without a server: parsing, the cache, and a server that does not answer.

The real tracking server (fetching, aliases, promotion, reload) is tested in test_mlops_loop.py.
"""

from __future__ import annotations

import base64
import http.server
import json
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sampleproject import cli
from sampleproject.errors import UsageError
from sampleproject.inference import registry
from sampleproject.inference.model import default_model_dir
from sampleproject.inference.predictor import ModelSource
from sampleproject.inference.registry import ModelRef, RegistryError, fetch, parse_ref
from tests.conftest import require_tool, tmpfs


def closed_port_uri() -> str:
    """The URL of a loopback port that nothing listens on (the server is down)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def cache_with_champion(cache: Path, version: str = "4") -> Path:
    """A cache in which ``champion`` was last seen at ``version``, the shipped model's files."""
    folder = cache / "zoo-classifier" / "versions" / version
    folder.mkdir(parents=True)
    for name in ("zoo.json", "zoo.onnx"):
        shutil.copy(default_model_dir() / name, folder / name)
    aliases = cache / "zoo-classifier" / "aliases"
    aliases.mkdir()
    (aliases / "champion").write_text(f"{version}\n", encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("models:/zoo-classifier@champion", ModelRef("zoo-classifier", alias="champion")),
        ("models:/zoo-classifier/12", ModelRef("zoo-classifier", version="12")),
    ],
)
def test_references_name_an_alias_or_a_version(text: str, expected: ModelRef) -> None:
    assert parse_ref(text) == expected
    assert str(expected) == text


@pytest.mark.parametrize(
    "text",
    ["zoo-classifier@champion", "models:/zoo-classifier", "models:/zoo/latest", "models:/@x", ""],
)
def test_malformed_references_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError, match="expected models:/NAME@ALIAS or models:/NAME/VERSION"):
        parse_ref(text)


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("", "set $MLFLOW_TRACKING_URI to the MLflow tracking server's URL"),
        ("sqlite:///mlruns/mlflow.db", "not a tracking server's http(s) URL"),
    ],
)
def test_a_reference_needs_a_tracking_server(
    uri: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with pytest.raises(RegistryError, match=re.escape(message)):
        fetch(parse_ref("models:/zoo-classifier@champion"), uri, tmp_path)


def test_an_unreachable_server_with_an_empty_cache_is_one_clear_error(tmp_path: Path) -> None:
    uri = closed_port_uri()
    with pytest.raises(RegistryError) as raised:
        fetch(parse_ref("models:/zoo-classifier@champion"), uri, tmp_path)
    message = str(raised.value)
    assert message.startswith("models:/zoo-classifier@champion: cannot reach the MLflow")
    assert f"and no copy of it is cached in {tmp_path / 'zoo-classifier'}" in message


def test_an_unreachable_server_falls_back_to_the_cached_alias_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = cache_with_champion(tmp_path)
    with caplog.at_level(logging.WARNING, logger="sampleproject.registry"):
        fetched = fetch(parse_ref("models:/zoo-classifier@champion"), closed_port_uri(), tmp_path)
    assert (fetched.version, fetched.folder, fetched.from_cache) == ("4", folder, True)
    assert "using the cached copy of models:/zoo-classifier@champion (version 4)" in caplog.text


def test_a_cached_version_is_used_without_asking_the_server(tmp_path: Path) -> None:
    folder = cache_with_champion(tmp_path, version="7")
    fetched = fetch(parse_ref("models:/zoo-classifier/7"), closed_port_uri(), tmp_path)
    assert (fetched.folder, fetched.from_cache) == (folder, False)


def test_a_damaged_cached_model_is_refused_and_dropped(tmp_path: Path) -> None:
    folder = cache_with_champion(tmp_path)
    (folder / "zoo.onnx").write_bytes((folder / "zoo.onnx").read_bytes()[:-1])
    source = ModelSource("models:/zoo-classifier@champion", cache_dir=tmp_path)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", closed_port_uri())
        with pytest.raises(RegistryError, match=r"\(version 4\): model .* does not match"):
            source.load()
    assert not folder.exists()  # fetched again next time, never loaded as it is


def test_the_cache_folder_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAMPLEPROJECT_CACHE_DIR", "/somewhere")
    assert registry.default_cache_dir() == Path("/somewhere")
    monkeypatch.delenv("SAMPLEPROJECT_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", "/xdg")
    assert registry.default_cache_dir() == Path("/xdg/sampleproject")


def test_predict_by_reference_from_the_cache_prints_the_answer_and_a_warning(
    tmp_path: Path,
) -> None:
    cache_with_champion(tmp_path)
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": closed_port_uri(),
        "SAMPLEPROJECT_CACHE_DIR": str(tmp_path),
    }
    args = ["predict", "--model", "models:/zoo-classifier@champion", "--legs", "4", "--json"]
    done = subprocess.run(
        [sys.executable, "-m", "sampleproject", *args, "--hair", "--milk"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert not done.returncode, done.stderr
    assert json.loads(done.stdout)["class_name"] == "mammal"
    assert done.stderr.startswith("cannot reach the MLflow tracking server at http://127.0.0.1:")
    assert "using the cached copy of models:/zoo-classifier@champion (version 4)" in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "zoo@champion"], "invalid model reference 'zoo@champion'"),
        (["--model", "models:/zoo-classifier@champion"], "cannot reach the MLflow"),
        (["--model", "models:/zoo-classifier/1", "--model-dir", "."], "not allowed with"),
    ],
)
def test_predict_by_reference_fails_with_one_line_and_status_2(
    args: list[str],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", closed_port_uri())
    monkeypatch.setenv("SAMPLEPROJECT_CACHE_DIR", str(tmp_path))
    try:
        status = cli.main(["predict", *args, "--legs", "4"])
    except SystemExit as exit_:  # argparse's own usage errors
        status = int(str(exit_.code))
    err = capsys.readouterr().err
    assert status == 2
    assert message in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) <= 2  # argparse adds its usage line


def test_the_makefile_uses_the_same_default_tracking_store() -> None:
    # make cannot import Python cheaply, so it states the default again: keep them one.
    makefile = (Path(__file__).parent.parent / "Makefile").read_text(encoding="utf-8")
    match = re.search(r"^MLFLOW_TRACKING_URI \?= (\S+)$", makefile, re.MULTILINE)
    assert match is not None
    assert match[1] == registry.DEFAULT_TRACKING_URI


# --- The REST client against a stand-in server ------------------------------------------
# A few lines of http.server answering the four calls the way MLflow's REST API documents
# them, so that every branch of the client (errors included) runs in the fast suite. The
# real MLflow server is what test_mlops_loop.py uses.


class StandIn(http.server.ThreadingHTTPServer):
    """A registry of one model: versions, aliases, artifact folders; remembers the headers."""

    def __init__(self, artifacts: Path) -> None:
        super().__init__(("127.0.0.1", 0), _StandInHandler)
        self.artifacts = artifacts
        self.versions: dict[str, dict[str, Any]] = {}
        self.aliases: dict[str, str] = {}
        self.download_uris: dict[str, str] = {}
        self.seen_headers: list[dict[str, str]] = []
        self.cut_short: set[str] = set()  # paths answered with half their declared body

    @property
    def uri(self) -> str:
        """Its URL."""
        return f"http://127.0.0.1:{self.server_address[1]}"

    def add_version(self, version: str, folder: Path, sha256_tag: str | None = None) -> None:
        """Version ``version`` with ``folder``'s files, behind the artifact proxy."""
        shutil.copytree(folder, self.artifacts / "runs" / version / "onnx")
        tags = [] if sha256_tag is None else [{"key": "model_sha256", "value": sha256_tag}]
        self.versions[version] = {"name": "zoo-classifier", "version": version, "tags": tags}
        self.download_uris[version] = f"mlflow-artifacts:/runs/{version}/onnx"


class _StandInHandler(http.server.BaseHTTPRequestHandler):
    server: StandIn

    # http.server calls do_<METHOD>: the name is not ours to choose.
    def do_GET(self) -> None:  # pylint: disable=invalid-name
        """Answer as MLflow's REST API does."""
        self.server.seen_headers.append(dict(self.headers))
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        prefix = "/api/2.0/mlflow-artifacts/artifacts/"
        if url.path.startswith(prefix):
            file = self.server.artifacts / urllib.parse.unquote(url.path.removeprefix(prefix))
            if file.is_file():
                self._answer(200, file.read_bytes())
            else:
                self._missing("file")
            return
        version = {
            "/api/2.0/mlflow/registered-models/alias": self.server.aliases.get(
                query.get("alias", "")
            ),
            "/api/2.0/mlflow/model-versions/get": query.get("version"),
            "/api/2.0/mlflow/model-versions/get-download-uri": query.get("version"),
        }.get(url.path)
        if version not in self.server.versions:
            self._missing(f"Model Version (name={query.get('name')}, version={version})")
        elif url.path.endswith("get-download-uri"):
            self._json({"artifact_uri": self.server.download_uris[version]})
        else:
            self._json({"model_version": self.server.versions[version]})

    def _missing(self, what: str) -> None:
        body = {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": f"{what} not found"}
        self._answer(404, json.dumps(body).encode())

    def _json(self, body: object) -> None:
        self._answer(200, json.dumps(body).encode())

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if urllib.parse.urlsplit(self.path).path in self.server.cut_short:
            self.wfile.write(body[: len(body) // 2])  # then the connection closes
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:  # quiet
        pass


@pytest.fixture(name="stand_in")
def stand_in_fixture(tmp_path: Path) -> Iterator[StandIn]:
    """A running stand-in registry whose version 1 (alias champion) is the shipped model."""
    server = StandIn(tmp_path / "artifacts")
    server.add_version("1", default_model_dir(), sha256_tag=shipped_sha256())
    server.aliases["champion"] = "1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def shipped_sha256() -> str:
    """The shipped model's checksum, as zoo.json records it."""
    metadata = json.loads((default_model_dir() / "zoo.json").read_text(encoding="utf-8"))
    return str(metadata["model_sha256"])


def test_an_alias_is_fetched_verified_and_remembered(stand_in: StandIn, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    fetched = fetch(parse_ref("models:/zoo-classifier@champion"), stand_in.uri, cache)
    assert (fetched.version, fetched.from_cache) == ("1", False)
    for name in ("zoo.json", "zoo.onnx"):
        assert (fetched.folder / name).read_bytes() == (default_model_dir() / name).read_bytes()
    assert (cache / "zoo-classifier" / "aliases" / "champion").read_text() == "1\n"
    # The alias moves: the next fetch follows it.
    stand_in.add_version("2", default_model_dir(), sha256_tag=shipped_sha256())
    stand_in.aliases["champion"] = "2"
    assert fetch(parse_ref("models:/zoo-classifier@champion"), stand_in.uri, cache).version == "2"


def test_a_version_from_a_local_artifact_store_is_read_from_disk(
    stand_in: StandIn, tmp_path: Path
) -> None:
    stand_in.download_uris["1"] = default_model_dir().as_uri()
    fetched = fetch(parse_ref("models:/zoo-classifier/1"), stand_in.uri, tmp_path)
    assert (fetched.folder / "zoo.onnx").read_bytes() == (
        default_model_dir() / "zoo.onnx"
    ).read_bytes()


def test_a_registry_checksum_that_disagrees_with_the_files_is_refused(
    stand_in: StandIn, tmp_path: Path
) -> None:
    stand_in.add_version("3", default_model_dir(), sha256_tag="0" * 64)
    with pytest.raises(RegistryError, match=r"version 3\): zoo.json's model_sha256 differs"):
        fetch(parse_ref("models:/zoo-classifier/3"), stand_in.uri, tmp_path)
    assert not (tmp_path / "zoo-classifier" / "versions" / "3").exists()


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ({"model_file": "../../etc/passwd"}, "version 4: its zoo.json names no valid model file"),
        ({"model_file": "gone.onnx"}, "MLflow registry: file not found"),
    ],
)
def test_a_version_with_bad_files_is_one_clear_error_and_not_cached(
    stand_in: StandIn, tmp_path: Path, damage: dict[str, str], message: str
) -> None:
    folder = tmp_path / "bad"
    shutil.copytree(default_model_dir(), folder)
    metadata = json.loads((folder / "zoo.json").read_text(encoding="utf-8"))
    (folder / "zoo.json").write_text(json.dumps(metadata | damage), encoding="utf-8")
    stand_in.add_version("4", folder)
    with pytest.raises(RegistryError, match=re.escape(f"models:/zoo-classifier/4: {message}")):
        fetch(parse_ref("models:/zoo-classifier/4"), stand_in.uri, tmp_path / "cache")
    assert not (tmp_path / "cache" / "zoo-classifier" / "versions" / "4").exists()


@pytest.mark.parametrize(
    ("download_uri", "message"),
    [
        ("s3://bucket/onnx", "are not served by the tracking server"),
        ("file:///nonexistent/onnx", "cannot read /nonexistent/onnx/zoo.json"),
    ],
)
def test_artifacts_the_client_cannot_reach_are_named(
    stand_in: StandIn, tmp_path: Path, download_uri: str, message: str
) -> None:
    stand_in.download_uris["1"] = download_uri
    with pytest.raises(RegistryError, match=re.escape(message)):
        fetch(parse_ref("models:/zoo-classifier/1"), stand_in.uri, tmp_path)


def test_an_unknown_alias_is_the_registry_s_message(stand_in: StandIn, tmp_path: Path) -> None:
    with pytest.raises(RegistryError) as raised:
        fetch(parse_ref("models:/zoo-classifier@staging"), stand_in.uri, tmp_path)
    assert str(raised.value) == (
        "models:/zoo-classifier@staging: MLflow registry: "
        "Model Version (name=zoo-classifier, version=None) not found"
    )


def test_a_server_that_is_not_mlflow_is_named(tmp_path: Path) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotMlflowHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        uri = f"http://127.0.0.1:{server.server_address[1]}"
        with pytest.raises(RegistryError, match="with no JSON object: is it MLflow"):
            fetch(parse_ref("models:/zoo-classifier@champion"), uri, tmp_path)
    finally:
        server.shutdown()
        server.server_close()


class _NotMlflowHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # pylint: disable=invalid-name
        """A web page, whatever is asked (a proxy's login page, say)."""
        body = b"<html>a login page</html>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:  # quiet
        pass


@pytest.mark.parametrize(
    ("env", "header"),
    [
        ({"MLFLOW_TRACKING_TOKEN": "t0ken"}, "Bearer t0ken"),
        (
            {
                "MLFLOW_TRACKING_USERNAME": "ann",
                "MLFLOW_TRACKING_PASSWORD": "pw",  # pragma: allowlist secret (made up)
            },
            "Basic " + base64.b64encode(b"ann:pw").decode(),
        ),
    ],
)
def test_the_client_authenticates_as_mlflow_s_own_variables_say(
    stand_in: StandIn,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
    header: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    fetch(parse_ref("models:/zoo-classifier@champion"), stand_in.uri, tmp_path)
    assert {seen.get("Authorization") for seen in stand_in.seen_headers} == {header}


# --- Names that become paths -----------------------------------------------------------
# A reference's name and version, and the version the registry answers, are folder names in
# the cache: each must be one plain path component before it is used (issue 23, item 5).


@pytest.mark.parametrize(
    "text",
    [
        "models:/../1",
        "models:/./1",
        "models:/..@champion",
        "models:/zoo-classifier@..",
        "models:/zoo-classifier@cham.pion",  # MLflow's aliases have no dots
        "models:/zoo\\classifier/1",
        "models:/zoo:classifier/1",
        "models:/zoo\nclassifier/1",
        "models:/zoo-classifier/1234567890123456789",  # more digits than a version has
    ],
)
def test_names_and_aliases_that_cannot_be_folder_names_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError) as raised:
        parse_ref(text)
    message = str(raised.value)
    assert message.startswith(f"invalid model reference {text!r}: ")
    assert "\n" not in message


def test_a_reference_that_climbs_out_of_the_cache_leaves_what_is_outside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # models:/../1 named CACHE/../versions/1: a folder outside the cache, which was loaded
    # and then, since it held no model, removed.
    cache = tmp_path / "cache"
    cache.mkdir()
    outside = tmp_path / "versions" / "1"
    outside.mkdir(parents=True)
    (outside / "zoo.json").write_text("{}", encoding="utf-8")
    (outside / "notes.txt").write_text("someone's work", encoding="utf-8")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", closed_port_uri())
    monkeypatch.setenv("SAMPLEPROJECT_CACHE_DIR", str(cache))
    assert cli.main(["predict", "--model", "models:/../1", "--legs", "4"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sampleproject: error: invalid model reference 'models:/../1': ")
    assert "the model name '..' cannot be a folder name" in err
    assert err.count("\n") == 1
    assert sorted(path.name for path in outside.iterdir()) == ["notes.txt", "zoo.json"]


@pytest.mark.parametrize("answer", ["../../../outside", "1/../../../../outside", "..", "-1", ""])
def test_a_version_the_registry_answers_must_be_a_number(
    stand_in: StandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, answer: str
) -> None:
    outside = tmp_path / "outside"  # CACHE/zoo-classifier/versions/../../../outside
    outside.mkdir()
    (outside / "zoo.json").write_text("{}", encoding="utf-8")
    (outside / "notes.txt").write_text("someone's work", encoding="utf-8")
    cache = tmp_path / "cache"
    fetch(parse_ref("models:/zoo-classifier@champion"), stand_in.uri, cache)  # versions/ exists
    tags = [{"key": "model_sha256", "value": "0" * 64}]  # disagrees with what is "cached"
    stand_in.versions[answer] = {"name": "zoo-classifier", "version": answer, "tags": tags}
    stand_in.aliases["evil"] = answer
    monkeypatch.setenv("MLFLOW_TRACKING_URI", stand_in.uri)
    stand_in.download_uris[answer] = f"mlflow-artifacts:/runs/{answer}/onnx"
    with pytest.raises(RegistryError) as raised:
        ModelSource("models:/zoo-classifier@evil", cache_dir=cache).load()
    assert sorted(path.name for path in outside.iterdir()) == ["notes.txt", "zoo.json"]
    assert str(raised.value) == (
        "models:/zoo-classifier@evil: the registry answered a version that is not one: "
        f"{answer!r} is not a version number"
    )
    assert sorted(path.name for path in (cache / "zoo-classifier" / "versions").iterdir()) == ["1"]


# --- The cache's faults: one line each, never a traceback (issue 23, item 6) -------------


def run_predict(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``sampleproject predict ARGS`` in a process of its own, with ``env`` added."""
    return subprocess.run(
        [sys.executable, "-m", "sampleproject", "predict", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


CHAMPION_ANIMAL = ("--model", "models:/zoo-classifier@champion", "--legs", "4", "--hair", "--milk")


def test_a_version_the_cache_cannot_store_is_one_line_and_status_2(
    stand_in: StandIn, tmp_path: Path
) -> None:
    versions = tmp_path / "zoo-classifier" / "versions"
    versions.mkdir(parents=True)
    (versions / "1").write_text("a file where version 1's folder goes", encoding="utf-8")
    env = {"MLFLOW_TRACKING_URI": stand_in.uri, "SAMPLEPROJECT_CACHE_DIR": str(tmp_path)}
    done = run_predict(env, *CHAMPION_ANIMAL)
    assert done.returncode == 2
    assert done.stderr == (
        "sampleproject: error: models:/zoo-classifier@champion: cannot store version 1 in the "
        f"model cache {versions}: Not a directory\n"
    )
    assert [path.name for path in versions.iterdir()] == ["1"]  # no staging folder left


@pytest.mark.parametrize("block", ["aliases is a file", "the alias record is a folder"])
def test_an_alias_the_cache_cannot_record_is_a_warning_and_the_model_answers(
    stand_in: StandIn, tmp_path: Path, block: str
) -> None:
    root = tmp_path / "zoo-classifier"
    if block == "aliases is a file":
        root.mkdir()
        (root / "aliases").write_text("not a folder", encoding="utf-8")
    else:
        (root / "aliases" / "champion").mkdir(parents=True)
    env = {"MLFLOW_TRACKING_URI": stand_in.uri, "SAMPLEPROJECT_CACHE_DIR": str(tmp_path)}
    done = run_predict(env, *CHAMPION_ANIMAL)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("mammal ")
    assert done.stderr.startswith(
        "cannot record in the model cache that champion is version 1 ("
    ), done.stderr
    assert done.stderr.endswith(
        "): a restart while the tracking server is down would not know it\n"
    )
    assert done.stderr.count("\n") == 1


ALIAS_PATH = "/api/2.0/mlflow/registered-models/alias"
MODEL_PATH = "/api/2.0/mlflow-artifacts/artifacts/runs/1/onnx/zoo.onnx"


@pytest.mark.parametrize("path", [ALIAS_PATH, MODEL_PATH])
def test_an_answer_cut_short_with_an_empty_cache_is_one_line_and_status_2(
    stand_in: StandIn, tmp_path: Path, path: str
) -> None:
    stand_in.cut_short.add(path)
    env = {"MLFLOW_TRACKING_URI": stand_in.uri, "SAMPLEPROJECT_CACHE_DIR": str(tmp_path)}
    done = run_predict(env, *CHAMPION_ANIMAL)
    assert done.returncode == 2
    found = re.fullmatch(
        r"sampleproject: error: models:/zoo-classifier@champion: cannot reach the MLflow "
        rf"tracking server at {re.escape(stand_in.uri)} \(its answer was cut short after "
        r"(\d+) of (\d+) bytes\), and no copy of it is cached in \S+\n",
        done.stderr,
    )
    assert found, done.stderr
    assert 2 * int(found[1]) in (int(found[2]), int(found[2]) - 1)
    assert not list((tmp_path / "zoo-classifier" / "versions").glob("*"))  # nothing half-stored


def test_an_answer_cut_short_falls_back_to_the_cached_copy(
    stand_in: StandIn, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = cache_with_champion(tmp_path, version="1")
    stand_in.cut_short.add(ALIAS_PATH)
    with caplog.at_level(logging.WARNING, logger="sampleproject.registry"):
        fetched = fetch(parse_ref("models:/zoo-classifier@champion"), stand_in.uri, tmp_path)
    assert (fetched.version, fetched.folder, fetched.from_cache) == ("1", folder, True)
    assert "its answer was cut short" in caplog.text


# --- A read-only cache, for real (a tmpfs mounted read-only: needs root) -----------------


@pytest.fixture(name="mounted_cache")
def mounted_cache_fixture(tmp_path: Path) -> Iterator[Path]:
    """A small tmpfs to fill and then remount read-only (see :func:`read_only`)."""
    with tmpfs(tmp_path / "cache", "16m") as folder:
        yield folder


def read_only(folder: Path) -> None:
    """Remount the tmpfs at ``folder`` read-only."""
    subprocess.run(
        [require_tool("mount"), "-o", "remount,ro", str(folder)], check=True, capture_output=True
    )
    with pytest.raises(OSError, match="Read-only file system"):
        (folder / "probe").write_text("x", encoding="utf-8")


@pytest.mark.slow
def test_a_read_only_cache_without_the_version_is_one_line_and_status_2(
    stand_in: StandIn, mounted_cache: Path
) -> None:
    fetch(parse_ref("models:/zoo-classifier@champion"), stand_in.uri, mounted_cache)
    stand_in.add_version("2", default_model_dir(), sha256_tag=shipped_sha256())
    stand_in.aliases["champion"] = "2"
    read_only(mounted_cache)
    env = {"MLFLOW_TRACKING_URI": stand_in.uri, "SAMPLEPROJECT_CACHE_DIR": str(mounted_cache)}
    done = run_predict(env, *CHAMPION_ANIMAL)
    assert done.returncode == 2
    versions = mounted_cache / "zoo-classifier" / "versions"
    assert done.stderr == (
        "sampleproject: error: models:/zoo-classifier@champion: cannot store version 2 in the "
        f"model cache {versions}: Read-only file system\n"
    )


@pytest.mark.slow
def test_a_read_only_cache_with_the_version_answers_and_warns_once(
    stand_in: StandIn, mounted_cache: Path
) -> None:
    fetch(parse_ref("models:/zoo-classifier@champion"), stand_in.uri, mounted_cache)
    read_only(mounted_cache)
    env = {"MLFLOW_TRACKING_URI": stand_in.uri, "SAMPLEPROJECT_CACHE_DIR": str(mounted_cache)}
    done = run_predict(env, *CHAMPION_ANIMAL)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("mammal ")
    aliases = mounted_cache / "zoo-classifier" / "aliases"
    assert done.stderr == (
        "cannot record in the model cache that champion is version 1 "
        f"({aliases}: Read-only file system): a restart while the tracking server is down "
        "would not know it\n"
    )


def test_a_server_that_does_not_speak_http_is_an_unreachable_one(tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()

        def answer_nonsense() -> None:
            connection, _ = listener.accept()
            with connection:
                connection.recv(65536)
                connection.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")

        thread = threading.Thread(target=answer_nonsense, daemon=True)
        thread.start()
        uri = f"http://127.0.0.1:{listener.getsockname()[1]}"
        with pytest.raises(RegistryError) as raised:
            fetch(parse_ref("models:/zoo-classifier@champion"), uri, tmp_path)
        thread.join(timeout=10)
    assert str(raised.value).startswith(
        f"models:/zoo-classifier@champion: cannot reach the MLflow tracking server at {uri} "
        "(no valid HTTP answer (BadStatusLine)), and no copy of it is cached in "
    )


def test_a_name_longer_than_a_file_name_may_be_is_refused() -> None:
    with pytest.raises(UsageError, match="the model name is longer than 255 bytes"):
        parse_ref(f"models:/{'é' * 128}/1")  # 256 bytes in UTF-8
    assert parse_ref(f"models:/{'é' * 127}/1").name == "é" * 127


def test_an_incomplete_version_folder_is_replaced_by_a_complete_download(
    stand_in: StandIn, tmp_path: Path
) -> None:
    folder = tmp_path / "zoo-classifier" / "versions" / "1"
    folder.mkdir(parents=True)
    (folder / "zoo.onnx").write_bytes(b"half a model, and no zoo.json")
    fetched = fetch(parse_ref("models:/zoo-classifier/1"), stand_in.uri, tmp_path)
    assert fetched.folder == folder
    assert (folder / "zoo.onnx").read_bytes() == (default_model_dir() / "zoo.onnx").read_bytes()


def test_a_cache_under_a_file_is_one_clear_error(stand_in: StandIn, tmp_path: Path) -> None:
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder goes", encoding="utf-8")
    with pytest.raises(RegistryError) as raised:
        fetch(parse_ref("models:/zoo-classifier@champion"), stand_in.uri, blocker)
    assert str(raised.value) == (
        "models:/zoo-classifier@champion: cannot create the model cache "
        f"{blocker / 'zoo-classifier' / 'versions'}: Not a directory"
    )


def test_an_alias_the_cache_cannot_record_is_logged_once(
    stand_in: StandIn, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "zoo-classifier" / "aliases" / "champion").mkdir(parents=True)
    with caplog.at_level(logging.WARNING, logger="sampleproject.registry"):
        fetched = fetch(parse_ref("models:/zoo-classifier@champion"), stand_in.uri, tmp_path)
    assert fetched.version == "1"
    (record,) = caplog.records
    assert record.getMessage().startswith(
        "cannot record in the model cache that champion is version 1 "
    )
    # Unrecorded, the alias cannot be answered from the cache: no stale answer either.
    with pytest.raises(RegistryError, match="no copy of it is cached"):
        fetch(parse_ref("models:/zoo-classifier@champion"), closed_port_uri(), tmp_path)
