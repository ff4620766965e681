"""The v1 heads' evaluation metrics: `tf.compat.v1.metrics` semantics.

The TF 1.x heads returned streaming metrics as `(value, update_op)` pairs.
keras-heads keeps its own convention here too: an EVAL spec's
`eval_metric_ops` are `keras.metrics.Metric` objects, already updated with
the batch; read a value with `.result()` and stream more batches with the
update methods. The keys are those of the v2 heads. The objects below are
the ones whose v1 semantics differ from v2's:

* `AUC`: 200 thresholds `[-1e-7, 1/199, ..., 198/199, 1 + 1e-7]` compared as
  float32 (`p > t`), and the trapezoid rule on both the ROC and the
  precision-recall curve, with v1's `1e-6` smoothing of every ratio. (v2
  buckets `ceil(199 p) - 1`, which disagrees with `p > t` for a few float32
  scores next to a threshold, and interpolates the PR curve.)
* `BinaryAccuracy`: a score is positive when `p >= t` (v2: `p > t`).
* `AccuracyBaseline`: `max(m, 1 - m)` of the label mean `m`, 1.0 before any
  label (v2: 0.0).

All of them are fed by one `ScoreHistogram` per batch, as the v2 heads'.
"""

import functools

import numpy as np
from keras import ops

from keras_heads import metrics
from keras_heads.heads import classes
from keras_heads.keys import MetricKeys

# The AUC thresholds' margin below 0 and above 1.
_THRESHOLD_EPSILON = 1e-7
# What v1's AUC adds to numerators and denominators of its ratios.
_SMOOTHING = 1e-6


@functools.lru_cache(maxsize=None)
def auc_thresholds(num_thresholds=200):
    """The v1 AUC's thresholds, float32: `-1e-7`, `i / (n - 1)` for `i` in
    `1 .. n - 2`, and `1 + 1e-7`.

    Example:

    >>> t = auc_thresholds()
    >>> len(t), t.dtype.name, [round(float(x), 7) for x in t[[0, 1, -1]]]
    (200, 'float32', [-1e-07, 0.0050251, 1.0000001])
    """
    inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
    return np.array(
        [-_THRESHOLD_EPSILON] + inner + [1.0 + _THRESHOLD_EPSILON], "float32"
    )


def at_least(threshold):
    """The largest float32 below `float32(threshold)`.

    For a float32 score `p`, `p > at_least(t)` exactly when `p >= t`, so a
    histogram that counts `p > ...` also gives v1's `p >= t`.

    Example:

    >>> p = np.float32(0.5)
    >>> bool(p > at_least(0.5)), bool(p > 0.5)
    (True, False)
    """
    return float(np.nextafter(np.float32(threshold), np.float32(-np.inf)))


class ScoreHistogram(metrics.ScoreHistogram):
    """`keras_heads.metrics.ScoreHistogram` with v1's bucket edges.

    A score `p` lands in bucket `k` when `t_k < p <= t_{k+1}` for the float32
    thresholds `auc_thresholds(num_buckets)`, so the bucket counts give v1's
    `p > t_k` at every threshold exactly. Everything else (metric
    thresholds, decisions, columns, label kinds) is the v2 histogram's.

    Example:

    >>> t = auc_thresholds()
    >>> edge = float(np.nextafter(t[31], np.float32(1)))   # just above t_31
    >>> h = ScoreHistogram([1.0], [edge])
    >>> int(np.argmax(keras.ops.convert_to_numpy(h.auc_histogram())[:, 0]))
    31
    """

    @staticmethod
    def _bucket(scores, num_buckets):
        if num_buckets < 3:  # [-eps, 1 + eps]: one bucket holds [0, 1]
            return metrics.ScoreHistogram._bucket(scores, num_buckets)
        table = ops.convert_to_tensor(auc_thresholds(num_buckets))
        scores = ops.clip(scores, 0.0, 1.0)
        # `ceil(p (n - 1)) - 1` is off by at most one next to a threshold;
        # comparing with the thresholds on either side puts it right.
        guess = ops.clip(
            ops.cast(ops.ceil(scores * (num_buckets - 1)), "int32") - 1,
            0, num_buckets - 2,
        )
        too_high = ops.cast(ops.less_equal(scores, ops.take(table, guess)),
                            "int32")
        too_low = ops.cast(ops.greater(scores, ops.take(table, guess + 1)),
                           "int32")
        return guess - too_high + too_low


def _reverse_cumsum(x):
    return ops.flip(ops.cumsum(ops.flip(x, axis=0), axis=0), axis=0)


class AUC(metrics.AUC):
    """v1's AUC (`tf.compat.v1.metrics.auc`, trapezoidal summation).

    Labels are positive when non-zero; a score is positive at threshold `t_i`
    when `p > t_i` (`auc_thresholds`). With `TP_i, FP_i, FN_i, TN_i` the
    weighted counts and `e = 1e-6`:
    `recall_i = (TP_i + e) / (TP_i + FN_i + e)`,
    `fpr_i = FP_i / (FP_i + TN_i + e)`,
    `precision_i = (TP_i + e) / (TP_i + FP_i + e)`, and the area is
    `Σ (x_i - x_{i+1}) (y_i + y_{i+1}) / 2` over the ROC curve
    (`x = fpr, y = recall`) or the PR curve (`x = recall, y = precision`).

    Example:

    >>> roc, pr = AUC(), AUC(curve="PR", name="auc_precision_recall")
    >>> for m in (roc, pr):
    ...     m.update_state([1, 1, 0], [1.0, 0.0, 1.0],
    ...                    sample_weight=[1.0, 0.1, 1.5])
    >>> round(float(roc.result()), 6), round(float(pr.result()), 6)
    (0.454546, 0.673776)
    """

    _histogram_class = ScoreHistogram

    def result(self):
        histogram = self.histogram
        above = _reverse_cumsum(histogram)
        tp, fp = above[:, 0], above[:, 1]
        totals = ops.sum(histogram, axis=0)
        fn, tn = totals[0] - tp, totals[1] - fp
        recall = (tp + _SMOOTHING) / (tp + fn + _SMOOTHING)
        if self.curve == "PR":
            x, y = recall, (tp + _SMOOTHING) / (tp + fp + _SMOOTHING)
        else:
            x, y = fp / (fp + tn + _SMOOTHING), recall
        return ops.sum((x[:-1] - x[1:]) * (y[:-1] + y[1:]) / 2.0)


class BinaryAccuracy(metrics.BinaryAccuracy):
    """The weighted fraction of `y_true == (y_pred >= threshold)`: v1's
    `accuracy/positive_threshold_<t>` (v2 compares with `>`).

    Example:

    >>> m = BinaryAccuracy(threshold=0.5)
    >>> m.update_state([[1], [0], [0]], [[0.5], [0.2], [0.7]])
    >>> round(float(m.result()), 4)
    0.6667
    """

    # Counted as `p > at_least(t)`, which is `p >= t`.
    _counted = staticmethod(at_least)


class AccuracyBaseline(metrics.AccuracyBaseline):
    """`max(m, 1 - m)` of the weighted label mean `m`; 1.0 before any label
    (v1 reads the empty mean as 0).

    Example:

    >>> m = AccuracyBaseline()
    >>> float(m.result())
    1.0
    >>> m.update_state([1.0, 1.0, 0.0], sample_weight=[1.0, 0.1, 1.5])
    >>> round(float(m.result()), 4)
    0.5769
    """

    def result(self):
        label_mean = metrics.Mean.result(self)
        return ops.maximum(label_mean, 1.0 - label_mean)


# --- how the v1 classification heads feed them ------------------------------


def histogram_thresholds(thresholds):
    """The metric thresholds a head's histogram needs: each `t` (for
    precision and recall, `p > t`) and `at_least(t)` (for accuracy)."""
    return tuple(thresholds) + tuple(at_least(t) for t in thresholds)


def threshold_metrics(threshold, totals):
    """The three `.../positive_threshold_<t>` metrics of one threshold, read
    from totals made with `histogram_thresholds`."""
    accuracy = MetricKeys.ACCURACY_AT_THRESHOLD % threshold
    precision = MetricKeys.PRECISION_AT_THRESHOLD % threshold
    recall = MetricKeys.RECALL_AT_THRESHOLD % threshold
    return {
        accuracy: BinaryAccuracy(threshold, name=accuracy, totals=totals),
        precision: metrics.Precision(threshold, name=precision, totals=totals),
        recall: metrics.Recall(threshold, name=recall, totals=totals),
    }


class Semantics(classes.MetricSemantics):
    """The v1 heads' metric semantics, in place of `tf.keras`' (see
    `keras_heads.heads.classes.MetricSemantics`): v1's `AUC`, bucket edges
    and `AccuracyBaseline`, and `p >= t` threshold accuracies counted by the
    same histogram as `p > t` precision and recall."""

    auc = AUC
    accuracy_baseline = AccuracyBaseline
    histogram = ScoreHistogram
    histogram_thresholds = staticmethod(histogram_thresholds)
    threshold_metrics = staticmethod(threshold_metrics)
