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

from keras_heads import backend
from keras_heads.metrics.weights import broadcast_weights
from keras_heads.metrics.weights import keep_nan

# Weighted counts for one rule "predict positive"; each field is a scalar,
# or a vector with one entry per threshold.
Counts = collections.namedtuple(
    "Counts",
    ["true_positives", "false_positives", "false_negatives", "matches", "total"],
)

# Past this many scores a batch is histogrammed block by block, so that each
# block's cell ids and weights stay in cache: on XLA CPU a 4M-score batch
# costs about half as much that way as in one pass.
BLOCK_SIZE = 1 << 19

# Labels are counted by kind: 0, exactly 1, or any other non-zero value (a
# soft label). Every non-zero label is positive, but only 0 and 1 can match
# a predicted class.
LABEL_KINDS = 3


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
    positive at a metric threshold `t` when `p > t`. A NaN score or weight
    belongs to no bucket: it is counted as NaN, in some cell, so that the
    counts hold a NaN (`has_nan`). `HistogramTotals.update_state` and the
    heads then make every metric read from them NaN.

    Args:
      labels: labels of the scores' shape (or its size); non-zero is positive.
      scores: scores in [0, 1], or logits that `activation` maps there.
      weights: None, or weights that broadcast to the scores (see
        `broadcast_weights`).
      num_buckets: the AUC's number of thresholds.
      thresholds: metric thresholds, any order.
      decisions: None, or booleans of the scores' shape: a second rule for
        "predicted positive" (a binary head's `logits > 0`).
      by_column: count each column of `[..., columns]` scores apart (for
        per-class metrics); read one with `auc_histogram(column)`.
      activation: optional function applied to `scores` first, block by
        block (`ops.sigmoid` to pass logits): a large batch's scores are
        then never held in memory whole.
      activation_and_sum: optional, in place of `activation`:
        `activation_and_sum(scores, labels, weights)` of one block of flat
        inputs (`weights` None when every score weighs the same) returns
        the activated scores and a float32 scalar. The scalars' sum over
        the batch, taken in the same pass as the counts (and scaled by a
        scalar `weights`), is `total`: a head's weighted loss sum, whose
        exponentials the sigmoid can share. The scalar must be NaN where a
        block holds a NaN score (as a loss of it is).

    Example:

    >>> h = ScoreHistogram([0, 1, 1], [0.2, 0.6, 0.9], thresholds=[0.5])
    >>> [float(x) for x in h.at_threshold(0.5)]
    [2.0, 0.0, 0.0, 3.0, 3.0]
    """

    def __init__(self, labels, scores, weights=None, num_buckets=200,
                 thresholds=(), decisions=None, by_column=False,
                 activation=None, activation_and_sum=None):
        scores = ops.cast(ops.convert_to_tensor(scores), "float32")
        self._activation = activation
        self._activation_and_sum = activation_and_sum
        columns = scores.shape[-1] if by_column else 1
        self._num_buckets = num_buckets
        self._thresholds = tuple(sorted(set(float(t) for t in thresholds)))
        self._shape = (
            columns,
            num_buckets,
            len(self._thresholds) + 1,
            1 if decisions is None else 2,
            LABEL_KINDS,
        )
        flat = {"scores": scores, "labels": ops.convert_to_tensor(labels)}
        # One weight for every score scales the counts once, at the end: as
        # a broadcast, XLA on TensorFlow would materialise it whole (a
        # 16 MiB array of ones for a 1024 x 4096 batch).
        scale = None
        if weights is not None:
            weights = ops.cast(ops.convert_to_tensor(weights), "float32")
            if len(weights.shape) == 0:
                scale = weights
            else:
                flat["weights"] = broadcast_weights(weights, scores)
        if decisions is not None:
            flat["decisions"] = ops.cast(decisions, "int32")
        if by_column:
            flat["column"] = ops.arange(columns, dtype="int32") + ops.zeros_like(
                scores, "int32"
            )
        flat = {key: ops.reshape(value, (-1,)) for key, value in flat.items()}
        blocks = block_count(scores.shape)
        if blocks == 1:
            counts, total = self._count(flat)
        else:
            stacked = {
                key: ops.reshape(value, (blocks, -1))
                for key, value in flat.items()
            }

            def add_block(sums, block):
                counts, total = self._count(block)
                return (sums[0] + counts, sums[1] + total), None

            (counts, total), _ = ops.scan(
                add_block,
                (
                    ops.zeros((int(np.prod(self._shape)),), "float32"),
                    ops.zeros((), "float32"),
                ),
                stacked,
            )
        if scale is not None:
            counts, total = counts * scale, total * scale
        if not self._weighs_nan_scores():
            counts = _nan_if_any_nan(counts, total, flat["scores"])
        # The sum of `activation_and_sum`'s scalars (0 without one).
        self.total = total
        self._column_counts = ops.reshape(counts, self._shape)
        # [num_buckets, thresholds + 1, decisions, label kinds], all columns.
        self.counts = ops.sum(self._column_counts, axis=0)

    def _count(self, flat):
        """The flat histogram of one block of flat inputs, and its summand."""
        scores = flat["scores"]
        total = ops.zeros((), "float32")
        if self._activation_and_sum is not None:
            scores, total = self._activation_and_sum(
                scores, flat["labels"], flat.get("weights")
            )
        elif self._activation is not None:
            scores = self._activation(scores)
        cell = self._bucket(scores, self._num_buckets)
        if "column" in flat:
            cell = cell + flat["column"] * self._num_buckets
        cell = cell * self._shape[2] + self._thresholds_passed(scores)
        if "decisions" in flat:
            cell = cell * 2 + flat["decisions"]
        labels = ops.cast(flat["labels"], "float32")
        cell = cell * LABEL_KINDS + _label_kind(labels)
        weights = flat.get("weights")
        if weights is None:
            weights = ops.ones_like(scores)
        if self._weighs_nan_scores():
            # A NaN score has no bucket: it is counted with a NaN weight.
            weights = keep_nan(weights, scores)
        counts = backend.segment_sum(
            weights, cell, int(np.prod(self._shape))
        )
        return counts, total

    def _weighs_nan_scores(self):
        """Whether a NaN score gets a NaN weight, as it is counted, rather
        than being looked for once the batch is counted (`_nan_if_any_nan`).

        The weight costs one fused multiply-add a score; the search, only
        a branch on `total` (the scores are searched when it is NaN), but
        just where a branch is cheap (`backend.branches_cheaply`). In the
        pass that also computes a head's loss, the multiply-add makes a
        `tf.function(jit_compile=True)` evaluation step of a 1024 x 4096
        multi-label batch about 8% slower.
        """
        return self._activation_and_sum is None or (
            not backend.branches_cheaply()
        )

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

    def has_nan(self):
        """A scalar bool: whether a score or weight was NaN."""
        return ops.any(ops.isnan(self.counts))

    def column_counts(self, column):
        """`counts` of one column of a `by_column` histogram."""
        return self._column_counts[column]

    def auc_histogram(self, column=None):
        """`[num_buckets, 2]`: (positive, negative) weight per bucket, of all
        scores or of one `column` (with `by_column`)."""
        counts = self.counts if column is None else self._column_counts[column]
        return auc_histogram(counts)

    def at_thresholds(self):
        """`Counts` with one entry per distinct threshold, in sorted order."""
        return counts_at_thresholds(self.counts)

    def at_threshold(self, threshold):
        """`Counts` (scalars) for predicting positive when `score > threshold`."""
        return counts_at_threshold(self.counts, self._thresholds, threshold)

    def at_decisions(self):
        """`Counts` (scalars) for predicting positive where `decisions`."""
        return counts_at_decisions(self.counts)


# --- reading counts ----------------------------------------------------------
# What every metric reads from `counts` of `ScoreHistogram`'s layout
# `[num_buckets, thresholds + 1, decisions, label kinds]`: one batch's, or
# the running sum that `HistogramTotals` keeps.


def auc_histogram(counts):
    """`[num_buckets, 2]`: (positive, negative) weight per AUC bucket."""
    by_kind = ops.sum(counts, axis=(1, 2))
    positives = by_kind[:, 1] + by_kind[:, 2]
    return ops.stack([positives, by_kind[:, 0]], axis=-1)


def counts_at_thresholds(counts):
    """`Counts` with one entry per metric threshold, in increasing order."""
    by_passed = ops.sum(counts, axis=(0, 2))  # [thresholds + 1, 3]
    below = ops.cumsum(by_passed, axis=0)[:-1]
    above = ops.flip(ops.cumsum(ops.flip(by_passed, 0), axis=0), 0)[1:]
    return _counts(above, below)


def counts_at_threshold(counts, thresholds, threshold):
    """`Counts` (scalars) for `score > threshold`, one of the sorted
    `thresholds` that `counts` were made with."""
    if float(threshold) not in thresholds:
        raise ValueError(
            f"threshold {threshold} was not counted: these counts have "
            f"thresholds {list(thresholds)}."
        )
    position = thresholds.index(float(threshold))
    return Counts(*(field[position] for field in counts_at_thresholds(counts)))


def counts_at_decisions(counts):
    """`Counts` (scalars) for predicting positive where the decision was
    yes."""
    if counts.shape[2] != 2:
        raise ValueError("These counts were made without `decisions`.")
    by_decision = ops.sum(counts, axis=(0, 1))  # [2, 3]
    return Counts(*(f[0] for f in _counts(by_decision[1:], by_decision[:1])))


def _nan_if_any_nan(counts, total, scores):
    """`counts`, all NaN if one of `scores` is NaN, which is looked for only
    when `total`, NaN wherever a score is, is NaN."""
    found = backend.only_if(
        ops.isnan(total),
        lambda: ops.any(ops.isnan(scores)),
        lambda: ops.convert_to_tensor(False),
    )
    return ops.where(found, np.nan, counts)


def block_count(shape):
    """How many equal blocks of at most about `BLOCK_SIZE` scores to cut a
    batch of static `shape` into (1 for a small or dynamic shape)."""
    if any(d is None for d in shape):
        return 1
    size = int(np.prod(shape))
    blocks = max(1, size // BLOCK_SIZE)
    while size % blocks:
        blocks -= 1
    return blocks


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
