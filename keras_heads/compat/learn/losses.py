"""The two losses of a contrib.learn head, and custom loss functions.

Every head reduces its unreduced loss `l` twice:

* the *train* loss, `sum(w * l) / size(l)` (`mean(l)` without weights): what
  `train_op_fn` minimises and `ModelFnOps.loss` holds;
* the *report* loss, `sum(w * l) / sum(w)` (`mean(l)` without weights): the
  `loss` summary and eval metric. As in the reference it is a plain
  division: all-zero weights give NaN.

Weights are broadcast to the loss's shape (a `[B]` or `[B, 1]` weight
applies to every element of its example).
"""

import inspect

import numpy as np
from keras import ops

from keras_heads.metrics import broadcast_weights


def _check_broadcastable(weights, values):
    """Raises unless `weights` broadcast to `values`' shape."""
    shape, target = tuple(weights.shape), tuple(values.shape)
    aligned = shape
    if shape and len(shape) == len(target) + 1 and shape[-1] in (1, None):
        aligned = shape[:-1]
    elif shape and len(target) == len(shape) + 1:
        aligned = shape + (1,)
    compatible = not aligned or (
        len(aligned) == len(target)
        and all(
            w in (1, None) or v is None or w == v
            for w, v in zip(aligned, target)
        )
    )
    if not compatible:
        raise ValueError(
            "weights can not be broadcast to values. values.shape="
            f"{target}, weights.shape={shape}. Give one weight per example "
            "([batch_size] or [batch_size, 1]) or a scalar."
        )


def weights_like(weights, values):
    """`weights` (or ones, for None) broadcast to `values`' shape, float32."""
    if weights is not None:
        weights = ops.cast(weights, "float32")
        _check_broadcastable(weights, values)
    return broadcast_weights(weights, values)


def train_and_report_losses(unweighted_loss, weights):
    """`(train loss, report loss)` of an unreduced loss (module docstring).

    >>> train, report = train_and_report_losses(
    ...     np.array([[1.0], [0.0], [4.0]], "float32"),
    ...     np.array([[2.0], [5.0], [0.0]], "float32"))
    >>> round(float(train), 6), round(float(report), 6)   # 2/3, 2/7
    (0.666667, 0.285714)
    """
    unweighted_loss = ops.cast(unweighted_loss, "float32")
    if weights is None:
        loss = ops.mean(unweighted_loss)
        return loss, loss
    weights = weights_like(weights, unweighted_loss)
    weighted = unweighted_loss * weights
    return ops.mean(weighted), ops.sum(weighted) / ops.sum(weights)


def hinge(labels, logits):
    """`max(0, 1 - (2y - 1) x)` for 0/1 labels `y`."""
    signs = 2.0 * labels - 1.0
    return ops.relu(1.0 - signs * logits)


# --- custom loss functions ---------------------------------------------------


def _positional_names(fn):
    positional = (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
    )
    return tuple(
        p.name for p in inspect.signature(fn).parameters.values()
        if p.kind in positional
    )


def verify_loss_fn(loss_fn):
    """Checks that `loss_fn` takes `labels`, `logits` and `weights`."""
    names = _positional_names(loss_fn)
    for required in ("labels", "logits", "weights"):
        if required not in names:
            raise ValueError(
                f"Argument {required} not found in loss_fn. A loss_fn is "
                "called as loss_fn(labels, logits) or loss_fn(labels, logits, "
                f"weights); its arguments are {names}."
            )
    return loss_fn


def custom_losses(loss_fn, labels, logits, weights):
    """`(loss, loss)` from a user `loss_fn`, which returns a scalar used both
    to train and to report."""
    if weights is None:
        loss = loss_fn(labels, logits)
    else:
        loss = loss_fn(labels, logits, weights)
    loss = ops.cast(ops.convert_to_tensor(loss), "float32")
    shape = tuple(loss.shape)
    if shape and not (
        any(d is None for d in shape) or int(np.prod(shape)) == 1
    ):
        raise ValueError(
            f"loss_fn must return a scalar loss; got shape {shape}. A "
            "contrib.learn loss_fn reduces the loss itself (weights "
            "included)."
        )
    loss = ops.reshape(loss, ())
    return loss, loss
