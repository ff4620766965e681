"""Sparse class-id labels as dense multi-hot tensors."""

from keras import ops

from keras_heads import backend


def to_multi_hot(indices, class_ids, batch_shape, num_classes):
    """A `batch_shape + [num_classes]` int64 indicator of the given ids.

    `indices` is the `[nnz, rank]` index of each sparse entry; all but its
    last column locate the example, `class_ids` (`[nnz]`) the class. An id
    listed twice for one example still gives 1.
    """
    example = ops.cast(indices[:, :-1], "int32")
    positions = ops.concatenate(
        [example, ops.expand_dims(ops.cast(class_ids, "int32"), -1)], axis=-1
    )
    counts = ops.scatter(
        positions,
        ops.ones_like(class_ids, dtype="int32"),
        tuple(batch_shape) + (num_classes,),
    )
    return ops.cast(ops.minimum(counts, 1), backend.int64())


def examples_with(indices, flags, batch_shape):
    """True for each example that has at least one flagged sparse entry."""
    example = ops.cast(indices[:, :-1], "int32")
    hits = ops.scatter(example, ops.cast(flags, "int32"), tuple(batch_shape))
    return hits > 0
