"""BentoML's peer: a service on ONNX Runtime; ``POST /predict`` with ``{"animals": [...]}``.

bentoml serve bench.peers.bentoml_service:Zoo --port PORT
"""

from __future__ import annotations

from typing import Any

import bentoml  # pylint: disable=import-error

from bench.zoo_onnx import ZooModel


@bentoml.service(workers=1, logging={"access": {"enabled": False}})
class Zoo:  # pylint: disable=too-few-public-methods
    """The zoo model, one worker."""

    def __init__(self) -> None:
        self.model = ZooModel()

    @bentoml.api  # type: ignore[untyped-decorator]  # BentoML has no type hints
    async def predict(self, animals: list[dict[str, int]]) -> list[dict[str, Any]]:
        """The project's answer for each animal (a list, even for one)."""
        return self.model.records(animals)
