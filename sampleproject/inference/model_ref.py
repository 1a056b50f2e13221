"""Registry references, ``models:/NAME@ALIAS`` or ``models:/NAME/VERSION``, checked before use.

A reference's name and version, and the version the registry answers for an alias, become
folder names in the cache (``CACHE/NAME/versions/VERSION``). Each is therefore checked to be
one plain path component before any use: ``models:/../1``, or a registry answering version
``../../x``, must never make the cache read, write or delete anything outside itself. The
rules are MLflow's where it has them (an alias is letters, digits, ``_`` and ``-``; a version
is a whole number), and for a name those of a file name: MLflow already refuses ``/`` and
``:``; ``.``, ``..``, a backslash (Windows' separator) and control characters are refused too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sampleproject.errors import UsageError

_REF = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/@]+)|/(?P<version>[0-9]+))$")
# MLflow's rule for aliases (mlflow.utils.validation), and its length limit.
_ALIAS = re.compile(r"[\w-]{1,255}")
# Versions count from 1; 18 digits fit the registry's 64-bit column.
_VERSION = re.compile(r"[0-9]{1,18}")
# What a name may not hold: separators (both systems'), MLflow's ':' and control characters.
_NOT_IN_NAME = re.compile(r"[/\\:\x00-\x1f\x7f]")
_NAME_MAX_BYTES = 255  # a file name's limit on common file systems


class RegistryError(UsageError):
    """The reference cannot be resolved or its files cannot be fetched (exit status 2)."""


@dataclass(frozen=True)
class ModelRef:
    """A registered model version, by alias or by number."""

    name: str
    alias: str | None = None
    version: str | None = None

    def __str__(self) -> str:
        return (
            f"models:/{self.name}@{self.alias}"
            if self.alias
            else f"models:/{self.name}/{self.version}"
        )


def is_ref(text: str) -> bool:
    """Whether ``text`` is meant as a registry reference (``models:/...``)."""
    return text.startswith("models:/")


def parse_ref(text: str) -> ModelRef:
    """``models:/NAME@ALIAS`` or ``models:/NAME/VERSION``, else a :class:`UsageError`."""
    match = _REF.match(text)
    if match is None:
        raise UsageError(
            f"invalid model reference {text!r}: expected models:/NAME@ALIAS or models:/NAME/VERSION"
        )
    try:
        name = plain_name(match["name"])
        alias = None if match["alias"] is None else plain_alias(match["alias"])
        version = None if match["version"] is None else plain_version(match["version"])
    except RegistryError as error:
        raise UsageError(f"invalid model reference {text!r}: {error}") from None
    return ModelRef(name, alias, version)


def plain_name(name: str) -> str:
    """``name``, if it can be a folder's name; else a :class:`RegistryError`."""
    if name in (".", "..") or _NOT_IN_NAME.search(name) or not name:
        raise RegistryError(
            f"the model name {name!r} cannot be a folder name "
            "(not '.' or '..', no '/', '\\', ':' or control characters)"
        )
    if len(name.encode("utf-8", "surrogatepass")) > _NAME_MAX_BYTES:
        raise RegistryError(f"the model name is longer than {_NAME_MAX_BYTES} bytes")
    return name


def plain_alias(alias: str) -> str:
    """``alias``, if MLflow allows it (letters, digits, ``_``, ``-``); else a RegistryError."""
    if not _ALIAS.fullmatch(alias):
        raise RegistryError(
            f"the alias {alias!r} is not an MLflow alias (at most 255 letters, digits, '_' and '-')"
        )
    return alias


def plain_version(version: str) -> str:
    """``version``, if it is a version number; else a :class:`RegistryError`."""
    if not _VERSION.fullmatch(version):
        raise RegistryError(f"{version!r} is not a version number")
    return version
