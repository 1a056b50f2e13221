"""The API keeps its OpenAPI contract: Schemathesis fuzzes a real ``serve`` from /openapi.json.

Every check (server errors, status codes, content types, response schemas, schema-valid
requests accepted and schema-violating ones refused, unsupported methods...), in the
examples, coverage and fuzzing phases; once with a fixed seed, once with a random one
(printed on failure, to replay it with ``--seed``).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import require_tool
from tests.test_serve_real import ANIMAL, Server, start, stop

pytestmark = pytest.mark.slow

FIXED_SEED = "20261126"
CONFIG = Path(__file__).with_name("schemathesis.toml")
EXAMPLES = "150"  # per operation and phase: about ten seconds a run


def schemathesis(server: Server, tmp_path: Path, *seed: str) -> subprocess.CompletedProcess[str]:
    """One Schemathesis run against ``server``: every check, three phases."""
    return subprocess.run(
        [
            require_tool("schemathesis"),
            "--config-file",
            str(CONFIG),
            "run",
            server.url("/openapi.json"),
            # Every check: the config file turns them all on. Not `--checks all`, which would
            # outrank the file's per-operation exception (CLI options come first).
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            EXAMPLES,
            *seed,
            "--generation-database",
            "none",
            # One worker: with two threads, Hypothesis' ast.parse calls race in CPython 3.11's
            # shared AST recursion counter ("SystemError: AST constructor recursion depth
            # mismatch", CPython issue 106905), a runtime error that is not the server's.
            "--workers",
            "1",
            "--no-color",
            "--request-timeout",
            "10",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


def server_errors(server: Server) -> dict[str, float]:
    """The 5xx answers the server counted, by status."""
    text = server.get("/metrics")[1].decode()
    return {
        sample.labels["status"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "sampleproject_http_requests_total"
        and sample.labels["status"].startswith("5")
    }


@pytest.mark.parametrize("seed", [["--seed", FIXED_SEED], []], ids=["fixed-seed", "random-seed"])
def test_schemathesis_finds_no_contract_failure_and_no_server_error(
    tmp_path: Path, seed: list[str]
) -> None:
    server = start(tmp_path, "--no-access-log", "--max-animals", "20")  # V2, /invocations too
    try:
        result = schemathesis(server, tmp_path, *seed)
        errors = server_errors(server)
        assert server.post(json.dumps(ANIMAL).encode())[0] == 200  # still answering
    finally:
        assert stop(server) == 0
    assert result.returncode == 0, result.stdout[-6000:]
    generated = [line for line in result.stdout.splitlines() if " generated, " in line]
    assert generated, result.stdout[-3000:]
    assert "failure" not in generated[-1], result.stdout[-3000:]
    assert errors == {}


def test_the_openapi_document_states_the_domains_limits_and_errors(tmp_path: Path) -> None:
    server = start(tmp_path, "--max-animals", "7", "--max-body-bytes", "5000")
    try:
        spec = json.loads(server.get("/openapi.json")[1])
    finally:
        stop(server)
    animal = spec["components"]["schemas"]["Animal"]
    assert animal["additionalProperties"] is False
    assert animal["required"] == ["legs"]
    assert animal["properties"]["legs"]["enum"] == [0, 2, 4, 5, 6, 8]
    assert animal["properties"]["hair"]["anyOf"] == [
        {"type": "integer", "enum": [0, 1]},
        {"type": "boolean"},
    ]
    predict = spec["paths"]["/predict"]["post"]
    many = predict["requestBody"]["content"]["application/json"]["schema"]["oneOf"][1]
    assert (many["minItems"], many["maxItems"]) == (1, 7)
    assert set(predict["responses"]) == {
        "200",
        "400",
        "404",
        "405",
        "413",
        "415",
        "422",
        "500",
        "503",
    }
    assert "5000 bytes" in predict["responses"]["413"]["description"]
    error = predict["responses"]["422"]["content"]["application/json"]["schema"]
    assert error == {"$ref": "#/components/schemas/ErrorBody"}
    metrics = spec["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(metrics) == ["text/plain"]


def test_the_openapi_document_states_the_protocols_endpoints(tmp_path: Path) -> None:
    server = start(tmp_path)
    try:
        spec = json.loads(server.get("/openapi.json")[1])
    finally:
        stop(server)
    paths = spec["paths"]
    for path in (
        "/v2",
        "/v2/health/live",
        "/v2/health/ready",
        "/v2/models/{model_name}",
        "/v2/models/{model_name}/ready",
        "/v2/models/{model_name}/versions/{model_version}/ready",
        "/v2/models/{model_name}/versions/{model_version}/infer",
        "/ping",
    ):
        assert "get" in paths[path] or "post" in paths[path], path
    infer = paths["/v2/models/{model_name}/infer"]["post"]
    request = infer["requestBody"]["content"]["application/json"]["schema"]
    tensor = request["properties"]["inputs"]["items"]
    assert tensor["properties"]["datatype"]["enum"] == ["INT64", "INT32", "FP32", "FP64"]
    assert {"200", "400", "404", "413", "503"} <= set(infer["responses"])
    invocations = paths["/invocations"]["post"]["requestBody"]["content"]
    assert set(invocations) == {"application/json", "text/csv"}
    assert len(invocations["application/json"]["schema"]["oneOf"]) == 4
