"""Each failure the README promises as one line with its exit status, and the one table of them.

The statuses are documented once, in docs/index.md's "Exit status" table, which the README
links to; these tests run the cases the table names as a user would (the real command, its
stderr and status, in this process) and check the table itself.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sampleproject import cli
from sampleproject.inference.location import train_hint
from tests.conftest import BIN, ROOT

TABLE_PAGE = ROOT / "docs" / "index.md"


@dataclass(frozen=True)
class Result:
    """What a run of the command line returned and printed."""

    returncode: int
    stdout: str
    stderr: str


@pytest.fixture(autouse=True)
def _environment_kept() -> Iterator[None]:
    """`serve` hands its settings to its workers through os.environ: restore it after."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(name="sampleproject")
def sampleproject_fixture(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Result]:
    """``sampleproject ARGS`` in this process (the same code as the console script)."""

    def run(*args: str, cwd: Path = ROOT) -> Result:
        monkeypatch.chdir(cwd)
        capsys.readouterr()
        try:
            status = cli.main(list(args))
        except SystemExit as stopped:  # argparse's errors
            status = int(stopped.code or 0)
        out, err = capsys.readouterr()
        return Result(status, out, err)

    return run


def one_line(result: Result) -> str:
    """The single line on stderr (the test fails on more, or on a traceback)."""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_an_unknown_option_is_named(sampleproject: Callable[..., Result]) -> None:
    result = sampleproject("--frobnicate")
    assert result.returncode == 2
    assert one_line(result) == (
        "sampleproject: error: unrecognized arguments: --frobnicate (see 'sampleproject --help')"
    )


@pytest.mark.parametrize(("argv", "missing"), [((), "X, Y"), (("45",), "Y")])
def test_missing_numbers_are_still_named(
    sampleproject: Callable[..., Result], argv: tuple[str, ...], missing: str
) -> None:
    result = sampleproject(*argv)
    assert result.returncode == 2
    assert f"the following arguments are required: {missing} " in one_line(result)


def test_serve_on_a_busy_port_says_so_in_one_line_with_status_2(
    sampleproject: Callable[..., Result],
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for workers in ("1", "2"):
            result = sampleproject("serve", "--port", str(port), "--workers", workers)
            assert result.returncode == 2, result.stderr
            assert one_line(result) == (
                f"sampleproject: error: cannot listen on 127.0.0.1:{port}: "
                "address already in use (see --host, --port)"
            )


def test_serve_on_an_unknown_host_says_so_in_one_line_with_status_2(
    sampleproject: Callable[..., Result],
) -> None:
    result = sampleproject("serve", "--host", "no-such-host.invalid", "--port", "0")
    assert result.returncode == 2
    line = one_line(result)
    assert line.startswith("sampleproject: error: cannot listen on no-such-host.invalid:0: ")
    assert "unknown host" in line


def test_train_with_an_unknown_tracking_scheme_says_so_in_one_line(
    sampleproject: Callable[..., Result], tmp_path: Path
) -> None:
    output = tmp_path / "model"
    result = sampleproject(
        "train", "--tracking-uri", "bogus://x", "--output-dir", str(output), cwd=tmp_path
    )
    assert result.returncode == 2
    assert one_line(result) == (
        "sampleproject: error: MLflow cannot track to bogus://x: unknown scheme 'bogus' "
        "(use a server's http(s):// URL, sqlite:///FILE or a folder)"
    )
    assert not output.exists()


def test_predict_on_a_csv_that_fails_has_printed_nothing_on_stdout(
    sampleproject: Callable[..., Result], tmp_path: Path
) -> None:
    header = "animal_name,hair,feathers,eggs,milk,airborne,aquatic,predator,toothed,backbone,"
    header += "breathes,venomous,fins,legs,tail,domestic,catsize\n"
    (tmp_path / "bad.csv").write_text(header + "aardvark" + ",1" * 12 + ",3" + ",1" * 3 + "\n")
    result = sampleproject("predict", "bad.csv", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (2, "")
    assert "bad.csv line 2, column legs" in one_line(result)
    # A file of a header alone is no error: its answer is the header alone.
    (tmp_path / "empty.csv").write_text(header)
    result = sampleproject("predict", "empty.csv", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (
        0,
        "animal_name,class_code,class_name,probability\n",
    )


def test_a_missing_model_names_a_fix_that_works_in_this_installation(
    sampleproject: Callable[..., Result], tmp_path: Path
) -> None:
    result = sampleproject("predict", "--legs", "4", "--model-dir", str(tmp_path))
    assert result.returncode == 1
    assert one_line(result).endswith(f"(zoo.json is missing; {train_hint()})")
    assert train_hint() == "run 'sampleproject train'"  # this environment has the training stack


def test_without_the_training_stack_the_hint_does_not_say_train(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "skl2onnx", None)  # as if not installed
    hint = train_hint()
    assert "sampleproject train" not in hint
    assert "--model-dir" in hint


def exit_table() -> dict[int, str]:
    """The "Exit status" table of docs/index.md: status -> its meaning."""
    text = TABLE_PAGE.read_text(encoding="utf-8")
    section = text.split("## Exit status", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(\d+)` \| ([^|]+) \|", section, re.MULTILINE)
    return {int(status): meaning.strip() for status, meaning in rows}


def test_the_exit_statuses_are_in_one_table_that_the_readme_links_to() -> None:
    assert set(exit_table()) == {0, 1, 2, 130, 143}
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "(docs/index.md#exit-status)" in readme
    # One source: no other page keeps a table of statuses of its own.
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        if page != TABLE_PAGE:
            assert "## Exit status" not in page.read_text(encoding="utf-8"), page


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_serve_stopped_by_ctrl_c_or_sigterm_exits_0(stop: signal.Signals) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [str(BIN / "sampleproject"), "serve", "--port", str(port)]
    with subprocess.Popen(command, stderr=subprocess.PIPE, text=True) as server:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2):
                    break
            except OSError:
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                assert time.monotonic() < deadline
                time.sleep(0.2)
        server.send_signal(stop)
        assert server.wait(timeout=60) == 0
