"""Benchmark: ``sampleproject serve`` against ``mlflow models serve``, side by side.

Both serve the same trained model (ours from the package's ONNX export, MLflow's the
scikit-learn model that ``sampleproject train`` logged and registered), each with one
uvicorn worker on a loopback port, loaded in turn by the same wrk command (same threads,
connections and duration) with the same one-animal request in each server's own format.

    python bench/bench_serving.py                 # the latest registered zoo-classifier
    python bench/bench_serving.py --model-uri runs:/<run id>/model --duration 10
    python bench/bench_serving.py --markdown docs/bench/serving.md   # also the table for the docs

The cost of a change to the serving code: ``--baseline DIR`` serves the same model with the
code of another checkout (e.g. ``git worktree add /tmp/before main``) beside this one's, in
alternating rounds (machine load changes over time, and alternation spreads it over both),
and prints the median throughput of each and their difference::

    python bench/bench_serving.py --baseline /tmp/before --no-mlflow --rounds 5
    python bench/bench_serving.py --baseline /tmp/before --no-mlflow --batch 100

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
import statistics
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
    "hair": 1,
    "feathers": 0,
    "eggs": 0,
    "milk": 1,
    "airborne": 0,
    "aquatic": 0,
    "predator": 1,
    "toothed": 1,
    "backbone": 1,
    "breathes": 1,
    "venomous": 0,
    "fins": 0,
    "legs": 4,
    "tail": 0,
    "domestic": 0,
    "catsize": 1,
}
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
    cpu_us: float  # the server's CPU time (user + system, its worker processes too) a request


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


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of process ``pid`` and of its children, from /proc."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text(encoding="utf-8").rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended meanwhile
        # After "pid (name)": state, ppid, ..., utime and stime (fields 14 and 15 of stat(5)).
        if int(stat.parent.name) == pid or int(fields[1]) == pid:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def load(url: str, body: str, args: argparse.Namespace, workdir: Path, pid: int) -> Result:
    """Run wrk against ``url`` with a POST of ``body``; parse its summary.

    The server's CPU time per request is measured too: on a loaded machine (wrk itself, other
    jobs) throughput varies from run to run far more than the CPU time that a request costs.
    """
    script = workdir / "post.lua"
    script.write_text(LUA.format(body=json.dumps(body)), encoding="utf-8")
    # A 30 s timeout: wrk's default (2 s) would drop, not count, the slowest answers.
    base = ["wrk", f"-t{args.threads}", f"-c{args.connections}", "--timeout", "30s", "--latency"]
    base += ["-s", str(script)]
    subprocess.run([*base, "-d2s", url], check=True, capture_output=True)  # warm-up
    cpu_before = cpu_seconds(pid)
    output = subprocess.run(
        [*base, f"-d{args.duration}s", url], check=True, capture_output=True, text=True
    ).stdout
    return parse_wrk(output, cpu_seconds(pid) - cpu_before)


def parse_wrk(output: str, cpu: float) -> Result:
    """wrk's summary, and ``cpu`` seconds of the server's, as a :class:`Result`."""
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    if socket_errors:
        print(f"  wrk socket errors: {socket_errors.group(1)}")
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    # Percentiles at the start of a line: "85.50%" in the thread statistics also ends in 50%.
    return Result(
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),  # type: ignore[union-attr]
        p50_ms=to_ms(re.search(r"^\s*50%\s+(\S+)", output, re.MULTILINE).group(1)),  # type: ignore[union-attr]
        p99_ms=to_ms(re.search(r"^\s*99%\s+(\S+)", output, re.MULTILINE).group(1)),  # type: ignore[union-attr]
        requests=requests,
        errors=int(errors.group(1)) if errors else 0,
        cpu_us=cpu / requests * 1e6,
    )


def serve_and_load(  # noqa: PLR0917  # pylint: disable=too-many-arguments,too-many-positional-arguments
    command: list[str],
    urls: tuple[str, str],
    body: str,
    args: argparse.Namespace,
    workdir: Path,
    env: dict[str, str],
    cwd: Path | None = None,
) -> Result:
    """Start ``command``, wait until ``urls[0]`` answers, load ``urls[1]``, stop it."""
    ready, url = urls
    with (workdir / "server.log").open("wb") as log:
        process = subprocess.Popen(  # pylint: disable=consider-using-with
            command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd
        )
    try:
        wait_until_up(ready, process, timeout=180)
        return load(url, body, args, workdir, process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def ours(
    body: str,
    args: argparse.Namespace,
    workdir: Path,
    env: dict[str, str],
    *,
    tree: Path | None = None,
) -> Result:
    """Load ``sampleproject serve`` (one worker) with ``body``: this checkout's code, or the
    code of ``tree`` (run from there, so that ``python -m`` imports its package first)."""
    port = free_port()
    command = [
        str(BIN / "python"),
        "-m",
        "sampleproject",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--no-access-log",
        "--model-dir",
        str(ROOT / "sampleproject" / "model"),
    ]
    urls = (f"http://127.0.0.1:{port}/ready", f"http://127.0.0.1:{port}/predict")
    return serve_and_load(command, urls, body, args, workdir, env, cwd=tree or ROOT)


def print_table(results: dict[str, Result]) -> None:
    """One line per server."""
    print(
        f"\n{'server':<34}{'requests/s':>12}{'p50 ms':>10}{'p99 ms':>10}{'non-2xx':>9}"
        f"{'CPU us/request':>16}"
    )
    for name, result in results.items():
        print(
            f"{name:<34}{result.rps:>12.1f}{result.p50_ms:>10.2f}{result.p99_ms:>10.2f}"
            f"{result.errors:>9}{result.cpu_us:>16.0f}"
        )


def against_mlflow(args: argparse.Namespace, workdir: Path, env: dict[str, str]) -> None:
    """``sampleproject serve`` and ``mlflow models serve`` on the same one-animal request."""
    model_uri = args.model_uri or latest_model_uri(args.tracking_uri)
    port = free_port()
    print(f"mlflow models serve -m {model_uri} --env-manager local --workers 1 ...")
    theirs = serve_and_load(
        [
            str(BIN / "mlflow"),
            "models",
            "serve",
            "-m",
            model_uri,
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "--workers",
            "1",
        ],
        (f"http://127.0.0.1:{port}/ping", f"http://127.0.0.1:{port}/invocations"),
        json.dumps({"dataframe_records": [ANIMAL]}),
        args,
        workdir,
        env,
    )
    print("sampleproject serve --workers 1 ...")
    mine = ours(json.dumps(ANIMAL), args, workdir, env)
    results = {"mlflow models serve": theirs, "sampleproject serve": mine}
    print_table(results)
    summary = (
        f"Throughput ratio {mine.rps / theirs.rps:.1f}x (goal: at least 5x); "
        f"p99 {mine.p99_ms:.0f} ms against {theirs.p99_ms:.0f} ms (goal: lower)."
    )
    print(f"\n{summary}")
    if args.markdown:
        write_markdown(args, results, summary)


def against_baseline(args: argparse.Namespace, workdir: Path, env: dict[str, str]) -> None:
    """This checkout's serving code against ``--baseline``'s, in alternating rounds."""
    body = json.dumps([ANIMAL] * args.batch if args.batch > 1 else ANIMAL)
    before: list[Result] = []
    after: list[Result] = []
    for number in range(1, args.rounds + 1):
        print(f"round {number}/{args.rounds}: baseline {args.baseline}, then this checkout")
        before.append(ours(body, args, workdir, env, tree=args.baseline))
        after.append(ours(body, args, workdir, env))
    rounds = {}
    for name, results in (("baseline", before), ("this checkout", after)):
        for number, result in enumerate(results, start=1):
            rounds[f"{name}, round {number}"] = result
    print_table(rounds)
    print_medians(before, after, f"{args.batch} animals" if args.batch > 1 else "one animal")


def print_medians(before: list[Result], after: list[Result], animals: str) -> None:
    """The median throughput and CPU time per request of both, and their difference."""
    print(f"\nmedians, {animals} a request:")
    for what, unit in (("rps", "requests/s"), ("cpu_us", "CPU us/request")):
        median_before = statistics.median(getattr(result, what) for result in before)
        median_after = statistics.median(getattr(result, what) for result in after)
        change = (median_after - median_before) / median_before * 100
        print(
            f"  {unit:<15} baseline {median_before:>8.1f}, this checkout {median_after:>8.1f}: "
            f"{change:+.1f} %"
        )


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
    """Run the benchmark(s) and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-uri", help="MLflow model URI (default: latest registered)")
    parser.add_argument(
        "--tracking-uri", default=os.environ.get("MLFLOW_TRACKING_URI", DEFAULT_TRACKING_URI)
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per server")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-mlflow", action="store_true", help="skip the MLflow comparison")
    parser.add_argument(
        "--baseline",
        type=Path,
        metavar="DIR",
        help="another checkout whose serving code to compare with (same model, same load)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="with --baseline (default: 3)")
    parser.add_argument(
        "--batch", type=int, default=1, help="animals per request, with --baseline (default: 1)"
    )
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    args = parser.parse_args()

    if not (ROOT / "sampleproject" / "model" / "zoo.json").exists():
        raise SystemExit("no trained model: run `make train` first")
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    if args.baseline and not (args.baseline / "sampleproject" / "__init__.py").exists():
        raise SystemExit(f"--baseline {args.baseline}: not a checkout of sampleproject")
    os.chdir(ROOT)  # the default tracking URI is relative to the project
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": args.tracking_uri,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    env.pop("PYTHONPATH", None)
    print(
        f"wrk: {args.threads} threads, {args.connections} connections, {args.duration} s "
        f"per server; {os.cpu_count()} CPUs"
    )
    with tempfile.TemporaryDirectory() as temp:
        if not args.no_mlflow:
            against_mlflow(args, Path(temp), env)
        if args.baseline:
            against_baseline(args, Path(temp), env)
    return 0


if __name__ == "__main__":
    sys.exit(main())
