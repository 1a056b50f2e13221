"""Benchmark: ``sampleproject serve`` against ``mlflow models serve``, side by side.

Both serve the same trained model (ours from the package's ONNX export, MLflow's the
scikit-learn model that ``sampleproject train`` logged and registered), each with one
uvicorn worker on a loopback port, loaded in turn by the same wrk command (same threads,
connections and duration) with the same one-animal request in each server's own format.

    python bench/bench_serving.py                 # the latest registered zoo-classifier
    python bench/bench_serving.py --model-uri runs:/<run id>/model --duration 10
    python bench/bench_serving.py --markdown docs/bench/serving.md   # also the table for the docs

Needs wrk (Debian: apt-get install wrk) and the training extra (MLflow). Prints figures;
asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from sampleproject.inference.registry import DEFAULT_TRACKING_URI, REGISTERED_MODEL

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make the project's modules importable
    sys.path.insert(0, str(ROOT))

from bench import doc_table  # noqa: E402  pylint: disable=wrong-import-position

BIN = Path(sys.executable).parent
# One animal (an aardvark's features), the request both servers answer.
ANIMAL = {
    "hair": 1, "feathers": 0, "eggs": 0, "milk": 1, "airborne": 0, "aquatic": 0, "predator": 1,
    "toothed": 1, "backbone": 1, "breathes": 1, "venomous": 0, "fins": 0, "legs": 4, "tail": 0,
    "domestic": 0, "catsize": 1,
}  # fmt: skip
LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = {body}
"""


@dataclass
class Result:
    """What wrk measured."""

    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


def latest_model_uri(tracking_uri: str) -> str:
    """The scikit-learn model of the newest registered version's run (``runs:/ID/model``).

    The registered version holds the ONNX files that ``sampleproject serve`` loads; its run
    also logged the scikit-learn model, which is what ``mlflow models serve`` serves.
    """
    from mlflow import MlflowClient

    versions = MlflowClient(tracking_uri).search_model_versions(f"name='{REGISTERED_MODEL}'")
    if not versions:
        raise SystemExit(f"no version of {REGISTERED_MODEL} in {tracking_uri}: run `make train`")
    latest = max(versions, key=lambda version: int(version.version))
    return f"runs:/{latest.run_id}/model"


def free_port() -> int:
    """A TCP port that is free on the loopback interface now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    """Wait until ``url`` answers 200 (the server is ready)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback)
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {timeout} s")


def to_ms(value: str) -> float:
    """wrk's latency (``850.00us``, ``1.20ms``, ``2.00s``) in milliseconds."""
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def load(url: str, body: str, args: argparse.Namespace, workdir: Path) -> Result:
    """Run wrk against ``url`` with a POST of ``body``; parse its summary."""
    script = workdir / "post.lua"
    script.write_text(LUA.format(body=json.dumps(body)), encoding="utf-8")
    # A 30 s timeout: wrk's default (2 s) would drop, not count, the slowest answers.
    base = ["wrk", f"-t{args.threads}", f"-c{args.connections}", "--timeout", "30s", "--latency"]
    base += ["-s", str(script)]
    subprocess.run([*base, "-d2s", url], check=True, capture_output=True)  # warm-up
    output = subprocess.run(
        [*base, f"-d{args.duration}s", url], check=True, capture_output=True, text=True
    ).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    if socket_errors:
        print(f"  wrk socket errors: {socket_errors.group(1)}")
    return Result(
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),  # type: ignore[union-attr]
        p50_ms=to_ms(re.search(r"50%\s+(\S+)", output).group(1)),  # type: ignore[union-attr]
        p99_ms=to_ms(re.search(r"99%\s+(\S+)", output).group(1)),  # type: ignore[union-attr]
        requests=int(re.search(r"(\d+) requests in", output).group(1)),  # type: ignore[union-attr]
        errors=int(errors.group(1)) if errors else 0,
    )


def serve_and_load(  # noqa: PLR0917  # pylint: disable=too-many-arguments,too-many-positional-arguments
    command: list[str], urls: tuple[str, str], body: str, args: argparse.Namespace,
    workdir: Path, env: dict[str, str],
) -> Result:  # fmt: skip
    """Start ``command``, wait until ``urls[0]`` answers, load ``urls[1]``, stop it."""
    ready, url = urls
    with (workdir / "server.log").open("wb") as log:
        process = subprocess.Popen(  # pylint: disable=consider-using-with
            command, stdout=log, stderr=subprocess.STDOUT, env=env
        )
    try:
        wait_until_up(ready, process, timeout=180)
        return load(url, body, args, workdir)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def write_markdown(args: argparse.Namespace, results: dict[str, Result], summary: str) -> None:
    """The table, the summary and the load's parameters, for the docs."""
    rows = [
        [f"`{name}`", f"{result.rps:.1f}", f"{result.p50_ms:.0f}", f"{result.p99_ms:.0f}"]
        for name, result in results.items()
    ]
    wrk = (
        f"wrk: {args.threads} threads, {args.connections} connections, {args.duration} s per "
        "server, one-animal POST; one uvicorn worker per server; non-2xx answers: "
        f"{sum(result.errors for result in results.values())}."
    )
    headers = ["server", "requests/s", "p50 ms", "p99 ms"]
    doc_table.write(args.markdown, headers, rows, [summary, wrk], numeric=(1, 2, 3))


def main() -> int:
    """Run the benchmark and print the table (and write it with ``--markdown``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-uri", help="MLflow model URI (default: latest registered)")
    parser.add_argument(
        "--tracking-uri", default=os.environ.get("MLFLOW_TRACKING_URI", DEFAULT_TRACKING_URI)
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per server")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    args = parser.parse_args()

    if not (ROOT / "sampleproject" / "model" / "zoo.json").exists():
        raise SystemExit("no trained model: run `make train` first")
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    os.chdir(ROOT)  # the default tracking URI is relative to the project
    model_uri = args.model_uri or latest_model_uri(args.tracking_uri)
    env = {**os.environ, "MLFLOW_TRACKING_URI": args.tracking_uri,
           "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}  # fmt: skip
    print(f"wrk: {args.threads} threads, {args.connections} connections, {args.duration} s "
          f"per server, one-animal POST; {os.cpu_count()} CPUs")  # fmt: skip

    results: dict[str, Result] = {}
    with tempfile.TemporaryDirectory() as temp:
        workdir = Path(temp)
        port = free_port()
        print(f"mlflow models serve -m {model_uri} --env-manager local --workers 1 ...")
        results["mlflow models serve"] = serve_and_load(
            [str(BIN / "mlflow"), "models", "serve", "-m", model_uri, "--env-manager", "local",
             "-h", "127.0.0.1", "-p", str(port), "--workers", "1"],
            (f"http://127.0.0.1:{port}/ping", f"http://127.0.0.1:{port}/invocations"),
            json.dumps({"dataframe_records": [ANIMAL]}), args, workdir, env,
        )  # fmt: skip
        port = free_port()
        print("sampleproject serve --workers 1 ...")
        results["sampleproject serve"] = serve_and_load(
            [str(BIN / "sampleproject"), "serve", "--host", "127.0.0.1", "--port", str(port),
             "--workers", "1"],
            (f"http://127.0.0.1:{port}/ready", f"http://127.0.0.1:{port}/predict"),
            json.dumps(ANIMAL), args, workdir, env,
        )  # fmt: skip

    print(f"\n{'server':<22}{'requests/s':>12}{'p50 ms':>10}{'p99 ms':>10}{'non-2xx':>9}")
    for name, result in results.items():
        print(f"{name:<22}{result.rps:>12.1f}{result.p50_ms:>10.2f}{result.p99_ms:>10.2f}"
              f"{result.errors:>9}")  # fmt: skip
    ours, theirs = results["sampleproject serve"], results["mlflow models serve"]
    summary = (
        f"Throughput ratio {ours.rps / theirs.rps:.1f}x (goal: at least 5x); "
        f"p99 {ours.p99_ms:.0f} ms against {theirs.p99_ms:.0f} ms (goal: lower)."
    )
    print(f"\n{summary}")
    if args.markdown:
        write_markdown(args, results, summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
