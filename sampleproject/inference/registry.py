"""Deploy by alias: fetch a model version from the MLflow registry, verified and cached.

``models:/zoo-classifier@champion`` (or ``models:/zoo-classifier/3``) names a registered
version, whose files are ``zoo.onnx`` and ``zoo.json`` (see ``sampleproject train``). They are
fetched with MLflow's documented REST API (standard library only: the runtime needs no MLflow
client), checked against the registry's record of the model's SHA-256, and kept in a local
cache, so that a restart still works while the tracking server is down. Whatever loads them
verifies the model's bytes against ``zoo.json`` again (:mod:`sampleproject.inference.model`).

REST API: https://mlflow.org/docs/latest/api_reference/rest-api.html
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sampleproject.errors import UsageError
from sampleproject.inference.model import METADATA_FILE

# The registry's names: `train` registers versions of this model, `promote` moves the alias.
REGISTERED_MODEL = "zoo-classifier"
CHAMPION = "champion"
TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"
# The embedded default store of `train` (no server): a SQLite file and a folder beside it.
DEFAULT_TRACKING_URI = "sqlite:///mlruns/mlflow.db"
CACHE_DIR_ENV = "SAMPLEPROJECT_CACHE_DIR"
# The registry tag with the SHA-256 of the version's model file (written by `train`).
SHA256_TAG = "model_sha256"
# Generous: a busy server answers late, and a late answer beats the cache's older one.
TIMEOUT_SECONDS = 30.0

_REF = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/@]+)|/(?P<version>[0-9]+))$")

logger = logging.getLogger("sampleproject.registry")


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


@dataclass(frozen=True)
class FetchedModel:
    """A version's files in the local cache."""

    ref: ModelRef
    version: str
    folder: Path
    from_cache: bool  # True when the server could not be reached


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
    return ModelRef(match["name"], match["alias"], match["version"])


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
    cache = _Cache((cache_dir or default_cache_dir()) / ref.name)
    if ref.version is not None and cache.has(ref.version):
        return FetchedModel(ref, ref.version, cache.folder(ref.version), from_cache=False)
    client = _RestClient(_check_server_uri(uri, ref))
    try:
        record = client.model_version(ref)
        version = str(record["version"])
        if not cache.has(version):
            cache.store(version, lambda folder: client.download(ref.name, version, folder))
    except _Unreachable as error:
        reason = f"cannot reach the MLflow tracking server at {uri} ({error})"
        return _from_cache(ref, cache, reason)
    except RegistryError as error:
        raise RegistryError(f"{ref}: {error}") from None
    _check_registry_sha256(ref, record, cache.folder(version))
    if ref.alias is not None:
        cache.remember_alias(ref.alias, version)
    return FetchedModel(ref, version, cache.folder(version), from_cache=False)


def _check_server_uri(uri: str, ref: ModelRef) -> str:
    if not uri:
        raise RegistryError(f"{ref}: set ${TRACKING_URI_ENV} to the MLflow tracking server's URL")
    if urllib.parse.urlsplit(uri).scheme not in ("http", "https"):
        raise RegistryError(
            f"{ref}: ${TRACKING_URI_ENV} is {uri}, not a tracking server's http(s) URL "
            "(serve a local store with `mlflow server --backend-store-uri URI`)"
        )
    return uri.rstrip("/")


def _from_cache(ref: ModelRef, cache: _Cache, reason: str) -> FetchedModel:
    version = ref.version or cache.alias(ref.alias or "")
    if version is None or not cache.has(version):
        raise RegistryError(f"{ref}: {reason}, and no copy of it is cached in {cache.root}")
    logger.warning("%s; using the cached copy of %s (version %s)", reason, ref, version)
    return FetchedModel(ref, version, cache.folder(version), from_cache=True)


def _check_registry_sha256(ref: ModelRef, record: dict[str, Any], folder: Path) -> None:
    """The registry's record of the model's checksum must match the fetched metadata's."""
    tags = {tag["key"]: tag["value"] for tag in record.get("tags", [])}
    expected = tags.get(SHA256_TAG)
    if expected is not None and _json_field(folder / METADATA_FILE, "model_sha256") != expected:
        shutil.rmtree(folder, ignore_errors=True)  # never served, even from the cache
        raise RegistryError(
            f"{ref} (version {record['version']}): zoo.json's model_sha256 differs from the "
            f"registry's {SHA256_TAG} tag; refusing it"
        )


def _json_field(path: Path, name: str) -> object:
    """``name`` of the JSON object in ``path``; None when unreadable or not such an object."""
    try:
        found = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return found.get(name) if isinstance(found, dict) else None


class _Unreachable(Exception):
    """The server did not answer (connection refused, timeout, DNS...)."""


class _RestClient:
    """The few calls of MLflow's REST API that deployment needs."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.headers = _auth_headers()

    def model_version(self, ref: ModelRef) -> dict[str, Any]:
        """The registry's record of the version ``ref`` names."""
        if ref.alias is not None:
            answer = self._get_json("registered-models/alias", name=ref.name, alias=ref.alias)
        else:
            answer = self._get_json("model-versions/get", name=ref.name, version=ref.version)
        record = answer.get("model_version")
        if not isinstance(record, dict) or "version" not in record:
            raise RegistryError(f"{self.uri} answered with no model version: is it MLflow?")
        return record

    def download(self, name: str, version: str, folder: Path) -> None:
        """Write the version's ``zoo.json`` and model file into ``folder``."""
        location = self._get_json("model-versions/get-download-uri", name=name, version=version)
        artifact_uri = str(location.get("artifact_uri", ""))
        # The metadata first: it names the model file and holds its checksum.
        (folder / METADATA_FILE).write_bytes(self._artifact(artifact_uri, METADATA_FILE))
        model_file = _json_field(folder / METADATA_FILE, "model_file")
        if not isinstance(model_file, str) or not re.fullmatch(r"[^/\\]+", model_file):
            raise RegistryError(f"version {version}: its zoo.json names no valid model file")
        (folder / model_file).write_bytes(self._artifact(artifact_uri, model_file))

    def _artifact(self, artifact_uri: str, file_name: str) -> bytes:
        parts = urllib.parse.urlsplit(artifact_uri)
        if parts.scheme == "mlflow-artifacts":  # the server proxies its artifact store
            path = urllib.parse.quote(f"{parts.path.lstrip('/')}/{file_name}")
            return self._get(f"{self.uri}/api/2.0/mlflow-artifacts/artifacts/{path}")
        if parts.scheme in ("", "file"):  # a store on this machine's file system
            local = Path(urllib.request.url2pathname(parts.path)) / file_name
            try:
                return local.read_bytes()
            except OSError as error:
                raise RegistryError(f"cannot read {local}: {error.strerror}") from None
        raise RegistryError(
            f"artifacts at {artifact_uri} are not served by the tracking server: start it "
            "with --serve-artifacts (the default) and an --artifacts-destination"
        )

    def _get_json(self, endpoint: str, **query: str | None) -> dict[str, Any]:
        url = f"{self.uri}/api/2.0/mlflow/{endpoint}?{urllib.parse.urlencode(query)}"
        try:
            answer = json.loads(self._get(url))
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise RegistryError(
                f"{self.uri} answered {endpoint} with no JSON object: is it MLflow?"
            )
        return answer

    def _get(self, url: str) -> bytes:
        request = urllib.request.Request(url, headers=self.headers)  # noqa: S310 (http(s) only)
        try:
            # The URL's scheme is http(s): _check_server_uri refused any other.
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310  # nosec B310
                body: bytes = response.read()
                return body
        except urllib.error.HTTPError as error:
            raise RegistryError(_http_error_message(error)) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise _Unreachable(str(reason)) from None


def _http_error_message(error: urllib.error.HTTPError) -> str:
    """MLflow's own message (a JSON body), else the HTTP status."""
    try:
        message = str(json.loads(error.read())["message"])
    except (ValueError, KeyError, TypeError, OSError):
        message = f"HTTP {error.code} {error.reason}"
    return f"MLflow registry: {message.splitlines()[0] if message else error.code}"


def _auth_headers() -> dict[str, str]:
    """MLflow's client variables for a server behind authentication."""
    token = os.environ.get("MLFLOW_TRACKING_TOKEN")
    if token:
        return {"Authorization": f"Bearer {token}"}
    user, password = (
        os.environ.get("MLFLOW_TRACKING_USERNAME"),
        os.environ.get("MLFLOW_TRACKING_PASSWORD"),
    )
    if user and password:
        pair = base64.b64encode(f"{user}:{password}".encode()).decode()
        return {"Authorization": f"Basic {pair}"}
    return {}


class _Cache:
    """``ROOT/versions/N/`` holds version N's files; ``ROOT/aliases/A`` the version alias A had."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def folder(self, version: str) -> Path:
        """Where version ``version``'s files are."""
        return self.root / "versions" / version

    def has(self, version: str) -> bool:
        """Whether version ``version`` is cached."""
        return (self.folder(version) / METADATA_FILE).is_file()

    def alias(self, alias: str) -> str | None:
        """The version ``alias`` pointed at when last resolved, or None."""
        try:
            return (self.root / "aliases" / alias).read_text(encoding="utf-8").strip() or None
        except OSError:
            return None

    def store(self, version: str, download: Any) -> None:
        """Fill a temporary folder with ``download(folder)``, then rename it into place.

        A version's files never change, so a complete folder is never replaced: another
        process that stored the same version first wins, and ours is dropped.
        """
        versions = self.root / "versions"
        try:
            versions.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise RegistryError(
                f"cannot create the model cache {versions}: {error.strerror}"
            ) from None
        staging = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=versions))
        try:
            download(staging)
            staging.rename(self.folder(version))
        except OSError:
            if not self.has(version):
                raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def remember_alias(self, alias: str, version: str) -> None:
        """Record that ``alias`` points at ``version`` (for a restart without the server)."""
        from sampleproject.atomic import atomic_write

        (self.root / "aliases").mkdir(parents=True, exist_ok=True)
        with atomic_write(self.root / "aliases" / alias) as file:
            file.write(f"{version}\n")
