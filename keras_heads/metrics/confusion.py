"""Precision, recall and accuracy of one rule "predict positive"."""

import keras
from keras import ops

from keras_heads.metrics.totals import HistogramTotals


class _CountsRate(keras.metrics.Metric):
    """A rate of the weighted counts of one rule, read from `totals`.

    The rule is `y_pred > threshold`, or with `threshold=None` the decisions
    of shared `totals` made with `decisions` (a binary head's class ids). A
    label is positive when it is non-zero (a soft label 0.4 is positive) and
    matches a prediction only when it is exactly 0 or 1.
    """

    def __init__(self, threshold, name, dtype, totals=None):
        super().__init__(name=name, dtype=dtype)
        self.threshold = threshold
        if totals is None:
            if threshold is None:
                raise ValueError(
                    "threshold: None reads the decisions of shared totals; "
                    "give a threshold, or totals made with decisions=True."
                )
            totals = HistogramTotals(
                num_buckets=1, thresholds=(self._counted(threshold),)
            )
        elif threshold is None and not totals.decisions:
            raise ValueError(
                "totals: threshold=None reads decisions, but these totals "
                "were made with decisions=False."
            )
        elif (
            threshold is not None
            and self._counted(threshold) not in totals.thresholds
        ):
            raise ValueError(
                f"totals: expected totals that count threshold "
                f"{self._counted(threshold)}; received thresholds "
                f"{list(totals.thresholds)}."
            )
        self.totals = totals

    @staticmethod
    def _counted(threshold):
        """The `score > t` threshold the totals count for `threshold`."""
        return float(threshold)

    def counts(self):
        """The `Counts` of this metric's rule, summed over every batch."""
        if self.threshold is None:
            return self.totals.at_decisions()
        return self.totals.at_threshold(self._counted(self.threshold))

    def update_state(self, y_true, y_pred, sample_weight=None):
        self.totals.update_state(y_true, y_pred, sample_weight)

    def result(self):
        return self._rate(self.counts())

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold}


class _ErrorRate(_CountsRate):
    """`TP / (TP + errors)`, 0 when both are 0; `_errors` picks the kind."""

    def _rate(self, counts):
        tp = counts.true_positives
        return ops.divide_no_nan(tp, tp + self._errors(counts))


class Precision(_ErrorRate):
    """`TP / (TP + FP)` at `y_pred > threshold`; 0 with no predicted positive.

    Example:

    >>> m = Precision(threshold=0.5)
    >>> m.update_state([[1], [0], [1]], [[0.9], [0.8], [0.2]])
    >>> float(m.result())
    0.5
    """

    def __init__(self, threshold=0.5, name="precision", dtype="float32",
                 totals=None):
        super().__init__(threshold, name, dtype, totals)

    @staticmethod
    def _errors(counts):
        return counts.false_positives


class Recall(_ErrorRate):
    """`TP / (TP + FN)` at `y_pred > threshold`; 0 with no positive label."""

    def __init__(self, threshold=0.5, name="recall", dtype="float32",
                 totals=None):
        super().__init__(threshold, name, dtype, totals)

    @staticmethod
    def _errors(counts):
        return counts.false_negatives


class BinaryAccuracy(_CountsRate):
    """The weighted fraction of `y_true == (y_pred > threshold)`.

    Example:

    >>> m = BinaryAccuracy(threshold=0.5)
    >>> m.update_state([[1], [0], [1]], [[0.9], [0.8], [0.2]])
    >>> round(float(m.result()), 4)
    0.3333
    """

    def __init__(self, threshold=0.5, name="binary_accuracy",
                 dtype="float32", totals=None):
        super().__init__(threshold, name, dtype, totals)

    @staticmethod
    def _rate(counts):
        return ops.divide_no_nan(counts.matches, counts.total)
