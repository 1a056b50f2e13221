"""The local cache of fetched model versions, so that a restart works while the server is down.

``CACHE/NAME/versions/N/`` holds version N's files, ``CACHE/NAME/aliases/A`` the version that
alias A pointed at when last resolved. Every path is built from a checked name, version and
alias (:mod:`.model_ref`), so nothing outside ``CACHE/NAME`` is ever read, written or removed.

The cache is an optimisation with one promise, that a version's folder is complete or absent.
So its faults are one line each: a version that cannot be stored is a
:class:`~.model_ref.RegistryError` (the model cannot be used); an alias that cannot be
recorded is a warning (the model can, but a restart without the server will not know it).
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

from sampleproject.inference.location import METADATA_FILE
from sampleproject.inference.model_ref import (
    RegistryError,
    plain_alias,
    plain_name,
    plain_version,
)

logger = logging.getLogger("sampleproject.registry")


class ModelCache:
    """One registered model's versions and aliases, under ``cache_dir``."""

    def __init__(self, cache_dir: Path, name: str) -> None:
        self.root = cache_dir / plain_name(name)

    def folder(self, version: str) -> Path:
        """Where version ``version``'s files are."""
        return self.root / "versions" / plain_version(version)

    def has(self, version: str) -> bool:
        """Whether version ``version`` is cached."""
        return (self.folder(version) / METADATA_FILE).is_file()

    def recorded_sha256(self, version: str) -> object:
        """The ``model_sha256`` of the cached ``zoo.json``; None when unreadable."""
        try:
            found = json.loads((self.folder(version) / METADATA_FILE).read_bytes())
        except (OSError, ValueError):
            return None
        return found.get("model_sha256") if isinstance(found, dict) else None

    def alias(self, alias: str) -> str | None:
        """The version ``alias`` pointed at when last resolved, or None."""
        try:
            found = (self.root / "aliases" / plain_alias(alias)).read_text(encoding="utf-8")
            return plain_version(found.strip())
        except (OSError, ValueError, RegistryError):
            return None

    def store(self, version: str, download: Callable[[Path], None]) -> None:
        """Fill a temporary folder with ``download(folder)``, then rename it into place.

        A version's files never change, so a complete folder is never replaced: another
        process that stored the same version first wins, and ours is dropped.
        """
        from sampleproject.atomic import staging_folder

        versions, final = self.root / "versions", self.folder(version)
        try:
            versions.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise RegistryError(
                f"cannot create the model cache {versions}: {error.strerror}"
            ) from None
        try:
            with staging_folder(versions, prefix=f".{version}-") as staging:
                download(staging)
                self._move_into_place(staging, final)
        except OSError as error:
            if not self.has(version):
                raise RegistryError(
                    f"cannot store version {version} in the model cache {versions}: "
                    f"{error.strerror or error}"
                ) from None

    def _move_into_place(self, staging: Path, final: Path) -> None:
        try:
            staging.rename(final)
        except OSError:
            if self.has(final.name) or not final.is_dir() or final.is_symlink():
                raise  # stored meanwhile by another process, or not ours to remove
            # An incomplete folder (no zoo.json: not one of ours, which are renamed whole).
            shutil.rmtree(final)
            staging.rename(final)

    def drop(self, version: str) -> None:
        """Remove version ``version`` (damaged: fetch it again next time)."""
        shutil.rmtree(self.folder(version), ignore_errors=True)

    def remember_alias(self, alias: str, version: str) -> None:
        """Record that ``alias`` points at ``version`` (for a restart without the server)."""
        from sampleproject.atomic import atomic_write

        aliases = self.root / "aliases"
        try:
            aliases.mkdir(parents=True, exist_ok=True)
            with atomic_write(aliases / plain_alias(alias)) as file:
                file.write(f"{plain_version(version)}\n")
        except OSError as error:
            logger.warning(
                "cannot record in the model cache that %s is version %s (%s: %s): a restart "
                "while the tracking server is down would not know it",
                alias,
                version,
                aliases,
                error.strerror or error,
            )
