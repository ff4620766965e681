"""One weighted histogram per batch, from which every classification metric
of a head reads its counts.

Scores are bucketed once, together with the labels, the weights, how many
metric thresholds each score passes and (optionally) one more yes/no
decision such as `logits > 0`. A single scatter-add makes the histogram;
ROC and PR AUC, and accuracy, precision and recall at every threshold, are
then small sums over its axes. The histogram has
`num_buckets x (thresholds + 1) x decisions x 3` cells, a few thousand at
most, whatever the batch size.
"""

import collections

import numpy as np
from keras import ops

from keras_heads.metrics.weights import broadcast_weights

# Weighted counts for one rule "predict positive"; each field is a scalar,
# or a vector with one entry per threshold.
Counts = collections.namedtuple(
    "Counts",
    ["true_positives", "false_positives", "false_negatives", "matches", "total"],
)

# Labels are counted by kind: 0, exactly 1, or any other non-zero value (a
# soft label). Every non-zero label is positive, but only 0 and 1 can match
# a predicted class.
_LABEL_KINDS = 3


def _label_kind(labels):
    is_one = ops.cast(ops.equal(labels, 1.0), "int32")
    is_nonzero = ops.cast(ops.not_equal(labels, 0.0), "int32")
    return is_nonzero + is_nonzero * (1 - is_one)


class ScoreHistogram:
    """Weighted counts of one batch by score bucket, thresholds passed,
    decision and label kind, from one scatter-add.

    A score `p` (clipped to [0, 1]) lands in bucket
    `max(ceil(p (num_buckets - 1)) - 1, 0)`: it is above exactly the AUC
    thresholds `0..bucket` (`-eps, 1/(n-1), ..., 1+eps`). It is predicted
    positive at a metric threshold `t` when `p > t`.

    Args:
      labels: labels of the scores' shape (or its size); non-zero is positive.
      scores: scores in [0, 1].
      weights: None, or weights that broadcast to the scores (see
        `broadcast_weights`).
      num_buckets: the AUC's number of thresholds.
      thresholds: metric thresholds, any order.
      decisions: None, or booleans of the scores' shape: a second rule for
        "predicted positive" (a binary head's `logits > 0`).
      by_column: count each column of `[..., columns]` scores apart (for
        per-class metrics); read one with `auc_histogram(column)`.

    Example:

    >>> h = ScoreHistogram([0, 1, 1], [0.2, 0.6, 0.9], thresholds=[0.5])
    >>> [float(x) for x in h.at_threshold(0.5)]
    [2.0, 0.0, 0.0, 3.0, 3.0]
    """

    def __init__(self, labels, scores, weights=None, num_buckets=200,
                 thresholds=(), decisions=None, by_column=False):
        scores = ops.cast(ops.convert_to_tensor(scores), "float32")
        weights = ops.reshape(broadcast_weights(weights, scores), (-1,))
        columns = scores.shape[-1] if by_column else 1
        column = ops.reshape(
            ops.arange(columns, dtype="int32") + ops.zeros_like(scores, "int32"),
            (-1,),
        )
        scores = ops.reshape(scores, (-1,))
        labels = ops.reshape(
            ops.cast(ops.convert_to_tensor(labels), "float32"), (-1,)
        )
        self._thresholds = tuple(sorted(set(float(t) for t in thresholds)))
        self._shape = (
            columns,
            num_buckets,
            len(self._thresholds) + 1,
            1 if decisions is None else 2,
            _LABEL_KINDS,
        )
        cell = column * num_buckets + self._bucket(scores, num_buckets)
        cell = cell * self._shape[2] + self._thresholds_passed(scores)
        if decisions is not None:
            decided = ops.cast(ops.reshape(decisions, (-1,)), "int32")
            cell = cell * 2 + decided
        cell = cell * _LABEL_KINDS + _label_kind(labels)
        counts = ops.segment_sum(
            weights, cell, num_segments=int(np.prod(self._shape))
        )
        self._column_counts = ops.reshape(counts, self._shape)
        # [num_buckets, thresholds + 1, decisions, label kinds], all columns.
        self.counts = ops.sum(self._column_counts, axis=0)

    @staticmethod
    def _bucket(scores, num_buckets):
        scaled = ops.ceil(ops.clip(scores, 0.0, 1.0) * (num_buckets - 1))
        return ops.clip(ops.cast(scaled, "int32") - 1, 0, num_buckets - 1)

    def _thresholds_passed(self, scores):
        if not self._thresholds:
            return ops.zeros_like(scores, dtype="int32")
        above = ops.greater(
            ops.expand_dims(scores, -1),
            ops.convert_to_tensor(self._thresholds, "float32"),
        )
        return ops.sum(ops.cast(above, "int32"), axis=-1)

    def auc_histogram(self, column=None):
        """`[num_buckets, 2]`: (positive, negative) weight per bucket, of all
        scores or of one `column` (with `by_column`)."""
        counts = self.counts if column is None else self._column_counts[column]
        by_kind = ops.sum(counts, axis=(1, 2))
        positives = by_kind[:, 1] + by_kind[:, 2]
        return ops.stack([positives, by_kind[:, 0]], axis=-1)

    def at_thresholds(self):
        """`Counts` with one entry per distinct threshold, in sorted order."""
        by_passed = ops.sum(self.counts, axis=(0, 2))  # [thresholds + 1, 3]
        below = ops.cumsum(by_passed, axis=0)[:-1]
        above = ops.flip(ops.cumsum(ops.flip(by_passed, 0), axis=0), 0)[1:]
        return _counts(above, below)

    def at_threshold(self, threshold):
        """`Counts` (scalars) for predicting positive when `score > threshold`."""
        position = self._thresholds.index(float(threshold))
        return Counts(*(field[position] for field in self.at_thresholds()))

    def at_decisions(self):
        """`Counts` (scalars) for predicting positive where `decisions`."""
        if self._shape[3] != 2:
            raise ValueError("This histogram was made without `decisions`.")
        by_decision = ops.sum(self.counts, axis=(0, 1))  # [2, 3]
        return Counts(*(f[0] for f in _counts(by_decision[1:], by_decision[:1])))


def _counts(predicted_positive, predicted_negative):
    """`Counts` from `[..., 3]` weights by label kind on each side."""
    positive, negative = predicted_positive, predicted_negative
    return Counts(
        true_positives=positive[..., 1] + positive[..., 2],
        false_positives=positive[..., 0],
        false_negatives=negative[..., 1] + negative[..., 2],
        matches=positive[..., 1] + negative[..., 0],
        total=ops.sum(positive + negative, axis=-1),
    )
