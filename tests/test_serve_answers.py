"""The API answers exactly as it did before it was made faster: status, headers and body.

``tests/answers/serve.json`` holds the answers of the FastAPI-only implementation (before the
direct ``/predict`` path) to the requests below: valid and invalid animals, broken JSON, wrong
content types, methods and sizes. Any change to an answer, or to an error message, fails here.
Record it again only for a deliberate change of the API:

    .venv/bin/python -m tests.test_serve_answers --record
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import TypeAdapter, ValidationError

from sampleproject import schema
from sampleproject.serving import schemas
from sampleproject.serving.app import create_app
from sampleproject.serving.settings import ServeSettings

ANSWERS = Path(__file__).parent / "answers" / "serve.json"
# Small limits, so that the limits themselves are part of the corpus.
SETTINGS = {"max_body_bytes": 4096, "max_animals": 5}
JSON = {"content-type": "application/json"}
# The headers whose value is part of the API (the rest, such as the date, is not).
KEPT_HEADERS = ("content-type", "allow")

MOLE = {"hair": 1, "milk": 1, "legs": 4, "tail": 1, "predator": 1, "catsize": 1}
BIRD = {"feathers": 1, "eggs": 1, "airborne": 1, "backbone": 1, "breathes": 1, "legs": 2}


def _requests() -> Iterator[tuple[str, str, dict[str, str], bytes]]:
    """(name, method, headers, body) of every request of the corpus, all to /predict."""
    animals: dict[str, object] = {
        "one animal": MOLE,
        "two animals": [MOLE, BIRD],
        "the most animals": [MOLE, BIRD, MOLE, BIRD, MOLE],
        "every field": {name: 1 for name in ("hair", "feathers", "eggs", "milk")} | {"legs": 8},
        "legs only": {"legs": 0},
        "booleans": {"hair": True, "milk": False, "legs": 6},
        "integral floats": {"hair": 1.0, "legs": 4.0},
        "too many animals": [MOLE] * 6,
        "no animal": [],
        "a flag of 2": {"hair": 2, "legs": 4},
        "a negative flag": {"hair": -1, "legs": 4},
        "a fractional flag": {"hair": 0.5, "legs": 4},
        "a flag as text": {"hair": "1", "legs": 4},
        "a null flag": {"hair": None, "legs": 4},
        "a flag as an object": {"hair": {}, "legs": 4},
        "a flag as a list": {"hair": [1], "legs": 4},
        "a huge flag": {"hair": 10**30, "legs": 4},
        "three legs": {"legs": 3},
        "legs as text": {"legs": "4"},
        "legs as a boolean": {"legs": True},
        "fractional legs": {"legs": 4.5},
        "no legs": {"hair": 1},
        "an unknown field": {"legs": 4, "wings": 2},
        "two bad fields": {"hair": 3, "legs": 7},
        "a bad second animal": [MOLE, {"legs": 9}],
        "an empty object": {},
        "a number": 5,
        "a string": "mole",
        "null": None,
        "true": True,
        "a list of numbers": [1, 2],
        "a list of lists": [[MOLE]],
        "unicode field names": {"légs": 4},
    }
    for name, body in animals.items():
        yield name, "POST", JSON, json.dumps(body).encode()
    # No trailing comma, no nesting 2,000 deep: Python's json module answers them differently
    # from 3.13 on (another message; a deeper recursion limit).
    raw = {
        "an empty body": b"",
        "whitespace": b"  \n",
        "an unclosed object": b'{"legs": 4',
        "an unclosed list": b"[1,",
        "single quotes": b"{'legs': 4}",
        "trailing text": b'{"legs": 4} x',
        "NaN": b'{"hair": NaN, "legs": 4}',
        "Infinity": b'{"legs": Infinity}',
        "an exponent": b'{"legs": 4e0}',
        "an overflowing number": b'{"legs": 1e999}',
        "duplicate keys": b'{"legs": 3, "legs": 4}',
        "a byte order mark": b'\xef\xbb\xbf{"legs": 4}',
        "invalid UTF-8": b'{"legs": 4, "\xff": 1}',
        "deep nesting": b"[" * 300 + b"]" * 300,
        "a leading zero": b'{"legs": 04}',
        "a negative zero": b'{"hair": -0, "legs": 4}',
        "nearly four legs": b'{"legs": 4.0000000000000001}',
        "a lone surrogate": b'{"legs": 4, "\\ud800": 1}',
        "a control character": b'{"legs": 4, "a\tb": 1}',
        "an escaped field name": b'{"\\u006cegs": 4}',
        "a comment": b'{"legs": 4 /* four */}',
        "UTF-16": '{"legs": 4}'.encode("utf-16"),
        "a NUL byte": b'{"legs": 4}\x00',
    }
    for name, body in raw.items():
        yield name, "POST", JSON, body
    one = json.dumps(MOLE).encode()
    media_types = {
        "as text/plain": "text/plain",
        "with a charset": "application/json; charset=utf-8",
        "in capitals": "Application/JSON",
        "as a +json type": "application/vnd.zoo+json",
        "as a form": "application/x-www-form-urlencoded",
    }
    for name, media_type in media_types.items():
        yield name, "POST", {"content-type": media_type}, one
    yield "without a content type", "POST", {}, one
    yield "broken, without a content type", "POST", {}, b'{"legs": 4'
    yield "broken, as text/plain", "POST", {"content-type": "text/plain"}, b'{"legs": 4'
    yield "as text/vnd.zoo+json", "POST", {"content-type": "text/vnd.zoo+json"}, one
    yield "with a bad content type", "POST", {"content-type": ";;;"}, one
    yield "over the size limit", "POST", JSON, json.dumps([MOLE] * 60).encode()
    for method in ("GET", "PUT", "DELETE", "PATCH"):
        yield f"{method} /predict", method, JSON, one if method != "GET" else b""


def _answer(client: TestClient, method: str, headers: dict[str, str], body: bytes) -> Any:
    response = client.request(method, "/predict", headers=headers, content=body)
    try:
        content: object = response.json()
    except ValueError:
        content = response.text
    kept = {name: response.headers[name] for name in KEPT_HEADERS if name in response.headers}
    return {"status": response.status_code, "headers": kept, "body": content}


def _answers() -> dict[str, Any]:
    with TestClient(create_app(ServeSettings(**SETTINGS))) as client:  # type: ignore[arg-type]
        return {
            name: _answer(client, method, headers, body)
            for name, method, headers, body in _requests()
        }


@pytest.fixture(name="answers", scope="module")
def answers_fixture() -> dict[str, Any]:
    """The answers of the code under test."""
    return _answers()


RECORDED: dict[str, Any] = (
    json.loads(ANSWERS.read_text(encoding="utf-8")) if ANSWERS.exists() else {}
)


def test_every_request_of_the_corpus_has_a_recorded_answer() -> None:
    assert sorted(RECORDED) == sorted(name for name, *_ in _requests())


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_the_api_answers_as_recorded(answers: dict[str, Any], name: str) -> None:
    assert answers[name] == RECORDED[name]


# Every kind of JSON value, and numbers in and around the features' domains.
VALUES: tuple[object, ...] = (
    0,
    1,
    2,
    4,
    5,
    8,
    -1,
    3,
    10**30,
    True,
    False,
    1.0,
    4.0,
    0.5,
    "1",
    None,
    [],
    {},
)


@pytest.mark.parametrize("value", VALUES, ids=repr)
@pytest.mark.parametrize("field", ["hair", "legs", "wings"])
def test_the_direct_paths_strict_check_accepts_only_what_the_api_accepts(
    field: str, value: object
) -> None:
    # The direct path answers what its strict check accepts and hands the rest to FastAPI:
    # anything it accepts, the API's own validation must accept too, with the same features.
    strict = TypeAdapter[Any](schemas.predict_body(5, schema.Animal))
    api = TypeAdapter[Any](schemas.predict_body(5))
    for body in ({"legs": 4} | {field: value}, [MOLE, {"legs": 4} | {field: value}]):
        text = json.dumps(body)
        try:
            accepted = strict.validate_json(text, strict=True)
        except ValidationError:
            continue
        expected = api.validate_json(text)
        rows = [animal.as_row() for animal in (accepted if isinstance(body, list) else [accepted])]
        assert rows == [a.as_row() for a in (expected if isinstance(body, list) else [expected])]
        assert isinstance(value, int)  # JSON integers only: true and 1.0 go to FastAPI
        assert not isinstance(value, bool)


if __name__ == "__main__" and sys.argv[1:] == ["--record"]:
    ANSWERS.parent.mkdir(exist_ok=True)
    recorded = json.dumps(_answers(), indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    ANSWERS.write_text(recorded, encoding="utf-8")
