"""Every command of the README and docs/*.md runs as written, or its mark says who runs it.

The blocks and their marks are read by tests/documented.py (the rule: docs/ci.md, "Executed
docs"). The fast tests check the marks: a ``run-by`` test exists and takes each command it
covers from ``documented(page, command)``, a script runner has the command as one of its
lines, every ``skip`` has its reason. The slow tests run the rest, page after page, in one
copy of the project that has its own ``.venv`` (``make install``), as a reader who follows
the README and then the manual would, in a bash session per page (``source``, ``export`` and
background jobs carry on to the next command). Outputs are compared where the page gives
them exactly (``# prints TEXT``, a console block's lines); ``# serves URL`` commands must
answer at URL and stop with exit status 0 on Ctrl-C at the end of their page. The ports the
pages name (8000, 8001, 8080, 9000) are replaced by free loopback ports, and 0.0.0.0 by 127.0.0.1.
"""

from __future__ import annotations

import ast
import contextlib
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import ROOT, copy_project, run_make
from tests.documented import Block, Command, blocks, pages

PORTS = ("8000", "8001", "8080", "9000")
COMMAND_SECONDS = 900  # the seed's `pip install -r requirements.txt` takes minutes
SERVE_SECONDS = 120
# A clean stop on Ctrl-C: done (0), or the shell's "stopped by Ctrl-C" (130, or the signal
# itself, as make dies). `serve` promises 0: tests/test_exit_codes.py checks that.
STOPPED_BY_CTRL_C = frozenset({0, 130, -signal.SIGINT})


# --- the marks -------------------------------------------------------------------------------


def all_blocks() -> list[Block]:
    """Every shell block of every page."""
    return [block for page in pages() for block in blocks(page)]


def documented_calls(runner: str) -> set[tuple[str, str]]:
    """The ``documented(page, command)`` calls the test ``file::name`` makes, with its fixtures.

    Fixtures are followed by parameter name, within the test's module (``@pytest.fixture``
    functions, by their ``name=`` or their own name) and transitively.
    """
    file, _, name = runner.partition("::")
    tree = ast.parse((ROOT / file).read_text(encoding="utf-8"))
    functions = {node.name: node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
    fixtures = {_fixture_name(node): node for node in functions.values() if _fixture_name(node)}
    assert name in functions, f"{runner}: no such test"
    calls: set[tuple[str, str]] = set()
    seen: set[str] = set()
    todo = [functions[name]]
    while todo:
        function = todo.pop()
        if function.name in seen:
            continue
        seen.add(function.name)
        values = _bindings(function)
        for node in ast.walk(function):
            if isinstance(node, ast.Call) and _called(node) == "documented":
                page, command = (_values(argument, values) for argument in node.args)
                calls |= {(one, other) for one in page for other in command}
        todo += [fixtures[arg.arg] for arg in function.args.args if arg.arg in fixtures]
    return calls


def _bindings(function: ast.FunctionDef) -> dict[str, list[str]]:
    """The texts each local name may hold: ``x = "..."``, ``x = [...]``, ``for x in (...)``."""
    values: dict[str, list[str]] = {}
    for node in ast.walk(function):
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.For):
            target, value = node.target, node.iter
        else:
            continue
        if not isinstance(target, ast.Name):
            continue
        items = value.elts if isinstance(value, ast.List | ast.Tuple) else [value]
        if isinstance(node, ast.For) and isinstance(value, ast.Name):
            values[target.id] = values.get(value.id, [])
            continue
        values[target.id] = [text for item in items for text in _values(item, values)]
    return values


def _values(node: ast.expr, values: dict[str, list[str]]) -> list[str]:
    """The texts an expression may be: a literal, a bound name, an f-string of those."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Name):
        return values.get(node.id, [])
    if isinstance(node, ast.JoinedStr):
        texts = [""]
        for part in node.values:
            inner = part.value if isinstance(part, ast.FormattedValue) else part
            texts = [text + more for text in texts for more in _values(inner, values)]
        return texts
    return []


def _fixture_name(function: ast.FunctionDef) -> str | None:
    for decorator in function.decorator_list:
        call = decorator if isinstance(decorator, ast.Call) else None
        target = call.func if call else decorator
        if isinstance(target, ast.Attribute) and target.attr == "fixture":
            for keyword in call.keywords if call else []:
                if keyword.arg == "name":
                    return str(ast.literal_eval(keyword.value))
            return function.name
    return None


def _called(call: ast.Call) -> str:
    if isinstance(call.func, ast.Name):
        return call.func.id
    return call.func.attr if isinstance(call.func, ast.Attribute) else ""


def covered(block: Block) -> dict[str, str]:
    """The block's commands that its runners run: command -> runner."""
    page = block.page.relative_to(ROOT).as_posix()
    found: dict[str, str] = {}
    # A runner a rename removed stands for what the block's other runners do not run.
    for runner in sorted(block.run_by, key=_removed_by_rename):
        if _removed_by_rename(runner):
            names = {command.text for command in block.commands}
        elif "::" in runner:
            names = {command for shown, command in documented_calls(runner) if shown == page}
        else:
            lines = (ROOT / runner).read_text(encoding="utf-8").splitlines()
            names = {line.strip() for line in lines}
        for command in block.commands:
            if command.text in names:
                found.setdefault(command.text, runner)
    return found


def _removed_by_rename(runner: str) -> bool:
    """A fork that ran `make rename` has no tests/test_rename.py any more (the rename's last
    step deletes it, and its tool): the marks that name it stand for what it ran."""
    file = runner.partition("::")[0]
    return not (ROOT / file).exists() and not (ROOT / "tools" / "rename.py").exists()


def to_run(block: Block) -> list[Command]:
    """The block's commands that the docs test runs itself."""
    if block.skip_rest is not None:
        return []
    done = covered(block) | block.skipped
    return [command for command in block.commands if command.text not in done]


def test_the_pages_have_shell_blocks_and_every_mark_is_understood() -> None:
    found = all_blocks()  # an unknown mark raises
    assert len(found) > 40
    assert {block.page.name for block in found} >= {"README.md", "serve.md", "predict.md"}


def test_every_skip_names_a_command_of_its_block_and_gives_a_reason() -> None:
    for block in all_blocks():
        texts = {command.text for command in block.commands}
        for command, reason in block.skipped.items():
            assert command in texts, f"{block.where}: skip of a command it has not: {command}"
            assert len(reason) > 15, f"{block.where}: give the reason: {reason}"
        assert block.skip_rest is None or len(block.skip_rest) > 15, block.where


def test_every_run_by_mark_names_a_runner_that_runs_those_exact_commands() -> None:
    marked = [block for block in all_blocks() if block.run_by]
    assert marked
    for block in marked:
        runs = covered(block)
        for runner in block.run_by:
            if not _removed_by_rename(runner):
                assert runner in runs.values(), f"{block.where}: {runner} runs none of them"


def test_a_run_by_test_is_checked_for_its_documented_calls() -> None:
    calls = documented_calls(
        "tests/test_integrations.py::test_pre_commit_run_all_files_passes_offline_on_a_clean_clone"
    )
    assert calls == {
        ("docs/ci.md", "pre-commit install"),
        ("docs/ci.md", "pre-commit run --all-files"),
    }
    # Through a fixture, a loop over pages and an f-string.
    calls = documented_calls(
        "tests/test_docker.py::test_the_readme_run_commands_print_the_help_and_91"
    )
    assert ("docs/container.md", "docker build --rm -t pyapp .") in calls  # the image fixture
    assert ("README.md", "docker run --rm pyapp 45 46") in calls
    predict = "docker run --rm pyapp predict --hair --milk --legs 4 --tail --toothed --backbone"
    assert ("docs/container.md", f"{predict} --breathes") in calls


# --- running them ----------------------------------------------------------------------------


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Served:
    """A ``# serves URL`` command, running in its own process group until Ctrl-C."""

    command: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> str | None:
        """Ctrl-C (SIGINT to its process group); what went wrong, if it did not exit 0."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
        try:
            code = self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            code = self.process.wait()
        if code in STOPPED_BY_CTRL_C:
            return None
        log = self.log.read_text("utf-8", errors="replace")[-2000:]
        return f"{self.command}: exit {code} on Ctrl-C\n{log}"


@dataclass
class Session:
    """A bash of its own for one page, in the workspace; commands run one after another."""

    workspace: Path
    env: dict[str, str]
    ports: dict[str, str]
    bash: subprocess.Popen[str] | None = None
    count: int = 0
    served: list[Served] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Each session's own folder for the commands' outputs and statuses.
        (self.workspace / ".docs-test").mkdir(exist_ok=True)
        self.state = Path(tempfile.mkdtemp(dir=self.workspace / ".docs-test"))
        self.bash = subprocess.Popen(  # pylint: disable=consider-using-with (lives on)
            ["bash", "--noprofile", "--norc"],
            cwd=self.workspace,
            env=self.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )

    def local(self, text: str) -> str:
        """The command on free loopback ports: each documented port replaced by its own."""
        for port, free in self.ports.items():
            text = re.sub(rf"(?<![\d.]){port}(?!\d)", free, text)
        return text.replace("0.0.0.0", "127.0.0.1")  # noqa: S104 (replaced, not bound)

    def run(self, text: str) -> tuple[int, str, str]:
        """Run ``text`` in the session, as typed at its prompt; (status, stdout, stderr)."""
        assert self.bash is not None
        assert self.bash.stdin is not None
        self.count += 1
        out, err, status = (self.state / f"{kind}.{self.count}" for kind in ("out", "err", "rc"))
        self.bash.stdin.write(f"{{ {text}\n}} > {out} 2> {err} < /dev/null; echo $? > {status}\n")
        self.bash.stdin.flush()
        deadline = time.monotonic() + COMMAND_SECONDS
        while not status.exists() or not status.read_text("utf-8").strip():
            assert self.bash.poll() is None, f"the shell ended at: {text}"
            assert time.monotonic() < deadline, f"still running after {COMMAND_SECONDS} s: {text}"
            time.sleep(0.1)
        return (
            int(status.read_text("utf-8")),
            out.read_text("utf-8", errors="replace"),
            err.read_text("utf-8"),
        )

    def serve(self, text: str, url: str) -> list[str]:
        """Start a serving command as the shell would, and wait until ``url`` answers.

        One that serves the same address is stopped first, as a reader would stop it.
        """
        port = urlsplit(url).port
        problems = [
            problem
            for served in self.served
            if urlsplit(served.url).port == port and (problem := served.stop())
        ]
        self.served = [served for served in self.served if urlsplit(served.url).port != port]
        status, env, _ = self.run("env -0")
        assert status == 0
        cwd = self.run("pwd")[1].strip()
        variables = dict(item.split("=", 1) for item in env.split("\0") if "=" in item)
        log = self.state / f"served.{self.count}"
        with log.open("wb") as output:
            process = subprocess.Popen(  # pylint: disable=consider-using-with (lives on)
                ["bash", "-c", text],
                cwd=cwd,
                env=variables,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: Ctrl-C reaches it all
            )
        self.served.append(Served(text, url, process, log))
        deadline = time.monotonic() + SERVE_SECONDS
        while not _answers(url):
            assert process.poll() is None, (
                f"{text} ended: {log.read_text('utf-8', errors='replace')}"
            )
            assert time.monotonic() < deadline, f"{url} did not answer: {text}"
            time.sleep(0.3)
        return problems

    def close(self) -> list[str]:
        """Ctrl-C to every served command; the ones that did not exit 0, with their logs."""
        failed = [problem for served in self.served if (problem := served.stop())]
        if self.bash is not None:
            assert self.bash.stdin is not None
            self.bash.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.bash.wait(timeout=30)
            # Background jobs a page started (`command &`) are in the shell's process group.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.bash.pid, signal.SIGTERM)
            if self.bash.poll() is None:
                self.bash.kill()
            self.bash.wait(timeout=30)
        return failed


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (a loopback http URL)
            return True
    except urllib.error.HTTPError:
        return True  # an answer all the same (a 404 at /, say)
    except (urllib.error.URLError, OSError):
        return False


def matches(expected: str, output: str) -> bool:
    """A console block's output, ``...`` standing for any text (lines included)."""
    pattern = ".*?".join(re.escape(part) for part in expected.split("..."))
    return re.fullmatch(pattern, output.rstrip("\n"), re.DOTALL) is not None


@pytest.fixture(name="workspace", scope="module")
def workspace_fixture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One copy of the project for every page, with its own environment (``make install``)."""
    project = copy_project(tmp_path_factory.mktemp("documented") / "project")
    installed = run_make("install", project=project, env={"VIRTUAL_ENV": ""}, timeout=900)
    assert installed.returncode == 0, installed.stderr[-3000:]
    return project


def session_env(workspace: Path) -> dict[str, str]:
    """The reader's shell: the project's .venv active, nothing pointing at this checkout."""
    venv = workspace / ".venv"
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("PYTEST_", "SAMPLEPROJECT_", "MLFLOW_", "COV_"))
        and name not in {"VIRTUAL_ENV", "PYTHONPATH", "DOCS_VENDOR_DIR"}
    }
    path = [entry for entry in env.get("PATH", "").split(os.pathsep) if "/.venv/" not in entry]
    return {**env, "VIRTUAL_ENV": str(venv), "PATH": os.pathsep.join([f"{venv}/bin", *path])}


def runnable_pages() -> list[Path]:
    """The pages with a command that the docs test runs itself."""
    return [page for page in pages() if any(to_run(block) for block in blocks(page))]


@pytest.mark.slow
@pytest.mark.parametrize("page", runnable_pages(), ids=lambda page: page.name)
def test_the_commands_of_the_page_run_as_written(workspace: Path, page: Path) -> None:
    ports = {port: str(free_port()) for port in PORTS}
    env = session_env(workspace)
    env |= {"SAMPLEPROJECT_PORT": ports["8000"], "DOCS_ADDR": f"127.0.0.1:{ports['8000']}"}
    session = Session(workspace, env, ports)
    problems: list[str] = []
    try:
        for block in blocks(page):
            for command in to_run(block):
                problems += _run_one(session, block, command)
                if problems:
                    return
    finally:
        problems += session.close()
        assert not problems, "\n\n".join(problems)


def _run_one(session: Session, block: Block, command: Command) -> list[str]:
    text = session.local(command.text)
    if command.serves:
        return session.serve(text, session.local(command.serves))
    status, out, err = session.run(text)
    where = f"{block.where}: {command.text}"
    if status != 0:
        return [f"{where}\nexit {status}\n{out[-2000:]}\n{err[-3000:]}"]
    expected = command.prints
    if expected is not None and out != f"{session.local(expected)}\n":
        return [f"{where}\nprinted {out!r}, the page says {expected!r}"]
    if command.output is not None and not matches(session.local(command.output), out):
        return [f"{where}\nprinted:\n{out[-3000:]}\nthe page shows:\n{command.output}"]
    return []


def iter_commands() -> Iterator[tuple[Block, Command]]:
    """Every command of every page (for the summary below)."""
    for block in all_blocks():
        for command in block.commands:
            yield block, command


def test_every_command_is_run_or_marked_with_its_reason() -> None:
    """The goal of issue 24, counted: run here, run by a named runner, or skipped with why."""
    tally = {"here": 0, "runner": 0, "skipped": 0}
    for block, command in iter_commands():
        if command in to_run(block):
            tally["here"] += 1
        elif command.text in covered(block):
            tally["runner"] += 1
        else:
            assert block.skip_rest or command.text in block.skipped, (block.where, command)
            tally["skipped"] += 1
    assert tally["here"] > 30, tally
