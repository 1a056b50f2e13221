"""sampleproject: a small application that shows a Python/ML project's whole pipeline.

The package must stay cheap to import: ``sampleproject 45 46`` imports it on every run,
so nothing heavy (NumPy, ONNX Runtime, the web stack) may be imported here.
"""

# The single source of the version: setup.py reads this line as text (without importing
# the package) and the CLI prints it for ``--version``.
__version__ = "1.0.0"
