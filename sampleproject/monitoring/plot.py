"""The drift plot: per feature, the training proportions beside the observed ones, and the PSI.

matplotlib is part of the training extra, not of the runtime: :func:`check_available` says
so in one line before any work is done, and :func:`write_plot` imports it only when called.
"""

from __future__ import annotations

import importlib.util
import io
import math
from pathlib import Path
from typing import TYPE_CHECKING

from sampleproject.atomic import atomic_write
from sampleproject.errors import INSTALL_TRAIN_EXTRA, UsageError
from sampleproject.monitoring import psi
from sampleproject.monitoring.drift import PREDICTED_CLASS, DriftReport

if TYPE_CHECKING:
    from matplotlib.figure import Figure

COLUMNS = 6
# Colours by level: stable, moderate, significant (colour-blind safe: blue, orange, red).
LEVEL_COLOURS = {"stable": "#0072b2", "moderate": "#e69f00", "significant": "#d55e00"}
TRAINING_COLOUR = "#bbbbbb"


def check_available() -> None:
    """Raise a usage error unless matplotlib can be imported."""
    if importlib.util.find_spec("matplotlib") is None:
        raise UsageError(
            f"--plot needs matplotlib, which the runtime does not install: {INSTALL_TRAIN_EXTRA}"
        )


def write_plot(report: DriftReport, path: Path, threshold: float) -> None:
    """Draw ``report`` as a PNG at ``path`` (written atomically)."""
    from matplotlib.figure import Figure

    rows = math.ceil(len(report.shifts) / COLUMNS)
    # A Figure made directly, not through pyplot: no global state and no GUI backend.
    figure = Figure(figsize=(2.6 * COLUMNS, 2.3 * rows + 0.8), layout="constrained")
    figure.suptitle(
        f"Drift of {report.animals} animals ({Path(report.source).name}) from the training data "
        f"({report.training_rows} rows): PSI per feature, threshold {threshold:g}"
    )
    grid = figure.subplots(rows, COLUMNS, squeeze=False)
    for axes, shift in zip(grid.flat, report.shifts, strict=False):
        positions = range(len(shift.bins))
        width = 0.4
        axes.bar([p - width / 2 for p in positions], shift.expected, width, color=TRAINING_COLOUR)
        axes.bar(
            [p + width / 2 for p in positions],
            shift.actual,
            width,
            color=LEVEL_COLOURS[psi.level(shift.psi)],
        )
        axes.set_xticks(
            list(positions), shift.bins, rotation=90 if shift.name == PREDICTED_CLASS else 0
        )
        axes.set_ylim(0, 1)
        weight = "bold" if shift.psi > threshold else "normal"
        axes.set_title(f"{shift.name}: {shift.psi:.3f}", fontsize=10, fontweight=weight)
        axes.tick_params(labelsize=8)
    for axes in list(grid.flat)[len(report.shifts) :]:
        axes.set_visible(False)
    _legend(figure)
    buffer = io.BytesIO()
    # No software version in the file: the same report gives the same bytes.
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    try:
        with atomic_write(path, "wb") as file:
            file.write(buffer.getvalue())
    except OSError as error:
        raise UsageError(f"cannot write {path}: {error.strerror}") from None


def _legend(figure: Figure) -> None:
    from matplotlib.patches import Patch

    handles = [Patch(color=TRAINING_COLOUR, label="training")] + [
        Patch(color=colour, label=f"observed, {level}") for level, colour in LEVEL_COLOURS.items()
    ]
    figure.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False)
