"""What ``serve`` can be configured with: one typed, validated object (pydantic-settings).

Each field is read from its flag (``--max-animals``), else from its environment variable
(``SAMPLEPROJECT_MAX_ANIMALS``), else from its default here, the only place defaults live.
uvicorn's workers are new processes, so ``serve`` hands the settings to them through the
environment (:meth:`ServeSettings.to_env`) and each worker reads them back.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from sampleproject.errors import UsageError

ENV_PREFIX = "SAMPLEPROJECT_"


class ServeSettings(BaseSettings):
    """The server's settings; a field ``x_y`` is the flag ``--x-y`` and ``$SAMPLEPROJECT_X_Y``."""

    # An empty variable counts as unset (as `VAR= command` means to a shell user).
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_ignore_empty=True, frozen=True, extra="ignore"
    )

    host: str = Field(
        default="127.0.0.1", description="address to listen on (0.0.0.0: every interface)"
    )
    port: int = Field(default=8000, ge=0, le=65535, description="TCP port")
    workers: int = Field(default=1, ge=1, description="worker processes; about one per core")
    model: str | None = Field(
        default=None, description="registry reference models:/NAME@ALIAS or models:/NAME/VERSION"
    )
    model_dir: Path | None = Field(
        default=None, description="folder with zoo.onnx and zoo.json (unset: the shipped model)"
    )
    # 1 MiB: about 10,000 animals as compact JSON.
    max_body_bytes: int = Field(
        default=1024 * 1024, ge=1, description="larger request bodies get 413"
    )
    max_animals: int = Field(default=1000, ge=1, description="most animals in one request")
    reload_interval: float = Field(
        default=0.0,
        ge=0.0,
        description="seconds between checks of the registry alias (0: only on SIGHUP)",
    )
    cache_dir: Path | None = Field(
        default=None,
        description="cache of models fetched from the registry (unset: ~/.cache/sampleproject)",
    )
    access_log: bool = Field(default=True, description="log one line per request")
    # What one connection may cost (see serving/connections.py for the measurements).
    max_header_bytes: int = Field(
        default=16384, ge=256, description="larger request lines and headers get 431"
    )
    max_headers: int = Field(default=100, ge=1, description="requests with more headers get 431")
    header_timeout: float = Field(
        default=10.0,
        gt=0.0,
        description="seconds for a request's line and headers to arrive, else 408",
    )
    body_timeout: float = Field(
        default=30.0, gt=0.0, description="seconds for a body to arrive after its headers, else 408"
    )
    keep_alive_timeout: float = Field(
        default=5.0, gt=0.0, description="seconds an idle connection is kept between requests"
    )
    max_connections: int = Field(
        default=1000,
        ge=1,
        description="open connections per worker; past it the longest idle one is closed, "
        "else 503 (lowered to fit `ulimit -n`)",
    )
    grpc_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="TCP port of the Open Inference Protocol over gRPC (unset: off; grpc extra)",
    )
    api_key_file: Path | None = Field(
        default=None,
        description="file of hashed API keys: every request but /health and /ready needs one "
        "(unset: no keys)",
    )
    tracing: bool = Field(
        default=False,
        description="export OpenTelemetry traces over OTLP/HTTP, to $OTEL_EXPORTER_OTLP_ENDPOINT",
    )

    def to_env(self) -> dict[str, str]:
        """The settings as environment variables, for the worker processes."""
        return {
            f"{ENV_PREFIX}{name.upper()}": str(value)
            for name, value in self.model_dump().items()
            if value is not None
        }


def load_settings(**flags: object) -> ServeSettings:
    """Settings from ``flags`` (those not None), the environment and the defaults.

    A bad value, from a flag or a variable, is a :class:`UsageError` naming it.
    """
    given = {name: value for name, value in flags.items() if value is not None}
    try:
        return ServeSettings(**given)  # type: ignore[arg-type]
    except ValidationError as error:
        problem = error.errors()[0]
        name = str(problem["loc"][0]) if problem["loc"] else "settings"
        source = f"--{name.replace('_', '-')}" if name in given else f"${ENV_PREFIX}{name.upper()}"
        raise UsageError(f"{source}: {problem['msg']} (got {problem['input']!r})") from None
