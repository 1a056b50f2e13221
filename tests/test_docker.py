"""Docker, for real: the README's commands against a private Docker engine.

A private dockerd (Debian's docker.io, tools/container/dockerd.py) runs for this module only:
its own data root (kept in .container/docker, so a second run reuses the layers, as podman's
storage does), exec root, socket and pid file. The client is the one the project's tooling
picks (tools/container/engine.py): on a machine whose newest client has no buildx, Debian's
20.10 client, which has BuildKit built in. The last test stops the daemon and checks that the
host is as it was: no process, mount, bridge, iptables chain or rule, nor forwarding left on.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT, require
from tests.documented import documented
from tools.container import check, dockerd, engine

pytestmark = [pytest.mark.slow, pytest.mark.container, pytest.mark.docker]

README = (ROOT / "README.md").read_text(encoding="utf-8")
# What a site without a registry adds to the README's build command (README, "Options").
REGISTRY_LESS = (
    "--build-arg",
    f"BASE_IMAGE={engine.LOCAL_BASE}",
    "--secret",
    f"id=ca,src={engine.CA_BUNDLE}",
)
HEALTHY_SECONDS = 120.0  # the HEALTHCHECK's first probe runs 30 s after the start
STOP_SECONDS = 5.0  # the bound for `docker stop` (SIGTERM, then a graceful exit)


@dataclass(frozen=True)
class Docker:
    """The Docker client, pointed at the private daemon."""

    daemon: dockerd.Daemon
    client: str

    def __call__(
        self, *args: str, cwd: Path = ROOT, timeout: float = 120, must_pass: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """``docker ARGS`` as a user types it, against the private daemon."""
        result = subprocess.run(
            [self.client, *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "DOCKER_HOST": self.daemon.host},
            timeout=timeout,
        )
        if must_pass and result.returncode:
            pytest.fail(f"docker {' '.join(args)}: {result.returncode}\n{result.stderr[-3000:]}")
        return result


@pytest.fixture(name="docker", scope="module")
def docker_fixture() -> Iterator[Docker]:
    """A private dockerd for this module, stopped (and the host restored) at its end."""
    require(
        os.geteuid() == 0 and shutil.which("dockerd") is not None,
        "a private dockerd needs root and Debian's docker.io (tools/install-system-deps.sh)",
    )
    # A short folder: the daemon's sockets live there (unix socket paths are short).
    state = Path(tempfile.mkdtemp(prefix="dockerd-", dir="/tmp"))
    client = engine.docker_client()
    daemon = dockerd.start(state, ROOT / ".container" / "docker", client)
    yield Docker(daemon, client)
    dockerd.stop(daemon)  # nothing to do when the last test stopped it already
    shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(name="image", scope="module")
def image_fixture(docker: Docker) -> str:
    """``pyapp``, built by the README's command (plus the registry-less options)."""
    for page in ("README.md", "docs/container.md"):
        _docker, *args = documented(page, "docker build --rm -t pyapp .")
    if docker("image", "inspect", engine.LOCAL_BASE, must_pass=False).returncode:
        _load_base_image(docker)
    # This machine reaches no registry: the base is local, and the CA bundle a secret.
    docker(*args[:-1], *REGISTRY_LESS, args[-1], timeout=1800)
    return "pyapp"


def _load_base_image(docker: Docker) -> None:
    """The base from podman's storage when the podman tests made it, else made for Docker."""
    podman = engine.podman() if shutil.which("podman") else None
    if podman and podman.has_image(engine.LOCAL_BASE):
        with subprocess.Popen(
            ["podman", "save", engine.LOCAL_BASE],
            stdout=subprocess.PIPE,
            env={**os.environ, **podman.env},
        ) as saved:
            loaded = subprocess.run(
                [docker.client, "load"],
                stdin=saved.stdout,
                capture_output=True,
                check=False,
                env={**os.environ, "DOCKER_HOST": docker.daemon.host},
            )
        assert saved.returncode == 0, saved.stderr
        assert loaded.returncode == 0, loaded.stderr
        return
    subprocess.run(
        [str(ROOT / "tools/container/make-base-image.sh"), docker.client, engine.LOCAL_BASE],
        env={**os.environ, "DOCKER_HOST": docker.daemon.host},
        check=True,
    )


def test_the_tooling_picks_a_docker_client_that_builds_with_buildkit(docker: Docker) -> None:
    version = docker("version", "--format", "{{.Client.Version}}").stdout.strip()
    on_path = shutil.which("docker")
    # The README's minimum (20.10) is what this runs, unless the machine's client has buildx.
    assert version.startswith("20.10.") or docker.client == on_path, (docker.client, version)
    server = docker("version", "--format", "{{.Server.Version}}").stdout.strip()
    assert server.startswith("20.10."), server


def test_the_readme_run_commands_print_the_help_and_91(docker: Docker, image: str) -> None:
    assert image == "pyapp"
    for page in ("README.md", "docs/container.md"):
        _docker, *args = documented(page, "docker run --rm pyapp")
        assert "usage:" in docker(*args).stdout
        _docker, *args = documented(page, "docker run --rm pyapp 45 46")
        assert docker(*args).stdout == "91\n"
    predict = "docker run --rm pyapp predict --hair --milk --legs 4 --tail --toothed --backbone"
    _docker, *args = documented("docs/container.md", f"{predict} --breathes")
    assert docker(*args).stdout.startswith("mammal ")


@pytest.mark.usefixtures("image")
def test_the_readme_create_cp_rm_copies_the_wheel_and_sbom_out(
    docker: Docker, tmp_path: Path
) -> None:
    commands = [
        "docker container create --name pyapp pyapp",
        "docker cp pyapp:/dist dist_pyapp_container",
        "docker container rm pyapp",
    ]
    for command in commands:
        documented("docs/container.md", command)
        _docker, *args = documented("README.md", command)
        docker(*args, cwd=tmp_path)
    assert "sampleproject-" in check.check_dist(tmp_path / "dist_pyapp_container")
    assert not docker("container", "ls", "--all", "--quiet", "--filter", "name=^pyapp$").stdout


def _serve(docker: Docker, *args: str) -> tuple[str, int]:
    """``docker run -d -p PORT:... pyapp serve ...``: the container's id and the host port."""
    port = check.free_port()
    container_port = args[args.index("--port") + 1] if "--port" in args else "8000"
    started = docker("run", "-d", "-p", f"{port}:{container_port}", "pyapp", "serve", *args)
    return started.stdout.strip(), port


def _health(docker: Docker, container: str) -> str:
    inspected = docker("inspect", "--format", "{{json .State.Health}}", container).stdout
    return str(json.loads(inspected)["Status"])


def test_serve_answers_on_the_published_port_turns_healthy_and_stops_within_5_s(
    docker: Docker, image: str
) -> None:
    # The pages' `docker run --rm -p 8000:8000 pyapp serve`, detached and on free ports.
    for page in ("README.md", "docs/container.md"):
        documented(page, "docker run --rm -p 8000:8000 pyapp serve")
    assert image == "pyapp"
    # Both at once: each waits 30 s for its first health probe. The second listens on another
    # port, given as an option only: the probe must find it there.
    servers = [_serve(docker), _serve(docker, "--port", "9000")]
    try:
        for _container, port in servers:
            url = f"http://127.0.0.1:{port}"
            assert check.wait_health(url, lambda: "").startswith("200")
            assert check.post_predict(url).startswith("mammal")
        deadline = time.monotonic() + HEALTHY_SECONDS
        states = [_health(docker, container) for container, _port in servers]
        while states != ["healthy"] * 2 and "unhealthy" not in states:
            assert time.monotonic() < deadline, f"health after {HEALTHY_SECONDS} s: {states}"
            time.sleep(1)
            states = [_health(docker, container) for container, _port in servers]
        assert states == ["healthy", "healthy"], [
            docker("inspect", "--format", "{{json .State.Health}}", c).stdout for c, _ in servers
        ]
        for container, _port in servers:
            start = time.perf_counter()
            docker("stop", container)
            elapsed = time.perf_counter() - start
            code = docker("inspect", "--format", "{{.State.ExitCode}}", container).stdout
            # The figure: SIGTERM ends serve gracefully, well before the 10 s kill.
            assert (code.strip(), elapsed < STOP_SECONDS) == ("0", True), (code, elapsed)
    finally:
        docker("rm", "--force", *(container for container, _port in servers), must_pass=False)


def test_the_image_passes_the_real_check_with_docker(docker: Docker, image: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tools.container.check", "--image", image],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
        env={
            **os.environ,
            "CONTAINER_ENGINE": "docker",
            "DOCKER_HOST": docker.daemon.host,
            "DOCKER_CLIENT": docker.client,
        },
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert "Checking image pyapp with docker" in result.stdout


def test_stopping_the_private_dockerd_leaves_the_host_as_it_was(docker: Docker) -> None:
    # Last in this module: it stops the daemon the other tests used.
    before = dockerd.host_before(docker.daemon.state)
    running = dockerd.snapshot()
    # The daemon did change the host (so the check below has something to undo) ...
    assert "docker0" in running.links
    assert running.ip_forward == "1"
    assert any(rule.startswith("nat ") and "MASQUERADE" in rule for rule in running.rules)
    assert any(chain.endswith(" DOCKER") for chain in running.chains)
    assert "filter FORWARD DROP" in running.policies
    assert docker("ps", "--quiet").stdout == ""
    # ... and stopping it undoes all of it.
    assert dockerd.stop(docker.daemon) == []
    assert dockerd.snapshot() == before
    assert not (docker.daemon.pidfile.exists())
    assert not (docker.daemon.socket.exists())
    saved = subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout
    assert ("DOCKER" in saved) == bool(before.chains)
    mounts = Path("/proc/self/mountinfo").read_text(encoding="utf-8")
    assert str(docker.daemon.state) not in mounts
    assert str(docker.daemon.data_root) not in mounts
