"""The TF1 streaming metrics of the contrib.learn heads, as Keras metrics.

They share `keras_heads.metrics`' state (one `ScoreHistogram` per batch
feeds the AUCs and the threshold metrics) and differ only in how a result
is read from it:

* `TrapezoidAUC`: `tf.compat.v1.metrics.auc`, the trapezoid rule over 200
  thresholds with a `1e-6` smoothing term, for both the ROC and the PR
  curve: the v1 heads' `AUC` (`keras_heads.compat.v1.metrics`), fed by
  their `ScoreHistogram`, whose buckets are v1's thresholds exactly;
* `PrecisionAtThreshold`, `RecallAtThreshold`:
  `tf.compat.v1.metrics.precision_at_thresholds` / `recall_at_thresholds`,
  `tp / (tp + fp + 1e-7)` and `tp / (tp + fn + 1e-7)`.

Every metric's state is a sum over batches, so metrics stream when fed
several batches, and two metrics' states add.
"""

from keras import ops

from keras_heads.compat.learn.losses import weights_like
from keras_heads.compat.v1.metrics import AUC as TrapezoidAUC
from keras_heads.compat.v1.metrics import ScoreHistogram
from keras_heads.metrics import Precision
from keras_heads.metrics import Recall

_THRESHOLD_EPSILON = 1e-7

__all__ = [
    "PrecisionAtThreshold",
    "RecallAtThreshold",
    "ScoreHistogram",
    "TrapezoidAUC",
    "add_column_means",
]


class _Smoothed:
    """`TP / (TP + errors + 1e-7)`, TF1's form of a precision or recall."""

    def _rate(self, counts):
        tp = counts.true_positives
        return tp / (tp + self._errors(counts) + _THRESHOLD_EPSILON)


class PrecisionAtThreshold(_Smoothed, Precision):
    """`TP / (TP + FP + 1e-7)` at `score > threshold` (labels: non-zero is
    positive).

    Example:

    >>> from keras_heads.compat.learn.metrics import PrecisionAtThreshold
    >>> m = PrecisionAtThreshold(0.5)
    >>> m.update_state([[1], [0]], [[0.9], [0.2]])
    >>> round(float(m.result()), 6)
    1.0
    """


class RecallAtThreshold(_Smoothed, Recall):
    """`TP / (TP + FN + 1e-7)` at `score > threshold` (labels: non-zero is
    positive).

    Example:

    >>> from keras_heads.compat.learn.metrics import RecallAtThreshold
    >>> m = RecallAtThreshold(0.5)
    >>> m.update_state([[1], [1]], [[0.9], [0.2]])
    >>> round(float(m.result()), 6)
    0.5
    """


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
