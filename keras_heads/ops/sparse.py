"""Sparse class-id labels as dense multi-hot tensors."""

import numpy as np
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


def check_indices(indices, dense_shape):
    """Raises `ValueError` for an entry outside `dense_shape`, when values
    are known.

    Backends disagree on such an entry (TensorFlow raises, JAX drops it
    without a word), so it is refused before any of them sees it. While
    tracing nothing is checked: `HeadModel` checks every batch before its
    compiled step.

    >>> check_indices(np.array([[0, 0], [2, 1]]), (2, 3))
    Traceback (most recent call last):
    ...
    ValueError: labels has sparse entries outside its dense_shape (2, 3): ...
    """
    if backend.is_traced(indices) or any(d is None for d in dense_shape):
        return
    array = np.asarray(ops.convert_to_numpy(indices))
    if not array.size:
        return
    outside = np.any((array < 0) | (array >= np.asarray(dense_shape)), axis=1)
    if np.any(outside):
        raise ValueError(
            "labels has sparse entries outside its dense_shape "
            f"{tuple(int(d) for d in dense_shape)}: indices "
            f"{array[outside][:5].tolist()}."
        )
