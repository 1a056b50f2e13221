"""The ``sampleproject`` command as a user calls it (in-process, so coverage counts it)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sampleproject import __version__
from sampleproject.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the CLI like the shell would, returning (status, stdout, stderr)."""
    try:
        status = main(list(argv))
    except SystemExit as exit_:  # argparse exits for --help, --version and usage errors
        status = int(exit_.code or 0)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["45", "46"], "91"),
        (["-5", "3"], "-2"),
        (["--", "-5", "3"], "-2"),
        (["3", "-5"], "-2"),
        (["-0.5", "0.25"], "-0.25"),
        (["--", "-1e3", "1"], "-999"),
        (["-1e3", "1"], "-999"),
        ([" 7 ", "8"], "15"),
        (["0.1", "0.2"], "0.3"),
        (["99999999999999999999", "1"], "100000000000000000000"),
    ],
)
def test_adds_two_numbers(
    capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    status, out, err = run(capsys, *argv)
    assert (status, out, err) == (0, f"{expected}\n", "")


@pytest.mark.parametrize(
    "argv",
    [
        ["abc", "1"],
        ["1"],
        ["1", "2", "3"],
        ["nan", "1"],
        ["inf", "1"],
        ["", "1"],
        [],
        ["1", "--bogus"],
    ],
)
def test_bad_input_is_one_line_and_status_2(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    status, out, err = run(capsys, *argv)
    assert status == 2
    assert out == ""
    assert len(err.splitlines()) == 1
    assert err.startswith("sampleproject: error: ")
    assert "Traceback" not in err


def test_a_100000_digit_number(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "9" * 100_000, "1")
    assert status == 0
    assert out == "1" + "0" * 100_000 + "\n"


def test_help_explains_numbers_and_commands(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "--help")
    assert status == 0
    for word in ("X Y", "--version", "--verbose", "train", "predict", "serve"):
        assert word in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "--version")
    assert (status, out) == (0, f"sampleproject {__version__}\n")


def test_verbose_logs_host_inputs_and_result(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "-v", "45", "46")
    assert (status, out) == (0, "91\n")
    assert "host " in err
    assert "'45', '46'" in err
    assert "inputs 45 and 46, result 91" in err


def test_an_application_error_is_one_line_with_its_status(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from sampleproject import cli
    from sampleproject.errors import SampleProjectError

    def fail(_argv: list[str]) -> int:
        raise SampleProjectError("the model is damaged")

    monkeypatch.setattr(cli, "_add_two_numbers", fail)
    status, out, err = run(capsys, "1", "2")
    assert (status, out, err) == (1, "", "sampleproject: error: the model is damaged\n")


@pytest.mark.parametrize(("exception", "status"), [(KeyboardInterrupt, 130), (BrokenPipeError, 0)])
def test_interrupts_and_closed_pipes_end_quietly(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    exception: type[BaseException],
    status: int,
) -> None:
    from sampleproject import cli

    def interrupted(_argv: list[str]) -> int:
        raise exception

    monkeypatch.setattr(cli, "_add_two_numbers", interrupted)
    # After a broken pipe main() points file descriptor 1 at /dev/null; keep ours open.
    monkeypatch.setattr(cli, "_silence_stdout", lambda: None)
    assert run(capsys, "1", "2")[0] == status


def test_the_adder_imports_nothing_heavy() -> None:
    """``sampleproject 45 46`` must not load the ML or web stack (start-up time)."""
    code = (
        "import sys; from sampleproject.cli import main; main(['45', '46']); "
        "heavy = {'numpy', 'onnxruntime', 'sklearn', 'mlflow', 'fastapi', 'uvicorn', 'pydantic',"
        " 'logging', 'sampleproject.schema', 'argparse'}; print(sorted(heavy & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout == "91\n[]\n"


def test_python_dash_m_is_the_same_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sampleproject", "45", "46"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "91\n", "")
