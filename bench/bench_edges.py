"""Benchmark: what API keys and tracing cost ``sampleproject serve``, as ratios in one run.

The same server (this checkout, one worker, pinned to core 0) four ways, in interleaved rounds:
plain; with ``--api-key-file`` (wrk sends ``Authorization: Bearer KEY``); with ``--tracing``,
every request traced; with ``--tracing`` and 10 % of the requests sampled
(``OTEL_TRACES_SAMPLER=traceidratio``). The traced servers export over OTLP/HTTP to a receiver
in this process (a thread that decodes every batch with opentelemetry-proto and counts its
spans), so the figures include the real export; the table says how many spans arrived.
Goals: API keys at most 5 % fewer requests/s than plain; tracing's cost is stated.

The cost of request IDs and of tracing off against an earlier checkout is
``bench/bench_serving.py --baseline DIR`` (same server, that checkout's code).

    python bench/bench_edges.py                        # 3 rounds, 10 s a load
    python bench/bench_edges.py --rounds 5 --duration 5 --connections 8,64

Needs wrk, taskset, a trained model and the tracing extra. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from starlette.types import ASGIApp, Message, Scope

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make the project's modules importable
    sys.path.insert(0, str(ROOT))

# pylint: disable=wrong-import-position
from bench import doc_table, servers, wrk  # noqa: E402
from bench.bench_serving import (  # noqa: E402
    ANIMAL,
    Load,
    Result,
    connection_counts,
    measure,
    print_table,
    report,
    running,
)
from bench.servers import Server  # noqa: E402
from sampleproject.serving import otel  # noqa: E402
from sampleproject.serving.api_keys import hash_key  # noqa: E402
from sampleproject.serving.app import ZooAPI, create_app  # noqa: E402
from sampleproject.serving.settings import ServeSettings  # noqa: E402

KEY = "bench-key-0123456789abcdefghijklmnopqrstuvwxyz"  # a benchmark's key, not a secret


class SpanCounter:  # pylint: disable=too-few-public-methods
    """An OTLP/HTTP receiver on a loopback port that decodes each batch and counts spans."""

    def __init__(self) -> None:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (  # pylint: disable=no-name-in-module  # generated
            ExportTraceServiceRequest,
        )

        self.spans = 0
        counter = self

        class Handler(BaseHTTPRequestHandler):
            """POST /v1/traces: decode, count, answer an empty ExportTraceServiceResponse."""

            def do_POST(self) -> None:  # pylint: disable=invalid-name  # http.server's name
                """Decode and count."""
                batch = ExportTraceServiceRequest()
                batch.ParseFromString(self.rfile.read(int(self.headers["Content-Length"])))
                counter.spans += sum(
                    len(scope.spans)
                    for spans in batch.resource_spans
                    for scope in spans.scope_spans
                )
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: object) -> None:  # quiet
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/traces"

    @contextmanager
    def serving(self) -> Iterator[SpanCounter]:
        """Receive in a thread until the block ends."""
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.server.shutdown()
            self.server.server_close()


def variants(workdir: Path, receiver: str) -> list[tuple[Server, dict[str, str]]]:
    """The four servers, each with the headers wrk sends it."""
    keys = workdir / "api-keys.txt"
    keys.write_text(hash_key(KEY) + "\n", encoding="utf-8")
    plain = servers.ours(label="plain")
    traced = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": receiver}

    def variant(label: str, extra: tuple[str, ...], env: dict[str, str]) -> Server:
        return dataclasses.replace(
            plain, label=label, command=lambda port: [*plain.command(port), *extra], env=env
        )

    sampled = {**traced, "OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"}
    return [
        (plain, {}),
        (
            variant("API keys on", ("--api-key-file", str(keys)), {}),
            {"Authorization": f"Bearer {KEY}"},
        ),
        (variant("tracing on, every request", ("--tracing",), traced), {}),
        (variant("tracing on, 10 % sampled", ("--tracing",), sampled), {}),
    ]


def lua(content: object, headers: dict[str, str]) -> str:
    """The wrk script: POST ``content`` as JSON with ``headers``."""
    added = "".join(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}\n" for k, v in headers.items())
    return wrk.script(json.dumps(content)) + added


def run(
    args: argparse.Namespace, workdir: Path, counter: SpanCounter
) -> dict[str, dict[Load, list[Result]]]:
    """Round after round, each variant in turn: start it, time every load."""
    chosen = variants(workdir, counter.url)
    loads = [Load(count, animals) for count in args.connections for animals in (1, args.batch)]
    results: dict[str, dict[Load, list[Result]]] = {
        s.label: {load: [] for load in loads} for s, _ in chosen
    }
    env = {**os.environ, "PATH": f"{servers.BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("PYTHONPATH", None)
    for number in range(1, args.rounds + 1):
        for server, headers in chosen:
            with running(server, args.pin, workdir, env) as (base, pid):
                for load in loads:
                    script = workdir / "post.lua"
                    script.write_text(lua(request_body(load), headers), "utf-8")
                    result = measure(base + "/predict", script, load, pid, args)
                    results[server.label][load].append(result)
                    report(number, server.label, load, result)
    return results


def request_body(load: Load) -> object:
    """The request body of ``load``: one animal, or the data set's first animals."""
    return servers.zoo_animals()[: load.animals] if load.animals > 1 else ANIMAL


def table(
    results: dict[str, dict[Load, list[Result]]], spans: int
) -> tuple[list[str], list[list[str]]]:
    """One row per variant and load: requests/s, p99, CPU a request, the share of plain's rate."""
    names = ["server", "load", "requests/s", "p99 ms", "CPU us/request", "x plain", "non-2xx"]
    rows = []
    plain = next(iter(results.values()))
    for label, by_load in results.items():
        for load, found in by_load.items():
            rps = statistics.median(result.summary.rps for result in found)
            base = statistics.median(result.summary.rps for result in plain[load])
            rows.append(
                [
                    label,
                    f"{load.connections} conn, {load.animals} animal(s)",
                    f"{rps:,.0f}",
                    f"{statistics.median(result.summary.p99_ms for result in found):.2f}",
                    f"{statistics.median(result.cpu_us for result in found):.0f}",
                    f"{rps / base:.3f}x",
                    str(
                        sum(
                            result.summary.non_2xx + result.summary.socket_errors
                            for result in found
                        )
                    ),
                ]
            )
    print(f"\nspans received by the OTLP receiver: {spans:,}")
    return names, rows


# --- whole requests in-process ----------------------------------------------------------

BATCHES = 60  # of BATCH_ANIMALS animals each; the least CPU time of a batch is kept
BATCH_ANIMALS = 300


def _scope(headers: list[tuple[bytes, bytes]], body: bytes) -> Scope:
    """``POST /predict`` with ``body``, as uvicorn gives it."""
    declared = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/predict",
        "raw_path": b"/predict",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"bench"), *declared, *headers],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 8000),
    }


async def _cpu_us(app: ASGIApp, headers: list[tuple[bytes, bytes]], body: bytes) -> float:
    """CPU microseconds of one request through ``app``: the least of :data:`BATCHES` batches
    of about :data:`BATCH_ANIMALS` animals.

    CPU time, not the clock, and many small batches: on a shared machine the clock counts the
    time other jobs had the processor, and the least batch is the one least disturbed.
    """
    message = {"type": "http.request", "body": body, "more_body": False}
    statuses: set[int] = set()

    async def receive() -> Message:
        return message

    async def send(sent: Message) -> None:
        if sent["type"] == "http.response.start":
            statuses.add(sent["status"])

    requests = max(BATCH_ANIMALS // body.count(b"legs"), 3)
    best = float("inf")
    for _ in range(BATCHES):
        start = time.process_time()
        for _ in range(requests):
            await app(_scope(headers, body), receive, send)
        best = min(best, (time.process_time() - start) / requests * 1e6)
    if statuses != {200}:
        raise SystemExit(f"answered {sorted(statuses)}, not 200")
    return best


class Discard(SpanExporter):
    """Spans to nowhere: the SDK's own cost, without the network's."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        del spans
        return SpanExportResult.SUCCESS


async def _whole_requests(workdir: Path, body: bytes, rounds: int) -> dict[str, float]:
    """Each variant's least CPU time a request, in interleaved rounds."""
    key_file = workdir / "in-process-keys.txt"
    key_file.write_text(hash_key(KEY) + "\n", encoding="utf-8")
    plain = create_app(ServeSettings(model_dir=servers.MODEL_DIR))
    keyed = create_app(ServeSettings(model_dir=servers.MODEL_DIR, api_key_file=key_file))
    bare = create_app(ServeSettings(model_dir=servers.MODEL_DIR))
    if not isinstance(bare, ZooAPI):
        raise SystemExit("the application is not a ZooAPI: no outer layers to leave out")
    bare.outer_layers = bare.outer_layers[1:]  # without the request ID layer
    cases: list[tuple[str, Any, list[tuple[bytes, bytes]]]] = [
        ("without the request ID layer (as before)", bare, []),
        ("plain: request ID made, tracing off", plain, []),
        ("request ID echoed", plain, [(b"x-request-id", b"order-1234")]),
        ("API keys on", keyed, [(b"authorization", f"Bearer {KEY}".encode())]),
    ]
    best: dict[str, float] = {}
    for _ in range(rounds):
        for name, app, headers in cases:
            async with app.router.lifespan_context(app):
                best[name] = min(best.get(name, float("inf")), await _cpu_us(app, headers, body))
    otel.exporter = Discard
    traced = create_app(ServeSettings(model_dir=servers.MODEL_DIR, tracing=True))
    async with traced.router.lifespan_context(traced):  # every request sampled: the default
        best["tracing on, every request (spans discarded)"] = await _cpu_us(traced, [], body)
    return best


def _many(figure: float, base: float) -> list[str]:
    return [f"{figure:.0f}", f"{figure / base:.3f}x"]


def in_process(workdir: Path, rounds: int) -> tuple[list[str], list[list[str]]]:
    """Whole requests through the application, no HTTP server: CPU µs, one and 100 animals."""
    one = asyncio.run(_whole_requests(workdir, json.dumps(ANIMAL).encode(), rounds))
    many = asyncio.run(_whole_requests(workdir, json.dumps([ANIMAL] * 100).encode(), rounds))
    base = one["plain: request ID made, tracing off"], many["plain: request ID made, tracing off"]
    rows = [
        [name, f"{one[name]:.1f}", f"{one[name] / base[0]:.3f}x", *_many(many[name], base[1])]
        for name in one
    ]
    names = ["in-process, CPU time", "1 animal, µs", "x plain", "100 animals, µs", "x plain"]
    return names, rows


def parse_args() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument(
        "--duration", type=int, default=10, help="seconds of each load (default: 10)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds (default: 3)")
    parser.add_argument(
        "--connections", type=connection_counts, default=[8], help="wrk's connections (default: 8)"
    )
    parser.add_argument("--threads", type=int, default=1, help="wrk's threads (default: 1)")
    parser.add_argument("--batch", type=int, default=100, help="animals a request, besides one")
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    args = parser.parse_args()
    args.pin = (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None
    return args


def main() -> int:
    """Run the rounds and print the table."""
    args = parse_args()
    if not (servers.MODEL_DIR / "zoo.json").exists():
        raise SystemExit("no trained model: run `make train` first")
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    os.chdir(ROOT)
    print(
        f"wrk -t{args.threads}, {args.duration} s a load after 1 s of warm-up, {args.rounds} "
        f"rounds; {os.cpu_count()} CPUs; "
        + ("server on core 0, wrk on core 1" if args.pin else "not pinned")
    )
    with tempfile.TemporaryDirectory() as temp, SpanCounter().serving() as counter:
        layer_names, layer_rows = in_process(Path(temp), args.rounds)
        print_table(layer_names, layer_rows)
        results = run(args, Path(temp), counter)
        names, rows = table(results, counter.spans)
    print(f"\nmedians of {args.rounds} rounds; 'x plain': requests/s over plain's at the same load")
    print_table(names, rows)
    if args.markdown:
        notes = [
            f"One worker pinned to core 0, `wrk -t{args.threads} -d{args.duration}s` on core 1 "
            f"after 1 s of warm-up; {args.rounds} interleaved rounds, medians. 'x plain': "
            "requests/s over the plain server's at the same load. The traced servers export "
            "over OTLP/HTTP to a receiver in the benchmark's process, which decoded "
            f"{counter.spans:,} spans.",
            "Whole requests in-process, through the application's ASGI interface (no HTTP "
            f"server): the least CPU time a request of {BATCHES} batches of about "
            f"{BATCH_ANIMALS} animals, in {args.rounds} interleaved rounds; tracing's spans go "
            "to an exporter that discards them:",
            doc_table.table(layer_names, layer_rows, numeric=(1, 2, 3, 4)),
        ]
        doc_table.write(args.markdown, names, rows, notes, numeric=(2, 3, 4, 5, 6))
    return 0


if __name__ == "__main__":
    sys.exit(main())
