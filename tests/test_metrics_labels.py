"""Every metric label comes from a bounded set, whatever a client sends."""

from __future__ import annotations

from sampleproject.serving.metrics import STANDARD_METHODS, Metrics


def test_a_made_up_method_is_counted_as_other_and_standard_ones_as_themselves() -> None:
    metrics = Metrics()
    for method in ("BREW", "get", "M1X", *sorted(STANDARD_METHODS)):
        metrics.observe(method, "unmatched", 405, 0.001)
    text = metrics.exposition().decode()
    other = 'sampleproject_http_requests_total{method="other",path="unmatched",status="405"} 3.0'
    assert other in text
    for method in STANDARD_METHODS:
        assert f'{{method="{method}",path="unmatched",status="405"}} 1.0' in text
    assert "BREW" not in text
    assert 'method="get"' not in text
