"""The running sum of a head's histograms: one state for many metrics."""

import keras
import numpy as np

from keras_heads.metrics import histogram as histogram_lib
from keras_heads.metrics.weights import align_labels


class HistogramTotals(keras.metrics.Metric):
    """Running sums of `ScoreHistogram` counts, in one variable.

    Every histogram-fed metric (`AUC`, `Precision`, `Recall`,
    `BinaryAccuracy`) reads its value from a `HistogramTotals`: its own, or
    one it shares with other metrics. A head shares one between its AUCs and
    its threshold and class-id metrics, so a compiled evaluation step
    carries and updates a single state tensor for all of them, however many
    thresholds there are. Feeding (`add`, `update_state`) or resetting it
    changes every metric that reads it.

    Args:
      num_buckets: the AUC buckets (see `ScoreHistogram`).
      thresholds: the metric thresholds counted.
      decisions: whether the counts have a decision axis (a binary head's
        `logits > 0`).
      histogram: the `ScoreHistogram` class that buckets scores (the v1 heads
        have their own bucket edges).

    Example:

    >>> totals = HistogramTotals(num_buckets=4, thresholds=[0.5])
    >>> totals.update_state([0, 1, 1], [0.2, 0.6, 0.9])
    >>> [float(x) for x in totals.at_threshold(0.5)]
    [2.0, 0.0, 0.0, 3.0, 3.0]
    """

    def __init__(self, num_buckets=200, thresholds=(), decisions=False,
                 histogram=histogram_lib.ScoreHistogram,
                 name="histogram_totals", dtype="float32"):
        super().__init__(name=name, dtype=dtype)
        self.num_buckets = num_buckets
        self.thresholds = tuple(sorted(set(float(t) for t in thresholds)))
        self.decisions = decisions
        self._histogram = histogram
        self.counts = self.add_variable(
            shape=(
                num_buckets,
                len(self.thresholds) + 1,
                2 if decisions else 1,
                histogram_lib.LABEL_KINDS,
            ),
            initializer="zeros",
            dtype="float32",
            name="counts",
        )

    def histogram(self, labels, scores, weights=None, decisions=None,
                  activation=None):
        """One batch's `ScoreHistogram`, laid out as these totals."""
        if self.decisions and decisions is None:
            raise ValueError(
                "decisions: these totals count a decision per score (a "
                "binary head's `logits > 0`), so every batch needs one; feed "
                "a head's metrics with its `update_metrics`. Received none."
            )
        if decisions is not None and not self.decisions:
            raise ValueError(
                "decisions: these totals were made with decisions=False; "
                "received a decisions tensor."
            )
        return self._histogram(
            labels, scores, weights, num_buckets=self.num_buckets,
            thresholds=self.thresholds, decisions=decisions,
            activation=activation,
        )

    def add(self, histogram, column=None):
        """Adds a batch's `ScoreHistogram` (one `column` of a `by_column`
        one) of the same layout."""
        counts = (
            histogram.counts if column is None
            else histogram.column_counts(column)
        )
        if tuple(counts.shape) != tuple(self.counts.shape):
            raise ValueError(
                "histogram: expected counts of shape "
                f"{tuple(self.counts.shape)} (buckets, thresholds + 1, "
                f"decisions, label kinds); received {tuple(counts.shape)}."
            )
        self.counts.assign_add(counts)

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Adds the histogram of scores `y_pred` (in [0, 1]). A NaN score
        or weight makes every count NaN, until reset."""
        y_pred = keras.ops.convert_to_tensor(y_pred)
        histogram = self.histogram(
            align_labels(y_true, y_pred), y_pred, sample_weight
        )
        poison = keras.ops.where(histogram.has_nan(), np.nan, 0.0)
        self.counts.assign(
            self.counts + histogram.counts + keras.ops.cast(poison, "float32")
        )

    def result(self):
        return keras.ops.convert_to_tensor(self.counts)

    def auc_histogram(self):
        """`[num_buckets, 2]`: (positive, negative) weight per bucket."""
        return histogram_lib.auc_histogram(self.counts)

    def at_threshold(self, threshold):
        """`Counts` for predicting positive when `score > threshold`."""
        return histogram_lib.counts_at_threshold(
            self.counts, self.thresholds, threshold
        )

    def at_decisions(self):
        """`Counts` for predicting positive where the decision was yes."""
        return histogram_lib.counts_at_decisions(self.counts)

    def get_config(self):
        return {
            **super().get_config(),
            "num_buckets": self.num_buckets,
            "thresholds": list(self.thresholds),
            "decisions": self.decisions,
        }
