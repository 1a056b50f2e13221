"""KServe (deploy/kserve): the InferenceService renders and passes KServe's published schema.

The schema is built from PyPI's ``kserve`` wheel (its SDK's OpenAPI models, read as text,
see tools/kserve_schema.py), downloaded with pip by its pinned version, and
kubernetes-validate's schemas for Kubernetes' own types. Without a cluster, what KServe's
controller does with it (the Deployment, the routing) is not run here.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.conftest import ROOT, require_tool
from tools.kserve_schema import schema

pytestmark = [pytest.mark.slow, pytest.mark.kubernetes]

KSERVE = "kserve==0.21.0"  # the SDK whose models are KServe's schema
KUBERNETES = "1.37.0"


@pytest.fixture(name="validator", scope="module")
def validator_fixture(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A validator of KServe's InferenceService schema."""
    folder = tmp_path_factory.mktemp("kserve")
    download = ["download", "--quiet", "--no-deps", "--only-binary", ":all:", "--dest"]
    subprocess.run([sys.executable, "-m", "pip", *download, str(folder), KSERVE], check=True)
    (wheel,) = folder.glob("kserve-*.whl")
    schemas = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    built = schema(wheel, schemas / f"v{KUBERNETES}-local-strict")
    return jsonschema.validators.validator_for(built)(built)


def rendered() -> dict[str, Any]:
    """``kubectl kustomize deploy/kserve``: the InferenceService."""
    text = subprocess.run(
        [require_tool("kubectl"), "kustomize", str(ROOT / "deploy" / "kserve")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    (document,) = [d for d in yaml.safe_load_all(text) if d]
    return dict(document)


def test_the_inference_service_passes_kserves_schema(validator: Any) -> None:
    errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(rendered())]
    assert errors == []


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["spec"]["predictor"].update(containerz=[]),
        lambda d: d["spec"]["predictor"]["containers"][0].update(imagez="x"),
        lambda d: d["spec"]["predictor"]["containers"][0].update(imagePullPolicy=3),
        lambda d: d["spec"].pop("predictor"),
        lambda d: d["spec"]["predictor"].update(minReplicas="two"),
    ],
    ids=["unknown-field", "unknown-container-field", "wrong-type", "no-predictor", "text-count"],
)
def test_the_schema_refuses_what_kserve_would(
    validator: Any, change: Callable[[Any], None]
) -> None:
    document = copy.deepcopy(rendered())
    change(document)
    assert list(validator.iter_errors(document))


def test_the_predictor_is_our_image_speaking_v2_on_kserves_port_with_v2_probes() -> None:
    predictor = rendered()["spec"]["predictor"]
    (container,) = predictor["containers"]
    assert container["args"] == ["serve"]
    env = {item["name"]: item["value"] for item in container["env"]}
    assert env["SAMPLEPROJECT_PORT"] == str(container["ports"][0]["containerPort"]) == "8080"
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert rendered()["metadata"]["name"] == "zoo-classifier"
