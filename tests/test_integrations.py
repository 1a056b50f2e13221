"""Offline checks of the files that integrate with servers and CI systems.

No Docker engine, GitHub, GitLab or Jenkins is needed: the compose files and CI pipelines are
validated against the schemas check-jsonschema ships (compose-spec, GitHub workflows, GitLab
CI), the workflow is audited by zizmor offline, the Jenkinsfile's structure by
tools/check_jenkinsfile.py, and then each file is read for what this project promises (network
`cicd`, health checks, pinned actions, the Python matrix, publishing only with secrets...).
The tests that start an external checker (seconds each) are marked slow.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from identify import identify

from tests.conftest import BIN, ROOT, require_checkout, require_tool
from tests.documented import documented
from tests.repository import clean_clone
from tools import check_jenkinsfile
from tools.sources import source_files

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 only
    import tomli as tomllib

COMPOSE_FILES = sorted((ROOT / "compose").glob("*.yaml"))
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
GITLAB_CI = ROOT / ".gitlab-ci.yml"
JENKINSFILE = ROOT / "Jenkinsfile"
PRE_COMMIT_CONFIG = ROOT / ".pre-commit-config.yaml"
PYTHON_VERSIONS = ["3.10", "3.11", "3.12", "3.13"]
# A pinned action: owner/name@<40 hex digits> # v<version>
PINNED_ACTION = re.compile(r"uses: [\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+)*$")
# An install that bypasses the Makefile (the CI files must install as `make install` does).
PIP_INSTALL = re.compile(r"\bpip install\b")


def load(path: Path) -> Any:
    """A YAML file's content."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def check_schema(schema: str, path: Path) -> subprocess.CompletedProcess[str]:
    """check-jsonschema with one of its vendored schemas (offline)."""
    return subprocess.run(
        [require_tool("check-jsonschema"), "--builtin-schema", schema, str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


def supported_pythons() -> list[str]:
    """The Python versions setup.py's classifiers declare."""
    text = (ROOT / "setup.py").read_text(encoding="utf-8")
    return re.findall(r'"Programming Language :: Python :: (3\.\d+)"', text)


# --- compose -------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda path: path.name)
def test_compose_file_follows_the_compose_spec(path: Path) -> None:
    result = check_schema("vendor.compose-spec", path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_compose_schema_check_rejects_a_broken_file(tmp_path: Path) -> None:
    broken = tmp_path / "compose.yaml"
    # `healthcheck.interval` must be a duration string and `ports` a list.
    broken.write_text("services:\n  web:\n    image: x\n    ports: 8000\n", encoding="utf-8")
    assert check_schema("vendor.compose-spec", broken).returncode != 0


def _services(name: str) -> dict[str, Any]:
    services: dict[str, Any] = load(ROOT / "compose" / name)["services"]
    return services


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda path: path.name)
def test_compose_services_are_healthchecked_and_keep_data_in_named_volumes(path: Path) -> None:
    compose = load(path)
    declared_volumes = set(compose.get("volumes", {}))
    used_volumes = set()
    for name, service in compose["services"].items():
        if service.get("restart") == "no":  # a one-shot job: it exits, nothing to probe
            continue
        assert "healthcheck" in service, f"{name} has no healthcheck"
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            assert not source.startswith(("/", ".")), f"{name}: bind mount {source}"
            used_volumes.add(source)
    assert used_volumes == declared_volumes


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda path: path.name)
def test_compose_credentials_come_from_the_environment(path: Path) -> None:
    """Every password or key is ${VARIABLE:-default}: overridable, never a literal secret."""
    secret_names = re.compile(r"PASSWORD|SECRET|TOKEN|ACCESS_KEY", re.IGNORECASE)
    checked = 0
    for service in load(path)["services"].values():
        environment = service.get("environment", {})
        for key, value in environment.items():
            if secret_names.search(key):
                assert re.fullmatch(r"\$\{\w+:-[^}]*\}", str(value)), f"{key}: {value}"
                checked += 1
    assert checked > 0


def test_sonarqube_runs_on_the_cicd_network_with_its_database() -> None:
    compose = load(ROOT / "compose" / "sonarqube.yaml")
    assert compose["networks"]["cicd"]["name"] == "cicd"  # not prefixed by the project name
    sonarqube = compose["services"]["sonarqube"]
    assert sonarqube["container_name"] == "sonarqube"  # the host name the seed uses
    assert "cicd" in sonarqube["networks"]
    assert sonarqube["environment"]["SONAR_JDBC_URL"].startswith("jdbc:postgresql://")
    database = sonarqube["depends_on"]
    assert list(database.values()) == [{"condition": "service_healthy"}]
    assert compose["services"][next(iter(database))]["image"].endswith("postgres:17}")


def test_mlflow_uses_postgresql_and_minio_with_a_created_bucket() -> None:
    services = _services("mlflow.yaml")
    server = services["mlflow"]
    environment = server["environment"]
    assert environment["MLFLOW_BACKEND_STORE_URI"].startswith("postgresql+psycopg://")
    assert environment["MLFLOW_ARTIFACTS_DESTINATION"].startswith("s3://")
    assert environment["MLFLOW_S3_ENDPOINT_URL"] == "http://minio:9000"
    assert server["depends_on"]["create-bucket"] == {"condition": "service_completed_successfully"}
    assert server["depends_on"]["mlflow-db"] == {"condition": "service_healthy"}
    bucket_job = services["create-bucket"]
    assert bucket_job["depends_on"]["minio"] == {"condition": "service_healthy"}
    assert "mc mb --ignore-existing" in " ".join(bucket_job["entrypoint"])


@pytest.mark.slow
def test_mlflow_server_image_is_pinned_and_lints_clean() -> None:
    dockerfile = ROOT / "compose" / "mlflow" / "Dockerfile"
    text = dockerfile.read_text(encoding="utf-8")
    constraints = (ROOT / "constraints.txt").read_text(encoding="utf-8")
    client_version = re.search(r"^mlflow==(\S+)", constraints, re.MULTILINE)
    assert client_version is not None
    # The server is the same MLflow as the clients the project pins.
    assert f"mlflow=={client_version.group(1)}" in text
    result = subprocess.run(
        [require_tool("hadolint"), str(dockerfile)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout


# --- GitHub Actions ------------------------------------------------------------------------


@pytest.mark.slow
def test_workflow_follows_the_github_schema() -> None:
    result = check_schema("vendor.github-workflows", WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr


def _zizmor(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_tool("zizmor"), "--offline", "--persona", "auditor", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.slow
def test_zizmor_finds_nothing_in_the_workflow() -> None:
    """Even the pedantic `auditor` persona, with no ignores configured."""
    result = _zizmor(WORKFLOW)
    assert result.returncode == 0, result.stdout
    assert "No findings to report" in result.stdout
    assert not (ROOT / "zizmor.yml").exists()


@pytest.mark.slow
def test_zizmor_catches_a_template_injection(tmp_path: Path) -> None:
    # Edited as text: a YAML round trip would turn the `on:` key into `true:` (YAML 1.1).
    anchor = "        run: make audit\n"
    text = WORKFLOW.read_text(encoding="utf-8")
    assert anchor in text
    injected = "      - run: echo ${{ github.event.pull_request.title }}\n"
    copy = tmp_path / "ci.yml"
    copy.write_text(text.replace(anchor, anchor + injected), encoding="utf-8")
    result = _zizmor(copy)
    assert result.returncode != 0
    assert "template-injection" in result.stdout


def test_workflow_is_least_privilege_and_pins_every_action() -> None:
    workflow = load(WORKFLOW)
    assert workflow["permissions"] == {"contents": "read"}
    assert all("permissions" not in job for job in workflow["jobs"].values())
    uses = [line.strip() for line in WORKFLOW.read_text().splitlines() if "uses:" in line]
    assert uses
    for line in uses:
        assert PINNED_ACTION.search(line.removeprefix("- ")), line
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False


def test_workflow_tests_every_supported_python_and_installs_as_the_makefile_does() -> None:
    workflow = load(WORKFLOW)
    matrix = workflow["jobs"]["test"]["strategy"]["matrix"]["python-version"]
    assert matrix == PYTHON_VERSIONS == supported_pythons()
    for name, job in workflow["jobs"].items():
        runs = [step.get("run", "") for step in job["steps"]]
        assert not any(PIP_INSTALL.search(run) for run in runs), name
        installs = [i for i, run in enumerate(runs) if run.splitlines()[:1] == ["make install"]]
        assert len(installs) == 1, name
        # uv's download cache, keyed on the pins, restored before the install.
        caches = [
            (i, step["with"])
            for i, step in enumerate(job["steps"])
            if step.get("uses", "").startswith("actions/cache@")
        ]
        assert len(caches) == 1, name
        position, cache = caches[0]
        assert position < installs[0], name
        assert cache["path"] == "~/.cache/uv"
        assert "hashFiles('constraints.txt'" in cache["key"]


def test_workflow_builds_uploads_smoke_tests_and_publishes_only_with_secrets() -> None:
    jobs = load(WORKFLOW)["jobs"]
    pipeline = jobs["pipeline"]["steps"]
    uploads = [s for s in pipeline if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert any(step["with"]["path"] == "dist/*.whl" for step in uploads)
    sonar = next(step for step in pipeline if step.get("run") == "make sonar")
    assert sonar["if"] == "env.SONAR_HOST_URL != '' && env.SONAR_TOKEN != ''"
    # Both come from the repository's secrets, never from the file.
    names = ("SONAR_HOST_URL", "SONAR_TOKEN")
    assert sonar["env"] == {name: f"${{{{ secrets.{name} }}}}" for name in names}
    assert any(step.get("run") == "make image-test" for step in jobs["image"]["steps"])
    assert any(step.get("run") == "make audit" for step in jobs["lint"]["steps"])


# --- GitLab CI -----------------------------------------------------------------------------


@pytest.mark.slow
def test_gitlab_ci_follows_the_gitlab_schema() -> None:
    result = check_schema("vendor.gitlab-ci", GITLAB_CI)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_gitlab_schema_check_rejects_a_job_named_after_a_keyword(tmp_path: Path) -> None:
    """`image` is a global keyword: a job of that name is invalid (the schema knows it)."""
    pipeline = load(GITLAB_CI)
    pipeline["image"] = pipeline.pop("container-image")
    copy = tmp_path / ".gitlab-ci.yml"
    copy.write_text(yaml.safe_dump(pipeline), encoding="utf-8")
    assert check_schema("vendor.gitlab-ci", copy).returncode != 0


def test_gitlab_ci_runs_the_same_stages() -> None:
    pipeline = load(GITLAB_CI)
    assert pipeline["stages"] == ["lint", "test", "build", "image", "publish"]
    matrix = pipeline["test"]["parallel"]["matrix"][0]["PYTHON_VERSION"]
    assert matrix == supported_pythons()
    assert pipeline["build"]["script"] == ["make"]
    assert "dist/" in pipeline["build"]["artifacts"]["paths"]
    assert pipeline["container-image"]["script"] == ["make image-test"]
    assert pipeline["sonarqube"]["rules"] == [{"if": "$SONAR_HOST_URL && $SONAR_TOKEN"}]
    assert "make audit" in pipeline["lint"]["script"]


def test_gitlab_ci_installs_as_the_makefile_does() -> None:
    pipeline = load(GITLAB_CI)
    assert not PIP_INSTALL.search(GITLAB_CI.read_text(encoding="utf-8"))
    for name in ("lint", "test", "build", "sonarqube"):
        assert pipeline[name]["extends"] == ".python"
    for job in (pipeline[".python"], pipeline["container-image"]):
        assert "make install" in job["before_script"]
    # uv's download cache lives where GitLab's cache keeps it, keyed on the pins.
    assert pipeline["variables"]["UV_CACHE_DIR"] == "$CI_PROJECT_DIR/.cache/uv"
    assert pipeline[".python"]["cache"] == {
        "key": {"files": ["constraints.txt"]},
        "paths": [".cache/uv"],
    }


# --- Jenkins -------------------------------------------------------------------------------


def test_jenkinsfile_is_a_complete_declarative_pipeline() -> None:
    assert check_jenkinsfile.check(JENKINSFILE.read_text(encoding="utf-8")) == []


def test_jenkinsfile_runs_the_same_targets() -> None:
    text = JENKINSFILE.read_text(encoding="utf-8")
    commands = ("sh 'make install'", "make audit", "make train", "sh 'make'", "make image-test")
    for command in (*commands, "make sonar"):
        assert command in text
    assert not PIP_INSTALL.search(text)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda text: text.replace("    post {", "    postt {", 1), "unknown pipeline section"),
        (lambda text: text.replace("    post {", "    /* post */ foo {", 1), "no `post"),
        (lambda text: text.replace("agent { label 'python' }", ""), "no `agent`"),
        (lambda text: text.rstrip().removesuffix("}"), "never closed"),
        (lambda text: text.replace("sh 'make image-test'", ""), "steps of stage 'Image'"),
        (
            lambda text: text.replace(
                "stage('Image') {\n            steps", "stage('Image') {\n  options"
            ),
            "needs one",
        ),
        (lambda text: text.replace("stage('Build')", "stage('Test')"), "appears twice"),
        (lambda text: text.replace("cleanWs()", "cleanWs(", 1), "unexpected"),
        (lambda text: text + "\nfoo('bar\n", "string never closed"),
        (lambda text: text + "\n/* unfinished", "comment never closed"),
        (lambda text: "node { }\n" + text, "exactly one top-level"),
    ],
)
def test_jenkinsfile_check_finds_broken_structure(change: Any, problem: str) -> None:
    broken = change(JENKINSFILE.read_text(encoding="utf-8"))
    problems = check_jenkinsfile.check(broken)
    assert any(problem in line for line in problems), problems


def test_jenkinsfile_check_ignores_braces_in_strings_and_comments() -> None:
    text = JENKINSFILE.read_text(encoding="utf-8")
    text = text.replace(
        "sh 'make'", "sh 'echo \"}{\" ) ]'\n                // }}} (\n                sh '''make'''"
    )
    assert check_jenkinsfile.check(text) == []


def test_jenkinsfile_check_command_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert check_jenkinsfile.main([str(JENKINSFILE)]) == 0
    assert "structure OK" in capsys.readouterr().out
    broken = tmp_path / "Jenkinsfile"
    broken.write_text("pipeline {\n", encoding="utf-8")
    assert check_jenkinsfile.main([str(broken)]) == 1
    assert "never closed" in capsys.readouterr().err


# --- pre-commit ----------------------------------------------------------------------------


def _hook_env(tmp_path: Path) -> dict[str, str]:
    """Our environment's tools first on PATH (as after `source .venv/bin/activate`)."""
    return {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
    }


@pytest.mark.slow
def test_pre_commit_config_is_valid(tmp_path: Path) -> None:
    result = subprocess.run(
        [require_tool("pre-commit"), "validate-config", str(PRE_COMMIT_CONFIG)],
        capture_output=True,
        text=True,
        env=_hook_env(tmp_path),
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_pre_commit_hooks_are_local_and_their_tools_installed() -> None:
    """No hook repository to clone; every hook's command exists in our environment."""
    repos = load(PRE_COMMIT_CONFIG)["repos"]
    assert {repo["repo"] for repo in repos} == {"local", "meta"}
    path = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    hooks = [hook for repo in repos if repo["repo"] == "local" for hook in repo["hooks"]]
    assert {"ruff", "mypy", "hadolint", "zizmor", "detect-secrets", "jenkinsfile"} <= {
        hook["id"] for hook in hooks
    }
    for hook in hooks:
        assert hook["language"] == "system"
        assert shutil.which(hook["entry"].split()[0], path=path), hook["entry"]


@pytest.fixture(name="clone", scope="module")
def clone_fixture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pre-commit fails a hook when a tracked file changes while it runs: use a clean clone."""
    return clean_clone(tmp_path_factory.mktemp("clone") / "repo")


@pytest.mark.slow
def test_pre_commit_run_all_files_passes_offline_on_a_clean_clone(
    clone: Path, tmp_path: Path
) -> None:
    """CI's lint stage as documented: every hook, on every file, with no network to use.

    A proxy that refuses every connection stands in for the internet: a hook that needed to
    download anything (a hook repository, a tool, a schema) would fail.
    """
    refused = "http://127.0.0.1:9"
    env = {**_hook_env(tmp_path), "http_proxy": refused, "https_proxy": refused}
    # docs/ci.md's commands (the environment active: our bin first on PATH).
    _pre_commit, *install = documented("docs/ci.md", "pre-commit install")
    _pre_commit, *run_all = documented("docs/ci.md", "pre-commit run --all-files")
    subprocess.run([require_tool("pre-commit"), *install], cwd=clone, env=env, check=True)
    assert (clone / ".git" / "hooks" / "pre-commit").is_file()
    result = subprocess.run(
        [require_tool("pre-commit"), *run_all],
        cwd=clone,
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    hooks = [hook["id"] for repo in load(PRE_COMMIT_CONFIG)["repos"] for hook in repo["hooks"]]
    assert result.stdout.count("Passed") == len(hooks), result.stdout


def _git_files() -> list[str]:
    """The project's files, as git lists them (a container build has no git to ask)."""
    require_checkout()
    return [path.as_posix() for path in source_files(ROOT)]


def test_make_and_pre_commit_give_ruff_the_same_files() -> None:
    """`make`'s `ruff check .` finds files by name; pre-commit by type, from the shebang too.

    Every tracked Python file, `.py` or not, must be in both (pyproject.toml's extend-include
    names the scripts without an ending), but those ruff's extend-exclude leaves out (generated
    code), which the hooks' --force-exclude leaves out too.
    """
    excluded = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "ruff"
    ].get("extend-exclude", [])
    by_type = {
        name
        for name in _git_files()
        if {"python", "pyi"} & identify.tags_from_path(str(ROOT / name))
        and not any(fnmatch.fnmatch(name, pattern) for pattern in excluded)
    }
    listed = subprocess.run(
        [require_tool("ruff"), "check", "--show-files", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    # ruff also reads pyproject.toml (its RUF200 metadata check): not a Python file.
    by_ruff = {Path(name).relative_to(ROOT).as_posix() for name in listed} - {"pyproject.toml"}
    assert by_ruff & set(_git_files()) == by_type
    assert "scripts/pyapp-healthcheck" in by_type


def test_make_and_pre_commit_give_bandit_the_same_files() -> None:
    hook = next(
        hook
        for repo in load(PRE_COMMIT_CONFIG)["repos"]
        for hook in repo["hooks"]
        if hook["id"] == "bandit"
    )
    by_hook = {name for name in _git_files() if re.search(hook["files"], name)}
    package = {name for name in _git_files() if re.match(r"sampleproject/.*\.py$", name)}
    assert by_hook == package | {"scripts/pyapp-healthcheck"}
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "bandit --quiet -c pyproject.toml -r $(PACKAGE) scripts/pyapp-healthcheck" in makefile
