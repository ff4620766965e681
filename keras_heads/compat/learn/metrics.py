"""The TF1 streaming metrics of the contrib.learn heads, as Keras metrics.

They share `keras_heads.metrics`' state (one `ScoreHistogram` per batch
feeds the AUCs and the threshold metrics) and differ only in how a result
is read from it:

* `TrapezoidAUC`: `tf.compat.v1.metrics.auc`, the trapezoid rule over 200
  thresholds with a `1e-6` smoothing term, for both the ROC and the PR
  curve (the v2 heads interpolate the PR curve instead);
* `PrecisionAtThreshold`, `RecallAtThreshold`:
  `tf.compat.v1.metrics.precision_at_thresholds` / `recall_at_thresholds`,
  `tp / (tp + fp + 1e-7)` and `tp / (tp + fn + 1e-7)`.

Every metric's state is a sum over batches, so metrics stream when fed
several batches, and two metrics' states add.
"""

from keras import ops

from keras_heads.compat.learn.losses import weights_like
from keras_heads.metrics import AUC
from keras_heads.metrics import Precision
from keras_heads.metrics import Recall

_AUC_SMOOTHING = 1e-6
_THRESHOLD_EPSILON = 1e-7


def _reverse_cumsum(x):
    return ops.flip(ops.cumsum(ops.flip(x, axis=0), axis=0), axis=0)


class TrapezoidAUC(AUC):
    """The area under the ROC or PR curve as `tf.compat.v1.metrics.auc`
    computes it.

    Thresholds `[-1e-7, 1/199, ..., 198/199, 1 + 1e-7]`; a score is positive
    at a threshold when strictly above it, a label when non-zero. With
    `recall = (TP + 1e-6) / (TP + FN + 1e-6)`, `fpr = FP / (FP + TN + 1e-6)`
    and `precision = (TP + 1e-6) / (TP + FP + 1e-6)` per threshold, the area
    is the trapezoid sum over consecutive thresholds of (recall, fpr) for
    ROC and of (precision, recall) for PR.

    Example:

    >>> from keras_heads.compat.learn.metrics import TrapezoidAUC
    >>> m = TrapezoidAUC(curve="PR")
    >>> m.update_state([[1], [0]], [[0.731059], [0.731059]])
    >>> round(float(m.result()), 6)
    0.749999
    """

    def result(self):
        above = _reverse_cumsum(self.histogram)
        tp, fp = above[:, 0], above[:, 1]
        totals = ops.sum(self.histogram, axis=0)
        fn, tn = totals[0] - tp, totals[1] - fp
        eps = _AUC_SMOOTHING
        recall = (tp + eps) / (tp + fn + eps)
        if self.curve == "PR":
            x, y = recall, (tp + eps) / (tp + fp + eps)
        else:
            x, y = fp / (fp + tn + eps), recall
        return ops.sum((x[:-1] - x[1:]) * (y[:-1] + y[1:]) / 2.0)


class PrecisionAtThreshold(Precision):
    """`TP / (TP + FP + 1e-7)` at `score > threshold` (labels: non-zero is
    positive).

    Example:

    >>> from keras_heads.compat.learn.metrics import PrecisionAtThreshold
    >>> m = PrecisionAtThreshold(0.5)
    >>> m.update_state([[1], [0]], [[0.9], [0.2]])
    >>> round(float(m.result()), 6)
    1.0
    """

    def result(self):
        return self.true_positives / (
            self.true_positives + self.errors + _THRESHOLD_EPSILON
        )


class RecallAtThreshold(Recall):
    """`TP / (TP + FN + 1e-7)` at `score > threshold` (labels: non-zero is
    positive).

    Example:

    >>> from keras_heads.compat.learn.metrics import RecallAtThreshold
    >>> m = RecallAtThreshold(0.5)
    >>> m.update_state([[1], [1]], [[0.9], [0.2]])
    >>> round(float(m.result()), 6)
    0.5
    """

    def result(self):
        return self.true_positives / (
            self.true_positives + self.errors + _THRESHOLD_EPSILON
        )


def add_column_means(means, values, weights):
    """Feeds `means[j]` (`keras_heads.metrics.Mean`s) the weighted mean of
    column `j` of `values` (`[..., len(means)]`), in one reduction.

    `weights` (None, a scalar, or per example `[B]` / `[B, 1]`, or already of
    `values`' shape) weigh each row.
    """
    values = ops.cast(values, "float32")
    weights = weights_like(weights, values)
    columns = len(means)
    totals = ops.sum(ops.reshape(values * weights, (-1, columns)), axis=0)
    counts = ops.sum(ops.reshape(weights, (-1, columns)), axis=0)
    for column, mean in enumerate(means):
        mean.add_sums(totals[column], counts[column])
