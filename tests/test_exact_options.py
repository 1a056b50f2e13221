"""Options match exactly: a prefix of an option is an unknown option, in every command."""

from __future__ import annotations

import pytest

from tests.test_cli import run


@pytest.mark.parametrize(
    ("argv", "unknown"),
    [
        (["predict", "--input", "x.csv"], "--input"),  # not --input-format
        (["predict", "x.csv", "--model-d", "X"], "--model-d"),  # not --model-dir
        (["predict", "--leg", "4"], "--leg"),  # not --legs
        (["predict", "x.csv", "--out", "y.csv"], "--out"),  # not --output(-format)
        (["serve", "--max-body", "10"], "--max-body"),  # not --max-body-bytes
        (["train", "--exp"], "--exp"),  # not --experiment
        (["--verb", "1", "2"], "--verb"),  # the adder: not --verbose
    ],
)
def test_a_prefix_of_an_option_is_a_usage_error_not_that_option(
    capsys: pytest.CaptureFixture[str], argv: list[str], unknown: str
) -> None:
    status, out, err = run(capsys, *argv)
    assert status == 2
    assert out == ""
    assert len(err.splitlines()) == 1
    assert f"unrecognized arguments: {unknown}" in err
    assert "Traceback" not in err


def test_the_full_option_names_still_work(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "predict", "--legs", "4", "--hair", "--milk")
    assert status == 0
    assert out.startswith("mammal ")
