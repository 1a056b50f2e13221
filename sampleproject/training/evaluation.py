"""How good is the model? Stratified K-fold cross-validation, and its confusion matrix.

The quality figures come from rows that the scored model never saw: each fold's model is
trained on the other folds. The final model is then fitted on every row (see :mod:`.job`);
its quality is estimated by these figures, not measured on its own training data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from matplotlib.figure import Figure
from sklearn.base import ClassifierMixin, clone
from sklearn.metrics import ConfusionMatrixDisplay, accuracy_score, f1_score
from sklearn.model_selection import StratifiedKFold

from sampleproject.errors import UsageError
from sampleproject.schema import CLASS_NAMES
from sampleproject.training.data import Dataset


@dataclass(frozen=True)
class CrossValidation:
    """Per-fold scores and the out-of-fold prediction of every row."""

    accuracy: tuple[float, ...]
    f1_macro: tuple[float, ...]
    predictions: npt.NDArray[np.int64]  # row i predicted by the fold model that did not see it

    def metrics(self) -> dict[str, float]:
        """Mean and standard deviation of each score over the folds."""
        metrics: dict[str, float] = {}
        for name, scores in (("accuracy", self.accuracy), ("f1_macro", self.f1_macro)):
            metrics[name] = float(np.mean(scores))
            metrics[f"{name}_std"] = float(np.std(scores))
        return metrics


def cross_validate(
    classifier: ClassifierMixin, dataset: Dataset, folds: int, seed: int
) -> CrossValidation:
    """Score fresh copies of ``classifier`` with stratified ``folds``-fold cross-validation."""
    _check_class_sizes(dataset.labels, folds)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    predictions = np.zeros_like(dataset.labels)
    accuracy, f1_macro = [], []
    for train_rows, test_rows in splitter.split(dataset.features, dataset.labels):
        fold_model = clone(classifier).fit(
            dataset.features.iloc[train_rows], dataset.labels[train_rows]
        )
        predictions[test_rows] = fold_model.predict(dataset.features.iloc[test_rows])
        fold_accuracy, fold_f1 = _scores(dataset.labels[test_rows], predictions[test_rows])
        accuracy.append(fold_accuracy)
        f1_macro.append(fold_f1)
    return CrossValidation(tuple(accuracy), tuple(f1_macro), predictions)


def _check_class_sizes(labels: npt.NDArray[np.int64], folds: int) -> None:
    # Every class, also one without rows: the model must know all seven (see the contract).
    codes = list(CLASS_NAMES)
    counts = np.bincount(labels, minlength=max(codes) + 1)[codes]
    code, fewest = codes[int(np.argmin(counts))], int(np.min(counts))
    if fewest < folds:
        # scikit-learn only warns, and then some folds lack the class: say it clearly instead.
        raise UsageError(
            f"class {code} ({CLASS_NAMES[code]}) has {fewest} rows: {folds}-fold "
            f"cross-validation needs at least {folds} rows of every class"
        )


def _scores(truth: npt.NDArray[np.int64], predicted: npt.NDArray[np.int64]) -> tuple[float, float]:
    """Accuracy and macro F1 of one fold."""
    # zero_division=0: a class that a fold never predicts scores 0, without a warning.
    return (
        float(accuracy_score(truth, predicted)),
        float(f1_score(truth, predicted, average="macro", zero_division=0)),
    )


def confusion_matrix_figure(
    labels: npt.NDArray[np.int64], predictions: npt.NDArray[np.int64]
) -> Figure:
    """The confusion matrix of cross-validated predictions, as a matplotlib figure.

    A :class:`~matplotlib.figure.Figure` made directly, not through pyplot: no global state,
    no GUI backend, and nothing to close afterwards.
    """
    figure = Figure(figsize=(7, 6), layout="constrained")
    axes = figure.add_subplot()
    ConfusionMatrixDisplay.from_predictions(
        labels,
        predictions,
        labels=list(CLASS_NAMES),
        display_labels=list(CLASS_NAMES.values()),
        ax=axes,
        colorbar=False,
        xticks_rotation=45,
    )
    axes.set_title("Zoo classifier: cross-validated confusion matrix")
    return figure
