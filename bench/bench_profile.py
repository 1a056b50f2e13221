"""Where the time of a ``POST /predict`` goes: each stage of a request, timed in-process.

    python bench/bench_profile.py [--markdown docs/bench/profile.md]

Times, for one animal and for 100 animals per request, each step the direct path takes
(parse and validate, the features array, the model, the answer, its JSON, the metrics), then
whole requests through the application's ASGI interface without a network: the direct path,
the same request through the FastAPI route (sent as ``application/vnd.zoo+json``, which the
direct path leaves to FastAPI), and the raw-ASGI floor of the serving benchmark
(``bench/floor_app.py``). The HTTP server's own share (uvicorn, httptools, the event loop) is not in
these figures: ``bench/bench_serving.py`` measures whole servers.

Each figure is the best of several repeats (the least disturbed by other work on the
machine), in microseconds. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import timeit
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter
from pydantic_core import to_json

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make the project's modules importable
    sys.path.insert(0, str(ROOT))

# pylint: disable=wrong-import-position
from bench import doc_table, floor_app  # noqa: E402
from bench.bench_serving import ANIMAL  # noqa: E402
from sampleproject import schema  # noqa: E402
from sampleproject.inference.predictor import LoadedModel, load_predictor  # noqa: E402
from sampleproject.serving import schemas  # noqa: E402
from sampleproject.serving.app import create_app  # noqa: E402
from sampleproject.serving.settings import ServeSettings  # noqa: E402

Asgi = Callable[..., Any]
BATCH = 100
REPEATS = 7
PARSE, FEATURES_ARRAY = "parse and validate (pydantic-core, strict)", "features array"


def best_us(action: Callable[[], object], number: int) -> float:
    """The best of :data:`REPEATS` timings of ``number`` calls, in microseconds per call."""
    return min(timeit.repeat(action, number=number, repeat=REPEATS)) / number * 1e6


def stages(body: bytes, number: int) -> dict[str, float]:  # pylint: disable=too-many-locals
    """Microseconds per request of each step of the direct path, on the shipped model."""
    # Here, not at the top: an older checkout (--requests-only) may not have them.
    from sampleproject.inference.fastpath import array_features, validated_features
    from sampleproject.serving.metrics import Metrics
    from sampleproject.serving.prediction import predict

    adapter = TypeAdapter[Any](schemas.predict_body(1000, schema.Animal))
    predictor = load_predictor(threads=1)
    model = LoadedModel(predictor, "shipped")
    metrics = Metrics(schema.CLASS_NAMES)
    validated = adapter.validate_json(body, strict=True)
    animals = validated if isinstance(validated, list) else [validated]
    features = validated_features(animals)
    answers = predictor.predict(features)

    def count() -> None:
        metrics.count_inputs(features)
        metrics.count_predictions(answers.codes)
        metrics.observe("POST", "/predict", 200, 0.001)

    timed: dict[str, Callable[[], object]] = {
        # A batch whose animals are written alike is read here; anything else costs this
        # check, then goes on to pydantic-core.
        "read with NumPy, if written alike": lambda: array_features(body, 1000),
        PARSE: lambda: adapter.validate_json(body, strict=True),
        FEATURES_ARRAY: lambda: validated_features(animals),
        "model (ONNX Runtime, one call)": lambda: predictor.predict(features),
        "answer (records, rounded)": lambda: predictor.records(answers),
        "JSON encoding": partial(to_json, predictor.records(answers)),
        "metrics (inputs, classes, request)": count,
    }
    figures = {name: best_us(action, number) for name, action in timed.items()}
    figures["sum of the steps taken"] = sum_taken(figures, array_features(body, 1000) is not None)
    figures["prediction.predict (the steps from features on)"] = best_us(
        lambda: predict(validated, model, metrics), number
    )
    return figures


def sum_taken(figures: dict[str, float], read_by_numpy: bool) -> float:
    """The sum of the steps a request takes: NumPy's read replaces pydantic-core's and the
    features' for a batch written alike."""
    skipped = (PARSE, FEATURES_ARRAY) if read_by_numpy else ()
    return sum(figure for name, figure in figures.items() if name not in skipped)


def scope(content_type: bytes, body: bytes) -> dict[str, Any]:
    """An HTTP scope for ``POST /predict``, as uvicorn would give it."""
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
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
        "headers": [(b"host", b"bench"), *headers],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 8000),
    }


async def request_us(app: Asgi, content_type: bytes, body: bytes, number: int) -> float:
    """Microseconds per whole request through ``app``'s ASGI interface (best of repeats)."""
    request = {"type": "http.request", "body": body, "more_body": False}
    statuses = []

    async def receive() -> dict[str, Any]:
        return request

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        for _ in range(number):
            await app(scope(content_type, body), receive, send)
        best = min(best, (time.perf_counter() - start) / number * 1e6)
    if set(statuses) != {200}:
        raise SystemExit(f"{app}: answered {sorted(set(statuses))}, not 200")
    return best


async def requests(body: bytes, number: int) -> dict[str, float]:
    """Whole requests: the direct path, the FastAPI route, the floor."""
    app = create_app(ServeSettings())
    async with app.router.lifespan_context(app):  # loads the model
        return {
            "whole request, direct path": await request_us(app, b"application/json", body, number),
            "whole request, FastAPI route": await request_us(
                app, b"application/vnd.zoo+json", body, number
            ),
            "whole request, raw-ASGI floor": await request_us(
                floor_app.app, b"application/json", body, number
            ),
        }


def main(argv: list[str] | None = None) -> int:
    """Run the profile and print (and optionally write) the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0], allow_abbrev=False)
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    parser.add_argument(
        "--requests-only",
        action="store_true",
        help="whole requests only (to time an older checkout: copy this script and the floor "
        "into its bench/ and run it there)",
    )
    args = parser.parse_args(argv)
    bodies = {1: json.dumps(ANIMAL).encode(), BATCH: json.dumps([ANIMAL] * BATCH).encode()}
    columns = {}
    for size, body in bodies.items():
        number = 2000 if size == 1 else 200
        steps = {} if args.requests_only else stages(body, number)
        columns[size] = steps | asyncio.run(requests(body, number))
    headers = ["step", "1 animal, µs", f"{BATCH} animals, µs per animal"]
    rows = [
        [name, f"{columns[1][name]:.1f}", f"{columns[BATCH][name] / BATCH:.2f}"]
        for name in columns[1]
    ]
    print(doc_table.table(headers, rows, numeric=(1, 2)))
    if args.markdown:
        notes = [
            "Each step of the direct path of `POST /predict`, then whole requests through "
            "the ASGI interface without a network (the HTTP server's share is not included), "
            "best of 7 repeats."
        ]
        doc_table.write(args.markdown, headers, rows, notes, numeric=(1, 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
