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
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
from sampleproject.serving import otel, tracing  # noqa: E402
from sampleproject.serving.api_keys import ApiKeyMiddleware, ApiKeys, hash_key  # noqa: E402
from sampleproject.serving.metrics import Metrics  # noqa: E402
from sampleproject.serving.request_id import RequestIdMiddleware  # noqa: E402

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
                    script.write_text(lua(body(load), headers), "utf-8")
                    result = measure(base + "/predict", script, load, pid, args)
                    results[server.label][load].append(result)
                    report(number, server.label, load, result)
    return results


def body(load: Load) -> object:
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


# --- each layer alone, in-process -------------------------------------------------------

START = {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
BODY = {"type": "http.response.body", "body": b"{}"}
REPEATS = 7


async def bare(_scope: Scope, _receive: Receive, send: Send) -> None:
    """The smallest ASGI answer: what each layer wraps."""
    await send(START)
    await send(BODY)


async def _us(app: ASGIApp, headers: list[tuple[bytes, bytes]], number: int) -> float:
    """Microseconds a request through ``app`` (best of :data:`REPEATS`)."""
    scope = {"type": "http", "method": "POST", "path": "/predict", "headers": headers}

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_message: Message) -> None:
        return None

    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        for _ in range(number):
            await app(dict(scope), receive, send)
        best = min(best, (time.perf_counter() - start) / number * 1e6)
    return best


async def _spans_off(scope: Scope, receive: Receive, send: Send) -> None:
    """The two ``tracing.span()`` calls a prediction makes, tracing off."""
    with tracing.span("validate"), tracing.span("model"):
        pass
    await bare(scope, receive, send)


def layer_costs(workdir: Path, number: int = 20_000) -> tuple[list[str], list[list[str]]]:
    """What each front layer adds to a request, alone, in-process (no HTTP server)."""
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    class Discard(SpanExporter):
        """Spans to nowhere: the SDK's own cost, without the network."""

        def export(self, spans: object) -> SpanExportResult:
            del spans
            return SpanExportResult.SUCCESS

    key_file = workdir / "layer-keys.txt"
    key_file.write_text(hash_key(KEY) + "\n", encoding="utf-8")
    keys = ApiKeys(key_file)
    auth = [(b"authorization", f"Bearer {KEY}".encode())]
    cases: list[tuple[str, ASGIApp, list[tuple[bytes, bytes]]]] = [
        ("no layer", bare, []),
        ("tracing off: the two tracing.span() calls", _spans_off, []),
        ("request ID, made", RequestIdMiddleware(bare), []),
        ("request ID, echoed", RequestIdMiddleware(bare), [(b"x-request-id", b"abc-123")]),
        ("API key, valid", ApiKeyMiddleware(bare, keys=keys, metrics=Metrics()), auth),
    ]
    figures = {name: asyncio.run(_us(app, headers, number)) for name, app, headers in cases}
    otel.exporter = Discard
    layer, stop = otel.start(lambda: ["/predict"])
    try:  # every request sampled (the default), the spans ended and handed to the exporter
        figures["tracing on: request span with the two spans"] = asyncio.run(
            _us(layer(_spans_off), [], number)
        )
    finally:
        stop()
    base = figures["no layer"]
    rows = [[name, f"{us:.2f}", f"{us - base:+.2f}"] for name, us in figures.items()]
    return ["in-process, alone", "µs a request", "over no layer"], rows


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
        layer_names, layer_rows = layer_costs(Path(temp))
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
            "Each front layer alone, in-process (no HTTP server: a bare ASGI answer wrapped by "
            f"the layer, best of {REPEATS} repeats):",
            doc_table.table(layer_names, layer_rows, numeric=(1, 2)),
        ]
        doc_table.write(args.markdown, names, rows, notes, numeric=(2, 3, 4, 5, 6))
    return 0


if __name__ == "__main__":
    sys.exit(main())
