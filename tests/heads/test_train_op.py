"""TRAIN mode really trains: the spec's train op lowers a small model's loss.

Keras 3 has no graph-mode `get_updates`. The optimizer path differentiates
the loss it has computed, which needs a loss that still carries its graph:
inside a `tf.function` on TensorFlow, or eagerly in PyTorch (see
keras_heads/heads/train_op.py). The `train_op_fn` path works everywhere; on
JAX, where an array carries no graph, the caller differentiates the function
that builds the spec.
"""

import keras
import numpy as np
import pytest

import keras_heads
from keras_heads import ModeKeys
from tests import backends
from tests.backends import BACKEND


def _data(head):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 4)).astype("float32")
    signal = x[:, :1] + 0.5 * x[:, 1:2]
    if isinstance(head, keras_heads.MultiClassHead):
        labels = np.digitize(signal, [-0.5, 0.5]).astype("int64")
    elif isinstance(head, keras_heads.BinaryClassHead):
        labels = (signal > 0).astype("float32")
    else:
        labels = signal.astype("float32")
    return x, labels


def _model(head):
    keras.utils.set_random_seed(1)
    return keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(head.logits_dimension)]
    )


def _loss(head, model, x, labels):
    return float(backends.numpy(head.loss(labels=labels, logits=model(x))))


# --- gradients on each backend -----------------------------------------------


def _gradients_of_computed_loss(loss, variables):
    """The gradient of a loss already computed from `variables`, read off its
    graph: a `tf.function`'s graph on TensorFlow, autograd's on PyTorch."""
    values = [v.value for v in variables]
    if BACKEND == "tensorflow":
        import tensorflow as tf

        return tf.gradients(loss, values)
    assert BACKEND == "torch", "a JAX array carries no graph"
    import torch

    return list(torch.autograd.grad(loss, values))


def _jax_value_and_gradients(loss_fn, variables, values):
    """`loss_fn()` with `variables` set to `values`, and its gradient in
    `values` (JAX differentiates functions, not computed losses)."""
    import jax

    def loss_at(values):
        mapping = list(zip(variables, values))
        with keras.StatelessScope(state_mapping=mapping):
            return loss_fn()

    return jax.value_and_grad(loss_at)(values)


def _value_and_gradients(loss_fn, variables):
    """Eagerly: the loss `loss_fn()` computes from `variables`, and its
    gradients in them."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = loss_fn()
        return loss, tape.gradient(loss, variables)
    if BACKEND == "jax":
        return _jax_value_and_gradients(
            loss_fn, variables, [v.value for v in variables]
        )
    loss = loss_fn()
    return loss, _gradients_of_computed_loss(loss, variables)


def _compiled_train_step(compile_fn, build_spec, variables, optimizer):
    """A compiled training step that returns the loss of the step.

    `build_spec(update)` builds a TRAIN spec whose `train_op_fn(loss)` calls
    `update(loss)`. On TensorFlow and PyTorch `update` applies the gradient
    of the loss it is given with `optimizer`, and the step is the compiled
    `build_spec(update).loss`. On JAX `update` does nothing: the compiled
    step differentiates the function that builds the spec and applies the
    gradient with `optimizer.stateless_apply`.
    """
    if BACKEND != "jax":

        def update(loss):
            optimizer.apply(
                _gradients_of_computed_loss(loss, variables), variables
            )
            return optimizer.iterations

        return compile_fn(lambda: build_spec(update).loss)

    optimizer.build(variables)

    def loss_fn():
        return build_spec(lambda loss: None).loss

    @compile_fn
    def pure_step(values, optimizer_values):
        loss, gradients = _jax_value_and_gradients(loss_fn, variables, values)
        values, optimizer_values = optimizer.stateless_apply(
            optimizer_values, gradients, values
        )
        return loss, values, optimizer_values

    def step():
        loss, values, optimizer_values = pure_step(
            [v.value for v in variables], [v.value for v in optimizer.variables]
        )
        for variable, value in zip(variables, values):
            variable.assign(value)
        for variable, value in zip(optimizer.variables, optimizer_values):
            variable.assign(value)
        return loss

    return step


# --- the optimizer path ------------------------------------------------------

# Where the optimizer path can differentiate the loss it computed: in a
# compiled TensorFlow function, and in eager PyTorch.
OPTIMIZER_PATH_RUNS = (
    backends.COMPILERS if BACKEND == "tensorflow" else {"eager": lambda f: f}
)

HEADS_AND_RATES = [
    pytest.param(keras_heads.BinaryClassHead(), 0.5, id="binary"),
    pytest.param(keras_heads.MultiClassHead(3), 0.5, id="multi_class"),
    pytest.param(
        keras_heads.RegressionHead(loss_reduction="sum"), 0.001, id="regression"
    ),
]


@backends.only_on(
    "tensorflow", "torch",
    why="a JAX loss carries no graph to differentiate, so the optimizer path "
    "raises there (test_eager_optimizer_path_explains_what_to_do); JAX "
    "trains through train_op_fn",
)
@pytest.mark.parametrize(
    "run", list(OPTIMIZER_PATH_RUNS.values()), ids=list(OPTIMIZER_PATH_RUNS)
)
@pytest.mark.parametrize("head,learning_rate", HEADS_AND_RATES)
def test_optimizer_path_lowers_the_loss(head, learning_rate, run):
    x, labels = _data(head)
    model = _model(head)
    optimizer = keras.optimizers.SGD(learning_rate)

    @run
    def train_step():
        spec = head.create_estimator_spec(
            features={}, mode=ModeKeys.TRAIN, logits=model(x), labels=labels,
            optimizer=optimizer,
            trainable_variables=model.trainable_variables,
        )
        return spec.loss

    before = _loss(head, model, x, labels)
    for _ in range(40):
        train_step()
    after = _loss(head, model, x, labels)
    assert after < 0.7 * before
    assert int(backends.numpy(optimizer.iterations)) == 40


@backends.only_on(
    "tensorflow",
    why="tf.Variable lists are what TF2 Estimator code passed "
    "(tf.compat.v1.trainable_variables())",
)
def test_optimizer_path_trains_plain_tf_variables():
    import tensorflow as tf

    head = keras_heads.BinaryClassHead()
    x, labels = _data(head)
    model = _model(head)
    optimizer = keras.optimizers.SGD(0.5)
    plain = [v.value for v in model.trainable_variables]
    assert all(isinstance(v, tf.Variable) for v in plain)

    @tf.function
    def train_step():
        return head.create_estimator_spec(
            features={}, mode=ModeKeys.TRAIN, logits=model(x), labels=labels,
            optimizer=optimizer, trainable_variables=plain,
        ).loss

    before = _loss(head, model, x, labels)
    for _ in range(40):
        train_step()
    assert _loss(head, model, x, labels) < 0.7 * before


# --- the train_op_fn path ----------------------------------------------------


@backends.parametrize_compilers
def test_train_op_fn_path_lowers_the_loss_and_gets_the_regularized_loss(
    compile_fn,
):
    head = keras_heads.BinaryClassHead()
    x, labels = _data(head)
    model = _model(head)
    optimizer = keras.optimizers.SGD(0.5)
    built, received = [], []

    def build_spec(update):
        def train_op_fn(loss):
            received.append(loss)
            return update(loss)

        built.append(True)
        return head.create_estimator_spec(
            features={}, mode=ModeKeys.TRAIN, logits=model(x), labels=labels,
            train_op_fn=train_op_fn, regularization_losses=[0.25],
        )

    train_step = _compiled_train_step(
        compile_fn, build_spec, model.trainable_variables, optimizer
    )
    before = _loss(head, model, x, labels)
    losses = [float(backends.numpy(train_step())) for _ in range(20)]
    after = _loss(head, model, x, labels)
    assert after < 0.7 * before
    assert int(backends.numpy(optimizer.iterations)) == 20
    # Called once per spec built (per trace where the step is traced).
    assert built and len(received) == len(built)
    np.testing.assert_allclose(losses[0], before + 0.25, rtol=1e-5)


def test_eager_train_op_fn_with_gradients_of_spec_loss():
    """The reference's "do it yourself" idiom: a no-op train_op_fn (an eager
    `tf.no_op()` returns None) and gradients of spec.loss."""
    head = keras_heads.RegressionHead()
    x, labels = _data(head)
    model = _model(head)
    optimizer = keras.optimizers.SGD(0.1)
    variables = model.trainable_variables

    def spec_loss():
        spec = head.create_estimator_spec(
            features={}, mode=ModeKeys.TRAIN, logits=model(x),
            labels=labels, train_op_fn=lambda loss: None,
        )
        return spec.loss

    before = _loss(head, model, x, labels)
    for _ in range(30):
        _, gradients = _value_and_gradients(spec_loss, variables)
        optimizer.apply(gradients, variables)
    assert _loss(head, model, x, labels) < 0.5 * before


def test_update_ops_run_after_the_update():
    head = keras_heads.BinaryClassHead()
    x, labels = _data(head)
    model = _model(head)
    counter = keras.Variable(1.0)
    spec = head.create_estimator_spec(
        features={}, mode=ModeKeys.TRAIN, logits=model(x), labels=labels,
        train_op_fn=lambda loss: "trained",
        update_ops=[lambda: counter.assign_add(1.0)],
    )
    assert float(backends.numpy(counter)) == 2.0
    assert spec.train_op[0] == "trained"


@backends.only_on(
    "tensorflow", "jax",
    why="eager PyTorch keeps the loss's autograd graph, so the optimizer "
    "path trains there (test_optimizer_path_lowers_the_loss)",
)
def test_eager_optimizer_path_explains_what_to_do():
    head = keras_heads.BinaryClassHead()
    x, labels = _data(head)
    model = _model(head)
    with pytest.raises(ValueError, match="inside a tf.function") as info:
        head.create_estimator_spec(
            features={}, mode=ModeKeys.TRAIN, logits=model(x), labels=labels,
            optimizer=keras.optimizers.SGD(0.1),
            trainable_variables=model.trainable_variables,
        )
    assert "train_op_fn" in str(info.value)


def test_train_summaries_are_returned_as_data():
    head = keras_heads.BinaryClassHead(name="clicks")
    spec = head.create_estimator_spec(
        features={}, mode=ModeKeys.TRAIN, logits=[[45.0], [-41.0]],
        labels=[[1], [1]], train_op_fn=lambda loss: "noop",
        regularization_losses=[1.5, 0.5],
    )
    assert sorted(spec.summaries) == [
        "loss/clicks", "regularization_loss/clicks",
    ]
    np.testing.assert_allclose(float(spec.summaries["loss/clicks"]), 22.5)
    np.testing.assert_allclose(
        float(spec.summaries["regularization_loss/clicks"]), 2.0
    )


@pytest.mark.parametrize("mode", [ModeKeys.EVAL, ModeKeys.PREDICT])
def test_eval_and_predict_ignore_train_arguments(mode):
    head = keras_heads.BinaryClassHead()
    spec = head.create_estimator_spec(
        features={}, mode=mode, logits=[[1.0], [-1.0]], labels=[[1], [0]],
        optimizer="not an optimizer", train_op_fn=lambda loss: None,
    )
    assert spec.mode == mode
    assert spec.train_op is None
