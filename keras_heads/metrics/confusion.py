"""Precision and recall at one threshold."""

import keras
from keras import ops

from keras_heads.metrics.histogram import ScoreHistogram


class _ConfusionMetric(keras.metrics.Metric):
    """Weighted true positives and one kind of error at `y_pred > threshold`.

    A label is positive when it is non-zero (a soft label 0.4 is positive).
    """

    def __init__(self, threshold, name, dtype):
        super().__init__(name=name, dtype=dtype)
        self.threshold = threshold
        self.true_positives = self.add_variable(
            shape=(), initializer="zeros", dtype="float32", name="tp"
        )
        self.errors = self.add_variable(
            shape=(), initializer="zeros", dtype="float32", name="errors"
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        histogram = ScoreHistogram(
            y_true, y_pred, sample_weight, num_buckets=1,
            thresholds=(self.threshold,),
        )
        self.add_counts(histogram.at_threshold(self.threshold))

    def add_counts(self, counts):
        """Adds the scalar `Counts` of one batch (see `ScoreHistogram`)."""
        self.true_positives.assign_add(counts.true_positives)
        self.errors.assign_add(self._errors(counts))

    def result(self):
        return ops.divide_no_nan(
            self.true_positives, self.true_positives + self.errors
        )

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold}


class Precision(_ConfusionMetric):
    """`TP / (TP + FP)` at `y_pred > threshold`; 0 with no predicted positive.

    Example:

    >>> m = Precision(threshold=0.5)
    >>> m.update_state([[1], [0], [1]], [[0.9], [0.8], [0.2]])
    >>> float(m.result())
    0.5
    """

    def __init__(self, threshold=0.5, name="precision", dtype="float32"):
        super().__init__(threshold, name, dtype)

    def _errors(self, counts):
        return counts.false_positives


class Recall(_ConfusionMetric):
    """`TP / (TP + FN)` at `y_pred > threshold`; 0 with no positive label."""

    def __init__(self, threshold=0.5, name="recall", dtype="float32"):
        super().__init__(threshold, name, dtype)

    def _errors(self, counts):
        return counts.false_negatives
