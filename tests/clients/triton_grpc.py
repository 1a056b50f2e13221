"""Triton's gRPC client (tritonclient.grpc) against a server: what it reads, as JSON on stdout.

Run in a process of its own by tests/test_protocol_clients.py: Triton's messages have the
names of ours (the protocol's), and protobuf takes each name once per process.

    python -m tests.clients.triton_grpc PORT ROWS_JSON
"""

from __future__ import annotations

import json
import sys

import numpy as np
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

MODEL = "zoo-classifier"


def main() -> int:
    """Ask the server at 127.0.0.1:PORT about ROWS (a JSON list of feature rows)."""
    port, rows = sys.argv[1], np.array(json.loads(sys.argv[2]), dtype=np.int64)
    client = grpcclient.InferenceServerClient(f"127.0.0.1:{port}")
    tensor = grpcclient.InferInput("features", list(rows.shape), "INT64")
    tensor.set_data_from_numpy(rows)
    result = client.infer(MODEL, [tensor], request_id="g1")
    bad = grpcclient.InferInput("features", [1, 16], "INT64")
    bad.set_data_from_numpy(np.full((1, 16), 7, dtype=np.int64))
    try:
        client.infer(MODEL, [bad])
        error = None
    except InferenceServerException as raised:
        error = [raised.status(), raised.message()]
    metadata = client.get_model_metadata(MODEL, as_json=True)
    report = {
        "live": client.is_server_live(),
        "ready": client.is_server_ready() and client.is_model_ready(MODEL),
        "server": client.get_server_metadata(as_json=True)["name"],
        "inputs": metadata["inputs"],
        "id": result.get_response().id,
        "class_code": result.as_numpy("class_code").tolist(),
        "class_name": [name.decode() for name in result.as_numpy("class_name").tolist()],
        "probabilities": result.as_numpy("probabilities").tolist(),
        "error": error,
    }
    sys.stdout.write(json.dumps(report) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
