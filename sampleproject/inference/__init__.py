"""Run the shipped model: ONNX Runtime and NumPy only, the training stack is never imported.

- :mod:`~sampleproject.inference.model` finds the model folder, validates ``zoo.json`` and
  returns the model's bytes once their SHA-256 matches (light: no NumPy, no ONNX Runtime, so
  ``serve`` can check a model before it starts its workers).
- :mod:`~sampleproject.inference.predictor` runs the verified bytes in ONNX Runtime. Nothing
  is unpickled.
- :mod:`~sampleproject.inference.batch` streams CSV or JSON Lines files through it.

This file imports none of them: importing the package must stay cheap.
"""
