"""The :class:`Predictor`: feature rows in, class codes and probabilities out, in NumPy batches."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from sampleproject.errors import SampleProjectError
from sampleproject.inference.model import (
    ModelMetadata,
    load_metadata,
    read_verified_model,
    resolve_model_dir,
)


@dataclass(frozen=True)
class Predictions:
    """Predictions for a batch of ``n`` animals (NumPy arrays, row ``i`` is animal ``i``)."""

    codes: npt.NDArray[np.int64]  # [n] the predicted class codes
    probability: npt.NDArray[np.float32]  # [n] the probability of the predicted class
    probabilities: npt.NDArray[np.float32]  # [n, classes] every class, in metadata order

    def __len__(self) -> int:
        return len(self.codes)

    # float32 0.62 is 0.6200000047683716 as a Python float: round in float64 for JSON.
    def rounded_probability(self, digits: int = 6) -> npt.NDArray[np.float64]:
        """:attr:`probability` as float64 rounded to ``digits`` decimals (for JSON)."""
        rounded: npt.NDArray[np.float64] = self.probability.astype(np.float64).round(digits)
        return rounded

    def rounded_probabilities(self, digits: int = 6) -> npt.NDArray[np.float64]:
        """:attr:`probabilities` as float64 rounded to ``digits`` decimals (for JSON)."""
        rounded: npt.NDArray[np.float64] = self.probabilities.astype(np.float64).round(digits)
        return rounded


class Predictor:
    """A verified model in an ONNX Runtime session."""

    def __init__(self, metadata: ModelMetadata, model: bytes, threads: int = 0) -> None:
        """Start a session on ``model`` (bytes already verified against ``metadata``).

        ``threads`` bounds ONNX Runtime's intra-operator threads (0 = its default, one per
        core). A server answering one small request at a time is faster with 1: spinning up
        a thread pool costs more than a forest of small trees.
        """
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Idle pool threads sleep instead of spinning: a file's chunks are long runs, and on a
        # busy machine spinning threads took the cores from the work (3x slower on 2 cores).
        # The threads and so the answers are the same.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self._session = ort.InferenceSession(
                model, sess_options=options, providers=["CPUExecutionProvider"]
            )
        # ONNX Runtime raises its own exception types (InvalidProtobuf, Fail...), which share
        # no public base class: whatever it raises, the model cannot be used.
        except Exception as error:  # pylint: disable=broad-exception-caught
            raise SampleProjectError(f"ONNX Runtime cannot load the model: {error}") from None
        inputs = [node.name for node in self._session.get_inputs()]
        outputs = {node.name for node in self._session.get_outputs()}
        expected = {metadata.outputs.label, metadata.outputs.probabilities}
        if inputs != [metadata.input_name] or not expected <= outputs:
            raise SampleProjectError(
                f"the model's inputs {inputs} and outputs {sorted(outputs)} do not match "
                "its metadata"
            )
        self.metadata = metadata
        self.class_codes: tuple[int, ...] = tuple(info.code for info in metadata.classes)
        self.class_names: tuple[str, ...] = tuple(info.name for info in metadata.classes)
        self._names_by_code = dict(zip(self.class_codes, self.class_names, strict=True))
        # code -> column of the probabilities output, as an array for a vectorised lookup
        self._column_of_code = np.zeros(max(self.class_codes) + 1, dtype=np.intp)
        self._column_of_code[list(self.class_codes)] = np.arange(len(self.class_codes))
        self._output_names = [metadata.outputs.label, metadata.outputs.probabilities]

    def name_of(self, code: int) -> str:
        """The name of class ``code``."""
        return self._names_by_code[code]

    def records(self, predictions: Predictions) -> list[dict[str, Any]]:
        """One JSON-ready dict per prediction: class code and name, its probability, and
        every class's probability by name (probabilities rounded to 6 decimals)."""
        return [
            {
                "class_code": code,
                "class_name": self._names_by_code[code],
                "probability": probability,
                "probabilities": dict(zip(self.class_names, row, strict=True)),
            }
            for code, probability, row in zip(
                predictions.codes.tolist(),
                predictions.rounded_probability().tolist(),
                predictions.rounded_probabilities().tolist(),
                strict=True,
            )
        ]

    def predict(self, features: npt.ArrayLike) -> Predictions:
        """Predict a batch: ``features`` is ``[n, 16]`` in :data:`schema.FEATURES` order."""
        batch = np.asarray(features, dtype=np.float32)
        if batch.ndim != 2 or batch.shape[1] != len(self.metadata.features):  # noqa: PLR2004
            raise ValueError(f"expected a [n, {len(self.metadata.features)}] array")
        if batch.shape[0] == 0:
            empty = np.zeros((0, len(self.class_codes)), dtype=np.float32)
            return Predictions(np.zeros(0, dtype=np.int64), np.zeros(0, np.float32), empty)
        labels, probabilities = self._session.run(
            self._output_names, {self.metadata.input_name: batch}
        )
        codes = np.asarray(labels, dtype=np.int64)
        chosen = probabilities[np.arange(len(codes)), self._column_of_code[codes]]
        return Predictions(codes, chosen, probabilities)


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
            # Fetch it again next time: the cached copy may be what is damaged.
            shutil.rmtree(fetched.folder, ignore_errors=True)
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
