"""The classifier: scikit-learn's random forest, seeded by the configuration."""

from __future__ import annotations

from sklearn.ensemble import RandomForestClassifier

from sampleproject.training.config import TrainConfig


def build_classifier(config: TrainConfig) -> RandomForestClassifier:
    """A new, unfitted classifier.

    A forest suits the data (binary flags and a leg count, 101 rows, 7 classes), needs no
    scaling, and its trees convert to ONNX exactly. One job: threads would not speed up
    101 rows, and a single thread rules out any doubt about reproducibility.
    """
    return RandomForestClassifier(**config.model.model_dump(), random_state=config.seed, n_jobs=1)
