"""The Zoo data's schema: one declaration shared by training, ``predict`` and the HTTP API.

The columns and their domains come from the UCI Zoo data set (see sampleproject/data/).
Validation is pydantic's: an :class:`Animal` accepts only the declared columns, 0/1 flags and
a leg count from the data's domain, so a bad row is rejected with the field that is wrong.
"""

from __future__ import annotations

import operator
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

# The columns and their domains live in a module without pydantic (see there); __all__ re-exports.
from sampleproject.features import (
    BOOLEAN_FEATURES,
    CLASS_NAMES,
    DATA_COLUMNS,
    FEATURE_VALUES,
    FEATURES,
    FLAG_VALUES,
    LEG_COUNTS,
    NAME_COLUMN,
    TARGET_COLUMN,
    TRAILING_BOOLEAN_FEATURES,
)


def _check_legs(value: int) -> int:
    if value not in LEG_COUNTS:
        raise ValueError(f"legs must be one of {', '.join(map(str, LEG_COUNTS))}")
    return value


def _check_class_code(value: int) -> int:
    if value not in CLASS_NAMES:
        raise ValueError(f"type must be one of {', '.join(map(str, CLASS_NAMES))}")
    return value


def _refuse_text(value: object) -> object:
    if isinstance(value, str | bytes):
        raise ValueError("Input should be a valid integer, not text")
    return value


def _refuse_text_and_booleans(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError("Input should be a valid integer, not a boolean")
    return _refuse_text(value)


# What the JSON schema (and so the API's OpenAPI document) states, exactly.
_FLAG_SCHEMA = WithJsonSchema({"anyOf": [{"type": "integer", "enum": [0, 1]}, {"type": "boolean"}]})
_LEGS_SCHEMA = WithJsonSchema({"type": "integer", "enum": list(LEG_COUNTS)})

# Lax integers: "1" (CSV), 1 (JSON) and true (JSON) are all accepted; 2 or "yes" are not.
Flag = Annotated[int, Field(ge=0, le=1), _FLAG_SCHEMA]
Legs = Annotated[int, AfterValidator(_check_legs), _LEGS_SCHEMA]
# JSON values only, as the OpenAPI document states them: numbers (1 or 1.0) and, for flags,
# booleans; not the text "1", which a CSV file holds and a JSON client has no reason to send.
JsonFlag = Annotated[int, Field(ge=0, le=1), BeforeValidator(_refuse_text), _FLAG_SCHEMA]
JsonLegs = Annotated[
    int, AfterValidator(_check_legs), BeforeValidator(_refuse_text_and_booleans), _LEGS_SCHEMA
]
ClassCode = Annotated[int, AfterValidator(_check_class_code)]


class Animal(BaseModel):
    """One animal's features. Flags are 0/1 (``true``/``false`` also accepted); legs as counted."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hair: Flag = 0
    feathers: Flag = 0
    eggs: Flag = 0
    milk: Flag = 0
    airborne: Flag = 0
    aquatic: Flag = 0
    predator: Flag = 0
    toothed: Flag = 0
    backbone: Flag = 0
    breathes: Flag = 0
    venomous: Flag = 0
    fins: Flag = 0
    legs: Legs
    tail: Flag = 0
    domestic: Flag = 0
    catsize: Flag = 0

    def as_row(self) -> tuple[int, ...]:
        """The features in model order."""
        return _features_of(self)


# One C call per animal instead of 16 getattr (half the time of building a batch's array).
_features_of = operator.attrgetter(*FEATURES)


class LabelledAnimal(Animal):
    """A row of the training data: a named animal with its class code."""

    animal_name: str
    type: ClassCode  # a lax int as the flags are: the CSV gives "1", not 1


__all__ = [
    "BOOLEAN_FEATURES",
    "CLASS_NAMES",
    "DATA_COLUMNS",
    "FEATURES",
    "FEATURE_VALUES",
    "FLAG_VALUES",
    "LEG_COUNTS",
    "NAME_COLUMN",
    "TARGET_COLUMN",
    "TRAILING_BOOLEAN_FEATURES",
    "Animal",
    "JsonFlag",
    "JsonLegs",
    "LabelledAnimal",
]
