"""Batches read with NumPy: a JSON array of animals all written alike skips pydantic.

The direct ``/predict`` path reads such a body in one pass (:func:`fastpath.array_features`).
It must accept only bodies that the API's own strict check accepts, read the same features,
and answer as the FastAPI route does. Random bodies, near the layouts programs write, check
that; a count checks that those layouts do take the fast path.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import TypeAdapter, ValidationError

from sampleproject import schema
from sampleproject.inference.fastpath import array_features
from sampleproject.serving import schemas
from sampleproject.serving.app import create_app
from sampleproject.serving.settings import ServeSettings

MAX_ANIMALS = 5
# Values of the domains, then values the API refuses or reads otherwise (true, 1.0, "1").
ODD_VALUES: tuple[object, ...] = (3, 7, 9, 10, -1, True, 1.0, "1", None)
# Separators between objects and between a key and its value: json.dumps' and compact JSON
# (the fast path's), then others that it must hand over.
SEPARATORS = ((", ", ": "), (",", ":"), (",", ": "), (", ", ":"), (",\n", ": "), (" ,", ":"))


def _animal(rng: random.Random, keys: list[str]) -> dict[str, object]:
    animal: dict[str, object] = {}
    for name in keys:
        domain = schema.FEATURE_VALUES[name]
        animal[name] = rng.choice(ODD_VALUES) if rng.random() < 0.02 else rng.choice(domain)
    return animal


def random_body(seed: int) -> bytes:
    """A JSON array of animals: mostly all written alike, sometimes not, sometimes invalid."""
    rng = random.Random(seed)  # noqa: S311 (test data, not secrets)
    keys = rng.sample(schema.FEATURES, rng.randint(1, len(schema.FEATURES)))
    if rng.random() < 0.95 and "legs" not in keys:
        keys.append("legs")
    animals = [_animal(rng, keys) for _ in range(rng.randint(1, MAX_ANIMALS + 1))]
    last = animals[-1]
    twist = rng.random()
    if twist < 0.03:
        last["wings"] = 1  # an unknown field
    elif twist < 0.06:
        animals[-1] = dict(reversed(last.items()))  # another order of the same fields
    elif twist < 0.08:
        last["animal_name"] = "mole"  # a file's column, not the API's
    item, key = rng.choice(SEPARATORS) if rng.random() < 0.5 else SEPARATORS[0]
    text = "[" + item.join(json.dumps(a, separators=(", ", key)) for a in animals) + "]"
    if rng.random() < 0.03:  # one character changed, anywhere
        position = rng.randrange(len(text))
        text = text[:position] + rng.choice('0123456789{}[]",: a') + text[position + 1 :]
    return text.encode()


def test_what_numpy_reads_the_apis_strict_check_reads_alike() -> None:
    strict = TypeAdapter[Any](schemas.predict_body(MAX_ANIMALS, schema.Animal))
    read = 0
    for seed in range(3000):
        body = random_body(seed)
        features = array_features(body, MAX_ANIMALS)
        if features is None:
            continue
        read += 1
        try:
            animals = strict.validate_json(body, strict=True)
        except ValidationError as error:  # pragma: no cover (the failure's message)
            pytest.fail(f"read with NumPy, refused by the API: {body!r}\n{error}")
        assert features.tolist() == [list(animal.as_row()) for animal in animals], body
    assert read > 600  # the layouts programs write do take the fast path (916 of the 3,000)


@pytest.mark.parametrize(
    "body",
    [
        b'[{"legs": 4}]\n',  # a trailing newline
        b' [{"legs": 4}]',
        b'[{"legs": 4} , {"legs": 4}]',
        b'[{"legs": 4},{"legs": 4}, {"legs": 4}]',  # separators that differ
        b'[{"legs": 4, "legs": 4}]',  # a field twice
        b'[{"l\\u0065gs": 4}]',  # an escaped field name
        b'[{"legs": 4}, {"legs": 3}]',  # a value off the domain
        b'[{"legs": 4}, {"legs": 44}]',
        b'[{"hair": 1}]',  # no legs
        b"[{}]",
        b"[]",
        b'[{"legs": 4}, {"legs": 4}, {"legs": 4}, {"legs": 4}, {"legs": 4}, {"legs": 4}]',
        '[{"legs": 4, "h\u00e4ir": 1}]'.encode(),
    ],
)
def test_bodies_not_written_alike_or_invalid_are_left_to_pydantic(body: bytes) -> None:
    assert array_features(body, MAX_ANIMALS) is None


def test_a_batch_read_with_numpy_gets_the_answer_of_the_fastapi_route() -> None:
    settings = ServeSettings(max_animals=MAX_ANIMALS)
    bodies = [random_body(seed) for seed in range(300)]
    direct = [body for body in bodies if array_features(body, MAX_ANIMALS) is not None][:40]
    assert len(direct) == 40
    with TestClient(create_app(settings)) as client:
        for body in direct:
            answers = [
                client.post("/predict", content=body, headers={"content-type": media_type})
                for media_type in ("application/json", "application/vnd.zoo+json")
            ]
            # The second goes to the FastAPI route: the direct path takes application/json only.
            assert [answer.status_code for answer in answers] == [200, 200]
            assert answers[0].content == answers[1].content
