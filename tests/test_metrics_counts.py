"""Inputs and predictions counted in batches: exact at every scrape, however they were added."""

from __future__ import annotations

import numpy as np

from sampleproject import schema
from sampleproject.serving.metrics import SETTLE_ROWS, Metrics


def test_counts_put_aside_are_exact_at_a_scrape_whether_settled_early_or_at_the_scrape() -> None:
    metrics = Metrics(schema.CLASS_NAMES)
    rows = np.zeros((1000, len(schema.FEATURES)), dtype=np.float32)
    rows[:, schema.FEATURES.index("legs")] = 4
    rows[:500, schema.FEATURES.index("hair")] = 1
    batches = SETTLE_ROWS // len(rows) + 2  # some counted on the way, the rest at the scrape
    for _ in range(batches):
        metrics.count_inputs(rows)
        metrics.count_predictions(np.array([1] * 999 + [6], dtype=np.int64))
    text = metrics.exposition().decode()
    total = batches * len(rows)
    assert f'sampleproject_input_values_total{{feature="legs",value="4"}} {total}.0' in text
    assert 'sampleproject_input_values_total{feature="legs",value="2"} 0.0' in text
    assert f'sampleproject_input_values_total{{feature="hair",value="1"}} {total // 2}.0' in text
    assert f'sampleproject_predictions_total{{class_name="mammal"}} {total - batches}.0' in text
    assert f'sampleproject_predictions_total{{class_name="bug"}} {batches}.0' in text
    assert 'sampleproject_predictions_total{class_name="bird"} 0.0' in text
    # A second scrape counts nothing twice.
    assert metrics.exposition().decode() == text
