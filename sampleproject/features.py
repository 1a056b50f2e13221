"""The Zoo data's columns and their domains, without pydantic (fast to import).

:mod:`sampleproject.schema` validates rows against them; the one-animal ``predict`` and the
batch path's NumPy checks need only these constants.
"""

from __future__ import annotations

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
