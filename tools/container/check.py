"""The real check of the container image: run it as a user would, and verify what it does.

    python -m tools.container.check [--image pyapp] [--build]

Each check prints one line, ``ok`` or ``FAIL`` with the reason; the exit status is 1 if any
failed. Every container runs with a read-only root file system and no capabilities, as a
hardened deployment would run it, and without network unless it serves.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tools.container import engine as engines

# Hardened run options for every container of the check.
LOCKED = ("--read-only", "--cap-drop", "ALL")
# A platypus-free mammal: hair, milk, four legs, a tail, teeth, a backbone, breathes.
MAMMAL = {"hair": 1, "milk": 1, "legs": 4, "tail": 1, "toothed": 1, "backbone": 1, "breathes": 1}
MAMMAL_FLAGS = ("--legs", "4", *(f"--{name}" for name in MAMMAL if name != "legs"))
# What must be in the runtime environment, and what must not (training stack, build tools).
RUNTIME_PACKAGES = {"sampleproject", "numpy", "onnxruntime", "fastapi", "uvicorn", "pydantic"}
NOT_RUNTIME_PACKAGES = {"scikit-learn", "mlflow", "skl2onnx", "pytest", "pip", "setuptools"}
SERVE_START_SECONDS = 60.0
STOP_SECONDS = 5


class CheckFailed(Exception):
    """A check's finding: what was expected and what was seen."""


class Checker:
    """Runs the checks against one image with one engine and reports each one."""

    def __init__(self, engine: engines.Engine, image: str) -> None:
        self.engine = engine
        self.image = image
        self.failures: list[str] = []

    def check(self, name: str, function: Callable[[], str]) -> None:
        """Run one check; print ``ok name (detail)`` or ``FAIL name: reason``."""
        start = time.perf_counter()
        try:
            detail = function()
        except (CheckFailed, subprocess.SubprocessError, OSError) as error:
            self.failures.append(name)
            print(f"  FAIL {name}: {error}", flush=True)
        else:
            print(f"  ok   {name} ({detail}; {time.perf_counter() - start:.1f} s)", flush=True)

    def run(self, *args: str, entrypoint: str | None = None) -> subprocess.CompletedProcess[str]:
        """``run --rm`` the image, locked down and offline, with ``args``."""
        options = ["--entrypoint", entrypoint] if entrypoint else []
        return self.engine.run(
            "run",
            "--rm",
            "--network",
            "none",
            *LOCKED,
            *options,
            self.image,
            *args,
            check=False,
            capture=True,
            timeout=120,
        )

    # --- one-shot commands ------------------------------------------------------------

    def help_text(self) -> str:
        """``run IMAGE`` (CMD --help): the usage, exit status 0."""
        result = self.run()
        if result.returncode != 0 or "usage:" not in result.stdout:
            raise CheckFailed(_failure(result))
        return f"{len(result.stdout.splitlines())} lines of help"

    def adder(self) -> str:
        """``run IMAGE 45 46`` prints 91, the seed's example."""
        result = self.run("45", "46")
        if result.returncode != 0 or result.stdout.strip() != "91":
            raise CheckFailed(_failure(result))
        return "91"

    def predict(self) -> str:
        """``predict`` of a known mammal says mammal."""
        result = self.run("predict", *MAMMAL_FLAGS)
        words = result.stdout.split()
        if result.returncode != 0 or words[:1] != ["mammal"]:
            raise CheckFailed(_failure(result))
        return result.stdout.strip()

    def runtime_only(self) -> str:
        """The image holds the application, not the build: no pip, make or training stack."""
        probe = (
            "import importlib.util as u, shutil;"
            "print(*[m for m in ('pip', 'sklearn', 'mlflow', 'pytest') if u.find_spec(m)],"
            " *[t for t in ('make', 'gcc', 'git') if shutil.which(t)])"
        )
        result = self.run("-c", probe, entrypoint="python3")
        if result.returncode != 0 or result.stdout.strip():
            raise CheckFailed(f"found {_clip(result.stdout + result.stderr)}")
        return "no pip, sklearn, mlflow, pytest, make, gcc, git"

    def user(self) -> str:
        """The image's configured user is not root."""
        user = str(self._inspect().get("Config", {}).get("User", ""))
        if user.split(":", maxsplit=1)[0] in ("", "0", "root"):
            raise CheckFailed(f"the image's user is {user!r}")
        return f"USER {user}"

    def healthcheck_declared(self) -> str:
        """The image has its HEALTHCHECK (podman drops it unless it writes the Docker format)."""
        inspected = self._inspect()
        health = inspected.get("Config", {}).get("Healthcheck") or inspected.get("Healthcheck")
        if not health or "pyapp-healthcheck" not in " ".join(health.get("Test", [])):
            raise CheckFailed(f"no HEALTHCHECK with pyapp-healthcheck in the image: {health!r}")
        return " ".join(health["Test"])

    def _inspect(self) -> dict[str, Any]:
        inspected: list[dict[str, Any]] = json.loads(
            self.engine.run("image", "inspect", self.image, capture=True).stdout
        )
        return inspected[0]

    # --- the distribution files -------------------------------------------------------

    def dist(self) -> str:
        """``create`` + ``cp CONTAINER:/dist``: the wheel (with the model) and a valid SBOM."""
        name = f"pyapp-check-dist-{time.time_ns()}"
        self.engine.run("container", "create", "--name", name, self.image, capture=True)
        try:
            with tempfile.TemporaryDirectory() as folder:
                target = Path(folder) / "dist_pyapp_container"
                self.engine.run("cp", f"{name}:/dist", str(target), capture=True)
                return check_dist(target)
        finally:
            self.engine.run("container", "rm", name, check=False, capture=True)

    # --- serve ------------------------------------------------------------------------

    @contextmanager
    def serving(self) -> Iterator[tuple[str, str]]:
        """A detached ``serve`` container; yields its name and base URL; removes it at the end."""
        name = f"pyapp-check-serve-{time.time_ns()}"
        port = free_port()
        if self.engine.is_podman:
            # The host's network (podman's bridge needs firewall rules a sandbox may forbid),
            # so the server binds loopback on a free port rather than all interfaces on 8000:
            # given as options, which the HEALTHCHECK's probe must find on its own.
            network = ["--network", "host"]
            serve = ["serve", "--host", "127.0.0.1", "--port", str(port)]
        else:
            network = ["--publish", f"127.0.0.1:{port}:8000"]
            serve = ["serve"]
        self.engine.run(
            "run", "--detach", "--name", name, *LOCKED, *network, self.image, *serve, capture=True
        )
        try:
            yield name, f"http://127.0.0.1:{port}"
        finally:
            self.engine.run("rm", "--force", name, check=False, capture=True)

    def serve_checks(self) -> None:
        """``serve``: HTTP answers, HEALTHCHECK, non-root process, SIGTERM stop time."""
        with self.serving() as (name, url):
            self.check("serve answers GET /health", lambda: wait_health(url, self._logs(name)))
            self.check("serve answers POST /predict (mammal)", lambda: post_predict(url))
            self.check("HEALTHCHECK command passes", lambda: self._healthcheck(name))
            self.check("server process is not root", lambda: self._process_uid(name))
            self.check(f"SIGTERM stops serve within {STOP_SECONDS} s", lambda: self._stop(name))

    def _logs(self, name: str) -> Callable[[], str]:
        return lambda: _clip(self.engine.run("logs", name, check=False, capture=True).stderr, 800)

    def _healthcheck(self, name: str) -> str:
        if self.engine.is_podman:
            result = self.engine.run("healthcheck", "run", name, check=False, capture=True)
            how = "podman healthcheck run"
        else:  # Docker has no command to run the check now: run the same probe.
            result = self.engine.run("exec", name, "pyapp-healthcheck", check=False, capture=True)
            how = "docker exec pyapp-healthcheck"
        if result.returncode != 0:
            raise CheckFailed(f"{how}: {_failure(result)}")
        return f"{how}: healthy"

    def _process_uid(self, name: str) -> str:
        status = self.engine.run("exec", name, "cat", "/proc/1/status", capture=True).stdout
        lines = status.splitlines()
        uids = next((line.split()[1:] for line in lines if line.startswith("Uid:")), [])
        if not uids or "0" in uids:
            raise CheckFailed(f"PID 1 runs with uids {uids}")
        return f"PID 1 uid {uids[0]}"

    def _stop(self, name: str) -> str:
        start = time.perf_counter()
        self.engine.run("stop", "--time", str(STOP_SECONDS), name, capture=True, timeout=60)
        elapsed = time.perf_counter() - start
        code = self.engine.run("inspect", "--format", "{{.State.ExitCode}}", name, capture=True)
        exit_code = code.stdout.strip()
        # 137 = 128 + SIGKILL: the engine had to kill it after the grace period.
        if elapsed >= STOP_SECONDS or exit_code == "137":
            raise CheckFailed(f"stopped after {elapsed:.1f} s with exit status {exit_code}")
        return f"{elapsed:.1f} s, exit status {exit_code}"


def check_dist(folder: Path) -> str:
    """The wheel (with its model) and a valid runtime-only SBOM in ``folder`` (a copied /dist)."""
    wheels = sorted(folder.glob("sampleproject-*-py3-none-any.whl"))
    if len(wheels) != 1:
        found = sorted(path.name for path in folder.iterdir())
        raise CheckFailed(f"expected one wheel in /dist, found {found}")
    with zipfile.ZipFile(wheels[0]) as wheel:
        names = set(wheel.namelist())
    missing = {"sampleproject/model/zoo.onnx", "sampleproject/model/zoo.json"} - names
    if missing:
        raise CheckFailed(f"{wheels[0].name} lacks {sorted(missing)}")
    sbom_path = folder / "sbom.cdx.json"
    if not sbom_path.is_file():
        raise CheckFailed("no sbom.cdx.json in /dist")
    components = _valid_sbom(sbom_path.read_text(encoding="utf-8"))
    if RUNTIME_PACKAGES - components or NOT_RUNTIME_PACKAGES & components:
        raise CheckFailed(
            f"SBOM lacks {sorted(RUNTIME_PACKAGES - components)}, "
            f"has build-only {sorted(NOT_RUNTIME_PACKAGES & components)}"
        )
    return f"{wheels[0].name}, sbom.cdx.json with {len(components)} components"


def _valid_sbom(text: str) -> set[str]:
    """The component names of a CycloneDX JSON document, validated against its schema."""
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    document: dict[str, Any] = json.loads(text)
    if document.get("bomFormat") != "CycloneDX":
        raise CheckFailed("sbom.cdx.json is not a CycloneDX document")
    validator = JsonStrictValidator(SchemaVersion.from_version(document["specVersion"]))
    if error := validator.validate_str(text):
        raise CheckFailed(f"sbom.cdx.json is not valid CycloneDX: {_clip(str(error))}")
    names = {component["name"].lower() for component in document.get("components", [])}
    root = document.get("metadata", {}).get("component", {}).get("name")
    return names | ({root.lower()} if root else set())


def wait_health(url: str, logs: Callable[[], str]) -> str:
    """Wait until ``URL/health`` answers 200; the failure quotes ``logs()``."""
    deadline = time.monotonic() + SERVE_START_SECONDS
    while True:
        try:
            status, body = _http(f"{url}/health")
            if status == 200:
                return f"200 {body.strip()}"
        except OSError:
            pass  # not listening yet
        if time.monotonic() > deadline:
            raise CheckFailed(f"no answer within {SERVE_START_SECONDS:.0f} s; logs: {logs()}")
        time.sleep(0.5)


def post_predict(url: str) -> str:
    """POST a mammal to ``URL/predict``: mammal or fail."""
    # The model loads during start-up, before the worker accepts connections, so the first
    # answer should be 200; a 503 (model not loaded) is retried until the deadline all the same.
    deadline = time.monotonic() + SERVE_START_SECONDS
    while True:
        status, body = _http(f"{url}/predict", MAMMAL)
        if status != 503 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    if status != 200:
        raise CheckFailed(f"HTTP {status}: {_clip(body)}")
    answer = json.loads(body)
    prediction = answer[0] if isinstance(answer, list) else answer
    if prediction.get("class_name") != "mammal":
        raise CheckFailed(f"predicted {_clip(body)}")
    return f"mammal, probability {prediction.get('probability')}"


def _http(url: str, payload: object = None) -> tuple[int, str]:
    """GET (or POST ``payload`` as JSON): status and body, errors included."""
    data = None if payload is None else json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    request = urllib.request.Request(url, data=data, headers=headers)  # noqa: S310 (our http URL)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310  # nosec B310
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def free_port() -> int:
    """A TCP port free on loopback now (for a server to listen on, or to publish)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _failure(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit status {result.returncode}, output {_clip(result.stdout + result.stderr)}"


def _clip(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def main(argv: list[str] | None = None) -> int:
    """Build (with ``--build``) and check the image; exit 1 when a check fails."""
    parser = argparse.ArgumentParser(
        prog="python -m tools.container.check",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--image", default=engines.DEFAULT_TAG, help="image (default: %(default)s)")
    parser.add_argument("--build", action="store_true", help="build the image first")
    args = parser.parse_args(argv)

    engine = engines.detect()
    if args.build:
        engines.build(engine, args.image)
    print(f"Checking image {args.image} with {engine.name}:", flush=True)
    checker = Checker(engine, args.image)
    checker.check("run IMAGE prints help", checker.help_text)
    checker.check("run IMAGE 45 46 prints 91", checker.adder)
    checker.check("predict a known mammal", checker.predict)
    checker.check("runtime image holds no build tools", checker.runtime_only)
    checker.check("image user is not root", checker.user)
    checker.check("image declares its HEALTHCHECK", checker.healthcheck_declared)
    checker.check("create + cp CONTAINER:/dist gives wheel and SBOM", checker.dist)
    checker.serve_checks()
    if checker.failures:
        print(f"image check FAILED ({len(checker.failures)}): {', '.join(checker.failures)}")
        return 1
    print("image check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
