"""Benchmark ``sampleproject predict``: rows per second and memory on a million-row CSV file,
and the cold start of a one-animal prediction.

    python bench/bench_predict.py [--rows 1000000] [--runs 7] [--markdown docs/bench/predict.md]

Each measured command runs in its own process, started through a small wrapper that reports
that process's peak resident memory (getrusage of its children), so one measurement cannot
inherit another's peak. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import csv
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make the project's modules importable
    sys.path.insert(0, str(ROOT))

from bench import doc_table  # noqa: E402  pylint: disable=wrong-import-position

COMMAND = str(Path(sys.executable).parent / "sampleproject")
DATA = ROOT / "sampleproject" / "data" / "zoo.data"
# Runs a command and prints its peak RSS in KiB (Linux reports ru_maxrss in KiB).
PEAK_RSS = (
    "import resource, subprocess, sys; "
    "code = subprocess.run(sys.argv[1:], check=False).returncode; "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
    "sys.exit(code)"
)
HEADER = (
    "animal_name,hair,feathers,eggs,milk,airborne,aquatic,predator,toothed,backbone,"
    "breathes,venomous,fins,legs,tail,domestic,catsize"
)


def write_big_csv(path: Path, rows: int) -> None:
    """``rows`` animals: the shipped data set's rows (without the class), over and over."""
    with DATA.open(encoding="utf-8", newline="") as file:
        animals = [",".join(row[:-1]) + "\n" for row in csv.reader(file) if row]
    with path.open("w", encoding="utf-8") as out:
        out.write(HEADER + "\n")
        full, rest = divmod(rows, len(animals))
        block = "".join(animals)
        for _ in range(full):
            out.write(block)
        out.writelines(animals[:rest])


def measured(args: list[str]) -> tuple[float, int]:
    """Wall time (s) and peak RSS (MiB) of ``sampleproject ARGS`` in a fresh process."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, COMMAND, *args],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    elapsed = time.perf_counter() - start
    return elapsed, int(done.stderr.strip().splitlines()[-1]) // 1024


def throughput(rows: int) -> list[list[str]]:
    """Predict files of ``rows / 10`` and ``rows`` animals; print and return the table's rows."""
    table: list[list[str]] = []
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        print(f"{'input':<28}{'rows/s':>12}{'seconds':>10}{'peak RSS MiB':>14}")
        for count, fmt in ((rows // 10, "csv"), (rows, "csv"), (rows, "jsonl")):
            source = folder / f"animals-{count}.csv"
            if not source.exists():
                write_big_csv(source, count)
            output = folder / f"predictions.{fmt}"
            seconds, peak = measured(["predict", str(source), "--output", str(output)])
            label = f"{count:,} rows CSV -> {fmt.upper()}"
            print(f"{label:<28}{count / seconds:>12,.0f}{seconds:>10.2f}{peak:>14}")
            table.append([label, f"{count / seconds:,.0f}", f"{seconds:.1f}", str(peak)])
    return table


def cold_starts(runs: int) -> list[list[str]]:
    """Time one-animal ``predict`` and the adder from a cold process; print and return rows."""
    table: list[list[str]] = []
    for name, command in (
        ("predict one animal", ["predict", "--hair", "--milk", "--legs", "4", "--tail"]),
        ("45 46 (no ML imports)", ["45", "46"]),
    ):
        times = [measured(command)[0] for _ in range(runs)]
        median, fastest = statistics.median(times) * 1000, min(times) * 1000
        print(f"cold start, {name}: median {median:.0f} ms over {runs} runs (min {fastest:.0f} ms)")
        table.append([f"`sampleproject {shlex.join(command)}`", f"{median:.0f}", f"{fastest:.0f}"])
    return table


def main() -> int:
    """Run the benchmark and print the figures (and write the tables with ``--markdown``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7, help="cold starts to take the median of")
    parser.add_argument("--markdown", type=Path, help="also write the tables to this file")
    args = parser.parse_args()

    rows = throughput(args.rows)
    starts = cold_starts(args.runs)
    if args.markdown:
        cold = doc_table.table(["cold start", "median ms", "fastest ms"], starts, numeric=(1, 2))
        notes = [cold.rstrip(), f"Cold starts: {args.runs} runs each, each in a fresh process."]
        headers = ["input", "rows/s", "seconds", "peak RSS MiB"]
        doc_table.write(args.markdown, headers, rows, notes, numeric=(1, 2, 3))
    return 0


if __name__ == "__main__":
    sys.exit(main())
