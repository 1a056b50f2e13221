"""Benchmark: CLI start-up and the pipeline's build times. Prints figures; asserts nothing.

    .venv/bin/python bench/bench_cli.py            # start-up only (a few seconds)
    .venv/bin/python bench/bench_cli.py --make     # also `make clean && make`, then a no-op `make`
    .venv/bin/python bench/bench_cli.py --bin /path/to/venv/bin   # start-up in another environment
    .venv/bin/python bench/bench_cli.py --markdown docs/bench/cli.md  # also the table for the docs

Goals (docs/benchmarks.md): ``sampleproject 45 46`` within 1.5 times the interpreter's own
start-up (``python -c pass``); a no-op ``make`` under 2 seconds.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make the project's modules importable
    sys.path.insert(0, str(ROOT))

from bench import doc_table  # noqa: E402  pylint: disable=wrong-import-position

BIN = Path(sys.executable).parent


def wall_time(command: list[str], runs: int) -> float:
    """Median wall-clock seconds of ``runs`` runs (after one warm-up run)."""
    subprocess.run(command, check=True, capture_output=True)
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def display(path: Path) -> str:
    """``path`` relative to the project when it is inside it (the docs show no home folders)."""
    resolved = path.resolve()
    return str(resolved.relative_to(ROOT)) if resolved.is_relative_to(ROOT) else str(path)


def timed_make(*targets: str) -> float:
    """Wall-clock seconds of ``make TARGETS`` in the project."""
    start = time.perf_counter()
    subprocess.run(["make", *targets], cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    """Measure and print (and write the table with ``--markdown``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=40, help="runs per start-up figure")
    parser.add_argument("--make", action="store_true", help="also time a full and a no-op make")
    parser.add_argument(
        "--bin", type=Path, default=BIN, help="the environment's bin/ (default: this one's)"
    )
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    args = parser.parse_args()

    bare = wall_time([str(args.bin / "python"), "-c", "pass"], args.runs)
    adder = wall_time([str(args.bin / "sampleproject"), "45", "46"], args.runs)
    ratio = f"{adder / bare:.2f} times"
    print(f"{'python -c pass':<28} {bare * 1000:8.1f} ms")
    print(f"{'sampleproject 45 46':<28} {adder * 1000:8.1f} ms   ratio {ratio} (goal <= 1.5)")
    rows = [
        ["`python -c pass`", f"{bare * 1000:.1f} ms", ""],
        ["`sampleproject 45 46`", f"{adder * 1000:.1f} ms ({ratio})", "at most 1.5 times"],
    ]
    if args.make:
        subprocess.run(["make", "clean"], cwd=ROOT, check=True, capture_output=True)
        full = timed_make()
        noop = timed_make()
        print(f"{'make (after make clean)':<28} {full:8.1f} s")
        print(f"{'make (nothing to do)':<28} {noop:8.2f} s    (goal < 2 s)")
        rows += [
            ["`make` after `make clean`", f"{full:.0f} s", ""],
            ["`make` with nothing to do", f"{noop:.2f} s", "under 2 s"],
        ]
    if args.markdown:
        environment = display(args.bin.parent)
        note = f"Start-up: median of {args.runs} runs each, environment `{environment}`."
        doc_table.write(args.markdown, ["figure", "measured", "goal"], rows, [note])


if __name__ == "__main__":
    main()
