"""Request IDs, in-process: every answer carries one, echoed or made, and the model sees it."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from uvicorn.logging import AccessFormatter

from sampleproject.inference.predictor import LoadedModel, Predictor, load_predictor
from sampleproject.serving import request_id
from sampleproject.serving.app import create_app
from sampleproject.serving.request_id import MAX_LENGTH, NOT_ALLOWED, TOO_LONG
from sampleproject.serving.server import log_config
from sampleproject.serving.settings import ServeSettings
from tests.test_serve import AARDVARK, shipped, wait_ready

NEW_ID = re.compile(r"[0-9a-f]{32}")
# Every kind of answer: the direct path, FastAPI's route (a `true` flag), each error, the
# operational endpoints.
REQUESTS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "direct path": ("POST", "/predict", {"json": AARDVARK}),
    "FastAPI route": ("POST", "/predict", {"json": {"legs": 4, "hair": True}}),
    "422": ("POST", "/predict", {"json": {"legs": 3}}),
    "400": ("POST", "/predict", {"content": b"{", "headers": {"content-type": "application/json"}}),
    "413": ("POST", "/predict", {"json": [AARDVARK] * 100}),
    "415": ("POST", "/predict", {"content": b"{}", "headers": {"content-type": "text/plain"}}),
    "404": ("GET", "/nowhere", {}),
    "405": ("GET", "/predict", {}),
    "health": ("GET", "/health", {}),
    "ready": ("GET", "/ready", {}),
    "metrics": ("GET", "/metrics", {}),
    "openapi": ("GET", "/openapi.json", {}),
}


@pytest.fixture(name="seen", scope="module")
def seen_fixture() -> list[str | None]:
    """The request ID the model saw at each of its calls."""
    return []


@pytest.fixture(name="client", scope="module")
def client_fixture(seen: list[str | None]) -> Iterator[TestClient]:
    """The application, on a predictor that records the request ID it is called for."""
    real = load_predictor(shipped())

    class Recording(Predictor):
        """The shipped predictor, noting :func:`request_id.current` at each call."""

        def __init__(self) -> None:  # pylint: disable=super-init-not-called
            self.metadata = real.metadata

        def predict(self, features: Any) -> Any:
            seen.append(request_id.current())
            return real.predict(features)

        def records(self, predictions: Any) -> Any:
            return real.records(predictions)

    settings = ServeSettings(max_body_bytes=4096)
    app = create_app(settings, loader=lambda _current: LoadedModel(Recording(), "shipped"))
    with TestClient(app) as test_client:
        wait_ready(test_client)
        yield test_client


def ask(client: TestClient, name: str, headers: dict[str, str] | None = None) -> Any:
    """Send the request ``name`` of :data:`REQUESTS`, with ``headers`` added."""
    method, path, options = REQUESTS[name]
    options = {**options, "headers": {**options.get("headers", {}), **(headers or {})}}
    return client.request(method, path, **options)


@pytest.mark.parametrize("name", REQUESTS)
def test_every_answer_carries_a_new_request_id(client: TestClient, name: str) -> None:
    first, second = ask(client, name), ask(client, name)
    assert NEW_ID.fullmatch(first.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    assert "x-request-id-replaced" not in first.headers


@pytest.mark.parametrize("name", REQUESTS)
def test_every_answer_echoes_the_clients_request_id(client: TestClient, name: str) -> None:
    sent = f"client-{name.replace(' ', '_')}:1/2+3=4@x.y"
    response = ask(client, name, {"X-Request-ID": sent})
    assert response.headers["x-request-id"] == sent
    assert "x-request-id-replaced" not in response.headers


@pytest.mark.parametrize(
    ("sent", "why"),
    [
        ("a" * (MAX_LENGTH + 1), TOO_LONG),
        ("two words", NOT_ALLOWED),
        ('quote"d', NOT_ALLOWED),
        ("semi;colon", NOT_ALLOWED),
        ("tab\there", NOT_ALLOWED),
        ("caf\u00e9", NOT_ALLOWED),
    ],
)
def test_an_unsafe_request_id_is_replaced_and_the_answer_says_why(
    client: TestClient, sent: str, why: str
) -> None:
    # httpx sends header values as bytes as they are: UTF-8 here, as a client could.
    response = client.post("/predict", json=AARDVARK, headers={"X-Request-ID": sent.encode()})
    assert response.status_code == 200
    assert NEW_ID.fullmatch(response.headers["x-request-id"])
    assert response.headers["x-request-id-replaced"] == why


def test_the_longest_allowed_request_id_is_kept(client: TestClient) -> None:
    sent = "Z" * MAX_LENGTH
    assert client.get("/health", headers={"X-Request-ID": sent}).headers["x-request-id"] == sent


@pytest.mark.parametrize("name", ["direct path", "FastAPI route"])
def test_the_code_that_predicts_knows_the_request_id(
    client: TestClient, seen: list[str | None], name: str
) -> None:
    seen.clear()
    echoed = ask(client, name, {"X-Request-ID": "for-the-model"}).headers["x-request-id"]
    made = ask(client, name).headers["x-request-id"]
    assert seen == ["for-the-model", made]
    assert echoed == "for-the-model"
    assert request_id.current() is None  # outside a request


def test_grpc_metadata_gets_the_same_rules() -> None:
    assert request_id.of_metadata([("x-request-id", "from-grpc")]) == ("from-grpc", None)
    assert request_id.of_metadata([("x-request-id", b"bytes-too")]) == ("bytes-too", None)
    made, replaced = request_id.of_metadata([("x-request-id", "no spaces")])
    assert (NEW_ID.fullmatch(made) is not None, replaced) == (True, NOT_ALLOWED)
    made, replaced = request_id.of_metadata([("other", "x")])
    assert (NEW_ID.fullmatch(made) is not None, replaced) == (True, None)


def test_bound_sets_the_id_for_other_transports_and_restores_it() -> None:
    with request_id.bound("outer"):
        with request_id.bound("inner"):
            assert request_id.current() == "inner"
        assert request_id.current() == "outer"
    assert request_id.current() is None


def test_the_access_log_names_the_request_id() -> None:
    config = log_config()
    assert config["handlers"]["access"]["filters"] == ["request_id"]
    assert (
        config["filters"]["request_id"]["()"] == "sampleproject.serving.request_id.AccessLogFilter"
    )
    formatter = AccessFormatter(config["formatters"]["access"]["fmt"], use_colors=False)
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "POST", "/predict", "1.1", 200),
        None,
    )
    assert request_id.AccessLogFilter().filter(record)
    assert formatter.format(record).endswith('"POST /predict HTTP/1.1" 200 OK request_id=-')
    with request_id.bound("logged-id"):
        assert request_id.AccessLogFilter().filter(record)
    assert formatter.format(record).endswith(" 200 OK request_id=logged-id")
