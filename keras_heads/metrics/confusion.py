"""Precision and recall at one threshold."""

import keras
from keras import ops

from keras_heads.metrics.weights import broadcast_weights


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
        y_pred = ops.cast(ops.convert_to_tensor(y_pred), "float32")
        weights = broadcast_weights(sample_weight, y_pred)
        is_positive = ops.not_equal(ops.convert_to_tensor(y_true), 0)
        positive = ops.reshape(ops.cast(is_positive, "float32"), ops.shape(y_pred))
        positive = positive * weights
        predicted = ops.cast(ops.greater(y_pred, self.threshold), "float32")
        self.true_positives.assign_add(ops.sum(positive * predicted))
        self.errors.assign_add(
            self._errors(positive, weights - positive, predicted)
        )

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

    def _errors(self, positive, negative, predicted):
        return ops.sum(negative * predicted)


class Recall(_ConfusionMetric):
    """`TP / (TP + FN)` at `y_pred > threshold`; 0 with no positive label."""

    def __init__(self, threshold=0.5, name="recall", dtype="float32"):
        super().__init__(threshold, name, dtype)

    def _errors(self, positive, negative, predicted):
        return ops.sum(positive * (1.0 - predicted))
