"""The exact adder: parsing, addition and formatting."""

from decimal import Decimal

import pytest

from sampleproject import adder


@pytest.mark.parametrize(
    ("x", "y", "expected"),
    [
        ("45", "46", "91"),
        ("99999999999999999999", "1", "100000000000000000000"),
        ("-5", "3", "-2"),
        ("0.1", "0.2", "0.3"),
        ("1e3", "1", "1001"),
        ("1_000", "1", "1001"),
        ("-0", "-0", "0"),
        ("1.50", "1", "2.50"),
        ("1e-30", "1e30", "1000000000000000000000000000000.000000000000000000000000000001"),
        (" 7 ", "8", "15"),
    ],
)
def test_sums_are_exact(x: str, y: str, expected: str) -> None:
    total = adder.add(adder.parse_number(x), adder.parse_number(y))
    assert adder.format_number(total) == expected


def test_a_100000_digit_number_is_added_exactly() -> None:
    big = "9" * 100_000
    total = adder.format_number(adder.add(adder.parse_number(big), adder.parse_number("1")))
    assert total == "1" + "0" * 100_000


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("abc", "is not a number"),
        ("", "empty string"),
        ("   ", "empty string"),
        ("nan", "not a finite number"),
        ("inf", "not a finite number"),
        ("-Infinity", "not a finite number"),
        ("1,5", "is not a number"),
        ("0x10", "is not a number"),
        ("1e999999999", "too large"),
        ("1e-999999999", "too large"),
        ("9" * (adder.MAX_DIGITS + 1), "too large"),
    ],
)
def test_bad_numbers_are_refused(text: str, message: str) -> None:
    with pytest.raises(adder.InvalidNumberError, match=message):
        adder.parse_number(text)


def test_long_input_is_shortened_in_messages() -> None:
    with pytest.raises(adder.InvalidNumberError) as caught:
        adder.parse_number("x" * 1000)
    assert len(str(caught.value)) < 100
    assert "1,000 characters" in str(caught.value)


def test_numbers_are_decimals() -> None:
    assert adder.parse_number("0.1") == Decimal("0.1")
