"""The servers of the serving benchmark: how to start each, ask it, and read its answers.

Each serves the same trained model with one worker: ``sampleproject serve`` (this checkout
or another), the floor (bench/floor_app.py), and the peers, each installed from PyPI in a
venv of its own on first use (pins in bench/peers/NAME.txt): MLServer, LitServe, BentoML on
ONNX Runtime, and ``mlflow models serve`` on the scikit-learn model that training logged.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sampleproject import schema

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PEERS_DIR = ROOT / "bench" / "peers"
MODEL_DIR = ROOT / "sampleproject" / "model"
PEERS = ("mlserver", "litserve", "bentoml", "mlflow")
CLASS_NAMES = tuple(schema.CLASS_NAMES.values())

Animal = dict[str, int]
# An answer read: the class codes, and every class's probabilities (None: codes only).
Answers = tuple[list[int], list[list[float]] | None]


@dataclass(frozen=True)
class Server:
    """A server to start on a port, and how to talk to it."""

    label: str  # its line in the table
    command: Callable[[int], list[str]]  # the command line serving on that port
    paths: tuple[str, str]  # the path answering 200 once it serves, and the predictions'
    body: Callable[[list[Animal], bool], object]  # the request for animals (False: one)
    read: Callable[[Any], Answers]
    env: dict[str, str] = field(default_factory=dict)  # added to the benchmark's environment
    cwd: Path = ROOT


def zoo_animals() -> list[Animal]:
    """The data set's 101 animals (their features), in file order."""
    lines = (ROOT / "sampleproject" / "data" / "zoo.data").read_text(encoding="utf-8").split()
    rows = [line.split(",")[1 : 1 + len(schema.FEATURES)] for line in lines]
    return [dict(zip(schema.FEATURES, map(int, row), strict=True)) for row in rows]


def read_records(answer: Any) -> Answers:
    """The project's JSON answer (an object, or a list of them)."""
    records = answer if isinstance(answer, list) else [answer]
    codes = [record["class_code"] for record in records]
    probabilities = [[record["probabilities"][name] for name in CLASS_NAMES] for record in records]
    return codes, probabilities


def as_records(animals: list[Animal], many: bool) -> object:
    """The project's request: one animal as an object, several as a list."""
    return animals if many else animals[0]


def ours(tree: Path = ROOT, label: str = "sampleproject serve") -> Server:
    """``sampleproject serve``, one worker, run from ``tree`` (its code is what serves)."""
    return Server(
        label,
        lambda port: [
            str(BIN / "python"),
            "-m",
            "sampleproject",
            "serve",
            *("--host", "127.0.0.1", "--port", str(port), "--workers", "1"),
            *("--no-access-log", "--model-dir", str(MODEL_DIR)),
        ],
        ("/ready", "/predict"),
        as_records,
        read_records,
        cwd=tree,  # so that ``python -m`` imports that tree's package first
    )


def ours_v2() -> Server:
    """``sampleproject serve``'s Open Inference Protocol (V2) endpoint: a tensor [n, 16]."""
    served = ours(label="sampleproject serve, V2 infer")

    def body(animals: list[Animal], many: bool) -> object:
        del many  # a tensor [n, 16] either way
        data = [animal.get(name, 0) for animal in animals for name in schema.FEATURES]
        tensor = {"name": "features", "shape": [len(animals), 16], "datatype": "INT64"}
        return {"inputs": [tensor | {"data": data}]}

    def read(answer: Any) -> Answers:
        outputs = {output["name"]: output["data"] for output in answer["outputs"]}
        flat, width = outputs["probabilities"], len(CLASS_NAMES)
        rows = [flat[row : row + width] for row in range(0, len(flat), width)]
        return outputs["class_code"], rows

    paths = ("/v2/models/zoo-classifier/ready", "/v2/models/zoo-classifier/infer")
    return Server(served.label, served.command, paths, body, read)


def ours_invocations() -> Server:
    """``sampleproject serve``'s MLflow scoring endpoint (``dataframe_records``): codes only."""
    served = ours(label="sampleproject serve, /invocations")
    return Server(
        served.label,
        served.command,
        ("/ping", "/invocations"),
        lambda animals, many: {"dataframe_records": [full(animal) for animal in animals]},
        lambda answer: (answer["predictions"], None),
    )


def full(animal: Animal) -> Animal:
    """Every feature of ``animal`` (MLflow's signature requires them all)."""
    return {name: animal.get(name, 0) for name in schema.FEATURES}


def floor(venvs: Path, loop: str = "uvloop") -> Server:
    """The raw ASGI app under uvicorn with httptools, on ``loop``: uvloop (the floor, as the
    issue that started the benchmark set it) or asyncio (the loop ``sampleproject serve``
    runs on). The project's venv has both; else a venv of their own."""
    parts = ("httptools", "uvloop") if loop == "uvloop" else ("httptools",)
    has_fast_parts = all(importlib.util.find_spec(name) for name in parts)
    python = BIN / "python" if has_fast_parts else venv_python("floor", venvs)
    return Server(
        f"floor: raw ASGI app on uvicorn httptools+{loop}",
        lambda port: [
            str(python),
            *("-m", "uvicorn", "bench.floor_app:app", "--host", "127.0.0.1", "--port", str(port)),
            *(
                "--http",
                "httptools",
                "--loop",
                loop,
                "--no-access-log",
                "--log-level",
                "warning",
            ),
        ],
        ("/", "/predict"),
        as_records,
        read_records,
        env={"PYTHONPATH": str(ROOT)},
    )


def mlserver(venvs: Path, workdir: Path) -> Server:
    """MLServer with a custom runtime (V2 inference protocol), in the main process."""
    python = venv_python("mlserver", venvs)
    folder = workdir / "mlserver"
    folder.mkdir(exist_ok=True)
    model = {"name": "zoo", "implementation": "bench.peers.mlserver_runtime.ZooRuntime"}
    (folder / "model-settings.json").write_text(json.dumps(model), encoding="utf-8")

    def command(port: int) -> list[str]:
        # No separate inference process (parallel_workers 0): one process, as the others.
        settings = {"host": "127.0.0.1", "http_port": port, "parallel_workers": 0}
        settings |= {"grpc_port": free_port(), "metrics_port": free_port()}
        (folder / "settings.json").write_text(json.dumps(settings), encoding="utf-8")
        return [str(python.parent / "mlserver"), "start", str(folder)]

    def body(animals: list[Animal], many: bool) -> object:
        del many  # a tensor [n, 16] either way
        data = [animal.get(name, 0) for animal in animals for name in schema.FEATURES]
        shape = [len(animals), len(schema.FEATURES)]
        return {"inputs": [{"name": "features", "shape": shape, "datatype": "FP32", "data": data}]}

    def read(answer: Any) -> Answers:
        outputs = {output["name"]: output["data"] for output in answer["outputs"]}
        width = len(CLASS_NAMES)
        flat = outputs["probabilities"]
        return outputs["label"], [flat[row : row + width] for row in range(0, len(flat), width)]

    return Server(
        f"MLServer {pinned('mlserver')} (ONNX Runtime)",
        command,
        ("/v2/models/zoo/ready", "/v2/models/zoo/infer"),
        body,
        read,
        env={"PYTHONPATH": str(ROOT)},
        cwd=folder,
    )


def litserve(venvs: Path) -> Server:
    """LitServe with a LitAPI (its API server and inference worker: two processes)."""
    python = venv_python("litserve", venvs)
    return Server(
        f"LitServe {pinned('litserve')} (ONNX Runtime)",
        lambda port: [str(python), "-m", "bench.peers.litserve_server", str(port)],
        ("/health", "/predict"),
        as_records,
        read_records,
        env={"PYTHONPATH": str(ROOT)},
    )


def bentoml(venvs: Path) -> Server:
    """BentoML with a service, one worker."""
    python = venv_python("bentoml", venvs)
    return Server(
        f"BentoML {pinned('bentoml')} (ONNX Runtime)",
        lambda port: [
            str(python.parent / "bentoml"),
            *("serve", "bench.peers.bentoml_service:Zoo", "--host", "127.0.0.1"),
            *("--port", str(port)),
        ],
        ("/readyz", "/predict"),
        lambda animals, many: {"animals": animals},
        read_records,
        env={"PYTHONPATH": str(ROOT), "BENTOML_DO_NOT_TRACK": "True"},
    )


def mlflow(model_uri: str) -> Server:
    """``mlflow models serve`` (this venv's MLflow) on the scikit-learn model: codes only."""
    from mlflow import __version__

    return Server(
        f"mlflow models serve {__version__} (scikit-learn)",
        lambda port: [
            str(BIN / "mlflow"),
            *("models", "serve", "-m", model_uri, "--env-manager", "local"),
            *("-h", "127.0.0.1", "-p", str(port), "--workers", "1"),
        ],
        ("/ping", "/invocations"),
        lambda animals, many: {"dataframe_records": animals},
        lambda answer: ([int(code) for code in answer["predictions"]], None),
    )


def pinned(peer: str) -> str:
    """The version of ``peer`` pinned in its requirements file."""
    for line in (PEERS_DIR / f"{peer}.txt").read_text(encoding="utf-8").splitlines():
        if line.startswith(f"{peer}=="):
            return line.split("==")[1]
    raise SystemExit(f"bench/peers/{peer}.txt pins no version of {peer}")


def venv_python(name: str, venvs: Path) -> Path:
    """The Python of venv ``venvs/name`` with bench/peers/name.txt installed (once)."""
    requirements = PEERS_DIR / f"{name}.txt"
    folder = venvs / name
    python = folder / "bin" / "python"
    stamp = folder / "installed.txt"  # what it was made from: remade when the pins change
    wanted = requirements.read_text(encoding="utf-8")
    if python.exists() and stamp.exists() and stamp.read_text(encoding="utf-8") == wanted:
        return python
    print(f"installing {requirements.relative_to(ROOT)} into {folder} ...", flush=True)
    shutil.rmtree(folder, ignore_errors=True)
    uv = shutil.which("uv", path=str(BIN)) or shutil.which("uv")
    if uv:
        subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(folder)], check=True)
        install = [uv, "pip", "install", "-q", "--python", str(python)]
    else:
        subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
        install = [str(python), "-m", "pip", "install", "-q"]
    subprocess.run([*install, "-r", str(requirements)], check=True)
    stamp.write_text(wanted, encoding="utf-8")
    return python


class ServerFailed(SystemExit):
    """A server that did not start, and why in one line (uncaught, the script exits with it)."""


def wait_until_up(
    url: str, process: subprocess.Popen[bytes], timeout: float, log: Path | None = None
) -> None:
    """Wait until ``url`` answers 200 (the server is ready); :class:`ServerFailed` if it exits
    first (with the last lines of its ``log``) or does not answer within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            text = log.read_text(encoding="utf-8", errors="replace") if log else ""
            tail = text.strip().splitlines()[-3:]
            raise ServerFailed(f"the server exited with status {process.returncode}: {tail}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback)
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise ServerFailed(f"{url} did not answer within {timeout} s")


def free_port() -> int:
    """A TCP port that is free on the loopback interface now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
