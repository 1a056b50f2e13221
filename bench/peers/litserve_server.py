"""LitServe's peer: a LitAPI on ONNX Runtime answering ``POST /predict`` as the project does.

python -m bench.peers.litserve_server PORT
"""

import sys
from typing import Any

import litserve as ls  # pylint: disable=import-error

from bench.zoo_onnx import ZooModel


class ZooAPI(ls.LitAPI):  # type: ignore[misc]  # LitServe has no type hints
    """One animal (an object) or several (a list) in, the project's JSON answer out."""

    def setup(self, device: str) -> None:
        """Open the ONNX session in the inference worker."""
        del device  # CPU only
        self.model = ZooModel()  # pylint: disable=attribute-defined-outside-init

    # Unannotated: LitServe makes an annotated ``request`` a query parameter, not the body.
    def decode_request(self, request):  # type: ignore[no-untyped-def]
        """The parsed JSON body, as it is."""
        return request

    def predict(self, x: Any) -> Any:
        """One ONNX Runtime call; the answer has the question's shape."""
        many = isinstance(x, list)
        records = self.model.records(x if many else [x])
        return records if many else records[0]

    def encode_response(self, output: Any) -> Any:
        """The answer, as it is (LitServe encodes it as JSON)."""
        return output


if __name__ == "__main__":
    server = ls.LitServer(ZooAPI(), accelerator="cpu", devices=1, workers_per_device=1)
    server.run(
        host="127.0.0.1",
        port=int(sys.argv[1]),
        num_api_servers=1,
        log_level="warning",
        generate_client_file=False,
    )
