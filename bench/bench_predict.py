"""Benchmark ``sampleproject predict``: rows per second and memory on million-row CSV and JSON
Lines files beside the model-bound limit, where the time per row goes, and the cold start of a
one-animal prediction beside the import floor of NumPy and ONNX Runtime.

    python bench/bench_predict.py [--rows 1000000] [--rounds 3] [--runs 7]
                                  [--markdown docs/bench/predict.md]

The model-bound limit is ONNX Runtime alone, one thread, on arrays already parsed, in chunks
of the size ``predict`` uses: what a file of that many rows cannot beat. Rounds interleave
the limit and the commands (the machine's load changes over a run); figures are medians.
Each measured command runs in its own process, started through a small wrapper that reports
that process's peak resident memory (getrusage of its children), so one measurement cannot
inherit another's peak. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from itertools import pairwise
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make the project's modules importable
    sys.path.insert(0, str(ROOT))

# pylint: disable=wrong-import-position
from bench import doc_table  # noqa: E402
from sampleproject.formats import FORMATS, Format  # noqa: E402
from sampleproject.inference import batch  # noqa: E402
from sampleproject.inference.predictor import Predictor, load_predictor  # noqa: E402

# pylint: enable=wrong-import-position

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
HEADER_NAMES = HEADER.split(",")
# (rows as a share of --rows, input format, output format)
RUNS = ((0.1, "csv", "csv"), (1, "csv", "csv"), (1, "csv", "jsonl"), (1, "jsonl", "jsonl"))


def zoo_animals() -> list[list[str]]:
    """The shipped data set's rows: name and features (without the class)."""
    with DATA.open(encoding="utf-8", newline="") as file:
        return [row[:-1] for row in csv.reader(file) if row]


def write_big_file(path: Path, rows: int, fmt: str) -> None:
    """``rows`` animals, CSV or JSON Lines: the shipped data set's rows, over and over."""
    animals = zoo_animals()
    if fmt == "csv":
        lines = [",".join(row) + "\n" for row in animals]
    else:
        lines = [
            json.dumps(
                {HEADER_NAMES[0]: row[0]}
                | dict(zip(HEADER_NAMES[1:], map(int, row[1:]), strict=True))
            )
            + "\n"
            for row in animals
        ]
    with path.open("w", encoding="utf-8") as out:
        if fmt == "csv":
            out.write(HEADER + "\n")
        full, rest = divmod(rows, len(lines))
        block = "".join(lines)
        for _ in range(full):
            out.write(block)
        out.writelines(lines[:rest])


def feature_chunks(rows: int) -> list[np.ndarray]:
    """The same animals as :func:`write_big_file`'s, parsed, in chunks of ``predict``'s size."""
    table = np.array([row[1:] for row in zoo_animals()], dtype=np.float32)
    features = np.resize(table, (rows, table.shape[1]))
    return [features[i : i + batch.CHUNK_ROWS].copy() for i in range(0, rows, batch.CHUNK_ROWS)]


def model_bound(predictor: Predictor, chunks: list[np.ndarray]) -> float:
    """Rows per second of ONNX Runtime alone (one thread) on parsed ``chunks``."""
    start = time.perf_counter()
    for chunk in chunks:
        predictor.predict(chunk)
    return sum(map(len, chunks)) / (time.perf_counter() - start)


def measured(args: list[str]) -> tuple[float, int]:
    """Wall time (s) and peak RSS (MiB) of ``sampleproject ARGS`` in a fresh process."""
    return measured_command([COMMAND, *args])


def measured_command(command: list[str]) -> tuple[float, int]:
    """Wall time (s) and peak RSS (MiB) of ``command`` in a fresh process."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, *command],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    elapsed = time.perf_counter() - start
    return elapsed, int(done.stderr.strip().splitlines()[-1]) // 1024


def throughput(rows: int, rounds: int) -> list[list[str]]:
    """Predict big files beside the model-bound limit, rounds interleaved; print, return rows."""
    limits, results = interleaved(rows, rounds)
    limit = statistics.median(limits)
    print(f"model-bound limit (ONNX Runtime alone, 1 thread): {limit:,.0f} rows/s")
    print(f"{'input':<30}{'rows/s':>10}{'of limit':>10}{'seconds':>9}{'peak RSS MiB':>14}")
    table = [["model-bound limit: ONNX Runtime alone", f"{limit:,.0f}", "1.00", "", ""]]
    for (share, in_format, out_format), measures in zip(RUNS, results, strict=True):
        seconds = statistics.median(elapsed for elapsed, _ in measures)
        peak = max(peak for _, peak in measures)
        count = int(rows * share)
        label = f"{count:,} rows {in_format.upper()} -> {out_format.upper()}"
        speed = count / seconds
        print(f"{label:<30}{speed:>10,.0f}{speed / limit:>10.2f}{seconds:>9.2f}{peak:>14}")
        table.append([label, f"{speed:,.0f}", f"{speed / limit:.2f}", f"{seconds:.1f}", str(peak)])
    return table


def interleaved(rows: int, rounds: int) -> tuple[list[float], list[list[tuple[float, int]]]]:
    """The model-bound limit of each round, and each of RUNS' (seconds, peak MiB) per round."""
    predictor = load_predictor(threads=1)
    chunks = feature_chunks(rows)
    limits: list[float] = []
    results: list[list[tuple[float, int]]] = [[] for _ in RUNS]
    with tempfile.TemporaryDirectory() as temp:
        for _ in range(rounds):
            limits.append(model_bound(predictor, chunks))
            for (share, in_format, out_format), measures in zip(RUNS, results, strict=True):
                source = Path(temp) / f"animals-{int(rows * share)}.{in_format}"
                if not source.exists():
                    write_big_file(source, int(rows * share), in_format)
                output = Path(temp) / f"predictions.{out_format}"
                measures.append(measured(["predict", str(source), "--output", str(output)]))
                output.unlink()
    return limits, results


STAGES = ("reading and validation", "model (ONNX Runtime, 1 thread)", "writing the output")


def stages(rows: int) -> list[list[str]]:
    """Microseconds per row of each stage of ``predict``, in this process; print, return rows."""
    predictor = load_predictor(threads=1)
    with tempfile.TemporaryDirectory() as temp:
        per_row = {fmt: stage_times(predictor, Path(temp), fmt, rows) for fmt in FORMATS}
    print(f"{'stage, us per row':<36}{'CSV':>8}{'JSONL':>8}")
    table = []
    for index, name in enumerate(STAGES):
        csv_us, jsonl_us = per_row["csv"][index], per_row["jsonl"][index]
        print(f"{name:<36}{csv_us:>8.2f}{jsonl_us:>8.2f}")
        table.append([name, f"{csv_us:.2f}", f"{jsonl_us:.2f}"])
    return table


def stage_times(predictor: Predictor, folder: Path, fmt: Format, rows: int) -> list[float]:
    """Microseconds per row of STAGES for a file of ``rows`` in ``fmt`` (output discarded)."""
    source = folder / f"animals.{fmt}"
    write_big_file(source, rows, fmt)
    clock = [time.perf_counter()]
    with source.open(encoding="utf-8", newline="") as lines:
        chunks = list(batch.chunks(lines, fmt, fmt))
    clock.append(time.perf_counter())
    predictions = [predictor.predict(chunk.features) for chunk in chunks]
    clock.append(time.perf_counter())
    with Path(os.devnull).open("w", encoding="utf-8") as null:
        writer = batch.make_writer(fmt, null, predictor)
        for chunk, predicted in zip(chunks, predictions, strict=True):
            writer.write(chunk, predicted)
    clock.append(time.perf_counter())
    return [(end - start) / rows * 1e6 for start, end in pairwise(clock)]


FLOOR = [sys.executable, "-c", "import numpy, onnxruntime"]
ONE_ANIMAL = "predict --hair --milk --legs 4 --tail"


def cold_starts(runs: int) -> list[list[str]]:
    """Time one-animal ``predict``, the import floor and the adder, interleaved; print, return."""
    commands = {
        '`python -c "import numpy, onnxruntime"` (the floor)': FLOOR,
        f"`sampleproject {ONE_ANIMAL}`": [COMMAND, *ONE_ANIMAL.split()],
        "`sampleproject 45 46` (no ML imports)": [COMMAND, "45", "46"],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            times[name].append(measured_command(command)[0])
    floor = statistics.median(times[next(iter(commands))])
    table: list[list[str]] = []
    for name, taken in times.items():
        median, fastest = statistics.median(taken), min(taken)
        print(f"cold start, {name}: median {median * 1000:.0f} ms ({median / floor:.2f}x floor)")
        table.append(
            [name, f"{median * 1000:.0f}", f"{fastest * 1000:.0f}", f"{median / floor:.2f}"]
        )
    return table


def main() -> int:
    """Run the benchmark and print the figures (and write the tables with ``--markdown``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of the files")
    parser.add_argument("--runs", type=int, default=7, help="cold starts to take the median of")
    parser.add_argument("--markdown", type=Path, help="also write the tables to this file")
    args = parser.parse_args()

    rows = throughput(args.rows, args.rounds)
    per_row = stages(min(args.rows, 200_000))
    starts = cold_starts(args.runs)
    if args.markdown:
        stage_table = doc_table.table(["stage, µs per row", "CSV", "JSONL"], per_row, (1, 2))
        cold = doc_table.table(
            ["cold start", "median ms", "fastest ms", "x floor"], starts, numeric=(1, 2, 3)
        )
        notes = [
            f"Files: median of {args.rounds} rounds, the limit measured in each round.",
            stage_table.rstrip(),
            f"Stages: {min(args.rows, 200_000):,} rows in one process, the output discarded.",
            cold.rstrip(),
            f"Cold starts: {args.runs} runs each, interleaved, each in a fresh process.",
        ]
        headers = ["input", "rows/s", "of the limit", "seconds", "peak RSS MiB"]
        doc_table.write(args.markdown, headers, rows, notes, numeric=(1, 2, 3, 4))
    return 0


if __name__ == "__main__":
    sys.exit(main())
