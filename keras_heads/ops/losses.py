"""Unreduced losses: one value per example (per label dimension for regression).

Every function keeps a trailing axis, is finite for any finite input in
float32 (logits of +-1e4 included) and has finite gradients.
"""

import math

from keras import ops


def sigmoid_cross_entropy(labels, logits):
    """`-z log(s(x)) - (1 - z) log(1 - s(x))`, computed stably.

    >>> loss = sigmoid_cross_entropy(ops.ones((1, 1)), ops.full((1, 1), -41.0))
    >>> ops.convert_to_numpy(loss).tolist()
    [[41.0]]
    """
    labels = ops.cast(labels, logits.dtype)
    # `where` rather than relu/abs: their subgradient at 0 is 0, which would
    # make the gradient at logit 0 equal to -z instead of sigmoid(0) - z.
    non_negative = logits >= 0
    positive_part = ops.where(non_negative, logits, 0.0)
    minus_abs = ops.where(non_negative, -logits, logits)
    return positive_part - logits * labels + ops.log1p(ops.exp(minus_abs))


def sparse_softmax_cross_entropy(label_ids, logits):
    """`logsumexp(x) - x[id]` for `[..., 1]` ids and `[..., n]` logits.

    Ids outside `[0, n)` give NaN rather than the loss of a clipped id: a
    bad label can never pass silently, even where it is not checked (inside
    a compiled function).
    """
    num_classes = logits.shape[-1]
    ids = ops.cast(label_ids, "int32")
    shifted = logits - ops.max(logits, axis=-1, keepdims=True)
    log_normalizer = ops.log(ops.sum(ops.exp(shifted), axis=-1, keepdims=True))
    in_range = ops.logical_and(ids >= 0, ids < num_classes)
    picked = ops.take_along_axis(
        shifted, ops.where(in_range, ids, 0), axis=-1
    )
    return ops.where(in_range, log_normalizer - picked, math.nan)


def squared_error(labels, predictions):
    return ops.square(predictions - ops.cast(labels, predictions.dtype))


def log_poisson(labels, log_rates, compute_full_loss=True):
    """Negative log-likelihood of `labels` under Poisson rates `exp(x)`.

    With `compute_full_loss`, Stirling's approximation of `log(z!)` is added
    for labels above 1 (it is zero for labels in [0, 1]).
    """
    labels = ops.cast(labels, log_rates.dtype)
    loss = ops.exp(log_rates) - log_rates * labels
    if not compute_full_loss:
        return loss
    no_term = ops.logical_and(labels >= 0.0, labels <= 1.0)
    safe = ops.where(no_term, 1.0, labels)
    stirling = (
        safe * ops.log(safe) - safe + 0.5 * ops.log(2.0 * math.pi * safe)
    )
    return loss + ops.where(no_term, 0.0, stirling)
