"""The installed wheel predicts in a brand-new environment without the training stack."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from sampleproject.errors import INSTALL_TRAIN_EXTRA

pytestmark = pytest.mark.slow

TRAINING_STACK = {"scikit-learn", "skl2onnx", "mlflow", "matplotlib", "pandas", "onnx"}


def run(bin_dir: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the program ``args[0]`` of ``bin_dir`` with the other arguments."""
    return subprocess.run(
        [str(bin_dir / args[0]), *args[1:]],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        cwd=cwd,
    )


def test_the_fresh_install_predicts_with_onnx_runtime_only(
    runtime_env: Path, tmp_path: Path
) -> None:
    listed = run(runtime_env, "python", "-m", "pip", "list", "--format=freeze")
    installed = {line.split("==")[0].lower() for line in listed.stdout.splitlines()}
    assert not installed & TRAINING_STACK
    assert {"onnxruntime", "numpy"} <= installed

    # Run from an empty folder, so that the checkout cannot be imported by accident.
    done = run(
        runtime_env,
        "sampleproject",
        "predict",
        "--hair",
        "--milk",
        "--legs",
        "4",
        "--tail",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    name, probability = done.stdout.split()
    assert name == "mammal"
    assert 0 < float(probability) <= 1

    bird = {"feathers": 1, "eggs": 1, "airborne": 1, "backbone": 1, "breathes": 1, "legs": 2}
    (tmp_path / "a.jsonl").write_text(json.dumps({**bird, "tail": 1}) + "\n", encoding="utf-8")
    done = run(runtime_env, "sampleproject", "predict", "a.jsonl", cwd=tmp_path)
    assert done.returncode == 0
    assert json.loads(done.stdout)["class_name"] == "bird"


def test_the_fresh_install_refuses_a_tampered_model(runtime_env: Path, tmp_path: Path) -> None:
    code = "from sampleproject.inference.model import default_model_dir as d; print(d())"
    located = run(runtime_env, "python", "-c", code)
    model = Path(shutil.copytree(located.stdout.strip(), tmp_path / "model"))
    onnx = model / "zoo.onnx"
    onnx.write_bytes(onnx.read_bytes()[:-1] + b"\x00")
    done = run(runtime_env, "sampleproject", "predict", "--legs", "4", "--model-dir", str(model))
    assert done.returncode == 1
    assert done.stderr.startswith("sampleproject: error: model ")
    assert "SHA-256" in done.stderr


def test_the_fresh_install_measures_drift_but_plots_only_with_matplotlib(
    runtime_env: Path, tmp_path: Path
) -> None:
    bird = {"feathers": 1, "eggs": 1, "airborne": 1, "backbone": 1, "breathes": 1, "legs": 2}
    (tmp_path / "birds.jsonl").write_text(json.dumps(bird) + "\n", encoding="utf-8")
    done = run(runtime_env, "sampleproject", "drift", "birds.jsonl", "--json", cwd=tmp_path)
    assert done.returncode == 1, done.stderr  # one bird is far from the Zoo data: drift
    assert json.loads(done.stdout)["psi"]["feathers"] > 0.25
    done = run(
        runtime_env, "sampleproject", "drift", "birds.jsonl", "--plot", "d.png", cwd=tmp_path
    )
    assert done.returncode == 2
    assert done.stderr == (
        "sampleproject: error: --plot needs matplotlib, which the runtime does not install: "
        f"{INSTALL_TRAIN_EXTRA}\n"
    )
    assert not (tmp_path / "d.png").exists()


def test_without_a_model_the_installed_wheel_names_a_fix_that_works_there(
    runtime_env: Path, tmp_path: Path
) -> None:
    """No `run 'sampleproject train'` where the training stack is not installed."""
    for command in (("predict", "--legs", "4"), ("serve", "--port", "0")):
        done = run(runtime_env, "sampleproject", *command, "--model-dir", str(tmp_path))
        assert done.returncode == 1
        (line,) = done.stderr.splitlines()
        assert "zoo.json is missing; this installation cannot train: give --model-dir" in line
        assert "run 'sampleproject train'" not in line
    done = run(runtime_env, "sampleproject", "train", "--output-dir", str(tmp_path / "m"))
    assert done.returncode == 1
    assert done.stderr.strip().endswith(INSTALL_TRAIN_EXTRA)
