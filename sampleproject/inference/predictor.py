"""The :class:`Predictor`: a verified model (its metadata, then its session), and where it is."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import cast

from sampleproject.errors import SampleProjectError
from sampleproject.inference.model import (
    ModelMetadata,
    load_metadata,
    read_verified_model,
    resolve_model_dir,
)
from sampleproject.inference.session import Predictions, Session

__all__ = ["LoadedModel", "ModelSource", "Predictions", "Predictor", "Session", "load_predictor"]


class Predictor(Session):
    """A verified model in an ONNX Runtime session, with its metadata."""

    def __init__(self, metadata: ModelMetadata, model: bytes, threads: int = 0) -> None:
        """Start a session on ``model`` (bytes already verified against ``metadata``).

        ``threads`` bounds ONNX Runtime's intra-operator threads (0 = its default, one per
        core). A server answering one small request at a time is faster with 1: spinning up
        a thread pool costs more than a forest of small trees.
        """
        super().__init__(
            model,
            threads,
            input_name=metadata.input_name,
            outputs=(metadata.outputs.label, metadata.outputs.probabilities),
            classes=[(info.code, info.name) for info in metadata.classes],
            width=len(metadata.features),
        )
        self.metadata = metadata


def load_predictor(model_dir: str | Path | None = None, threads: int = 0) -> Predictor:
    """Verify and load the model of ``model_dir`` (default: see :func:`resolve_model_dir`)."""
    folder = resolve_model_dir(model_dir)
    metadata = load_metadata(folder)
    return Predictor(metadata, read_verified_model(folder, metadata), threads=threads)


@dataclass(frozen=True)
class LoadedModel:
    """A verified model in a session, and where it came from."""

    predictor: Predictor
    source: str  # the folder, or the registry reference it was asked as
    version: str | None = None  # the registry's version number, for a registry reference

    @property
    def sha256(self) -> str:
        """The SHA-256 of the model file (verified)."""
        return self.predictor.metadata.model_sha256


@dataclass(frozen=True)
class ModelSource:
    """Where to load the model from: a registry reference, else a folder (see resolve_model_dir)."""

    model: str | None = None  # models:/NAME@ALIAS or models:/NAME/VERSION
    model_dir: str | Path | None = None
    cache_dir: Path | None = None
    threads: int = 0

    def load(self) -> LoadedModel:
        """Verify and load the model.

        Raises :class:`SampleProjectError` (a :class:`~sampleproject.errors.UsageError` for a
        registry reference) with one line saying why the model cannot be used.
        """
        # reload returns None only when it is given a current model to compare with.
        return cast(LoadedModel, self.reload(None))

    def reload(self, current: LoadedModel | None) -> LoadedModel | None:
        """Like :meth:`load`, but None when the model is ``current`` still (same version, bytes)."""
        if not self.model:
            folder = resolve_model_dir(self.model_dir)
            return _open(folder, str(folder), None, current, self.threads)
        from sampleproject.inference import registry

        fetched = registry.fetch(registry.parse_ref(self.model), cache_dir=self.cache_dir)
        try:
            return _open(fetched.folder, str(fetched.ref), fetched.version, current, self.threads)
        except SampleProjectError as error:
            fetched.discard()  # fetch it again next time: the cached copy may be damaged
            raise registry.RegistryError(
                f"{fetched.ref} (version {fetched.version}): {error}"
            ) from None


def _open(
    folder: Path, source: str, version: str | None, current: LoadedModel | None, threads: int
) -> LoadedModel | None:
    metadata = load_metadata(folder)
    model = read_verified_model(folder, metadata)  # also when unchanged: say if it is damaged
    if current and (current.sha256, current.version) == (metadata.model_sha256, version):
        return None
    return LoadedModel(Predictor(metadata, model, threads=threads), source, version)
