"""Requests at HTTP's edges, in-process: bodies cut short, bodies declared over the limit,
a trailing slash with a foreign Host. ``tests/test_serve_connections.py`` sends them to a
real ``serve``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from starlette.types import Message

from sampleproject.inference.model import default_model_dir
from sampleproject.serving.app import create_app
from sampleproject.serving.settings import ServeSettings
from tests.conftest import require

ANIMAL = b'{"hair": 1, "milk": 1, "legs": 4, "tail": 1}'


@pytest.fixture(name="app")
def app_fixture() -> FastAPI:
    """A new application (its metrics at zero) on the shipped model."""
    require((default_model_dir() / "zoo.json").exists(), "no trained model: run `make train`")
    return create_app(ServeSettings(model_dir=default_model_dir(), max_body_bytes=4096))


def samples(app: FastAPI) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the application's /metrics, by name and labels."""
    text = app.state.metrics.exposition().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def requests_counted(app: FastAPI, status: int, path: str = "/predict") -> float:
    """How many POST requests ``app`` counted under ``path`` with ``status``."""
    labels = (("method", "POST"), ("path", path), ("status", str(status)))
    return samples(app).get(("sampleproject_http_requests_total", labels), 0.0)


def predicted(app: FastAPI) -> float:
    """Everything the prediction and input counters hold."""
    return sum(
        value
        for (name, _), value in samples(app).items()
        if name in ("sampleproject_predictions_total", "sampleproject_input_values_total")
    )


def cut_short(app: FastAPI, content_type: bytes, length: int | None) -> list[Message]:
    """POST /predict, of which only part of the body arrives before the client goes: what
    the application sends (uvicorn would drop it: nobody is there to read it)."""
    headers = [(b"host", b"test"), (b"content-type", content_type)]
    if length is not None:
        headers.append((b"content-length", str(length).encode()))
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/predict",
        "raw_path": b"/predict",
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    arriving: Iterator[Message] = iter(
        [
            {"type": "http.request", "body": ANIMAL, "more_body": True},
            {"type": "http.disconnect"},
        ]
    )
    sent: list[Message] = []

    async def receive() -> Message:
        return next(arriving)

    async def send(message: Message) -> None:
        sent.append(message)

    async def run() -> None:
        async with app.router.lifespan_context(app):  # the model loads
            await app(scope, receive, send)

    asyncio.run(run())
    return sent


@pytest.mark.parametrize(
    ("content_type", "length"),
    [
        pytest.param(b"application/json", len(ANIMAL) + 50, id="direct path"),
        pytest.param(b"application/x+json", len(ANIMAL) + 50, id="FastAPI path"),
        pytest.param(b"application/json", None, id="FastAPI path, chunked"),
    ],
)
def test_a_body_cut_short_is_not_a_prediction_on_either_path(
    app: FastAPI, content_type: bytes, length: int | None
) -> None:
    sent = cut_short(app, content_type, length)
    assert not [message for message in sent if message.get("status") == 200]
    assert predicted(app) == 0  # no prediction, and the drift counters took nothing
    assert requests_counted(app, 499) == 1  # counted alike on both paths
    assert requests_counted(app, 200) == requests_counted(app, 400) == 0


def test_a_body_declared_over_the_limit_is_counted_under_its_route(app: FastAPI) -> None:
    with TestClient(app) as client:
        response = client.post(
            "/predict", content=b" " * 5000, headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 413
    assert response.json()["error"] == "request body larger than 4096 bytes"
    assert requests_counted(app, 413) == 1
    assert requests_counted(app, 413, "unmatched") == 0


def test_a_trailing_slash_is_not_redirected_to_the_host_that_the_request_names(
    app: FastAPI,
) -> None:
    with TestClient(app) as client:
        response = client.post(
            "/predict/",
            content=ANIMAL,
            headers={"Content-Type": "application/json", "Host": "attacker.example"},
            follow_redirects=False,
        )
    assert response.status_code == 404
    assert "location" not in response.headers
    assert json.loads(response.content)["error"] == "Not Found"
