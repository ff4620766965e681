"""Area under the ROC and precision-recall curves, from one bucket histogram."""

import keras
from keras import ops

from keras_heads.metrics.histogram import ScoreHistogram
from keras_heads.metrics.totals import HistogramTotals


def _reverse_cumsum(x):
    return ops.flip(ops.cumsum(ops.flip(x, axis=0), axis=0), axis=0)


def roc_auc(tp, fp, fn, tn):
    """Trapezoidal area under the ROC curve given counts per threshold."""
    recall = ops.divide_no_nan(tp, tp + fn)
    fp_rate = ops.divide_no_nan(fp, fp + tn)
    heights = (recall[:-1] + recall[1:]) / 2.0
    return ops.sum((fp_rate[:-1] - fp_rate[1:]) * heights)


def pr_auc(tp, fp, fn):
    """Area under the PR curve, interpolating true positives linearly in the
    number of predicted positives (Davis & Goadrich)."""
    predicted = tp + fp
    d_tp = tp[:-1] - tp[1:]
    d_predicted = predicted[:-1] - predicted[1:]
    slope = ops.divide_no_nan(d_tp, ops.maximum(d_predicted, 0.0))
    intercept = tp[1:] - slope * predicted[1:]
    both_positive = ops.logical_and(predicted[:-1] > 0, predicted[1:] > 0)
    ratio = ops.where(
        both_positive,
        ops.divide_no_nan(predicted[:-1], ops.maximum(predicted[1:], 0.0)),
        1.0,
    )
    increments = ops.divide_no_nan(
        slope * (d_tp + intercept * ops.log(ratio)),
        ops.maximum(tp[1:] + fn[1:], 0.0),
    )
    return ops.sum(increments)


class AUC(keras.metrics.Metric):
    """Approximate ROC or PR AUC over `num_thresholds` evenly spaced thresholds.

    Matches the reference (`tf.keras.metrics.AUC`, interpolation): a label is
    positive when non-zero, a score is positive at threshold `t` when it is
    strictly above `t`. A single class seen gives a ROC AUC of 0.

    The counts live in `totals`, a `HistogramTotals` of `num_thresholds`
    buckets: the metric's own, or one shared with other metrics (a head's
    AUCs and threshold metrics share one), which then move together.

    Example:

    >>> m = AUC()
    >>> m.update_state([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> round(float(m.result()), 2)
    0.75
    """

    def __init__(self, curve="ROC", num_thresholds=200, name="auc",
                 dtype="float32", totals=None):
        if curve not in ("ROC", "PR"):
            raise ValueError(f"curve must be 'ROC' or 'PR'. Given: {curve!r}")
        if num_thresholds <= 1:
            raise ValueError(
                f"num_thresholds must be > 1. Given: {num_thresholds}"
            )
        if totals is not None and totals.num_buckets != num_thresholds:
            raise ValueError(
                f"totals: expected {num_thresholds} buckets (num_thresholds); "
                f"received totals of {totals.num_buckets}."
            )
        super().__init__(name=name, dtype=dtype)
        self.curve = curve
        self.num_thresholds = num_thresholds
        self.totals = totals or HistogramTotals(
            num_thresholds, histogram=self._histogram_class
        )

    # The `ScoreHistogram` class of the metric's own totals.
    _histogram_class = ScoreHistogram

    def update_state(self, y_true, y_pred, sample_weight=None):
        self.totals.update_state(y_true, y_pred, sample_weight)

    def add_histogram(self, histogram, column=None):
        """Adds the counts of a `ScoreHistogram` laid out as `totals` (of one
        `column` of a `by_column` histogram)."""
        self.totals.add(histogram, column)

    @property
    def histogram(self):
        """`[num_thresholds, 2]`: (positive, negative) weight per bucket."""
        return self.totals.auc_histogram()

    def result(self):
        histogram = self.histogram
        above = _reverse_cumsum(histogram)
        tp, fp = above[:, 0], above[:, 1]
        totals = ops.sum(histogram, axis=0)
        fn, tn = totals[0] - tp, totals[1] - fp
        if self.curve == "PR":
            return pr_auc(tp, fp, fn)
        return roc_auc(tp, fp, fn, tn)

    def get_config(self):
        return {
            **super().get_config(),
            "curve": self.curve,
            "num_thresholds": self.num_thresholds,
        }
