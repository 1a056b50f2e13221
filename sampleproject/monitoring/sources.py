"""The observed side of drift: value counts from a file of animals, or from a metrics scrape.

A file is read as ``predict`` reads it (:mod:`sampleproject.inference.batch`), chunk by
chunk, and its animals are predicted too, so the predicted classes can be compared as well.
A scrape is ``serve``'s ``/metrics`` text, fetched from its URL or read from a saved file: the
counters :data:`INPUT_VALUES` and :data:`PREDICTIONS`, totals since the server started.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from prometheus_client.parser import text_string_to_metric_families

from sampleproject.errors import UsageError
from sampleproject.formats import Format
from sampleproject.inference import batch
from sampleproject.inference.predictor import Predictor
from sampleproject.monitoring.counting import SLOTS, by_feature, count_values
from sampleproject.monitoring.drift import Observed
from sampleproject.schema import FEATURE_VALUES

# The counters that ``serve`` exposes (sample names, with the _total of a counter).
INPUT_VALUES = "sampleproject_input_values_total"
PREDICTIONS = "sampleproject_predictions_total"
TIMEOUT_SECONDS = 10


def observe_file(lines: Iterable[str], source: str, fmt: Format, predictor: Predictor) -> Observed:
    """Count the feature values and the predicted classes of the animals in ``lines``."""
    values = np.zeros(len(SLOTS), dtype=np.int64)
    classes = np.zeros(max(predictor.class_codes) + 1, dtype=np.int64)
    for chunk in batch.chunks(lines, fmt, source):
        values += count_values(chunk.features)
        codes = predictor.predict(chunk.features).codes
        classes += np.bincount(codes, minlength=len(classes))
    if not values.any():
        raise UsageError(f"{source}: no animals to compare")
    class_counts = {predictor.name_of(code): int(classes[code]) for code in predictor.class_codes}
    return Observed(by_feature(values), class_counts, source)


def read_scrape(location: str) -> str:
    """The metrics text at ``location``: an http(s) URL (``.../metrics``) or a file."""
    if location.startswith(("http://", "https://")):
        try:
            # The scheme is checked just above: no file:// or other handler is reachable.
            with urllib.request.urlopen(location, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310  # nosec B310
                data: bytes = response.read()
        except urllib.error.HTTPError as error:
            raise UsageError(f"cannot scrape {location}: HTTP {error.code}") from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", None) or error
            raise UsageError(f"cannot scrape {location}: {reason}") from None
    else:
        try:
            data = Path(location).read_bytes()
        except OSError as error:
            raise UsageError(f"cannot read {location}: {error.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{location} is not UTF-8 text") from None


def observe_scrape(text: str, source: str) -> Observed:
    """The counts of a scrape of ``serve``'s ``/metrics`` (several series add up)."""
    features: dict[str, dict[int, int]] = {
        name: dict.fromkeys(values, 0) for name, values in FEATURE_VALUES.items()
    }
    classes: dict[str, int] = {}
    found = False
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == INPUT_VALUES:
                    found = True
                    _add_input(features, sample.labels, sample.value, source)
                elif sample.name == PREDICTIONS and "class_name" in sample.labels:
                    name = sample.labels["class_name"]
                    classes[name] = classes.get(name, 0) + int(sample.value)
    except ValueError as error:  # the parser's only error: a line that is not the format
        raise UsageError(f"{source}: not Prometheus' text format ({error})") from None
    if not found:
        raise UsageError(
            f"{source}: no {INPUT_VALUES} series (is it the /metrics of sampleproject serve?)"
        )
    observed = Observed(features, classes, source)
    if not observed.animals:
        raise UsageError(f"{source}: no animals counted yet (no prediction since the start)")
    return observed


def _add_input(
    features: dict[str, dict[int, int]], labels: dict[str, str], value: float, source: str
) -> None:
    feature, raw = labels.get("feature", ""), labels.get("value", "")
    if feature not in features or not raw.isdigit() or int(raw) not in features[feature]:
        raise UsageError(
            f"{source}: {INPUT_VALUES} has an unknown series (feature={feature!r}, value={raw!r})"
        )
    features[feature][int(raw)] += int(value)
