"""What is not source is listed once, in .gitignore; the lists that tools read agree with it.

Docker, setuptools (MANIFEST.in), make and SonarQube cannot read .gitignore, so each keeps a
list of its own. These tests make a sample path for every .gitignore pattern, ask git that it
is ignored, and check each list's relation to it, intended differences named with their reason.
"""

from __future__ import annotations

import re
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests.conftest import ROOT, build, copy_project, require_checkout, require_tool, run_make

PACKAGE = "sampleproject"
# Where a pattern that matches at any depth is tried: in each source folder that is walked
# whole (the package, and scripts/ by MANIFEST.in and SonarQube).
NESTED_IN = (PACKAGE, "scripts")
# What `make clean` keeps of what git ignores, and why.
KEPT_BY_CLEAN = {
    "/.venv/": "the environment: `make install` takes minutes",
    "/venv*/": "an environment of the developer's own",
    "/mlruns/": "the MLflow runs: the history of experiments",
    "/mlflow.db": "an MLflow store (`mlflow server`'s default)",
    "/.container/": "podman's image storage: a cold image build takes minutes",
}
# What .dockerignore leaves out that git does not ignore, and why.
DOCKER_ONLY = {
    ".git": "history: the build must not depend on it",
    ".gitignore": "the list itself: the build has no use for it",
    "**/*.swp": "editor files: git leaves them to each developer's own excludes file",
    ".idea": "editor files (as above)",
    ".vscode": "editor files (as above)",
}
# What the sdist holds of what git ignores, and why.
SHIPPED_OUTPUTS = {
    f"{PACKAGE}/model/": "the trained model: an sdist installs a working application",
    f"{PACKAGE}.egg-info/": "setuptools' metadata, which every sdist carries",
}


def patterns(path: Path) -> list[str]:
    """The patterns of an ignore file: its lines but comments and blank ones."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def plain(pattern: str) -> str:
    """A name that a glob matches: a wildcard becomes a letter, a character class its first."""
    return re.sub(r"\[(.)[^]]*\]", r"\1", pattern).replace("*", "x")


def git_samples(pattern: str) -> list[str]:
    """Paths that a .gitignore pattern ignores: a file itself, or a file in the folder named.

    A pattern with no slash but a trailing one matches at any depth: it is tried in each source
    folder.
    """
    path = plain(pattern)
    path = f"{path}x" if path.endswith("/") else path
    if "/" in pattern.rstrip("/"):  # anchored to the root, or a path below it
        return [path.lstrip("/")]
    return [f"{folder}/{path}" for folder in NESTED_IN]


def docker_sample(pattern: str) -> str:
    """A path that a .dockerignore pattern leaves out: a file in what it names, file or folder."""
    return f"{plain(pattern.replace('**/', f'{PACKAGE}/'))}/x"


def glob_regex(pattern: str) -> re.Pattern[str]:
    """Docker's and SonarQube's globs: ``**/`` any folders, ``*`` and ``?`` within a name."""
    parts = re.split(r"(\*\*/|\*\*|\*|\?|\[[^]]*\])", pattern)
    wildcards = {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}
    regex = "".join(
        wildcards.get(part, part if part.startswith("[") else re.escape(part)) for part in parts
    )
    return re.compile(regex)


def docker_excludes(path: str, docker_patterns: list[str]) -> bool:
    """Whether Docker leaves ``path`` out of the context: a pattern matches it or a folder above."""
    folders = path.split("/")
    prefixes = ["/".join(folders[: end + 1]) for end in range(len(folders))]
    return any(glob_regex(p).fullmatch(prefix) for p in docker_patterns for prefix in prefixes)


def git_ignores(paths: list[str]) -> set[str]:
    """Which of ``paths`` (relative, existing or not) git ignores, by .gitignore alone."""
    require_checkout()
    # Only the project's own list: no developer's excludes file; the index neither (--no-index).
    git = [require_tool("git"), "-c", "core.excludesFile=/dev/null"]
    result = subprocess.run(
        [*git, "check-ignore", "--no-index", "--stdin", "-z"],
        cwd=ROOT,
        input="\0".join(paths),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode in (0, 1), result.stderr  # 1: none ignored
    return set(filter(None, result.stdout.split("\0")))


def plant(samples: dict[str, list[str]], folder: Path) -> None:
    """Create every sample path below ``folder``, as empty files."""
    for path in (folder / path for paths in samples.values() for path in paths):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")


@pytest.fixture(scope="module", name="samples")
def fixture_samples() -> dict[str, list[str]]:
    """Each .gitignore pattern with its sample paths, every one of them ignored by git."""
    require_checkout()  # a container build has neither git nor .gitignore
    samples = {pattern: git_samples(pattern) for pattern in patterns(ROOT / ".gitignore")}
    every = [path for paths in samples.values() for path in paths]
    assert set(every) == git_ignores(every)  # else a sample is wrong, not a list
    return samples


def test_the_docker_build_context_leaves_out_all_that_git_ignores_and_git_itself(
    samples: dict[str, list[str]],
) -> None:
    docker = patterns(ROOT / ".dockerignore")
    every = [path for paths in samples.values() for path in paths]
    assert [path for path in every if not docker_excludes(path, docker)] == []
    assert docker_excludes(".git/HEAD", docker)


def test_the_dockerignore_leaves_out_nothing_more_than_git_but_its_named_exceptions() -> None:
    docker = patterns(ROOT / ".dockerignore")
    assert not set(DOCKER_ONLY) - set(docker)  # an exception that is gone goes from here too
    others = {docker_sample(p): p for p in docker if p not in DOCKER_ONLY}
    assert sorted(others[path] for path in set(others) - git_ignores(list(others))) == []


def test_make_clean_removes_all_that_git_ignores_but_environments_runs_and_image_storage(
    samples: dict[str, list[str]], tmp_path: Path
) -> None:
    assert not set(KEPT_BY_CLEAN) - set(samples)  # an exception that is gone goes from here too
    for folder in (PACKAGE, "tests", "tools", "bench", "scripts"):  # what the Makefile searches
        (tmp_path / folder).mkdir()
    plant(samples, tmp_path)
    result = run_make("-f", str(ROOT / "Makefile"), "clean", project=tmp_path)
    assert result.returncode == 0, result.stderr
    left = {
        pattern for pattern, paths in samples.items() if any((tmp_path / p).exists() for p in paths)
    }
    assert left == set(KEPT_BY_CLEAN)


def test_sonarqube_leaves_out_all_that_git_ignores_in_the_sources(
    samples: dict[str, list[str]],
) -> None:
    properties = dict(
        line.split("=", 1) for line in patterns(ROOT / "sonar-project.properties") if "=" in line
    )
    sources = properties["sonar.sources"].split(",")
    exclusions = [glob_regex(p) for p in properties["sonar.exclusions"].split(",")]
    # With git, SonarQube leaves out what git ignores by itself; a container build has no git.
    in_sources = [
        path for paths in samples.values() for path in paths if path.split("/")[0] in sources
    ]
    assert in_sources
    assert [path for path in in_sources if not any(p.fullmatch(path) for p in exclusions)] == []


def test_the_sdist_holds_nothing_that_git_ignores_but_the_model(
    samples: dict[str, list[str]], tmp_path: Path
) -> None:
    project = copy_project(tmp_path / "project")
    plant(samples, project)
    build(project, tmp_path / "dist", "--sdist")
    (sdist,) = (tmp_path / "dist").glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        members = [file.name.split("/", 1)[1] for file in archive.getmembers() if file.isfile()]
    shipped = sorted(git_ignores(members))
    assert shipped
    assert [name for name in shipped if not name.startswith(tuple(SHIPPED_OUTPUTS))] == []
