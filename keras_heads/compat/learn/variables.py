"""The variables a contrib.learn head owns, one set per variable scope.

In the reference a head created variables inside its `variable_scope`: the
linear layer that turns `logits_input` into logits (scope `logits`), and the
`centered_bias_weight` vector. TF1 rebuilt them in every graph and restored
them by name. Here a head keeps them itself, keyed by the scope name, and
every later call with the same scope reuses them.

The centered bias is trained apart from the model: each TRAIN call takes one
Adagrad step (learning rate 0.1, as `tf.compat.v1.train.AdagradOptimizer`:
initial accumulator 0.1, no epsilon) on the bias alone, minimising the mean
of the train and report losses of logits equal to the bias. The step needs
the gradient of a function of the bias, which each backend gives its own
way: `tf.GradientTape` (eager or inside a `tf.function`), `jax.grad`
(eagerly: a `jax.jit` function cannot update a variable) and
`torch.autograd`.
"""

import keras
from keras import ops

from keras_heads import backend
from keras_heads.heads.train_op import NO_OP


class _Scope:
    """What a head created in one scope."""

    def __init__(self):
        self.logits_layer = None
        self.centered_bias = None
        self.optimizer = None


class HeadVariables:
    """The variables of one head, by scope name, created on first use.

    Example:

    >>> from keras_heads.compat.learn.variables import HeadVariables
    >>> variables = HeadVariables()
    >>> x = np.ones((2, 4), "float32")
    >>> tuple(variables.logits("my_head", x, 3).shape)
    (2, 3)
    >>> _ = variables.logits("my_head", x, 3)     # the same layer again
    >>> [tuple(v.shape) for v in variables.trainable_variables]
    [(4, 3), (3,)]
    """

    def __init__(self):
        self._scopes = {}

    def _scope(self, name):
        if name not in self._scopes:
            self._scopes[name] = _Scope()
        return self._scopes[name]

    @property
    def trainable_variables(self):
        """Every variable created so far, scope by scope."""
        variables = []
        for scope in self._scopes.values():
            if scope.logits_layer is not None:
                variables.extend(scope.logits_layer.trainable_variables)
            if scope.centered_bias is not None:
                variables.append(scope.centered_bias)
        return variables

    def logits(self, scope_name, logits_input, logits_dimension):
        """`logits_input @ W + b`, from the scope's linear layer."""
        scope = self._scope(scope_name)
        if scope.logits_layer is None:
            scope.logits_layer = keras.layers.Dense(
                logits_dimension, name="logits"
            )
        logits = scope.logits_layer(ops.convert_to_tensor(logits_input))
        return ops.cast(logits, "float32")

    def centered_bias(self, scope_name, logits_dimension):
        """The scope's zero-initialised `centered_bias_weight` variable."""
        scope = self._scope(scope_name)
        if scope.centered_bias is None:
            scope.centered_bias = keras.Variable(
                initializer="zeros",
                shape=(logits_dimension,),
                dtype="float32",
                trainable=True,
                name="centered_bias_weight",
            )
            scope.optimizer = keras.optimizers.Adagrad(
                learning_rate=0.1, initial_accumulator_value=0.1,
                epsilon=0.0,
            )
            scope.optimizer.build([scope.centered_bias])
        return scope.centered_bias

    def centered_bias_step(self, scope_name, objective, like):
        """One Adagrad step on the scope's centered bias, minimising
        `objective(bias)`; returns its train op.

        The step runs now (eagerly, or as part of the `tf.function` being
        traced), so the train op is `NO_OP` except inside a TensorFlow graph,
        where it reads the optimizer's step counter after the update.
        `like` is any input of the step (to detect `jax.jit`).
        """
        scope = self._scope(scope_name)
        bias = scope.centered_bias
        gradient = _gradient(objective, bias, like)
        scope.optimizer.apply([gradient], [bias])
        if backend.is_tensorflow():
            import tensorflow as tf

            if not tf.executing_eagerly():
                return tf.convert_to_tensor(scope.optimizer.iterations)
        return NO_OP


def _gradient(objective, variable, like):
    """The gradient of `objective(value)` at the variable's value."""
    name = backend.name()
    if name == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            value = variable.value
            tape.watch(value)
            loss = objective(value)
        return tape.gradient(loss, value)
    if name == "jax":
        import jax

        if backend.is_traced(like):
            raise ValueError(
                "enable_centered_bias trains the centered bias with its own "
                "optimizer step in TRAIN mode, which updates a variable: "
                "jax.jit cannot do that. Build TRAIN ModelFnOps of a head "
                "with enable_centered_bias=True eagerly on JAX (or use the "
                "TensorFlow or PyTorch backend)."
            )
        return jax.grad(objective)(variable.value)
    if name == "torch":
        import torch

        with torch.enable_grad():
            value = variable.value
            loss = objective(value)
            (gradient,) = torch.autograd.grad(loss, value)
        return gradient
    raise ValueError(
        "enable_centered_bias's training step supports the TensorFlow, JAX "
        f"and PyTorch backends; the active Keras backend is {name!r}."
    )
