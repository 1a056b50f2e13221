"""Whole-chunk checks with NumPy: the batch path's common case, without a Python object per row.

Each function returns the chunk's features (``[n, 16]`` float32), or None when it is not sure:
then the caller validates the chunk with pydantic, which gives the same values for what is
valid and the error message for what is not. What passes here is a subset of what pydantic
accepts (every value written as exactly one allowed digit), so answers cannot differ.
:func:`validated_features` gives the same array from pydantic's animals.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from sampleproject import schema

Features = npt.NDArray[np.float32]

_ZERO, _COMMA = ord("0"), ord(",")
# _ALLOWED[j, c]: ASCII code c is a valid one-digit value of feature j.
_ALLOWED = np.zeros((len(schema.FEATURES), 128), dtype=bool)
for _j, _name in enumerate(schema.FEATURES):
    _ALLOWED[_j, [_ZERO + value for value in schema.FEATURE_VALUES[_name]]] = True
# Characters a JSON string holds only escaped: a name with one takes the pydantic path.
_JSON_ESCAPED = re.compile(r'["\\\x00-\x1f]')
_JSON_WHITESPACE = " \t\r\n"


def _checked_digits(codes: npt.NDArray[np.uint8], columns: npt.NDArray[np.intp]) -> Features | None:
    """``codes`` ``[n, k]`` ASCII digits of features ``columns``: their values, if all allowed."""
    if not _ALLOWED[columns, codes].all():
        return None
    features = np.zeros((len(codes), len(schema.FEATURES)), dtype=np.float32)
    features[:, columns] = codes - _ZERO
    return features


_ALL_COLUMNS = np.arange(len(schema.FEATURES))


def validated_features(animals: Sequence[schema.Animal]) -> Features:
    """The features of animals pydantic validated, ``[n, 16]`` in model order."""
    return np.array(list(map(schema.Animal.as_row, animals)), dtype=np.float32)


def csv_features(rows: list[list[str]], positions: tuple[int, ...]) -> Features | None:
    """The features of CSV ``rows`` (fields at ``positions``, in model order), if all are digits.

    The fields are joined with commas into one string: it has a digit at every even and a
    comma at every odd position exactly when every field is one character long.
    """
    text = ",".join(chain.from_iterable(map(itemgetter(*positions), rows)))
    width = 2 * len(schema.FEATURES)
    if len(text) != width * len(rows) - 1 or not text.isascii():
        return None
    codes = np.frombuffer((text + ",").encode("ascii"), dtype=np.uint8).reshape(len(rows), -1, 2)
    if not (codes[:, :, 1] == _COMMA).all():
        return None
    return _checked_digits(codes[:, :, 0], _ALL_COLUMNS)


@dataclass(frozen=True)
class JsonLayout:
    """The exact text of a JSON Lines row, with one digit per feature and the name left open.

    ``fixed`` is the row's text without its name (the part before it, then the part after it,
    ``head`` characters long); ``slots`` are the positions of the values in it.
    """

    fixed: bytes
    head: int
    slots: npt.NDArray[np.intp]  # positions of the values in ``fixed``
    columns: npt.NDArray[np.intp]  # the feature of each slot
    named: bool

    @classmethod
    def of(cls, line: str, ignore: frozenset[str]) -> JsonLayout | None:
        """The layout of ``line`` if it is a plain row (one-digit values, a plain name)."""
        text = line.rstrip(_JSON_WHITESPACE)
        try:
            record = json.loads(text)
        except ValueError:
            return None
        if not isinstance(record, dict) or not _plain(record, ignore):
            return None
        for separators in ((", ", ": "), (",", ":")):
            layout = cls._build(list(record), *separators)
            if layout.fill(record) == text:
                return layout
        return None

    @classmethod
    def _build(cls, keys: list[str], item: str, key: str) -> JsonLayout:
        parts, slots, columns, head = ["{"], [], [], -1
        for index, name in enumerate(keys):
            parts.append(f"{item if index else ''}{json.dumps(name)}{key}")
            if name == schema.NAME_COLUMN:
                parts.append('"')
                head = len("".join(parts))
                parts.append('"')
            else:
                slots.append(len("".join(parts)))
                columns.append(schema.FEATURES.index(name))
                parts.append("0")
        fixed = "".join(parts) + "}"
        return cls(
            fixed.encode("ascii"),
            len(fixed) if head < 0 else head,
            np.array(slots, dtype=np.intp),
            np.array(columns, dtype=np.intp),
            head >= 0,
        )

    def fill(self, record: dict[str, Any]) -> str:
        """The text of ``record`` in this layout (to check the layout against its line)."""
        chars = bytearray(self.fixed)
        for slot, column in zip(self.slots.tolist(), self.columns.tolist(), strict=True):
            chars[slot] = _ZERO + record[schema.FEATURES[column]]
        text = chars.decode("ascii")
        name: str = record.get(schema.NAME_COLUMN, "")
        return text[: self.head] + name + text[self.head :]

    def parse(self, lines: list[str]) -> tuple[list[str | None], Features] | None:
        """The names and features of ``lines`` if every one is in this layout, else None."""
        texts = [line.rstrip(_JSON_WHITESPACE) for line in lines]
        head, tail = self.head, len(self.fixed) - self.head
        fixed = "".join([text[:head] + text[len(text) - tail :] for text in texts])
        names: list[str | None] = []
        if self.named:
            names = [text[head : len(text) - tail] for text in texts]
        # Equal lengths: no row is shorter than the layout (its two parts would overlap).
        total = len(fixed) + sum(map(len, cast("list[str]", names)))
        if len(fixed) != len(self.fixed) * len(texts) or total != sum(map(len, texts)):
            return None
        if not fixed.isascii() or _JSON_ESCAPED.search("".join(cast("list[str]", names))):
            return None
        codes = np.frombuffer(fixed.encode("ascii"), dtype=np.uint8).reshape(len(texts), -1)
        features = self.features(codes)
        if features is None:
            return None
        return (names if self.named else [None] * len(texts)), features

    def features(self, codes: npt.NDArray[np.uint8]) -> Features | None:
        """The features of rows ``codes`` (``[n, len(fixed)]`` bytes, names left out), if each
        is this layout's text with allowed digits in its slots."""
        # The layout's text has a 0 in every slot: so must the rows, once their digits are 0.
        blanked = codes.copy()
        blanked[:, self.slots] = _ZERO
        if blanked.tobytes() != self.fixed * len(codes):
            return None
        return _checked_digits(codes[:, self.slots], self.columns)


# What may separate the objects of an array body: json.dumps' default, and compact JSON.
_ARRAY_SEPARATORS = (b", ", b",")
_NO_NAME = frozenset((schema.NAME_COLUMN,))


def array_features(body: bytes, max_rows: int) -> Features | None:
    """The features of a JSON array of at most ``max_rows`` animals, if every one is written
    in the same layout as the first (a JSON Lines row without a name), one after the other.

    Every object then has the same length, so the body, without its brackets, is one
    ``[n, object + separator]`` array of bytes, checked against the layout in one pass.
    """
    if not (body.startswith(b"[{") and body.endswith(b"}]")) or not body.isascii():
        return None
    end = body.index(b"}") + 1  # the first object's end: plain objects hold no braces
    layout = JsonLayout.of(body[1:end].decode("ascii"), _NO_NAME)
    if layout is None:
        return None
    following = body.find(b"{", end)
    separator = b"" if following < 0 else body[end:following]
    if following >= 0 and separator not in _ARRAY_SEPARATORS:
        return None
    width = len(layout.fixed) + len(separator)
    rows, extra = divmod(len(body) - 2 + len(separator), width)
    if extra or not 1 <= rows <= max_rows:
        return None
    codes = np.frombuffer(body[1:-1] + separator, dtype=np.uint8).reshape(rows, width)
    objects, separators = codes[:, : len(layout.fixed)], codes[:, len(layout.fixed) :]
    if not (separators == np.frombuffer(separator, dtype=np.uint8)).all():
        return None
    return layout.features(objects)


def _plain(record: dict[str, Any], ignore: frozenset[str]) -> bool:
    """Whether ``record`` has legs, only known keys (none ignored) and plain values."""
    if "legs" not in record:
        return False
    for name, value in record.items():
        if name in ignore:
            return False
        if name == schema.NAME_COLUMN:
            if not isinstance(value, str) or _JSON_ESCAPED.search(value):
                return False
        elif not _is_int(value) or value not in schema.FEATURE_VALUES.get(name, ()):
            return False
    return True


def _is_int(value: object) -> bool:
    """An int, not a bool (True is 1) nor a float (1.0 == 1): the one-digit spelling."""
    return isinstance(value, int) and not isinstance(value, bool)
