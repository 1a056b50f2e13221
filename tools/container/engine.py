"""Build the image with the container engine this machine has: Docker if one answers, else podman.

    python3 -m tools.container.engine build [--tag pyapp] [--target build] [--context DIR]
    python3 -m tools.container.engine run -- images       # any engine command, same settings

Docker is used when ``docker info`` succeeds, with a client that can build the Dockerfile:
one with the buildx component (Docker 23 and later build with it), or a 20.10 to 22 client with
BuildKit switched on (``DOCKER_BUILDKIT=1``); without either, one line names the fix.
Otherwise podman, which reads the same Dockerfile and needs no daemon: it is installed from
Debian's packages when missing, and configured by the files next to this module (runc, lower
ulimits, Docker's short names) with its storage in the project's ``.container/`` folder, so the
machine's own podman setup is left alone.

The Dockerfile's base image is a build argument. When the default cannot be pulled (no
registry reachable), a Python base made from Debian's packages (``make-base-image.sh``) is
made once and used instead. ``BASE_IMAGE`` in the environment chooses one explicitly; a missing
``localhost/python-base:SUITE`` is made from that Debian release (``trixie``: Python 3.13).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
STATE = ROOT / ".container"  # podman's storage and run state; git-ignored

DEFAULT_BASE = "python:3.11-slim-bookworm"  # the Dockerfile's default (ARG BASE_IMAGE)
# Made by make-base-image.sh: localhost/python-base:SUITE, the Debian release as the tag.
LOCAL_BASE_NAME = "localhost/python-base"
LOCAL_BASE = f"{LOCAL_BASE_NAME}:bookworm"
DEFAULT_TAG = "pyapp"  # the seed's image name
# The system's certificate bundle, given to the build as the `ca` secret: HTTPS through a
# proxy that re-signs traffic (a company's, or this project's CI sandbox) then works in the build.
CA_BUNDLE = Path(os.environ.get("CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt"))


@dataclass(frozen=True)
class Engine:
    """A container engine command (``docker`` or ``podman``) and the environment it runs with."""

    name: str
    env: dict[str, str] = field(default_factory=dict)
    program: str = ""  # the client to run; the engine's name (found on PATH) when empty

    @property
    def is_podman(self) -> bool:
        """podman needs a few options that Docker does not (see :meth:`build_options`)."""
        return self.name == "podman"

    def run(
        self, *args: str, check: bool = True, capture: bool = False, timeout: float | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run ``ENGINE args...``; with ``capture``, its output is returned instead of shown."""
        return subprocess.run(
            [self.program or self.name, *args],
            env={**os.environ, **self.env},
            check=check,
            capture_output=capture,
            text=True,
            timeout=timeout,
        )

    def has_image(self, image: str) -> bool:
        """Whether ``image`` is in the engine's local storage."""
        return self.run("image", "inspect", image, check=False, capture=True).returncode == 0

    def build_options(self) -> list[str]:
        """Options every build needs with this engine.

        podman writes OCI images by default, and the OCI format has no HEALTHCHECK or SHELL:
        the Docker format keeps them. Builds use the host's network: podman's default bridge
        needs firewall rules that a CI container or sandbox may not allow.
        """
        return ["--format", "docker", "--network", "host"] if self.is_podman else []


def podman() -> Engine:
    """podman, installed if missing, with the project's configuration and private storage."""
    if shutil.which("podman") is None:
        subprocess.run([str(HERE / "install-podman.sh")], check=True)
    STATE.mkdir(exist_ok=True)
    storage_conf = STATE / "storage.conf"
    # Absolute paths are required here, so this file is written rather than kept in git.
    storage_conf.write_text(
        "# Written by tools/container/engine.py: podman's storage for this project only.\n"
        "[storage]\n"
        'driver = "overlay"\n'
        f'graphroot = "{STATE / "storage"}"\n'
        f'runroot = "{STATE / "run"}"\n',
        encoding="utf-8",
    )
    defaults = {
        "CONTAINERS_CONF": str(HERE / "containers.conf"),
        "CONTAINERS_REGISTRIES_CONF": str(HERE / "registries.conf"),
        "CONTAINERS_STORAGE_CONF": str(storage_conf),
    }
    # Settings already in the environment win: a developer can point podman elsewhere.
    return Engine("podman", {key: os.environ.get(key, value) for key, value in defaults.items()})


def detect() -> Engine:
    """Docker when an engine answers (``docker info``), otherwise podman.

    ``CONTAINER_ENGINE=docker|podman`` chooses explicitly.
    """
    chosen = os.environ.get("CONTAINER_ENGINE", "")
    if chosen == "docker" or (not chosen and _docker_answers()):
        return docker()
    if chosen not in ("", "podman"):
        raise SystemExit(f"CONTAINER_ENGINE must be docker or podman, not {chosen!r}")
    return podman()


# Docker clients from 23 on build with buildx (BuildKit) and fail without it; older ones have
# BuildKit built in, behind DOCKER_BUILDKIT=1. Debian 12's docker.io client (20.10) is one.
BUILDX_SINCE = 23
# Where a distribution's client may be when a newer one without buildx comes first on PATH.
OTHER_DOCKER_CLIENTS = ("/usr/bin/docker",)


def docker() -> Engine:
    """Docker, through a client that can build the Dockerfile (see :func:`docker_client`)."""
    return Engine("docker", {"DOCKER_BUILDKIT": "1"}, program=docker_client())


def docker_client() -> str:
    """The first client that builds with BuildKit: it has buildx, or it is older than 23.

    Looked for in order: ``DOCKER_CLIENT`` in the environment, ``docker`` on PATH, then
    :data:`OTHER_DOCKER_CLIENTS`.
    """
    on_path = shutil.which("docker") or ""
    candidates = [os.environ.get("DOCKER_CLIENT", ""), on_path, *OTHER_DOCKER_CLIENTS]
    seen: list[str] = []
    for client in candidates:
        if not client or client in seen or not os.access(client, os.X_OK):
            continue
        seen.append(client)
        if _has_buildx(client) or _client_major(client) < BUILDX_SINCE:
            return client
    if not seen:
        raise SystemExit("engine: no docker client found; install Docker, or use podman")
    raise SystemExit(
        f"engine: {seen[0]} ({_client_version(seen[0])}) has no buildx, which builds this "
        "Dockerfile (BuildKit): install Docker's buildx plugin (package docker-buildx-plugin), "
        "or set DOCKER_CLIENT to a 20.10 to 22 client (Debian: docker.io), "
        "or CONTAINER_ENGINE=podman"
    )


def _has_buildx(client: str) -> bool:
    probe = subprocess.run([client, "buildx", "version"], capture_output=True, check=False)
    return probe.returncode == 0


def _client_version(client: str) -> str:
    probe = subprocess.run(
        [client, "version", "--format", "{{.Client.Version}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    return probe.stdout.strip() or "version unknown"


def _client_major(client: str) -> int:
    found = re.match(r"(\d+)\.", _client_version(client))
    return int(found.group(1)) if found else BUILDX_SINCE  # unknown: assume a new one


def _docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        probe = subprocess.run(["docker", "info"], capture_output=True, timeout=30, check=False)
    except subprocess.TimeoutExpired:
        return False
    return probe.returncode == 0


def base_image(engine: Engine) -> str:
    """The base to build on: ``BASE_IMAGE``, else the default if it can be had, else a local one."""
    if chosen := os.environ.get("BASE_IMAGE"):
        if chosen.startswith(f"{LOCAL_BASE_NAME}:") and not engine.has_image(chosen):
            make_base_image(engine, chosen)
        return chosen
    if engine.has_image(DEFAULT_BASE):
        return DEFAULT_BASE
    pull = engine.run("pull", "--quiet", DEFAULT_BASE, check=False, capture=True, timeout=600)
    if pull.returncode == 0:
        return DEFAULT_BASE
    print(f"engine: cannot pull {DEFAULT_BASE}; building on {LOCAL_BASE} (Debian's python3)")
    if not engine.has_image(LOCAL_BASE):
        make_base_image(engine, LOCAL_BASE)
    return LOCAL_BASE


def make_base_image(engine: Engine, image: str) -> None:
    """Make ``localhost/python-base:SUITE`` from Debian's SUITE (make-base-image.sh)."""
    if shutil.which("debootstrap") is None:
        subprocess.run([str(HERE / "install-podman.sh"), "debootstrap"], check=True)
    suite = image.rpartition(":")[2]
    subprocess.run(
        [str(HERE / "make-base-image.sh"), engine.program or engine.name, image, suite],
        env={**os.environ, **engine.env},
        check=True,
    )


def build_args(context: Path, base: str) -> dict[str, str]:
    """The Dockerfile's build arguments for the sources in ``context``."""
    args = {"BASE_IMAGE": base, "VERSION": _version(context)}
    # The commit's date and id; without git, or git data (a copy), the defaults stay.
    git_formats = {"SOURCE_DATE_EPOCH": "%ct", "REVISION": "%H"} if shutil.which("git") else {}
    for name, git_format in git_formats.items():
        git = subprocess.run(
            ["git", "-C", str(context), "log", "-1", f"--format={git_format}"],
            capture_output=True,
            text=True,
            check=False,
        )
        if git.returncode == 0 and git.stdout.strip():
            args[name] = git.stdout.strip()
    if host := os.environ.get("SONAR_HOST_URL"):
        args["SONAR_HOST_URL"] = host
    return args


def _version(context: Path) -> str:
    text = (context / "sampleproject" / "__init__.py").read_text(encoding="utf-8")
    found = re.search(r'^__version__ = "([^"]+)"$', text, re.MULTILINE)
    return found.group(1) if found else "unknown"


def build(
    engine: Engine,
    tag: str = DEFAULT_TAG,
    *,
    context: Path = ROOT,
    target: str | None = None,
    extra: tuple[str, ...] = (),
    quiet: bool = False,
) -> None:
    """Build ``context``'s Dockerfile as ``tag`` (making the base image first if needed).

    With ``quiet``, the build's output is kept in the error raised if it fails.
    """
    base = base_image(engine)
    command = ["build", "--rm", "--tag", tag, *engine.build_options(), *extra]
    if target:
        command += ["--target", target]
    for name, value in build_args(context, base).items():
        command += ["--build-arg", f"{name}={value}"]
    with tempfile.TemporaryDirectory(dir=STATE if engine.is_podman else None) as secrets:
        if CA_BUNDLE.is_file():
            command += ["--secret", f"id=ca,src={CA_BUNDLE}"]
        if token := os.environ.get("SONAR_TOKEN"):
            # A file only this user can read, deleted after the build: the portable way to
            # hand a secret to both engines (podman 4 has no env= source).
            token_file = Path(secrets) / "sonar_token"
            token_file.touch(mode=0o600)
            token_file.write_text(token, encoding="utf-8")
            command += ["--secret", f"id=sonar_token,src={token_file}"]
        engine.run(*command, str(context), capture=quiet)


def main(argv: list[str] | None = None) -> int:
    """Command line: ``build`` an image, or ``run`` any engine command with our settings."""
    parser = argparse.ArgumentParser(
        prog="python3 -m tools.container.engine",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    build_parser = commands.add_parser("build", help="build the image")
    build_parser.add_argument("--tag", default=DEFAULT_TAG, help="image (default: %(default)s)")
    build_parser.add_argument("--target", help="stop at this stage (e.g. build)")
    build_parser.add_argument("--context", type=Path, default=ROOT, help="the sources to build")
    run_parser = commands.add_parser("run", help="run an engine command, e.g. `run -- images`")
    run_parser.add_argument("args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)

    engine = detect()
    if args.command == "build":
        print(f"engine: {engine.name}")
        build(engine, args.tag, context=args.context.resolve(), target=args.target)
        return 0
    engine_args = args.args[1:] if args.args[:1] == ["--"] else args.args
    return engine.run(*engine_args, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
