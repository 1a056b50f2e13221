"""Build and check the project's container image with Docker, or with podman where no engine runs.

``engine`` finds (or installs) an engine, makes a base image where none can be pulled, and
builds; ``check`` runs the built image for real. ``make image`` and ``make image-test`` call them.
"""
