"""What a `HeadModel` adds to Keras' data-parallel training.

Two things Keras 3.15 gets wrong, or leaves obscure, when a batch does not
split evenly over the devices:

* Under `tf.distribute`, Keras' `loss` tracker records each replica's loss
  times the number of replicas, weighted by the replica's own batch size.
  That is the global batch's loss only when every replica holds as many
  examples; on an uneven last batch (25 examples in batches of 8 over two
  replicas: 1 and 0) the logged `loss` drifts from one device's, though
  the gradients and the head's metrics are right. `LossTracker` records the
  global batch's loss, weighted by each replica's batch size, so the epoch's
  `loss` is `sum(loss_b * n_b) / sum(n_b)` over its batches, as on one
  device.
* `keras.distribution.DataParallel` (JAX) cannot split a batch whose size
  the devices do not divide, and says so in terms of sharding and tiling,
  partway through an epoch. `check_batches_split` says it before the first
  step, in terms of `batch_size` and the number of examples.
"""

import keras
from keras.src.utils import tracking

from keras_heads import backend


class LossTracker(keras.metrics.Mean):
    """Keras' `loss` tracker, exact under `tf.distribute` however a batch
    splits over the replicas.

    Keras' steps call `update_state(loss * replicas, sample_weight=n)`
    on each replica, `n` its batch size: the mean of those values over the
    replicas is the global batch's loss (the replicas' losses sum to it).
    Off `tf.distribute`, a plain `keras.metrics.Mean`.
    """

    def update_state(self, values, sample_weight=None):
        return super().update_state(
            backend.replicas_mean(values), sample_weight=sample_weight
        )


def install_loss_tracker(model):
    """Replaces the `loss` tracker that `compile` gave `model` by a
    `LossTracker` (Keras' own is created untracked, so this one is too)."""
    with tracking.DotNotTrackScope():
        model._loss_tracker = LossTracker(name="loss")


def check_batches_split(epoch_iterator):
    """Raises a `ValueError`, before `fit` or `evaluate` takes a step, when
    the active `keras.distribution` cannot split one of the batches that
    `epoch_iterator` (Keras') will give.

    Only batches whose size is known up front are checked: arrays', and a
    batched `tf.data.Dataset`'s with `drop_remainder=True`. Any other
    source still fails at the first batch that does not split, with
    Keras' `IndivisibleError`.
    """
    shards = backend.batch_shards()
    adapter = getattr(epoch_iterator, "data_adapter", None)
    if shards == 1 or adapter is None:
        return
    batch_size = adapter.batch_size
    if batch_size is None:
        return
    last = _partial_batch_size(adapter)
    batches = adapter.num_batches
    full_batches = None if batches is None else batches - bool(last)
    where = (
        f"keras.distribution splits each batch over {shards} devices, so "
        f"every batch must hold a multiple of {shards} examples. "
    )
    if batch_size % shards and full_batches != 0:
        raise ValueError(
            f"{where}Got batch_size={batch_size}. Pass a batch_size that "
            f"{shards} divides (a tf.data.Dataset: batch it so)."
        )
    if last and last % shards:
        examples = full_batches * batch_size + last
        raise ValueError(
            f"{where}Got {examples} examples in batches of {batch_size}: "
            f"the last batch holds {last}. Pass a number of examples "
            f"that {shards} divides: drop the last "
            f"{last % shards}, say (x[:{examples - last % shards}]). The "
            "last batch is not padded for you: padding examples would "
            "count wherever a loss or a metric divides by the number of "
            "examples."
        )


def _partial_batch_size(adapter):
    try:
        return adapter.partial_batch_size
    except NotImplementedError:
        return None
