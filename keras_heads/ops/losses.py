"""Unreduced losses: one value per example (per label dimension for regression).

Every function keeps a trailing axis, is finite for any finite input in
float32 (logits of +-1e4 included) and has finite gradients.
"""

import math

from keras import ops

from keras_heads import backend


def sigmoid_cross_entropy(labels, logits):
    """`-z log(s(x)) - (1 - z) log(1 - s(x))`, computed stably.

    >>> loss = sigmoid_cross_entropy(ops.ones((1, 1)), ops.full((1, 1), -41.0))
    >>> ops.convert_to_numpy(loss).tolist()
    [[41.0]]
    """
    return _cross_entropy_and_decay(labels, logits)[0]


def sigmoid_cross_entropy_and_sigmoid(labels, logits):
    """`(sigmoid_cross_entropy(labels, logits), sigmoid(logits))`, sharing
    one `exp(-|x|)`: where both are needed in one pass over a batch.

    >>> loss, p = sigmoid_cross_entropy_and_sigmoid(
    ...     ops.ones((1, 3)), ops.convert_to_tensor([[-41.0, 0.0, 3.0]]))
    >>> [round(float(v), 4) for v in ops.convert_to_numpy(loss)[0]]
    [41.0, 0.6931, 0.0486]
    >>> [round(float(v), 4) for v in ops.convert_to_numpy(p)[0]]
    [0.0, 0.5, 0.9526]
    """
    loss, decay = _cross_entropy_and_decay(labels, logits)
    # 1 / (1 + e^-x) for x >= 0, e^x / (1 + e^x) below.
    larger = 1.0 / (1.0 + decay)
    return loss, ops.where(logits >= 0.0, larger, decay * larger)


def _cross_entropy_and_decay(labels, logits):
    """The sigmoid cross-entropy and the `exp(-|x|)` it is made from."""
    labels = ops.cast(labels, logits.dtype)
    # `max(x, 0) - x z + log(1 + exp(-|x|))`, with `max(x, 0)` written as
    # `(x + |x|) / 2`: no select, which XLA on CPU vectorises far worse (4x
    # slower on a large batch), and the gradient at x = 0 is the true
    # `sigmoid(0) - z` on every backend (relu's and max's are not).
    magnitude = ops.abs(logits)
    decay = ops.exp(-magnitude)
    loss = logits * (0.5 - labels) + 0.5 * magnitude + ops.log1p(decay)
    return loss, decay


def sparse_softmax_cross_entropy(label_ids, logits):
    """`logsumexp(x) - x[id]` for `[..., 1]` ids and `[..., n]` logits.

    Ids outside `[0, n)` give NaN rather than the loss of a clipped id: a
    bad label can never pass silently, even where it is not checked (inside
    a compiled function).
    """
    num_classes = logits.shape[-1]
    ids = ops.cast(label_ids, "int32")
    shifted = logits - backend.reduce_last_axis(ops.max, logits)
    log_normalizer = ops.log(ops.sum(ops.exp(shifted), axis=-1, keepdims=True))
    in_range = ops.logical_and(ids >= 0, ids < num_classes)
    picked = ops.take_along_axis(
        shifted, ops.where(in_range, ids, 0), axis=-1
    )
    return ops.where(in_range, log_normalizer - picked, math.nan)


def top1_matches(label_ids, logits):
    """`argmax(logits) == label_ids` (first maximum) as float32, `[..., 1]`.

    Computed without an argmax, which XLA on CPU makes a slow variadic
    reduction: the label's logit is a maximum and no earlier class ties
    it. An id outside `[0, n)` never matches.
    """
    num_classes = logits.shape[-1]
    ids = ops.cast(label_ids, "int32")
    in_range = ops.logical_and(ids >= 0, ids < num_classes)
    top = backend.reduce_last_axis(ops.max, logits)
    picked = ops.take_along_axis(logits, ops.where(in_range, ids, 0), axis=-1)
    is_top = ops.equal(logits, top)
    earlier = ops.arange(num_classes, dtype="int32") < ids
    tie_before = ops.any(ops.logical_and(is_top, earlier), axis=-1, keepdims=True)
    matches = ops.logical_and(
        in_range, ops.logical_and(ops.equal(picked, top), ~tie_before)
    )
    return ops.cast(matches, "float32")


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
