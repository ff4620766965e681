"""How a v1 head turns its TRAIN loss into a train op.

As in TF 1.x, exactly one of:

* `train_op_fn(loss)`: called once with the regularized loss; what it
  returns is the train op (`NO_OP` when it returns None). Every backend.
* `optimizer`: a `tf.compat.v1.train.Optimizer` (or anything with its
  `minimize`), called as `optimizer.minimize(loss, global_step=<the graph's
  global step>)`; or a `keras.optimizers.Optimizer`, which applies the
  gradient of the loss to the graph's `TRAINABLE_VARIABLES` and then adds 1
  to the global step, if the graph has one. Either way the loss must still
  carry its graph: call `create_estimator_spec` inside a `tf.function` whose
  graph holds the TF1 collections (the model_fn runner,
  `keras_heads.compat.estimator`, fills them). TensorFlow only; other
  backends, and eager TensorFlow, get a `ValueError` that says to pass
  `train_op_fn`.

A single head then groups the train op with the ops of the graph's
`UPDATE_OPS` collection, if any (batch-norm statistics and the like).
"""

import keras

from keras_heads import backend
from keras_heads.heads.train_op import NO_OP


def _tensorflow(what):
    """The `tensorflow` module, once `what` is known to be possible here."""
    if backend.name() != "tensorflow":
        raise ValueError(
            f"{what} needs TensorFlow's graph collections, and the Keras "
            f"backend is {backend.name()!r}. Pass train_op_fn=... instead "
            "and update the variables yourself (e.g. with jax.grad or "
            "loss.backward()), or run with KERAS_BACKEND=tensorflow."
        )
    import tensorflow as tf

    if tf.executing_eagerly():
        raise ValueError(
            f"{what} needs the loss's graph, and this loss was computed "
            "eagerly. Call create_estimator_spec inside a tf.function whose "
            "graph holds the TF1 collections TRAINABLE_VARIABLES and "
            "GLOBAL_STEP (keras_heads.compat.estimator.Estimator runs a "
            "model_fn that way), or pass train_op_fn=... instead."
        )
    return tf


def create_train_op(loss, optimizer=None, train_op_fn=None):
    """The train op of `loss` from `optimizer` or `train_op_fn` (not both).

    Example:

    >>> create_train_op(1.0, train_op_fn=lambda loss: ("step", loss))
    ('step', 1.0)
    >>> create_train_op(1.0, train_op_fn=lambda loss: None)
    NO_OP
    """
    if optimizer is not None:
        if train_op_fn is not None:
            raise ValueError("train_op_fn and optimizer cannot both be set.")
        if isinstance(optimizer, keras.optimizers.Optimizer):
            return _apply_keras_optimizer(optimizer, loss)
        tf = _tensorflow("create_estimator_spec(optimizer=...)")
        return optimizer.minimize(
            loss, global_step=tf.compat.v1.train.get_global_step()
        )
    if train_op_fn is not None:
        train_op = train_op_fn(loss)
        return NO_OP if train_op is None else train_op
    raise ValueError("train_op_fn and optimizer cannot both be None.")


def _unique(values):
    seen, unique = set(), []
    for value in values:
        if id(value) not in seen:
            seen.add(id(value))
            unique.append(value)
    return unique


def _apply_keras_optimizer(optimizer, loss):
    tf = _tensorflow("create_estimator_spec(optimizer=<keras optimizer>)")
    variables = _unique(tf.compat.v1.trainable_variables())
    if not variables:
        raise ValueError(
            "The graph's TRAINABLE_VARIABLES collection is empty: there is "
            "nothing for the optimizer to train. Add the model's variables "
            "with tf.compat.v1.add_to_collection (the model_fn runner does), "
            "or pass train_op_fn=... instead."
        )
    gradients = tf.gradients(loss, variables)
    pairs = [(g, v) for g, v in zip(gradients, variables) if g is not None]
    if not pairs:
        raise ValueError(
            "No gradients provided for any variable: the loss does not "
            "depend on the TRAINABLE_VARIABLES "
            f"{[v.name for v in variables]}."
        )
    optimizer.apply([g for g, _ in pairs], [v for _, v in pairs])
    global_step = tf.compat.v1.train.get_global_step()
    if global_step is None:
        return optimizer.iterations.value
    return tf.compat.v1.assign_add(global_step, 1)


def append_update_ops(train_op):
    """`train_op` grouped with the graph's `UPDATE_OPS`, if it has any.

    Outside a TensorFlow graph there are no collections and `train_op` is
    returned as it is.

    Example:

    >>> append_update_ops("train")
    'train'
    """
    if backend.name() != "tensorflow":
        return train_op
    import tensorflow as tf

    if tf.executing_eagerly():
        return train_op
    update_ops = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)
    if not update_ops:
        return train_op
    return tf.group(*_graph_ops(train_op), *update_ops)


def _graph_ops(train_op):
    """What `tf.group` can take from a train op: its ops and tensors."""
    if isinstance(train_op, (list, tuple)):
        return [op for item in train_op for op in _graph_ops(item)]
    if train_op is NO_OP or train_op is None:
        return []
    if isinstance(train_op, keras.Variable):
        return [train_op.value]
    return [train_op]
