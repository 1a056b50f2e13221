"""A model in an ONNX Runtime session: feature rows in, class codes and probabilities out.

Without pydantic (fast to import): :class:`~sampleproject.inference.predictor.Predictor` is this
session made from validated metadata; the one-animal ``predict`` starts it from plain values.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from sampleproject.errors import SampleProjectError


@dataclass(frozen=True)
class Predictions:
    """Predictions for a batch of ``n`` animals (NumPy arrays, row ``i`` is animal ``i``)."""

    codes: npt.NDArray[np.int64]  # [n] the predicted class codes
    probabilities: npt.NDArray[np.float32]  # [n, classes] every class, in metadata order
    column_of_code: npt.NDArray[np.intp]  # class code -> its column of ``probabilities``

    def __len__(self) -> int:
        return len(self.codes)

    # Worked out when asked for (files' answers), not for every request the server answers,
    # which reads it from the rounded probabilities.
    @cached_property
    def probability(self) -> npt.NDArray[np.float32]:
        """[n] the probability of each predicted class."""
        chosen: npt.NDArray[np.float32] = self.probabilities[
            np.arange(len(self.codes)), self.column_of_code[self.codes]
        ]
        return chosen

    # float32 0.62 is 0.6200000047683716 as a Python float: round in float64 for JSON.
    def rounded_probability(self, digits: int = 6) -> npt.NDArray[np.float64]:
        """:attr:`probability` as float64 rounded to ``digits`` decimals (for JSON)."""
        rounded: npt.NDArray[np.float64] = self.probability.astype(np.float64).round(digits)
        return rounded

    def rounded_probabilities(self, digits: int = 6) -> npt.NDArray[np.float64]:
        """:attr:`probabilities` as float64 rounded to ``digits`` decimals (for JSON)."""
        rounded: npt.NDArray[np.float64] = self.probabilities.astype(np.float64).round(digits)
        return rounded


class Session:
    """A model in an ONNX Runtime session, described by plain values (see :class:`Predictor`)."""

    def __init__(  # pylint: disable=too-many-arguments
        self,
        model: bytes,
        threads: int,
        *,
        input_name: str,
        outputs: tuple[str, str],
        classes: list[tuple[int, str]],
        width: int,
    ) -> None:
        """Start a session on ``model`` (bytes already verified): its input ``input_name`` is
        ``[n, width]``, its ``outputs`` are (label, probabilities), its ``classes`` (code, name).

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
        names = {node.name for node in self._session.get_outputs()}
        if inputs != [input_name] or not set(outputs) <= names:
            raise SampleProjectError(
                f"the model's inputs {inputs} and outputs {sorted(names)} do not match its metadata"
            )
        self.class_codes: tuple[int, ...] = tuple(code for code, _ in classes)
        self.class_names: tuple[str, ...] = tuple(name for _, name in classes)
        self._names_by_code = dict(zip(self.class_codes, self.class_names, strict=True))
        # code -> column of the probabilities output, as an array for a vectorised lookup
        self._column_of_code = np.zeros(max(self.class_codes) + 1, dtype=np.intp)
        self._column_of_code[list(self.class_codes)] = np.arange(len(self.class_codes))
        self._columns: list[int] = self._column_of_code.tolist()  # the same, for Python code
        self._output_names = list(outputs)
        self._input = (input_name, width)  # the input's name and its number of features

    def name_of(self, code: int) -> str:
        """The name of class ``code``."""
        return self._names_by_code[code]

    def records(self, predictions: Predictions) -> list[dict[str, Any]]:
        """One JSON-ready dict per prediction: class code and name, its probability, and
        every class's probability by name (probabilities rounded to 6 decimals)."""
        names = self.class_names
        column = self._columns
        # One rounding of the whole array; the chosen class's probability is read from it.
        return [
            {
                "class_code": code,
                "class_name": self._names_by_code[code],
                "probability": row[column[code]],
                "probabilities": dict(zip(names, row, strict=True)),
            }
            for code, row in zip(
                predictions.codes.tolist(),
                predictions.rounded_probabilities().tolist(),
                strict=True,
            )
        ]

    def predict(self, features: npt.ArrayLike) -> Predictions:
        """Predict a batch: ``features`` is ``[n, 16]`` in :data:`schema.FEATURES` order."""
        batch = np.asarray(features, dtype=np.float32)
        name, width = self._input
        if batch.ndim != 2 or batch.shape[1] != width:  # noqa: PLR2004
            raise ValueError(f"expected a [n, {width}] array")
        if batch.shape[0] == 0:
            empty = np.zeros((0, len(self.class_codes)), dtype=np.float32)
            return Predictions(np.zeros(0, dtype=np.int64), empty, self._column_of_code)
        labels, probabilities = self._session.run(self._output_names, {name: batch})
        return Predictions(np.asarray(labels, dtype=np.int64), probabilities, self._column_of_code)
