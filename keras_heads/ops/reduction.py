"""Loss reductions, kept as `(weighted sum, denominator)` until the end.

Keeping the numerator and denominator apart is what lets a caller sum them
across replicas or batches before dividing (the root of the loss-scaling bugs
of data-parallel training is dividing too early).
"""

from keras import ops

from keras_heads import backend


class Reduction:
    """The loss reductions a head accepts, under the reference's names.

    * `SUM_OVER_BATCH_SIZE` (default): the weighted sum divided by the
      number of elements of the unreduced loss (not by the sum of weights).
    * `SUM`: the weighted sum.
    * `AUTO`: computed like `SUM_OVER_BATCH_SIZE`.
    * `NONE` exists for completeness and is rejected by every head.
    """

    AUTO = "auto"
    NONE = "none"
    SUM = "sum"
    SUM_OVER_BATCH_SIZE = "sum_over_batch_size"

    @classmethod
    def all(cls):
        return (cls.AUTO, cls.NONE, cls.SUM, cls.SUM_OVER_BATCH_SIZE)


_HEAD_REDUCTIONS = (Reduction.AUTO, Reduction.SUM, Reduction.SUM_OVER_BATCH_SIZE)


def validate_loss_reduction(loss_reduction):
    if loss_reduction not in _HEAD_REDUCTIONS:
        raise ValueError(
            f"Invalid loss_reduction: {loss_reduction}. Expected one of "
            f"{list(_HEAD_REDUCTIONS)} (see keras_heads.Reduction); a head "
            "always reduces its loss, so 'none' is not accepted."
        )
    return loss_reduction


def weighted_sum_and_size(unweighted_loss, weights):
    """`(sum(w * loss), number of elements)` with `w` broadcast to the loss."""
    weighted = unweighted_loss * ops.cast(weights, unweighted_loss.dtype)
    size = ops.cast(ops.size(unweighted_loss), unweighted_loss.dtype)
    return backend.sum_all(weighted), size


def reduce_terms(terms):
    """`sum(weighted sum / denominator)` over `(weighted sum, denominator)`
    terms (`Head._loss_terms`), each denominator first summed over the
    data-parallel replicas; a `None` denominator (`SUM`) divides nothing.

    On one device this is the head's unregularized loss. Inside a
    `tf.distribute` replica it is this replica's share of the global batch's
    loss: the shares sum to it, and so do their gradients.
    """
    loss = None
    for weighted_sum, denominator in terms:
        if denominator is not None:
            weighted_sum = ops.divide_no_nan(
                weighted_sum, backend.cross_replica_sum(denominator)
            )
        loss = weighted_sum if loss is None else loss + weighted_sum
    return loss
