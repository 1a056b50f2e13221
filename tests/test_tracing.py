"""Tracing, in-process: off it loads nothing; on, each request is a trace of the right spans.

The spans are caught by the SDK's in-memory exporter here; ``tests/test_serve_edges_real.py``
sends them over OTLP to a real receiver.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from sampleproject import cli
from sampleproject.errors import install_extra
from sampleproject.serving import otel, tracing
from sampleproject.serving.app import create_app
from sampleproject.serving.settings import ServeSettings
from tests.test_api_keys import KEY, write_keys
from tests.test_serve import AARDVARK, shipped, wait_ready

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_ID = "b7ad6b7169203331"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"
# The packages of the tracing extra (setup.py).
TRACING_ONLY = ("opentelemetry.sdk", "opentelemetry.exporter")

# Serve a few requests with tracing off, then list the OpenTelemetry modules loaded.
OFF = """
import sys
from fastapi.testclient import TestClient
from sampleproject.serving.app import create_app
from sampleproject.serving.settings import ServeSettings
with TestClient(create_app(ServeSettings(model_dir=sys.argv[1]))) as client:
    while client.get("/ready").status_code != 200:
        pass
    assert client.post("/predict", json={"legs": 4}).status_code == 200
    assert client.post("/predict", json={"legs": 4, "hair": True}).status_code == 200
print(sorted(name for name in sys.modules if name.startswith("opentelemetry")))
"""
FASTAPI_ALONE = """
import sys
import fastapi
print(sorted(name for name in sys.modules if name.startswith("opentelemetry")))
"""


def _modules(code: str, *args: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code, *args],
        capture_output=True,
        text=True,
        check=True,
    )
    found: list[str] = json.loads(result.stdout.strip().splitlines()[-1].replace("'", '"'))
    return found


def test_tracing_off_imports_nothing_of_opentelemetry_but_what_fastapi_does() -> None:
    served = _modules(OFF, str(shipped()))
    assert served == _modules(FASTAPI_ALONE)  # FastAPI's own: the API, no provider
    assert not [name for name in served if name.startswith(TRACING_ONLY)]


@pytest.fixture(name="spans")
def spans_fixture(monkeypatch: pytest.MonkeyPatch) -> InMemorySpanExporter:
    """What tracing exports, caught in memory."""
    memory = InMemorySpanExporter()
    monkeypatch.setattr(otel, "exporter", lambda: memory)
    return memory


def traced_client(tmp_path: Path | None = None) -> TestClient:
    """An application with tracing on (and API keys, given a folder for their file)."""
    keys = None if tmp_path is None else write_keys(tmp_path / "keys", KEY)
    return TestClient(
        create_app(ServeSettings(model_dir=shipped(), tracing=True, api_key_file=keys))
    )


def by_name(spans: InMemorySpanExporter) -> dict[str, list[ReadableSpan]]:
    """The finished spans, by name."""
    found: dict[str, list[ReadableSpan]] = {}
    for span in spans.get_finished_spans():
        found.setdefault(span.name, []).append(span)
    return found


def test_a_prediction_is_a_request_span_with_validation_and_model_spans(
    spans: InMemorySpanExporter,
) -> None:
    with traced_client() as client:
        wait_ready(client)
        headers = {"X-Request-ID": "traced-1", "traceparent": TRACEPARENT}
        assert client.post("/predict", json=[AARDVARK] * 3, headers=headers).status_code == 200
    found = by_name(spans)  # the lifespan's end flushed them
    (request,) = found["POST /predict"]
    (validate,) = found["validate"]
    (model,) = found["model"]
    assert request.kind == SpanKind.SERVER
    assert request.attributes is not None
    assert request.attributes["sampleproject.request_id"] == "traced-1"
    assert request.attributes["http.response.status_code"] == 200
    # The caller's trace goes on: same trace ID, the caller's span as the request's parent.
    assert f"{request.context.trace_id:032x}" == TRACE_ID
    assert request.parent is not None
    assert f"{request.parent.span_id:016x}" == PARENT_ID
    for child in (validate, model):
        assert child.parent is not None
        assert child.parent.span_id == request.context.span_id
        assert child.context.trace_id == request.context.trace_id
    assert model.attributes is not None
    assert model.attributes["sampleproject.animals"] == 3
    assert request.start_time is not None
    assert validate.start_time is not None
    assert model.start_time is not None
    assert request.start_time <= validate.start_time <= model.start_time


def test_fastapis_answers_and_refusals_are_traced_with_bounded_names(
    spans: InMemorySpanExporter, tmp_path: Path
) -> None:
    with traced_client(tmp_path) as client:
        wait_ready(client)
        key = {"X-API-Key": KEY}
        assert (
            client.post("/predict", json={"legs": 4, "hair": True}, headers=key).status_code == 200
        )
        assert client.post("/predict", json=AARDVARK).status_code == 401
        assert client.get("/no/such/path", headers=key).status_code == 404
        assert client.request("BREW", "/predict", headers=key).status_code == 405
    found = by_name(spans)
    statuses = sorted(
        (span.name, (span.attributes or {})["http.response.status_code"])
        for span in spans.get_finished_spans()
        if span.kind == SpanKind.SERVER and span.name != "GET /ready"  # wait_ready's
    )
    assert statuses == [
        ("GET", 404),
        ("HTTP /predict", 405),
        ("POST /predict", 200),
        ("POST /predict", 401),
    ]
    assert len(found["model"]) == 1  # only the request that was answered ran the model
    with tracing.span("after") as after:
        assert after is None  # off again once the application stopped


def test_serve_refuses_tracing_without_the_tracing_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = importlib.util.find_spec

    def without_sdk(name: str, package: str | None = None) -> object:
        return None if name == "opentelemetry.sdk" else real(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", without_sdk)
    assert cli.main(["serve", "--tracing", "--model-dir", str(shipped())]) == 2
    assert capsys.readouterr().err == (
        f"sampleproject: error: --tracing needs the tracing extra: {install_extra('tracing')}\n"
    )


@pytest.fixture(autouse=True)
def _tracing_off_after() -> Iterator[None]:
    yield
    tracing.use(None)
