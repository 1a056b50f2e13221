"""sampleproject: a small application that shows a Python/ML project's whole pipeline.

The package must stay cheap to import: ``sampleproject 45 46`` imports it on every run,
so nothing heavy (NumPy, ONNX Runtime, the web stack) may be imported here.
"""

import os

# The single source of the version: setup.py reads this line as text (without importing
# the package) and the CLI prints it for ``--version``.
__version__ = "1.0.0"

# No telemetry, and nothing written outside the paths a command is given, whichever module a
# program imports first: set before ONNX Runtime or MLflow loads. ONNX Runtime (1.32 here,
# on Linux too) otherwise writes a device ID and a SQLite queue of events under
# ~/.cache/Microsoft/DeveloperTools, keeps that database open in `serve`, and prints a
# coloured warning when the home folder is not writable; MLflow writes an installation ID to
# ~/.config/mlflow and sends usage events. Both libraries read these variables themselves.
os.environ["ORT_DISABLE_TELEMETRY"] = "1"
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
