"""Deploy by alias: fetch a model version from the MLflow registry, verified and cached.

``models:/zoo-classifier@champion`` (or ``models:/zoo-classifier/3``) names a registered
version, whose files are ``zoo.onnx`` and ``zoo.json`` (see ``sampleproject train``). They are
fetched with MLflow's documented REST API (standard library only: the runtime needs no MLflow
client), checked against the registry's record of the model's SHA-256, and kept in a local
cache, so that a restart still works while the tracking server is down. Whatever loads them
verifies the model's bytes against ``zoo.json`` again (:mod:`sampleproject.inference.model`).

One module a job: :mod:`.model_ref` parses and checks references (and every name that becomes
a path), :mod:`.mlflow_rest` talks to the server, :mod:`.model_cache` keeps the files; this
module ties them together.
"""

from __future__ import annotations

import logging
import os
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sampleproject.inference.mlflow_rest import RestClient, Unreachable
from sampleproject.inference.model_cache import ModelCache
from sampleproject.inference.model_ref import (
    ModelRef,
    RegistryError,
    is_ref,
    parse_ref,
    plain_version,
)

__all__ = [
    "CACHE_DIR_ENV",
    "CHAMPION",
    "DEFAULT_TRACKING_URI",
    "REGISTERED_MODEL",
    "SHA256_TAG",
    "TRACKING_URI_ENV",
    "FetchedModel",
    "ModelRef",
    "RegistryError",
    "default_cache_dir",
    "fetch",
    "is_ref",
    "parse_ref",
]

# The registry's names: `train` registers versions of this model, `promote` moves the alias.
REGISTERED_MODEL = "zoo-classifier"
CHAMPION = "champion"
TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"
# The embedded default store of `train` (no server): a SQLite file and a folder beside it.
DEFAULT_TRACKING_URI = "sqlite:///mlruns/mlflow.db"
CACHE_DIR_ENV = "SAMPLEPROJECT_CACHE_DIR"
# The registry tag with the SHA-256 of the version's model file (written by `train`).
SHA256_TAG = "model_sha256"

logger = logging.getLogger("sampleproject.registry")


@dataclass(frozen=True)
class FetchedModel:
    """A version's files in the local cache."""

    ref: ModelRef
    version: str
    cache: ModelCache
    from_cache: bool  # True when the server could not be reached

    @property
    def folder(self) -> Path:
        """The folder with the version's files."""
        return self.cache.folder(self.version)

    def discard(self) -> None:
        """Remove the version from the cache (it is damaged: fetch it again next time)."""
        self.cache.drop(self.version)


def default_cache_dir() -> Path:
    """``$SAMPLEPROJECT_CACHE_DIR``, else ``$XDG_CACHE_HOME/sampleproject`` (``~/.cache``)."""
    if os.environ.get(CACHE_DIR_ENV):
        return Path(os.environ[CACHE_DIR_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "sampleproject"


def fetch(
    ref: ModelRef, tracking_uri: str | None = None, cache_dir: Path | None = None
) -> FetchedModel:
    """The files of ``ref``'s version, fetched into the cache (or found there)."""
    uri = tracking_uri or os.environ.get(TRACKING_URI_ENV) or ""
    cache = ModelCache(cache_dir or default_cache_dir(), ref.name)
    if ref.version is not None and cache.has(ref.version):
        return FetchedModel(ref, ref.version, cache, from_cache=False)
    client = RestClient(_check_server_uri(uri, ref))
    try:
        record = client.model_version(ref)
        version = _answered_version(record)
        if not cache.has(version):
            cache.store(version, lambda folder: client.download(ref.name, version, folder))
    except Unreachable as error:
        reason = f"cannot reach the MLflow tracking server at {uri} ({error})"
        return _from_cache(ref, cache, reason)
    except RegistryError as error:
        raise RegistryError(f"{ref}: {error}") from None
    _check_registry_sha256(ref, record, cache, version)
    if ref.alias is not None:
        cache.remember_alias(ref.alias, version)
    return FetchedModel(ref, version, cache, from_cache=False)


def _answered_version(record: dict[str, Any]) -> str:
    """The version number of the registry's record: checked, since it becomes a folder name."""
    try:
        return plain_version(str(record["version"]))
    except RegistryError as error:
        raise RegistryError(f"the registry answered a version that is not one: {error}") from None


def _check_server_uri(uri: str, ref: ModelRef) -> str:
    if not uri:
        raise RegistryError(f"{ref}: set ${TRACKING_URI_ENV} to the MLflow tracking server's URL")
    if urllib.parse.urlsplit(uri).scheme not in ("http", "https"):
        raise RegistryError(
            f"{ref}: ${TRACKING_URI_ENV} is {uri}, not a tracking server's http(s) URL "
            "(serve a local store with `mlflow server --backend-store-uri URI`)"
        )
    return uri.rstrip("/")


def _from_cache(ref: ModelRef, cache: ModelCache, reason: str) -> FetchedModel:
    version = ref.version or cache.alias(ref.alias or "")
    if version is None or not cache.has(version):
        raise RegistryError(f"{ref}: {reason}, and no copy of it is cached in {cache.root}")
    logger.warning("%s; using the cached copy of %s (version %s)", reason, ref, version)
    return FetchedModel(ref, version, cache, from_cache=True)


def _check_registry_sha256(
    ref: ModelRef, record: dict[str, Any], cache: ModelCache, version: str
) -> None:
    """The registry's record of the model's checksum must match the fetched metadata's."""
    tags = record.get("tags")
    found = [tag for tag in tags if isinstance(tag, dict)] if isinstance(tags, list) else []
    expected = next((tag.get("value") for tag in found if tag.get("key") == SHA256_TAG), None)
    if expected is not None and cache.recorded_sha256(version) != expected:
        cache.drop(version)  # never served, even from the cache
        raise RegistryError(
            f"{ref} (version {version}): zoo.json's model_sha256 differs from the "
            f"registry's {SHA256_TAG} tag; refusing it"
        )
