"""How `create_estimator_spec` turns a TRAIN loss into a train op.

Two ways, as in the reference:

* `train_op_fn(loss)`: called once with the regularized loss; whatever it
  returns is the train op. Works on every backend.
* `optimizer` + `trainable_variables`: the gradient of the loss is applied
  with `optimizer.apply`. Keras 3 has no graph-mode `get_updates`, so this
  needs a loss that still carries its graph: call `create_estimator_spec`
  inside a `tf.function` on TensorFlow (the update runs with the function),
  or in eager PyTorch (the update runs at once, as every eager op does).
  Elsewhere a `ValueError` says what to do instead.

`update_ops` (e.g. batch-norm statistics) are ops or zero-argument callables
run after the update.
"""

import keras

from keras_heads import backend
from keras_heads.ops.reduction import Reduction


class _NoOp:
    """The train op of a `train_op_fn` that returned None (e.g. an eager
    `tf.no_op()`): there is nothing left to run."""

    def __repr__(self):
        return "NO_OP"


NO_OP = _NoOp()


def _check_sequence(value, name):
    if value is not None and not isinstance(value, (list, tuple)):
        raise ValueError(
            f"{name} should be a list or a tuple. Given type: {type(value)}."
        )


def create_train_op(
    loss,
    loss_reduction,
    optimizer=None,
    trainable_variables=None,
    train_op_fn=None,
    update_ops=None,
):
    _check_sequence(update_ops, "update_ops")
    if optimizer is not None:
        if train_op_fn is not None:
            raise ValueError("train_op_fn and optimizer cannot both be set.")
        if not isinstance(optimizer, keras.optimizers.Optimizer):
            raise ValueError(
                "The given optimizer is not a keras.optimizers.Optimizer "
                f"instance. Received optimizer of type {type(optimizer)}"
            )
        if trainable_variables is None:
            raise ValueError(
                "trainable_variables cannot be None. Given None. Pass the "
                "variables to train, e.g. model.trainable_variables."
            )
        _check_sequence(trainable_variables, "trainable_variables")
        train_op = _apply_gradients(
            loss, loss_reduction, optimizer, list(trainable_variables)
        )
    elif train_op_fn is not None:
        train_op = train_op_fn(loss)
        if train_op is None:  # `tf.no_op()` and friends return None eagerly
            train_op = NO_OP
    else:
        raise ValueError("train_op_fn and optimizer cannot both be None.")
    if update_ops is None:
        return train_op
    updates = [op() if callable(op) else op for op in update_ops]
    return backend.group([train_op, *updates])


def _apply_gradients(loss, loss_reduction, optimizer, variables):
    replicas = backend.num_replicas_in_sync()
    if loss_reduction == Reduction.SUM_OVER_BATCH_SIZE and replicas > 1:
        loss = loss / replicas
    gradients = backend.gradients(loss, variables)
    optimizer.apply(gradients, variables)
    return optimizer.iterations
