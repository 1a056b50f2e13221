"""Registry references without a server: parsing, the cache, and a server that does not answer.

The real tracking server (fetching, aliases, promotion, reload) is tested in test_mlops_loop.py.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from sampleproject import cli
from sampleproject.errors import UsageError
from sampleproject.inference import registry
from sampleproject.inference.model import default_model_dir
from sampleproject.inference.predictor import ModelSource
from sampleproject.inference.registry import ModelRef, RegistryError, fetch, parse_ref


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
    assert done.returncode == 0, done.stderr
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
