"""The loss reductions of the TF 1.x heads (`tf.compat.v1.losses.Reduction`).

The v1 heads know four ways to reduce a weighted loss `wℓ` (the weights
broadcast to the unreduced loss `ℓ`) to the training loss:

* `SUM`: `Σ wℓ`;
* `SUM_OVER_BATCH_SIZE`: `Σ wℓ / size(ℓ)`;
* `MEAN`: `Σ wℓ / Σ w`;
* `SUM_BY_NONZERO_WEIGHTS`: `Σ wℓ / #{w ≠ 0}`.

Every division gives 0 when its denominator is 0. The strings are v1's
(`"weighted_sum"`, ...), not those of `keras_heads.Reduction`.
"""

from keras import ops

from keras_heads import backend
from keras_heads.ops.reduction import weighted_sum_and_size


class Reduction:
    """`tf.compat.v1.losses.Reduction`: the v1 heads' loss reductions.

    A v1 head accepts every one but `NONE`.

    Example:

    >>> Reduction.SUM_OVER_BATCH_SIZE
    'weighted_sum_over_batch_size'
    >>> Reduction.SUM_OVER_NONZERO_WEIGHTS == Reduction.SUM_BY_NONZERO_WEIGHTS
    True
    >>> Reduction.validate("weighted_mean")
    'weighted_mean'
    """

    NONE = "none"
    SUM = "weighted_sum"
    SUM_OVER_BATCH_SIZE = "weighted_sum_over_batch_size"
    MEAN = "weighted_mean"
    SUM_BY_NONZERO_WEIGHTS = "weighted_sum_by_nonzero_weights"
    SUM_OVER_NONZERO_WEIGHTS = SUM_BY_NONZERO_WEIGHTS

    @classmethod
    def all(cls):
        """Every reduction, `NONE` included."""
        return (
            cls.NONE,
            cls.SUM,
            cls.MEAN,
            cls.SUM_OVER_BATCH_SIZE,
            cls.SUM_OVER_NONZERO_WEIGHTS,
            cls.SUM_BY_NONZERO_WEIGHTS,
        )

    @classmethod
    def validate(cls, key):
        """Returns `key` if it is one of `all()`, else raises `ValueError`."""
        if key not in cls.all():
            raise ValueError(
                f"Invalid Reduction Key {key!r}. Expected one of "
                f"{sorted(set(cls.all()))}."
            )
        return key


_HEAD_REDUCTIONS = tuple(r for r in Reduction.all() if r != Reduction.NONE)


def validate_loss_reduction(loss_reduction):
    """`loss_reduction` if a v1 head accepts it (any v1 reduction but NONE)."""
    if loss_reduction not in _HEAD_REDUCTIONS:
        raise ValueError(
            f"Invalid loss_reduction: {loss_reduction}. Expected one of "
            f"{sorted(set(_HEAD_REDUCTIONS))} (see "
            "keras_heads.compat.v1.Reduction); a head always reduces its "
            "loss, so 'none' is not accepted."
        )
    return loss_reduction


def reduce_loss(unweighted_loss, weights, loss_reduction):
    """The v1 training loss: `unweighted_loss` weighted and reduced.

    Args:
      unweighted_loss: the unreduced loss, float32.
      weights: the scalar `1.0` or float32 weights that broadcast to it.
      loss_reduction: one of `Reduction`, except `NONE`.

    Example:

    >>> loss = np.array([[0.0], [41.0], [44.0]], "float32")
    >>> weights = np.array([[1.0], [0.1], [1.5]], "float32")
    >>> for reduction in (Reduction.SUM, Reduction.SUM_OVER_BATCH_SIZE,
    ...                   Reduction.MEAN, Reduction.SUM_BY_NONZERO_WEIGHTS):
    ...     print(round(float(reduce_loss(loss, weights, reduction)), 4))
    70.1
    23.3667
    26.9615
    23.3667
    """
    unweighted_loss = ops.cast(
        ops.convert_to_tensor(unweighted_loss), "float32"
    )
    total, size = weighted_sum_and_size(unweighted_loss, weights)
    if loss_reduction == Reduction.SUM:
        return total
    if loss_reduction == Reduction.SUM_OVER_BATCH_SIZE:
        return ops.divide_no_nan(total, size)
    broadcast = _broadcast(weights, unweighted_loss)
    if loss_reduction == Reduction.MEAN:
        return ops.divide_no_nan(total, backend.sum_all(broadcast))
    if loss_reduction == Reduction.SUM_BY_NONZERO_WEIGHTS:
        nonzero = backend.sum_all(
            ops.cast(ops.not_equal(broadcast, 0.0), "float32")
        )
        return ops.divide_no_nan(total, nonzero)
    validate_loss_reduction(loss_reduction)
    raise AssertionError(loss_reduction)  # every valid reduction returned


def _broadcast(weights, unweighted_loss):
    return ops.cast(weights, "float32") * ops.ones_like(unweighted_loss)


def weight_sum(unweighted_loss, weights):
    """`Σ w` with the weights broadcast to the unreduced loss: what a v1 head
    divides a `SUM` loss by for its `average_loss` summary."""
    unweighted_loss = ops.convert_to_tensor(unweighted_loss)
    return backend.sum_all(_broadcast(weights, unweighted_loss))
