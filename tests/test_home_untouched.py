"""Every command writes only where it is told to, and sends no telemetry.

Probed with strace and an empty home folder, ONNX Runtime wrote a device ID and a SQLite
queue of telemetry events under ~/.cache/Microsoft/DeveloperTools on every run (and
``serve`` kept that database open), MLflow wrote ~/.config/mlflow/telemetry.json, and
matplotlib its font cache; with a home folder it cannot write to, ONNX Runtime printed a
coloured warning. Here each command runs with ``HOME`` an empty folder and the XDG folders
(where those libraries write when they are set) somewhere nobody can write: the home must
stay empty, and stderr must say nothing but what the command itself says.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from sampleproject.inference.model import default_model_dir
from tests.conftest import BIN, require
from tests.test_serve_real import free_port

XDG = ("XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME")
CSV = (
    "hair,feathers,eggs,milk,airborne,aquatic,predator,toothed,backbone,breathes,venomous,"
    "fins,legs,tail,domestic,catsize\n1,0,0,1,0,0,1,1,1,1,0,0,4,0,0,1\n"
)


def private_env(tmp_path: Path, unwritable_xdg: bool = True) -> dict[str, str]:
    """The environment with an empty home folder (and unwritable XDG folders)."""
    home = tmp_path / "home"
    home.mkdir()
    blocked = tmp_path / "not-a-folder"  # a file: nothing can be created under it, by root
    blocked.write_text("")  # either (a read-only folder does not stop root)
    env = {name: value for name, value in os.environ.items() if name not in XDG}
    env |= {"HOME": str(home), "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db"}
    env.pop("MPLCONFIGDIR", None)
    if unwritable_xdg:
        env |= {name: str(blocked / name.lower()) for name in XDG}
    return env


def run(
    env: dict[str, str], *args: str, cwd: Path, statuses: tuple[int, ...] = (0,)
) -> subprocess.CompletedProcess[str]:
    """``sampleproject ARGS``: its result, whose exit status must be one of ``statuses``."""
    result = subprocess.run(
        [str(BIN / "sampleproject"), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert result.returncode in statuses, result.stderr
    return result


def assert_untouched(tmp_path: Path, result: subprocess.CompletedProcess[str]) -> None:
    """The home folder is still empty, and stderr holds no warning."""
    assert sorted((tmp_path / "home").rglob("*")) == []
    assert "\x1b[" not in result.stderr  # ONNX Runtime's coloured warnings
    assert "warn" not in result.stderr.lower(), result.stderr


def test_the_adder_and_predict_leave_the_home_folder_alone(tmp_path: Path) -> None:
    require((default_model_dir() / "zoo.json").exists(), "no trained model: run `make train`")
    env = private_env(tmp_path)
    (tmp_path / "animals.csv").write_text(CSV, encoding="utf-8")
    assert run(env, "45", "46", cwd=tmp_path).stdout == "91\n"
    assert run(env, "predict", "--legs", "4", "--hair", cwd=tmp_path).stdout.strip()
    result = run(env, "predict", "animals.csv", "-o", "out.csv", cwd=tmp_path)
    assert_untouched(tmp_path, result)
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "animals.csv",
        "home",
        "not-a-folder",
        "out.csv",
    ]


def test_with_a_home_folder_nobody_can_write_to_predict_prints_no_warning(
    tmp_path: Path,
) -> None:
    require((default_model_dir() / "zoo.json").exists(), "no trained model: run `make train`")
    home = tmp_path / "home"
    home.write_text("")  # a file, not a folder: unwritable for root too
    env = {name: value for name, value in os.environ.items() if name not in XDG}
    result = run({**env, "HOME": str(home)}, "predict", "--legs", "4", "--hair", cwd=tmp_path)
    assert result.stderr == ""


@pytest.mark.slow
def test_training_and_the_registry_commands_leave_the_home_folder_alone(tmp_path: Path) -> None:
    # (``--model`` needs a tracking server; promote and rollback use the same MLflow client.)
    env = private_env(tmp_path)
    (tmp_path / "animals.csv").write_text(CSV, encoding="utf-8")
    for command in (
        ["train", "--output-dir", "model"],
        ["promote"],
        ["rollback", "1"],
        ["drift", "animals.csv", "--model-dir", "model", "--plot", "drift.png"],
    ):
        result = run(env, *command, cwd=tmp_path, statuses=(0, 1))  # drift: 1, drift found
        assert_untouched(tmp_path, result)
    assert (tmp_path / "model" / "zoo.onnx").exists()
    assert (tmp_path / "drift.png").exists()


@pytest.mark.slow
def test_serve_writes_nothing_and_keeps_no_database_open(tmp_path: Path) -> None:
    require((default_model_dir() / "zoo.json").exists(), "no trained model: run `make train`")
    env = private_env(tmp_path, unwritable_xdg=False)  # where ONNX Runtime would write
    port = free_port()
    env["SAMPLEPROJECT_PORT"] = str(port)
    with (tmp_path / "serve.log").open("wb") as log:
        process = subprocess.Popen(  # pylint: disable=consider-using-with
            [str(BIN / "sampleproject"), "serve"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=5) as ready:
                    assert ready.status == 200
                    break
            except OSError:
                assert process.poll() is None, (tmp_path / "serve.log").read_text()
                assert time.monotonic() < deadline, "serve did not become ready"
                time.sleep(0.2)
        predict = urllib.request.Request(
            f"http://127.0.0.1:{port}/predict",
            data=json.dumps({"legs": 4}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(predict, timeout=5) as answer:  # noqa: S310
            assert answer.status == 200
        open_files = [str(fd.readlink()) for fd in Path(f"/proc/{process.pid}/fd").iterdir()]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    files = {name for name in open_files if name.startswith("/") and not name.startswith("/dev/")}
    assert files == {str(tmp_path / "serve.log")}  # was: ONNX Runtime's database, open
    assert sorted((tmp_path / "home").rglob("*")) == []
