"""MLServer's peer: a custom runtime answering the V2 inference protocol with ONNX Runtime.

Request: one FP32 tensor ``[n, 16]`` (features in model order); answer: the ``label``
``[n]`` and ``probabilities`` ``[n, classes]`` tensors. Started by the benchmark with
``mlserver start DIR``, DIR holding the settings it writes (see bench/bench_serving.py).
"""

from __future__ import annotations

import numpy as np
from mlserver import MLModel  # pylint: disable=import-error
from mlserver.codecs import NumpyCodec  # pylint: disable=import-error
from mlserver.types import InferenceRequest, InferenceResponse  # pylint: disable=import-error

from bench.zoo_onnx import ZooModel


class ZooRuntime(MLModel):  # type: ignore[misc]  # MLServer has no type hints
    """The zoo model."""

    async def load(self) -> bool:
        """Open the ONNX session (the folder from $ZOO_MODEL_DIR)."""
        self.model = ZooModel()  # pylint: disable=attribute-defined-outside-init
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        """One ONNX Runtime call for the request's rows."""
        rows = NumpyCodec.decode_input(payload.inputs[0]).astype(np.float32)
        codes, probabilities = self.model.predict(rows)
        return InferenceResponse(
            model_name=self.name,
            outputs=[
                NumpyCodec.encode_output("label", codes),
                NumpyCodec.encode_output("probabilities", probabilities),
            ],
        )
