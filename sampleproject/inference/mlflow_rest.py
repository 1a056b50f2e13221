"""The few calls of MLflow's REST API that deployment needs, with the standard library only.

The runtime needs no MLflow client: resolving an alias and downloading a version's two files
are four documented GET requests. Every way the server can fail to answer (refused, timed
out, an answer cut short, something that is not HTTP) is :class:`Unreachable`, which the
caller may answer from its cache; every answer that is wrong is a :class:`RegistryError`.

REST API: https://mlflow.org/docs/latest/api_reference/rest-api.html
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from sampleproject.inference.location import METADATA_FILE
from sampleproject.inference.model_ref import ModelRef, RegistryError

# Generous: a busy server answers late, and a late answer beats the cache's older one.
TIMEOUT_SECONDS = 30.0


class Unreachable(Exception):
    """The server gave no complete answer (connection refused, timeout, cut short...)."""


class RestClient:
    """A tracking server's model registry and artifact proxy."""

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
        metadata = self._artifact(artifact_uri, METADATA_FILE)
        model_file = _model_file(metadata)
        if model_file is None:
            raise RegistryError(f"version {version}: its zoo.json names no valid model file")
        (folder / METADATA_FILE).write_bytes(metadata)
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
            # The URL's scheme is http(s): the registry refused any other tracking URI.
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310  # nosec B310
                body: bytes = response.read()
                return body
        except urllib.error.HTTPError as error:
            raise RegistryError(_http_error_message(error)) from None
        except http.client.IncompleteRead as error:
            got, missing = len(error.partial), error.expected
            size = "" if missing is None else f" of {got + missing}"
            raise Unreachable(f"its answer was cut short after {got}{size} bytes") from None
        except (urllib.error.URLError, OSError) as error:  # refused, timed out, closed...
            reason = getattr(error, "reason", error)
            raise Unreachable(str(reason)) from None
        except http.client.HTTPException as error:  # not HTTP: a wrong port, a broken proxy
            raise Unreachable(f"no valid HTTP answer ({type(error).__name__})") from None


def _model_file(metadata: bytes) -> str | None:
    """The model file that ``zoo.json`` names, if it is a plain file name beside it."""
    try:
        found = json.loads(metadata)
    except ValueError:
        return None
    name = found.get("model_file") if isinstance(found, dict) else None
    if not isinstance(name, str) or not re.fullmatch(r"[^/\\\x00]+", name):
        return None
    return None if name in (".", "..", METADATA_FILE) else name


def _http_error_message(error: urllib.error.HTTPError) -> str:
    """MLflow's own message (a JSON body), else the HTTP status."""
    try:
        message = str(json.loads(error.read())["message"])
    except (ValueError, KeyError, TypeError, OSError, http.client.HTTPException):
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
