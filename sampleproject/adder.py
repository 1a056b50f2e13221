"""Exact addition of two numbers written as text.

Why :class:`decimal.Decimal` and not ``float`` or ``int``: floats round (``0.1 + 0.2`` is
``0.30000000000000004``) and ``int`` refuses decimals and, since Python 3.11, strings of more
than 4300 digits. Decimal arithmetic is exact when the precision is large enough to hold
every digit of the sum, which :func:`add` arranges.
"""

from __future__ import annotations

from decimal import Decimal, Inexact, InvalidOperation, localcontext

# The widest number (digits before and after the point) that we read or write. A sum this
# wide is still printed in well under a second; wider ones would be unreadable and let a
# short input such as ``1e999999999`` ask for gigabytes of output.
MAX_DIGITS = 1_000_000


class InvalidNumberError(ValueError):
    """The text is not a finite number of at most :data:`MAX_DIGITS` digits."""


def parse_number(text: str) -> Decimal:
    """Read ``text`` as an exact decimal number (``45``, ``-5``, ``0.1``, ``1e3``, ``1_000``)."""
    stripped = text.strip()
    if not stripped:
        raise InvalidNumberError("an empty string is not a number")
    try:
        value = Decimal(stripped)
    except InvalidOperation:
        raise InvalidNumberError(f"{_shorten(text)!r} is not a number") from None
    if not value.is_finite():
        raise InvalidNumberError(f"{_shorten(text)!r} is not a finite number")
    if _width(value) > MAX_DIGITS:
        raise InvalidNumberError(
            f"{_shorten(text)!r} is too large: at most {MAX_DIGITS:,} digits are supported"
        )
    return value


def add(x: Decimal, y: Decimal) -> Decimal:
    """Return ``x + y`` exactly (no rounding, whatever the size of either number)."""
    highest = max(x.adjusted(), y.adjusted()) + 1  # one more place for a carry
    lowest = min(_exponent(x), _exponent(y))
    with localcontext() as context:
        context.prec = highest - lowest + 1
        context.Emax = max(context.Emax, highest + 1)
        context.Emin = min(context.Emin, lowest - 1)
        context.traps[Inexact] = True  # a bug in the precision above must fail loudly
        total = x + y
    # -0 + -0 is -0 in decimal arithmetic; nobody wants to read "-0" as a sum.
    return total.copy_abs() if total.is_zero() else total


def add_texts(x: str, y: str) -> str:
    """The exact sum of two numbers given as text, as text: ``"45", "46"`` gives ``"91"``."""
    return format_number(add(parse_number(x), parse_number(y)))


def format_number(value: Decimal) -> str:
    """Write ``value`` in plain positional notation (``1E+3`` becomes ``1000``)."""
    return format(value, "f")


def _exponent(value: Decimal) -> int:
    # An int for finite numbers, the only kind parse_number lets through.
    return int(value.as_tuple().exponent)


def _width(value: Decimal) -> int:
    """Digits needed to write ``value`` in positional notation."""
    return max(value.adjusted(), 0) + 1 - min(_exponent(value), 0)


def _shorten(text: str, limit: int = 40) -> str:
    """Keep error messages on one readable line even for a 100 000-character argument."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"
