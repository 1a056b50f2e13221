"""API keys, in-process: 401 without a valid one, the probes open, the file's rules, reloads."""

from __future__ import annotations

import hashlib
import hmac
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sampleproject import cli
from sampleproject.errors import UsageError
from sampleproject.serving import api_keys
from sampleproject.serving.api_keys import ApiKeys, hash_key, read_key_file
from sampleproject.serving.app import create_app
from sampleproject.serving.front import Front
from sampleproject.serving.settings import ServeSettings
from tests.conftest import ROOT, require_tool
from tests.test_serve import AARDVARK, metric_samples, shipped, wait_ready

KEY = "k3y-0f-th3-t3st5"
SECOND = "an0th3r-k3y"


def write_keys(path: Path, *keys: str) -> Path:
    """A key file with the hashes of ``keys``, labelled, with a comment and a blank line."""
    lines = ["# test keys", "", *(f"{hash_key(key)}  holder-{n}" for n, key in enumerate(keys))]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(name="key_file")
def key_file_fixture(tmp_path: Path) -> Path:
    """A key file with :data:`KEY` and :data:`SECOND`."""
    return write_keys(tmp_path / "api-keys.txt", KEY, SECOND)


@pytest.fixture(name="client")
def client_fixture(key_file: Path) -> Iterator[TestClient]:
    """The application with API keys on."""
    settings = ServeSettings(model_dir=shipped(), api_key_file=key_file)
    with TestClient(create_app(settings)) as test_client:
        wait_ready(test_client)
        yield test_client


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": f"Bearer {KEY}"},
        {"Authorization": f"bearer {SECOND}"},
        {"X-API-Key": KEY},
        {"Authorization": "Basic dXNlcjpwYXNz", "X-API-Key": SECOND},
    ],
    ids=["bearer", "bearer, second key", "x-api-key", "x-api-key beside basic"],
)
def test_a_valid_key_is_answered_on_the_direct_path_and_by_fastapi(
    client: TestClient, headers: dict[str, str]
) -> None:
    assert client.post("/predict", json=AARDVARK, headers=headers).status_code == 200
    true_flag = client.post("/predict", json={"legs": 4, "hair": True}, headers=headers)
    assert true_flag.status_code == 200
    assert client.get("/metrics", headers=headers).status_code == 200


@pytest.mark.parametrize(
    ("headers", "message", "challenge"),
    [
        ({}, api_keys.MISSING, api_keys.REALM),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, api_keys.MISSING, api_keys.REALM),
        ({"Authorization": "Bearer "}, api_keys.MISSING, api_keys.REALM),
        (
            {"Authorization": "Bearer nope"},
            api_keys.INVALID,
            f'{api_keys.REALM}, error="invalid_token"',
        ),
        ({"X-API-Key": KEY + "x"}, api_keys.INVALID, f'{api_keys.REALM}, error="invalid_token"'),
        (
            {"X-API-Key": hash_key(KEY)},
            api_keys.INVALID,
            f'{api_keys.REALM}, error="invalid_token"',
        ),
    ],
    ids=["none", "basic", "empty bearer", "wrong bearer", "wrong x-api-key", "the hash itself"],
)
def test_no_valid_key_gets_401_json_with_a_bearer_challenge(
    client: TestClient, headers: dict[str, str], message: str, challenge: str
) -> None:
    for method, path in [("POST", "/predict"), ("GET", "/metrics"), ("GET", "/openapi.json")]:
        response = client.request(method, path, json=AARDVARK, headers=headers)
        assert response.status_code == 401
        assert response.json() == {"error": message, "details": []}
        assert response.headers["www-authenticate"] == challenge
        assert len(response.headers["x-request-id"]) == 32


def test_the_probes_need_no_key(client: TestClient) -> None:
    assert client.get("/health").status_code == 200
    assert client.get("/ready").status_code == 200


def test_refusals_are_counted_in_the_metrics(client: TestClient) -> None:
    for _ in range(3):
        client.post("/predict", json=AARDVARK)
    samples = metric_samples_with_key(client)
    refused = (("method", "POST"), ("path", "unmatched"), ("status", "401"))
    assert samples[("sampleproject_http_requests_total", refused)] == 3


def metric_samples_with_key(
    client: TestClient,
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """:func:`metric_samples`, with a key."""
    client.headers["Authorization"] = f"Bearer {KEY}"
    try:
        return metric_samples(client)
    finally:
        del client.headers["Authorization"]


def test_a_reload_brings_in_new_keys_and_retires_removed_ones(
    client: TestClient, key_file: Path
) -> None:
    new = "n3w-k3y"
    write_keys(key_file, SECOND, new)  # KEY retired, `new` added
    _front_of(client).reload()  # what SIGHUP does (tests/test_serve_edges_real.py sends it)
    assert client.get("/metrics", headers={"X-API-Key": new}).status_code == 200
    assert client.get("/metrics", headers={"X-API-Key": SECOND}).status_code == 200
    assert client.get("/metrics", headers={"X-API-Key": KEY}).status_code == 401


def _front_of(client: TestClient) -> Front:
    front: Front = client.app.state.front  # type: ignore[attr-defined]
    return front


def test_a_broken_file_at_a_reload_keeps_the_keys_in_force(
    client: TestClient, key_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    key_file.write_text("sha256:not-a-hash\n", encoding="utf-8")
    _front_of(client).reload()
    assert "API keys not reloaded, 2 keys stay in force" in caplog.text
    assert client.get("/metrics", headers={"X-API-Key": KEY}).status_code == 200
    key_file.unlink()
    _front_of(client).reload()
    assert client.get("/metrics", headers={"X-API-Key": KEY}).status_code == 200


def test_an_unchanged_file_is_not_read_again(key_file: Path) -> None:
    keys = ApiKeys(key_file)
    assert keys.reload() is False
    write_keys(key_file, "other")
    assert keys.reload() is True
    assert keys.valid(b"other")
    assert not keys.valid(KEY.encode())


def test_every_stored_key_is_compared_whichever_matches(
    key_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = ApiKeys(write_keys(key_file, "a", "b", "c", "d"))
    calls: list[int] = []
    real = hmac.compare_digest

    def counting(first: bytes, second: bytes) -> bool:
        calls.append(1)
        return real(first, second)

    monkeypatch.setattr(hmac, "compare_digest", counting)
    for key in (b"a", b"d", b"none"):
        calls.clear()
        keys.valid(key)
        assert len(calls) == 4  # no early exit: the time does not tell which key matched


def test_the_hash_is_sha256_of_the_key() -> None:
    assert hash_key(KEY) == "sha256:" + hashlib.sha256(KEY.encode()).hexdigest()
    for key in (b"", b"a", KEY.encode(), bytes(range(256)) * 40):  # the fast one agrees
        assert api_keys.sha256(key).digest() == hashlib.sha256(key).digest()


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("", "no key in it"),
        ("# only a comment\n\n", "no key in it"),
        ("sha256:abc\n", "line 1: not 'sha256:' and 64"),
        (f"{hash_key(KEY)}\nplain-key\n", "line 2: not 'sha256:'"),
        (f"{hash_key(KEY).upper()}\n", "line 1"),
        (b"\xff\xfe".decode("latin-1"), "cannot read it"),
    ],
)
def test_a_bad_key_file_is_refused_with_the_line(
    tmp_path: Path, content: str, problem: str
) -> None:
    path = tmp_path / "keys"
    path.write_text(content, encoding="latin-1")
    with pytest.raises(UsageError, match=problem):
        read_key_file(path)


def test_serve_refuses_a_bad_or_missing_key_file_before_listening(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "keys"
    bad.write_text("plain-key\n", encoding="utf-8")
    for path, problem in [(bad, "line 1: not 'sha256:'"), (tmp_path / "none", "cannot read it")]:
        status = cli.main(["serve", "--api-key-file", str(path), "--model-dir", str(shipped())])
        error = capsys.readouterr().err
        assert status == 2
        assert error.startswith(f"sampleproject: error: --api-key-file {path}")
        assert problem in error
        assert len(error.splitlines()) == 1


def test_the_documented_lines_make_a_key_the_server_accepts(tmp_path: Path) -> None:
    text = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    block = text.split("### Make a key", 1)[1].split("```console\n", 1)[1].split("```", 1)[0]
    lines = [line.removeprefix("$ ") for line in block.splitlines() if line.startswith("$ ")]
    assert len(lines) == 3
    result = subprocess.run(
        [require_tool("bash"), "-euo", "pipefail", "-c", "\n".join(lines)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    key = result.stdout.strip()
    assert len(key) >= 43  # 32 random bytes, URL-safe base64
    keys = ApiKeys(tmp_path / "api-keys.txt")
    assert keys.valid(key.encode())
    assert (tmp_path / "api-keys.txt").read_text(encoding="utf-8").endswith("  alice\n")
