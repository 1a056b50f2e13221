"""The Zoo data's schema: one declaration shared by training, ``predict`` and the HTTP API.

The columns and their domains come from the UCI Zoo data set (see sampleproject/data/).
Validation is pydantic's: an :class:`Animal` accepts only the declared columns, 0/1 flags and
a leg count from the data's domain, so a bad row is rejected with the field that is wrong.
"""

from __future__ import annotations

import operator
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

# The 16 model inputs, in the order the model expects them.
BOOLEAN_FEATURES: tuple[str, ...] = (
    "hair",
    "feathers",
    "eggs",
    "milk",
    "airborne",
    "aquatic",
    "predator",
    "toothed",
    "backbone",
    "breathes",
    "venomous",
    "fins",
)
TRAILING_BOOLEAN_FEATURES: tuple[str, ...] = ("tail", "domestic", "catsize")
FEATURES: tuple[str, ...] = (*BOOLEAN_FEATURES, "legs", *TRAILING_BOOLEAN_FEATURES)
LEG_COUNTS: tuple[int, ...] = (0, 2, 4, 5, 6, 8)
FLAG_VALUES: tuple[int, ...] = (0, 1)
# Every value each feature can take (the domains that drift is measured over).
FEATURE_VALUES: dict[str, tuple[int, ...]] = {
    name: LEG_COUNTS if name == "legs" else FLAG_VALUES for name in FEATURES
}

# Class codes of the data set's last column and their names.
CLASS_NAMES: dict[int, str] = {
    1: "mammal",
    2: "bird",
    3: "reptile",
    4: "fish",
    5: "amphibian",
    6: "bug",
    7: "invertebrate",
}
NAME_COLUMN = "animal_name"
TARGET_COLUMN = "type"
DATA_COLUMNS: tuple[str, ...] = (NAME_COLUMN, *FEATURES, TARGET_COLUMN)


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
