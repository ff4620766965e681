"""Train ops of the contrib.learn heads: `no_op_train_fn` and grouping.

A train op is whatever `train_op_fn(loss)` returns. Inside a TensorFlow
graph (a `tf.function`) ops are grouped with `tf.group`; eagerly, where
every op has already run when it is created, a group is the tuple of the ops
that are left, and `NO_OP` stands for "nothing left to run" (an eager
`tf.no_op()` returns None).
"""

from keras_heads import backend
from keras_heads.heads.train_op import NO_OP


def _tf_graph():
    """TensorFlow when building a graph (inside a `tf.function`), else None."""
    if not backend.is_tensorflow():
        return None
    import tensorflow as tf

    return None if tf.executing_eagerly() else tf


def no_op_train_fn(loss):
    """A `train_op_fn` that trains nothing: for callers that apply the
    gradients of `ModelFnOps.loss` themselves.

    Returns `tf.no_op()` inside a TensorFlow graph and `NO_OP` elsewhere.
    (Deprecated upstream in favour of `lambda _: tf.no_op()`.)

    Example:

    >>> from keras_heads.compat.learn import no_op_train_fn
    >>> no_op_train_fn(loss=1.5)
    NO_OP
    """
    del loss
    tf = _tf_graph()
    return tf.no_op() if tf is not None else NO_OP


def check_train_op_fn(train_op_fn):
    """Raises the reference's error for a TRAIN call without
    `train_op_fn`."""
    if train_op_fn is None:
        raise ValueError(
            "train_op_fn can not be None in TRAIN mode. Pass a function of "
            "the scalar loss that returns the train op, or "
            "no_op_train_fn to apply the gradients of ModelFnOps.loss "
            "yourself."
        )


def call_train_op_fn(train_op_fn, loss):
    """`train_op_fn(loss)`, with `NO_OP` for a None result."""
    check_train_op_fn(train_op_fn)
    train_op = train_op_fn(loss)
    return NO_OP if train_op is None else train_op


def group(train_ops):
    """One train op running all of `train_ops` (None and `NO_OP` dropped)."""
    left = [op for op in train_ops if op is not None and op is not NO_OP]
    if not left:
        return NO_OP
    if len(left) == 1:
        return left[0]
    tf = _tf_graph()
    if tf is None:
        return tuple(left)
    return tf.group(*[
        op if isinstance(op, tf.Operation) else tf.convert_to_tensor(op)
        for op in left
    ])
