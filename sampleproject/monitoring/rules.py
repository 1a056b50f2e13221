"""Prometheus recording rules that hold the training distribution, for the drift alerts.

Prometheus cannot read the model's metadata, so the training proportions reach it as
recording rules of constant value, one series per feature value and per class::

    sampleproject:training_proportion{feature="legs", value="4"}          0.376238
    sampleproject:training_class_proportion{class_name="mammal"}          0.405941

The alert rules (deploy/prometheus/alerts.yml) compare the live proportions of the input
counters with these series, as a PSI per feature. The text is YAML written by hand (the
runtime has no YAML library); the same metadata always gives the same bytes.
"""

from __future__ import annotations

from sampleproject.inference.model import TrainingDistribution
from sampleproject.schema import FEATURE_VALUES

GROUP = "sampleproject-training-distribution"
FEATURE_RECORD = "sampleproject:training_proportion"
CLASS_RECORD = "sampleproject:training_class_proportion"


def recording_rules(reference: TrainingDistribution, class_names: tuple[str, ...]) -> str:
    """The rule file's text."""
    lines = [
        "# The training distribution of the served model, for the drift alerts (alerts.yml).",
        "# Generated from the model's metadata (zoo.json) by",
        "#   sampleproject drift --write-rules FILE",
        "# Do not edit: write it again after training a model on other data.",
        "groups:",
        # Prometheus' evaluation interval: a longer one would only delay the first values.
        f"  - name: {GROUP}",
        "    rules:",
    ]
    for name, values in FEATURE_VALUES.items():
        shares = reference.feature_proportions(name)
        for value in values:
            lines += _rule(FEATURE_RECORD, shares[value], {"feature": name, "value": str(value)})
    for name, share in reference.class_proportions(class_names).items():
        lines += _rule(CLASS_RECORD, share, {"class_name": name})
    return "\n".join(lines) + "\n"


def _rule(record: str, value: float, labels: dict[str, str]) -> list[str]:
    # Label values are quoted: YAML would read a bare 0 or 1 as a number.
    pairs = ", ".join(f'{key}: "{label}"' for key, label in labels.items())
    return [
        f"      - record: {record}",
        f"        expr: vector({value:.6f})",
        f"        labels: {{{pairs}}}",
    ]
