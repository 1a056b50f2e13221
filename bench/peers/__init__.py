"""The serving benchmark's peers: each framework's server for the zoo model (in its own venv)."""
