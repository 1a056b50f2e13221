"""Watching the served model: value counts of its inputs, and drift against its training data."""
