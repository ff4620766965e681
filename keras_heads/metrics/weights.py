"""How a sample weight is matched to the values it weighs."""

from keras import ops

from keras_heads import backend


def align_labels(y_true, y_pred):
    """`y_true` with `y_pred`'s rank when the two differ by a trailing axis of
    size 1 (`[B]` labels against `[B, 1]` predictions, or the reverse)."""
    y_true = ops.convert_to_tensor(y_true)
    true_rank, pred_rank = len(y_true.shape), len(y_pred.shape)
    if true_rank == pred_rank + 1 and y_true.shape[-1] == 1:
        return ops.squeeze(y_true, -1)
    if pred_rank == true_rank + 1 and y_pred.shape[-1] == 1:
        return ops.expand_dims(y_true, -1)
    return y_true


def broadcast_weights(sample_weight, values):
    """`sample_weight` as a float32 tensor of `values`' shape.

    `None` means weight 1 everywhere. When ranks differ by one, a `[B]` weight
    gains a trailing axis and a `[B, 1]` weight loses its last axis, so both
    `[B]` and `[B, 1]` weights apply to both `[B]` and `[B, 1]` values.
    """
    # A broadcast, not `weights * ones_like(values)`: TensorFlow's graph
    # optimizer makes a product by constant ones a tile, whose multiples it
    # divides by the weights' shape (a batch of no examples: SIGFPE), and
    # XLA on TensorFlow counts all of a mask-flattened (dynamic) batch's
    # padded capacity in `ones_like` (a weight sum of 6 for 4 real steps).
    if sample_weight is None:
        return ops.broadcast_to(
            ops.convert_to_tensor(1.0, "float32"), ops.shape(values)
        )
    weights = ops.cast(sample_weight, "float32")
    weight_rank, value_rank = len(weights.shape), len(values.shape)
    if weight_rank and weight_rank == value_rank + 1:
        weights = ops.squeeze(weights, -1)
    elif weight_rank and value_rank == weight_rank + 1:
        weights = ops.expand_dims(weights, -1)
    return ops.broadcast_to(weights, ops.shape(values))


def keep_nan(weights, scores):
    """`weights` (broadcast to `scores`), NaN wherever a score is NaN.

    How `ScoreHistogram` counts a NaN score: it has no bucket and no side
    of a threshold, and counted with its own weight it would land on some
    backend-dependent side; with a NaN weight it makes the counts NaN
    instead. Infinite scores are numbers like any other. One fused
    multiply-add: no select, no reduction.

    >>> weights = keep_nan(1.0, [0.3, float("nan"), float("inf")])
    >>> ops.convert_to_numpy(weights).tolist()
    [1.0, nan, 1.0]
    """
    scores = ops.cast(ops.convert_to_tensor(scores), "float32")
    # Clipped, every number is finite and `0 * score` is 0; NaN stays NaN.
    return broadcast_weights(weights, scores) + 0.0 * ops.clip(
        scores, 0.0, 1.0
    )


def weighted_sums(values, sample_weight=None):
    """`([sum(w * v) for v in values], sum(w))`, each sum a `backend.sum_all`.

    `values` share one shape and `sample_weight` broadcasts to it (see
    `broadcast_weights`).

    >>> sums, total = weighted_sums([[1.0, 3.0], [0.0, 1.0]], [1.0, 0.5])
    >>> [float(s) for s in sums], float(total)
    ([2.5, 0.5], 1.5)
    """
    values = [ops.cast(ops.convert_to_tensor(v), "float32") for v in values]
    weights = broadcast_weights(sample_weight, values[0])
    sums = [backend.sum_all(v * weights) for v in values]
    return sums, backend.sum_all(weights)
