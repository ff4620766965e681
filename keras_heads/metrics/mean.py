"""Weighted means over every element seen, and the accuracies built on them
(`BinaryAccuracy`, read from a histogram, is in `confusion.py`)."""

import keras
from keras import ops

from keras_heads.metrics.weights import align_labels
from keras_heads.metrics.weights import weighted_sums


class Mean(keras.metrics.Metric):
    """The weighted mean of all elements seen: `sum(w * v) / sum(w)`.

    Unlike `keras.metrics.Mean`, which first averages each row, every element
    counts with its own (broadcast) weight, so batches of any shape and size
    stream into the same value. The result is 0 before any weight is seen.

    Example:

    >>> m = Mean()
    >>> m.update_state([[1.0], [3.0]], sample_weight=[[1.0], [3.0]])
    >>> float(m.result())
    2.5
    """

    def __init__(self, name="mean", dtype="float32"):
        super().__init__(name=name, dtype=dtype)
        # `[sum(w * v), sum(w)]` in one variable: a compiled step pays per
        # state tensor it carries, not only per byte.
        self.sums = self.add_variable(
            shape=(2,), initializer="zeros", dtype="float32", name="sums"
        )

    def update_state(self, values, sample_weight=None):
        (total,), count = weighted_sums([values], sample_weight)
        self.add_sums(total, count)

    def add_sums(self, total, count):
        """Adds a batch's weighted sum of values and sum of weights."""
        self.sums.assign_add(
            ops.stack([ops.cast(total, "float32"), ops.cast(count, "float32")])
        )

    @property
    def total(self):
        """The weighted sum of the values seen."""
        return self.sums[0]

    @property
    def count(self):
        """The sum of the weights seen."""
        return self.sums[1]

    def result(self):
        return ops.divide_no_nan(self.total, self.count)


class _MatchRate(Mean):
    """A weighted fraction of matches."""

    def update_matches(self, matches, sample_weight=None):
        """Adds matches already computed: 1.0 (match) or 0.0 per element."""
        Mean.update_state(self, matches, sample_weight)


class Accuracy(_MatchRate):
    """The weighted fraction of exact matches `y_true == y_pred` (as floats).

    A soft label such as 0.8 never matches a class id.
    """

    def __init__(self, name="accuracy", dtype="float32"):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.cast(ops.convert_to_tensor(y_pred), "float32")
        y_true = ops.cast(align_labels(y_true, y_pred), "float32")
        matches = ops.equal(y_true, y_pred)
        super().update_state(ops.cast(matches, "float32"), sample_weight)


class AccuracyBaseline(Mean):
    """The accuracy of always predicting the majority class: `max(m, 1 - m)`.

    Fed with the same labels and weights as the label mean `m`.
    """

    def __init__(self, name="accuracy_baseline", dtype="float32"):
        super().__init__(name=name, dtype=dtype)

    def result(self):
        label_mean = super().result()
        seen = ops.cast(self.count > 0, "float32")
        return seen * ops.maximum(label_mean, 1.0 - label_mean)
