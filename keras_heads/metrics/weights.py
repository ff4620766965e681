"""How a sample weight is matched to the values it weighs."""

from keras import ops


def broadcast_weights(sample_weight, values):
    """`sample_weight` as a float32 tensor of `values`' shape.

    `None` means weight 1 everywhere. When ranks differ by one, a `[B]` weight
    gains a trailing axis and a `[B, 1]` weight loses its last axis, so both
    `[B]` and `[B, 1]` weights apply to both `[B]` and `[B, 1]` values.
    """
    ones = ops.ones_like(values, dtype="float32")
    if sample_weight is None:
        return ones
    weights = ops.cast(sample_weight, "float32")
    weight_rank, value_rank = len(weights.shape), len(values.shape)
    if weight_rank and weight_rank == value_rank + 1:
        weights = ops.squeeze(weights, -1)
    elif weight_rank and value_rank == weight_rank + 1:
        weights = ops.expand_dims(weights, -1)
    return weights * ones
