"""Benchmark: the latency of ``sampleproject serve`` while its model is reloaded (SIGHUP).

A server on one worker answers clients that post one animal at a time over keep-alive
connections. Every few seconds the model folder switches between two different models
(the shipped one and one trained with another seed) and the server gets SIGHUP: it loads
the new model beside the old one and swaps them. The script prints the latency of the
requests that ran within a second after each SIGHUP against those that did not, and the
ratio of their p99 (the spike), plus the number of failed requests (expected: 0).

    python bench/bench_reload.py                  # 20 s, 4 clients, a reload every 2 s
    python bench/bench_reload.py --seconds 60 --clients 8
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make the other benchmarks importable
    sys.path.insert(0, str(ROOT))

# The serving benchmark's helpers.
from bench.servers import free_port, wait_until_up  # noqa: E402  pylint: disable=wrong-import-position

BIN = Path(sys.executable).parent
SHIPPED = ROOT / "sampleproject" / "model"
ANIMAL = json.dumps({"hair": 1, "milk": 1, "legs": 4, "tail": 1, "toothed": 1}).encode()
WINDOW_SECONDS = 1.0  # a request this close after a SIGHUP counts as "during a reload"


def train_second_model(folder: Path) -> None:
    """The shipped recipe with another seed: the same quality, other bytes."""
    config = folder / "train.toml"
    text = (ROOT / "sampleproject" / "config" / "train.toml").read_text(encoding="utf-8")
    config.write_text(text.replace("seed = 42", "seed = 7"), encoding="utf-8")
    subprocess.run(
        [
            str(BIN / "sampleproject"),
            "train",
            "--config",
            str(config),
            "--output-dir",
            str(folder),
            "--tracking-uri",
            f"sqlite:///{folder}/mlflow.db",
        ],
        check=True,
        capture_output=True,
    )


def install(model: Path, folder: Path) -> None:
    """Put ``model``'s files into ``folder``: the model file first, its metadata last."""
    for name in ("zoo.onnx", "zoo.json"):
        staging = folder / f".{name}.new"
        shutil.copyfile(model / name, staging)
        staging.replace(folder / name)


def client(
    port: int, stop: threading.Event, samples: list[tuple[float, float]], failures: list[str]
) -> None:
    """Post one animal after another; record (start time, latency) of each answer."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json"}
    while not stop.is_set():
        started = time.perf_counter()
        try:
            connection.request("POST", "/predict", ANIMAL, headers)
            response = connection.getresponse()
            response.read()
        except (OSError, http.client.HTTPException) as error:
            failures.append(repr(error))
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            continue
        if response.status != 200:
            failures.append(str(response.status))
        samples.append((started, time.perf_counter() - started))


def percentile(values: list[float], fraction: float) -> float:
    """The ``fraction`` quantile (nearest rank) of ``values``, in milliseconds."""
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> int:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--every", type=float, default=2.0, help="seconds between reloads")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-reload-") as temp:
        second, served = Path(temp, "second"), Path(temp, "served")
        second.mkdir()
        served.mkdir()
        print("training a second model (another seed)...", file=sys.stderr)
        train_second_model(second)
        install(SHIPPED, served)
        port = free_port()
        env = {**os.environ, "SAMPLEPROJECT_PORT": str(port)}
        server = subprocess.Popen(  # pylint: disable=consider-using-with
            [str(BIN / "sampleproject"), "serve", "--model-dir", str(served), "--no-access-log"],
            env=env,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_until_up(f"http://127.0.0.1:{port}/ready", server, timeout=120)
            samples, reloads, failures = run_load(args, port, server, served, second)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
    report(samples, reloads, failures)
    return 0 if not failures else 1


def run_load(
    args: argparse.Namespace,
    port: int,
    server: subprocess.Popen[bytes],
    served: Path,
    second: Path,
) -> tuple[list[tuple[float, float]], list[float], list[str]]:
    """Load the server while switching its model; the samples, SIGHUP times and failures."""
    samples: list[tuple[float, float]] = []
    failures: list[str] = []
    stop = threading.Event()
    threads = [
        threading.Thread(target=client, args=(port, stop, samples, failures))
        for _ in range(args.clients)
    ]
    for thread in threads:
        thread.start()
    reloads: list[float] = []
    models = [second, SHIPPED]
    deadline = time.perf_counter() + args.seconds
    while time.perf_counter() + args.every < deadline:
        time.sleep(args.every)
        install(models[len(reloads) % 2], served)
        reloads.append(time.perf_counter())
        server.send_signal(signal.SIGHUP)
    time.sleep(max(0.0, deadline - time.perf_counter()))
    stop.set()
    for thread in threads:
        thread.join()
    return samples, reloads, failures


def report(samples: list[tuple[float, float]], reloads: list[float], failures: list[str]) -> None:
    """Print the latencies during and outside reloads, and the spike's ratio."""
    during = [
        latency
        for started, latency in samples
        if any(0 <= started - at < WINDOW_SECONDS for at in reloads)
    ]
    steady = [
        latency
        for started, latency in samples
        if not any(0 <= started - at < WINDOW_SECONDS for at in reloads)
    ]
    print(f"{len(reloads)} reloads, {len(samples)} requests, {len(failures)} failed")
    print(f"{'requests':<28}{'count':>8}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for name, values in (("steady", steady), (f"within {WINDOW_SECONDS:g} s of a SIGHUP", during)):
        if values:
            print(
                f"{name:<28}{len(values):>8}{percentile(values, 0.5):>9.2f}"
                f"{percentile(values, 0.99):>9.2f}{max(values) * 1000:>9.2f}"
            )
    if steady and during:
        ratio = percentile(during, 0.99) / percentile(steady, 0.99)
        print(f"p99 during a reload / steady p99: {ratio:.2f}x")


if __name__ == "__main__":
    raise SystemExit(main())
