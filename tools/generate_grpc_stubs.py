"""Generate the gRPC stubs of the Open Inference Protocol from its .proto (grpcio-tools).

    .venv/bin/python tools/generate_grpc_stubs.py            # writes them beside the .proto
    .venv/bin/python tools/generate_grpc_stubs.py --out DIR  # elsewhere (the test compares)

The generated messages (``inference_pb2.py``) and their type stubs (``.pyi``) are committed,
so that installing the package needs no code generator; ``tests/test_v2_grpc.py`` regenerates
them with the pinned grpcio-tools and checks that the bytes are the same. The service's
wiring is written by hand (sampleproject/serving/v2_grpc.py), so no ``_pb2_grpc`` module is
generated: its imports would name the package.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STUBS = ROOT / "sampleproject" / "serving" / "v2_grpc_stubs"
PROTO = "inference.proto"


def generate(out: Path) -> None:
    """Run protoc (grpcio-tools' own) on the .proto: messages and type stubs into ``out``."""
    from grpc_tools import protoc

    # The .proto's folder as the include path: the generated code names the file
    # "inference.proto", not a path in this project (which a rename would change).
    code = protoc.main(
        ["grpc_tools.protoc", f"-I{STUBS}", f"--python_out={out}", f"--pyi_out={out}", PROTO]
    )
    if code:
        raise SystemExit(f"protoc failed on {STUBS / PROTO} (exit status {code})")


def main() -> int:
    """Generate the stubs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=STUBS, help="where (default: beside the .proto)"
    )
    generate(parser.parse_args().out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
