"""The zoo model in ONNX Runtime for the serving benchmark's floor and peers, nothing else.

The floor app and every peer server (MLServer, LitServe, BentoML) run in venvs of their own,
without the ``sampleproject`` package; they share this module (numpy and onnxruntime only),
so each does the same work as ``sampleproject serve``: one ONNX Runtime call per request, on
one intra-op thread, and the same answers (see ``sampleproject/inference/predictor.py``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

# The peer servers are started with this variable naming the model folder.
MODEL_DIR_VARIABLE = "ZOO_MODEL_DIR"
DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "sampleproject" / "model"


class ZooModel:
    """``zoo.onnx`` and its ``zoo.json``: feature rows in, class codes and probabilities out."""

    def __init__(self, model_dir: str | Path | None = None) -> None:
        folder = Path(model_dir or os.environ.get(MODEL_DIR_VARIABLE) or DEFAULT_MODEL_DIR)
        metadata = json.loads((folder / "zoo.json").read_text(encoding="utf-8"))
        self.features: list[str] = metadata["features"]
        self.names: list[str] = [info["name"] for info in metadata["classes"]]
        codes = [info["code"] for info in metadata["classes"]]
        self._name_of = dict(zip(codes, self.names, strict=True))
        self._column_of = {code: column for column, code in enumerate(codes)}
        self._input = metadata["input_name"]
        self._outputs = [metadata["outputs"]["label"], metadata["outputs"]["probabilities"]]
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # as the project's server: small requests, one core
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(folder / metadata["model_file"]), options, providers=["CPUExecutionProvider"]
        )

    def rows(self, animals: list[dict[str, Any]]) -> npt.NDArray[np.float32]:
        """The animals' features in model order (a missing flag is 0, as the project's)."""
        return np.array(
            [[animal.get(name, 0) for name in self.features] for animal in animals],
            dtype=np.float32,
        )

    def predict(self, rows: npt.NDArray[np.float32]) -> tuple[npt.NDArray[np.int64], Any]:
        """Class codes ``[n]`` and probabilities ``[n, classes]`` of ``rows``, in one call."""
        labels, probabilities = self._session.run(self._outputs, {self._input: rows})
        return np.asarray(labels, dtype=np.int64), probabilities

    def records(self, animals: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The project's answer for each animal: code, name, probability, every class's."""
        codes, probabilities = self.predict(self.rows(animals))
        # Rounded in float64, as the project does: float32 0.62 is 0.6200000047683716.
        rounded = probabilities.astype(np.float64).round(6).tolist()
        return [
            {
                "class_code": code,
                "class_name": self._name_of[code],
                "probability": row[self._column_of[code]],
                "probabilities": dict(zip(self.names, row, strict=True)),
            }
            for code, row in zip(codes.tolist(), rounded, strict=True)
        ]
