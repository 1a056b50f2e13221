"""Benchmark: ``sampleproject serve`` against the serving frameworks and a raw ASGI floor.

Every server serves the same trained model with one worker, pinned to core 0 (taskset);
wrk loads it from core 1 with one animal, then 100 animals a request, at 8 and at 64
connections, in interleaved rounds (round 1: every server in turn, round 2: ...), and the
table gives the medians and the ratios. The servers (see bench/servers.py):

- ``sampleproject serve``, this checkout's, with its ONNX export;
- the floor: bench/floor_app.py, a raw ASGI app under uvicorn with httptools and uvloop, and
  the same on asyncio's loop, which ``sampleproject serve`` runs on (see its server.py);
- MLServer, LitServe and BentoML on ONNX Runtime (bench/peers/), each installed from PyPI in
  a venv of its own on first use (``--venvs``, default ~/.cache/sampleproject-bench);
- ``mlflow models serve --env-manager local`` with the scikit-learn model that training logged.

Before a server is timed, its answers for the data set's 101 animals are checked against the
project's predictor (same class codes, probabilities within 1e-6; MLflow answers codes only):
a server that answers differently is not timed, and the exit status is 1.

    python bench/bench_serving.py                                  # every peer, 10 s a load
    python bench/bench_serving.py --peers none --duration 2        # the floor and ours only
    python bench/bench_serving.py --peers litserve,mlflow --rounds 5
    python bench/bench_serving.py --duration 5 --markdown docs/bench/serving.md

The cost of a change to the serving code: ``--baseline DIR`` serves the same model with the
code of another checkout (e.g. ``git worktree add /tmp/before main``) beside this one's, in
the same interleaved rounds, and prints the medians of both and their difference::

    python bench/bench_serving.py --baseline /tmp/before --rounds 5

Needs wrk (Debian: apt-get install wrk), taskset (util-linux) to pin, a trained model
(``make train``) and the training extra (MLflow). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make the project's modules importable
    sys.path.insert(0, str(ROOT))

# pylint: disable=wrong-import-position
from bench import doc_table, servers, wrk  # noqa: E402
from bench.servers import Animal, Answers, Server, free_port, wait_until_up  # noqa: E402
from sampleproject import schema  # noqa: E402
from sampleproject.inference.predictor import load_predictor  # noqa: E402
from sampleproject.inference.registry import DEFAULT_TRACKING_URI, REGISTERED_MODEL  # noqa: E402

TOLERANCE = 1e-6  # the largest difference of a probability from the project's
# One animal (an aardvark's features), the one-animal request.
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


@dataclass(frozen=True)
class Load:
    """One wrk load: connections, and animals a request."""

    connections: int
    animals: int


@dataclass(frozen=True)
class Result:
    """What wrk measured, and the server's CPU time a request (its processes' user + system)."""

    summary: wrk.Summary
    cpu_us: float


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


def post(url: str, body: object) -> Any:
    """POST ``body`` as JSON; the JSON answer."""
    request = urllib.request.Request(  # noqa: S310 (loopback)
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
        return json.loads(response.read())


@contextmanager
def running(
    server: Server, pin: bool, workdir: Path, env: dict[str, str]
) -> Iterator[tuple[str, int]]:
    """``server`` started (``pin``: on core 0) and ready: its base URL and process id."""
    port = free_port()
    log = workdir / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(  # pylint: disable=consider-using-with
            [*(("taskset", "-c", "0") if pin else ()), *server.command(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**env, **server.env},
            cwd=server.cwd,
            start_new_session=True,  # its own process group: its workers stop with it
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base + server.paths[0], process, 180, log)
        yield base, process.pid
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group; SIGKILL if it is still there after 30 s."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def differences(expected: Answers, answers: Answers, what: str) -> list[str]:
    """How ``answers`` differ from ``expected`` (the project's): an empty list if they don't."""
    codes, probabilities = answers
    if len(codes) != len(expected[0]):
        return [f"{what}: {len(codes)} answers for {len(expected[0])} animals"]
    problems = [
        f"{what}, animal {number}: class {code}, not {wanted}"
        for number, (code, wanted) in enumerate(zip(codes, expected[0], strict=True), start=1)
        if code != wanted
    ]
    if probabilities is not None and expected[1] is not None:
        for number, (row, wanted_row) in enumerate(
            zip(probabilities, expected[1], strict=True), start=1
        ):
            gap = max(abs(got - want) for got, want in zip(row, wanted_row, strict=True))
            if gap > TOLERANCE:
                problems.append(f"{what}, animal {number}: probabilities {gap:.1e} away")
    return problems


def expected_answers(animals: list[Animal]) -> tuple[list[Animal], Answers]:
    """``animals``, and the project's predictor's answers for them (its shipped model)."""
    predictor = load_predictor(servers.MODEL_DIR, threads=1)
    rows = [[animal[name] for name in schema.FEATURES] for animal in animals]
    predictions = predictor.predict(rows)
    return animals, (predictions.codes.tolist(), predictions.probabilities.astype(float).tolist())


def check(server: Server, base: str, animals: list[Animal], expected: Answers) -> list[str]:
    """Ask ``server`` about every animal at once, then about the first alone; compare."""
    url = base + server.paths[1]
    problems = differences(expected, server.read(post(url, server.body(animals, True))), "all")
    one = ([expected[0][0]], None if expected[1] is None else [expected[1][0]])
    return problems + differences(
        one, server.read(post(url, server.body(animals[:1], False))), "one"
    )


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


def measure(url: str, lua: Path, load: Load, pid: int, args: argparse.Namespace) -> Result:
    """A second of warm-up, then ``args.duration`` seconds of wrk: its summary, and CPU time."""
    command = wrk.Wrk(load.connections, args.threads, ("taskset", "-c", "1") if args.pin else ())
    command.run(url, lua, 1)
    before = cpu_seconds(pid)
    summary = command.run(url, lua, args.duration)
    return Result(summary, (cpu_seconds(pid) - before) / max(summary.requests, 1) * 1e6)


@dataclass
class Run:
    """Every result of every server, by load, and the servers refused (with why)."""

    results: dict[str, dict[Load, list[Result]]]
    refused: dict[str, str]


def rounds(
    chosen: list[Server],
    loads: list[Load],
    args: argparse.Namespace,
    workdir: Path,
    env: dict[str, str],
) -> Run:
    """Round after round, each server in turn: start, check its answers, time every load."""
    reference = expected_answers(servers.zoo_animals())
    run = Run({server.label: {load: [] for load in loads} for server in chosen}, {})
    for number in range(1, args.rounds + 1):
        for server in (server for server in chosen if server.label not in run.refused):
            try:
                with running(server, args.pin, workdir, env) as (base, pid):
                    if problems := check(server, base, *reference):
                        run.refused[server.label] = "answers differ: " + "; ".join(problems[:3])
                    else:
                        for load in loads:
                            result = time_load(server, (base, pid), load, args, workdir)
                            run.results[server.label][load].append(result)
                            report(number, server.label, load, result)
            except (servers.ServerFailed, OSError, KeyError, TypeError, ValueError) as error:
                run.refused[server.label] = f"failed: {error}"
            if server.label in run.refused:
                print(f"{server.label}: NOT TIMED, {run.refused[server.label]}")
    return run


def time_load(
    server: Server, where: tuple[str, int], load: Load, args: argparse.Namespace, workdir: Path
) -> Result:
    """Time ``server`` (its base URL and process id) at ``load``, in its request format."""
    base, pid = where
    animals = servers.zoo_animals()[: load.animals] if load.animals > 1 else [ANIMAL]
    lua = workdir / "post.lua"
    lua.write_text(wrk.script(json.dumps(server.body(animals, load.animals > 1))), "utf-8")
    return measure(base + server.paths[1], lua, load, pid, args)


def report(number: int, label: str, load: Load, result: Result) -> None:
    """One measurement, as it ends."""
    summary = result.summary
    errors = (
        f", {summary.non_2xx} non-2xx, {summary.socket_errors} socket errors"
        if summary.non_2xx or summary.socket_errors
        else ""
    )
    print(
        f"round {number}  {label:<48} {load.connections:>3} conn {load.animals:>4} animals: "
        f"{summary.rps * load.animals:>9.0f} animals/s, p99 {summary.p99_ms:7.1f} ms{errors}",
        flush=True,
    )


def median(results: list[Result], what: str) -> float:
    """The median of a figure of the summaries (``rps``, ``p99_ms``...)."""
    return float(statistics.median(getattr(result.summary, what) for result in results))


def table_rows(run: Run, loads: list[Load], floor: str, ours: str) -> list[list[str]]:
    """One row per server and connection count; for each load: animals/s, p99, the floor's
    share; last, ours over this server's throughput (one animal / a batch)."""
    rows = []
    for label, by_load in run.results.items():
        for connections in dict.fromkeys(load.connections for load in loads):
            row = [label, str(connections)]
            same = [load for load in loads if load.connections == connections]
            for load in same:
                rps = speed(run, label, load)
                rate = "-" if rps is None else f"{rps * load.animals:,.0f}"
                p99 = f"{median(by_load[load], 'p99_ms'):.1f}" if by_load[load] else "-"
                row += [rate, p99, ratio(rps, speed(run, floor, load))]
            ours_to_this = [ratio(speed(run, ours, load), speed(run, label, load)) for load in same]
            row.append("-" if label == ours else " / ".join(ours_to_this))
            rows.append(row)
    return rows


def speed(run: Run, label: str, load: Load) -> float | None:
    """The median requests/s of ``label`` at ``load`` (None: not timed)."""
    results = run.results.get(label, {}).get(load)
    return median(results, "rps") if results else None


def ratio(top: float | None, bottom: float | None) -> str:
    """``top / bottom`` as ``0.25x``; ``-`` when either is missing (or bottom is 0)."""
    return "-" if top is None or not bottom else f"{top / bottom:.2f}x"


def headers(loads: list[Load]) -> list[str]:
    """The table's column names."""
    names = ["server", "connections"]
    for animals in dict.fromkeys(load.animals for load in loads):
        what = "one animal, req/s" if animals == 1 else f"{animals} animals a request, animals/s"
        names += [what, "p99 ms", "x floor"]
    return [*names, "ours / this"]


def print_table(names: list[str], rows: list[list[str]]) -> None:
    """The table, in columns as wide as their widest cell."""
    widths = [max(len(str(row[column])) for row in [names, *rows]) for column in range(len(names))]
    for row in [names, *rows]:
        print(
            "  ".join(
                str(cell).rjust(width) if column else str(cell).ljust(width)
                for column, (cell, width) in enumerate(zip(row, widths, strict=True))
            )
        )


def compare(args: argparse.Namespace, workdir: Path, env: dict[str, str]) -> int:
    """The floor, ours and the peers chosen: rounds, then the table."""
    # The floor first (the ratios' reference), ours second, then the floor on ours' loop.
    chosen = [servers.floor(args.venvs), servers.ours(), servers.floor(args.venvs, "asyncio")]
    # The ecosystem's protocols, timed against the peers that speak them (PROTOCOL_PEERS).
    chosen += [servers.ours_v2(), servers.ours_invocations()]
    for peer in args.peers:
        try:
            chosen.append(make_peer(peer, args, workdir))
        except (subprocess.CalledProcessError, OSError) as error:
            print(f"{peer}: NOT TIMED, cannot be installed: {error}")
    loads = loads_of(args)
    print(
        f"wrk -t{args.threads}, {args.duration} s a load after 1 s of warm-up, "
        f"{args.rounds} rounds; {os.cpu_count()} CPUs; "
        + ("server on core 0, wrk on core 1" if args.pin else "not pinned")
    )
    run = rounds(chosen, loads, args, workdir, env)
    floor, ours = chosen[0].label, chosen[1].label
    names, rows = headers(loads), table_rows(run, loads, floor, ours)
    print(
        f"\nmedians of {args.rounds} rounds; 'x floor': over the floor's throughput; "
        f"'ours / this': ours over this server's (one animal / {args.batch} animals)"
    )
    print_table(names, rows)
    print(f"\n{ratios_line(rows, ours, args.batch)}")
    print(protocols_line(run, loads, args.batch))
    for label, why in run.refused.items():
        print(f"{label}: not timed, {why}")
    if args.markdown:
        write_markdown(args, names, rows, run)
    return 1 if run.refused else 0


def ratios_line(rows: list[list[str]], ours: str, batch: int) -> str:
    """The ratios of ours to every other server, at the first connection count."""
    first = rows[0][1]
    ratios = [f"{row[0]} {row[-1]}" for row in rows if row[1] == first and row[0] != ours]
    return (
        f"Throughput ratios of {ours} to the others (one animal / {batch} animals a request, "
        f"{first} connections): " + "; ".join(ratios) + "."
    )


# Each protocol endpoint of ours, and the peer that speaks the same protocol.
PROTOCOL_PEERS = (
    ("sampleproject serve, V2 infer", "MLServer"),
    ("sampleproject serve, /invocations", "mlflow models serve"),
)


def protocols_line(run: Run, loads: list[Load], batch: int) -> str:
    """Each protocol's throughput over its peer's (one animal / ``batch``), first connections."""
    first = [load for load in loads if load.connections == loads[0].connections]
    parts = []
    for ours, prefix in PROTOCOL_PEERS:
        peer = next((label for label in run.results if label.startswith(prefix)), None)
        if peer is not None:
            ratios = [ratio(speed(run, ours, load), speed(run, peer, load)) for load in first]
            parts.append(f"{ours} / {peer}: {' / '.join(ratios)}")
    return (
        f"Protocol ratios (one animal / {batch} animals a request, {loads[0].connections} "
        f"connections): " + ("; ".join(parts) or "no peer timed") + "."
    )


def make_peer(peer: str, args: argparse.Namespace, workdir: Path) -> Server:
    """The server of ``peer`` (its venv installed if need be)."""
    if peer == "mlflow":
        return servers.mlflow(args.model_uri or latest_model_uri(args.tracking_uri))
    if peer == "mlserver":
        return servers.mlserver(args.venvs, workdir)
    return servers.litserve(args.venvs) if peer == "litserve" else servers.bentoml(args.venvs)


def write_markdown(
    args: argparse.Namespace, names: list[str], rows: list[list[str]], run: Run
) -> None:  # pylint: disable=too-many-locals
    """The table, how it was measured, and the servers not timed, for the docs."""
    rows = [
        [f"`{row[0]}`" if row[0] == "sampleproject serve" else row[0], *row[1:]] for row in rows
    ]
    method = (
        f"One worker per server, pinned to core 0 (`taskset -c 0`); `wrk -t{args.threads} "
        f"-c<connections> -d{args.duration}s` on core 1, after 1 s of warm-up; {args.rounds} "
        f"interleaved rounds, medians. Same animals everywhere (the aardvark; the data set's "
        f"first {args.batch}), each server in its own request format; same ONNX model except "
        "MLflow's (the scikit-learn model of the same training run). Every server's answers "
        "were checked against the project's before it was timed. 'x floor': the "
        "server's throughput over the floor's; 'ours / this': `sampleproject serve`'s "
        "throughput over this server's (one animal / "
        f"{args.batch} animals a request)."
    )
    errors = sum(
        result.summary.non_2xx + result.summary.socket_errors
        for by_load in run.results.values()
        for results in by_load.values()
        for result in results
    )
    notes = [
        ratios_line(rows, "`sampleproject serve`", args.batch),
        protocols_line(run, loads_of(args), args.batch),
        method,
    ]
    notes.append(f"Non-2xx answers and socket errors: {errors}.")
    notes += [f"Not timed: {label}, {why}." for label, why in run.refused.items()]
    doc_table.write(args.markdown, names, rows, notes, numeric=tuple(range(1, len(names))))


def against_baseline(args: argparse.Namespace, workdir: Path, env: dict[str, str]) -> int:
    """This checkout's serving code against ``--baseline``'s, in interleaved rounds."""
    before, after = servers.ours(args.baseline, "baseline"), servers.ours(label="this checkout")
    run = rounds([before, after], loads_of(args), args, workdir, env)
    if run.refused:
        return 1
    figures = (("requests/s", lambda result: result.summary.rps), ("CPU us/request", cpu_us))
    for load in loads_of(args):
        print(f"\nmedians, {load.connections} connections, {load.animals} animals a request:")
        for unit, figure in figures:
            old, new = (
                statistics.median(map(figure, run.results[label][load]))
                for label in (before.label, after.label)
            )
            print(
                f"  {unit:<15} baseline {old:>8.1f}, this checkout {new:>8.1f}: "
                f"{(new - old) / old * 100:+.1f} %"
            )
    return 0


def cpu_us(result: Result) -> float:
    """The server's CPU time a request, in microseconds."""
    return result.cpu_us


def loads_of(args: argparse.Namespace) -> list[Load]:
    """Every load: for each connection count, one animal then ``--batch`` a request."""
    return [Load(count, animals) for count in args.connections for animals in (1, args.batch)]


def peers(value: str) -> list[str]:
    """``--peers``: all, none, or names separated by commas."""
    if value in {"all", "none"}:
        return list(servers.PEERS) if value == "all" else []
    names = [name.strip() for name in value.split(",")]
    unknown = [name for name in names if name not in servers.PEERS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown peer {unknown[0]!r} (choose from {', '.join(servers.PEERS)})"
        )
    return names


def connection_counts(value: str) -> list[int]:
    """``--connections``: counts separated by commas."""
    try:
        return [int(count) for count in value.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of counts: {value!r}") from None


def parse_args() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument(
        "--peers",
        type=peers,
        default=list(servers.PEERS),
        help=f"all (default), none, or some of {','.join(servers.PEERS)}",
    )
    parser.add_argument("--no-mlflow", action="store_true", help="leave MLflow out of the peers")
    parser.add_argument(
        "--venvs",
        type=Path,
        default=Path.home() / ".cache" / "sampleproject-bench",
        help="where the peers' venvs are made (default: %(default)s)",
    )
    parser.add_argument(
        "--model-uri", help="MLflow's model URI (default: the latest registered version's run)"
    )
    parser.add_argument(
        "--tracking-uri", default=os.environ.get("MLFLOW_TRACKING_URI", DEFAULT_TRACKING_URI)
    )
    parser.add_argument(
        "--duration", type=int, default=10, help="seconds of each load (default: 10)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds (default: 3)")
    parser.add_argument(
        "--connections",
        type=connection_counts,
        default=[8, 64],
        help="wrk's connections, one load each (default: 8,64)",
    )
    parser.add_argument("--threads", type=int, default=1, help="wrk's threads (default: 1)")
    parser.add_argument(
        "--batch", type=int, default=100, help="animals a request, besides one (default: 100)"
    )
    parser.add_argument(
        "--no-pin",
        dest="pin",
        action="store_false",
        help="do not pin the server to core 0 and wrk to core 1",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        metavar="DIR",
        help="another checkout whose serving code to compare with (same model, same loads)",
    )
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    args = parser.parse_args()
    if args.no_mlflow:
        args.peers = [peer for peer in args.peers if peer != "mlflow"]
    if not 1 < args.batch <= len(servers.zoo_animals()):
        parser.error(
            f"--batch: between 2 and {len(servers.zoo_animals())} (the data set's animals)"
        )
    args.pin = args.pin and (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None
    return args


def main() -> int:
    """Run the benchmark and print the table."""
    args = parse_args()
    if not (servers.MODEL_DIR / "zoo.json").exists():
        raise SystemExit("no trained model: run `make train` first")
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    if args.baseline and not (args.baseline / "sampleproject" / "__init__.py").exists():
        raise SystemExit(f"--baseline {args.baseline}: not a checkout of sampleproject")
    os.chdir(ROOT)  # the default tracking URI is relative to the project
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": args.tracking_uri,
        "PATH": f"{servers.BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    env.pop("PYTHONPATH", None)
    with tempfile.TemporaryDirectory() as temp:
        if args.baseline:
            return against_baseline(args, Path(temp), env)
        return compare(args, Path(temp), env)


if __name__ == "__main__":
    sys.exit(main())
