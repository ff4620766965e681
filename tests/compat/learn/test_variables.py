"""The variables a head owns: the linear layer built from `logits_input`
(one per scope, reused by every later call) and the centered bias with its
Adagrad step (spec B.2, B.3)."""

import keras
import numpy as np
import pytest

from keras_heads.compat import learn
from keras_heads.compat.learn import ModeKeys
from tests import backends
from tests.backends import BACKEND
from tests.backends import numpy
from tests.backends import only_on

TRAIN, EVAL, INFER = ModeKeys.TRAIN, ModeKeys.EVAL, ModeKeys.INFER
HIDDEN = np.random.default_rng(0).normal(size=(4, 5)).astype("float32")
LABELS = np.array([[0], [1], [2], [2]])


def _ops(head, mode, train_op_fn=learn.no_op_train_fn, **kwargs):
    kwargs.setdefault("features", {})
    return head.create_model_fn_ops(mode=mode, train_op_fn=train_op_fn,
                                    **kwargs)


def _loss_and_gradients(loss_fn, variables):
    """`loss_fn()` and its gradients in `variables`, on each backend."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = loss_fn()
        return loss, tape.gradient(loss, [v.value for v in variables])
    if BACKEND == "torch":
        import torch

        loss = loss_fn()
        return loss, list(torch.autograd.grad(loss,
                                              [v.value for v in variables]))
    import jax

    def loss_at(values):
        with keras.StatelessScope(state_mapping=list(zip(variables, values))):
            return loss_fn()

    return jax.value_and_grad(loss_at)([v.value for v in variables])


# --- the logits layer --------------------------------------------------------


def test_logits_input_builds_a_linear_layer_reused_by_later_calls():
    head = learn.multi_class_head(n_classes=3)
    first = _ops(head, INFER, logits_input=HIDDEN)
    variables = head.trainable_variables
    assert [tuple(v.shape) for v in variables] == [(5, 3), (3,)]
    kernel, bias = (numpy(v) for v in variables)
    np.testing.assert_allclose(numpy(first.predictions["logits"]),
                               HIDDEN @ kernel + bias, rtol=1e-5, atol=1e-6)
    second = _ops(head, EVAL, labels=LABELS, logits_input=HIDDEN)
    assert all(a is b for a, b in zip(head.trainable_variables, variables))
    assert len(head.trainable_variables) == 2
    np.testing.assert_array_equal(numpy(second.predictions["logits"]),
                                  numpy(first.predictions["logits"]))


def test_each_scope_has_its_own_layer():
    head = learn.regression_head(head_name="r")
    _ops(head, INFER, logits_input=HIDDEN)           # scope "r"
    _ops(head, INFER, logits_input=HIDDEN, scope="r")
    assert len(head.trainable_variables) == 2
    _ops(head, INFER, logits_input=HIDDEN, scope="other")
    assert len(head.trainable_variables) == 4
    # Another head with the same scope name owns its own layer.
    other = learn.regression_head(head_name="r")
    _ops(other, INFER, logits_input=HIDDEN, scope="r")
    assert not any(a is b for a in other.trainable_variables
                   for b in head.trainable_variables)


def test_the_head_layer_trains_with_the_model_fn_ops_loss():
    head = learn.multi_class_head(n_classes=3)
    _ops(head, INFER, logits_input=HIDDEN)  # builds the layer
    variables = head.trainable_variables
    optimizer = keras.optimizers.SGD(learning_rate=0.5)

    def loss_fn():
        return _ops(head, TRAIN, labels=LABELS, logits_input=HIDDEN).loss

    losses = []
    for _ in range(5):
        loss, gradients = _loss_and_gradients(loss_fn, variables)
        optimizer.apply(gradients, variables)
        losses.append(float(numpy(loss)))
    assert losses[-1] < losses[0]


# --- centered bias -----------------------------------------------------------


def _adagrad(gradients, accumulator=0.1, learning_rate=0.1):
    """TF1 Adagrad on a scalar: the bias after each gradient."""
    bias = 0.0
    values = []
    for gradient in gradients:
        accumulator += gradient ** 2
        bias -= learning_rate * gradient / np.sqrt(accumulator)
        values.append(bias)
    return values


def test_centered_bias_variable_and_summaries():
    head = learn.multi_class_head(n_classes=3, enable_centered_bias=True,
                                  head_name="m")
    model_fn_ops = _ops(head, INFER, logits=np.zeros((2, 3), "float32"))
    (bias,) = head.trainable_variables
    assert bias.name == "centered_bias_weight"
    assert bias.trainable and tuple(bias.shape) == (3,)
    np.testing.assert_array_equal(numpy(bias), [0.0, 0.0, 0.0])
    assert list(model_fn_ops.summaries) == [
        "centered_bias/bias_0/m", "centered_bias/bias_1/m",
        "centered_bias/bias_2/m"]
    bias.assign([1.0, 2.0, 3.0])
    again = _ops(head, INFER, logits=np.zeros((2, 3), "float32"))
    assert head.trainable_variables == [bias]
    np.testing.assert_array_equal(numpy(again.predictions["logits"]),
                                  [[1.0, 2.0, 3.0]] * 2)
    assert float(numpy(again.summaries["centered_bias/bias_2/m"])) == 3.0


def test_centered_bias_takes_one_adagrad_step_per_train_call():
    head = learn.regression_head(enable_centered_bias=True)
    labels = np.array([[0.0], [1.0], [1.0]], "float32")
    logits = np.array([[1.0], [1.0], [3.0]], "float32")
    seen = []
    for _ in range(3):
        model_fn_ops = _ops(head, TRAIN, labels=labels, logits=logits)
        summary = model_fn_ops.summaries["centered_bias/bias_0"]
        seen.append(float(numpy(summary)))
        assert model_fn_ops.train_op is learn.no_op_train_fn(None)
    bias = float(numpy(head.trainable_variables[0])[0])
    # d/db mean((b - y)^2) = 2 (b - mean(y)); both losses are that mean.
    expected, b, accumulator = [], 0.0, 0.1
    for _ in range(3):
        gradient = 2 * (b - 2 / 3)
        accumulator += gradient ** 2
        b -= 0.1 * gradient / np.sqrt(accumulator)
        expected.append(b)
    np.testing.assert_allclose(seen, [0.0] + expected[:2], rtol=1e-5)
    np.testing.assert_allclose(bias, expected[-1], rtol=1e-5)
    np.testing.assert_allclose(expected[0], 0.0973009, rtol=1e-5)


def test_centered_bias_step_minimises_the_mean_of_both_losses():
    head = learn.regression_head(enable_centered_bias=True,
                                 weight_column_name="w")
    labels = np.array([[0.0], [1.0], [1.0]], "float32")
    weights = np.array([[2.0], [5.0], [0.0]], "float32")
    _ops(head, TRAIN, labels=labels, logits=np.zeros((3, 1), "float32"),
         features={"w": weights})
    # At b = 0: train = sum(w (b - y)^2) / 3, report = sum(...) / sum(w).
    weighted = float(np.sum(weights * -2 * labels))
    gradient = (weighted / 3 + weighted / 7) / 2
    np.testing.assert_allclose(numpy(head.trainable_variables[0]),
                               _adagrad([gradient]), rtol=1e-5)


def test_centered_bias_is_not_trained_outside_train():
    head = learn.multi_class_head(n_classes=2, enable_centered_bias=True)
    for mode in (EVAL, INFER):
        _ops(head, mode, labels=np.array([[1], [1]]),
             logits=np.zeros((2, 1), "float32"))
    np.testing.assert_array_equal(numpy(head.trainable_variables[0]), [0.0])
    _ops(head, TRAIN, labels=np.array([[1], [1]]),
         logits=np.zeros((2, 1), "float32"))
    assert float(numpy(head.trainable_variables[0])[0]) > 0.0


def test_centered_bias_with_logits_input():
    head = learn.multi_label_head(n_classes=3, enable_centered_bias=True)
    _ops(head, TRAIN, labels=np.array([[1, 0, 1]] * 4), logits_input=HIDDEN)
    assert [tuple(v.shape) for v in head.trainable_variables] == [
        (5, 3), (3,), (3,)]
    bias = numpy(head.trainable_variables[-1])
    assert bias[0] > 0 and bias[1] < 0 and bias[2] > 0


@only_on("tensorflow", why="the centered-bias step inside a tf.function graph")
def test_centered_bias_step_runs_inside_a_tf_function():
    import tensorflow as tf

    labels = np.array([[0.0], [1.0], [1.0]], "float32")
    logits = np.array([[1.0], [1.0], [3.0]], "float32")
    eager = learn.regression_head(enable_centered_bias=True)
    traced = learn.regression_head(enable_centered_bias=True)

    @tf.function
    def step(labels, logits):
        model_fn_ops = _ops(traced, TRAIN, labels=labels, logits=logits)
        assert isinstance(model_fn_ops.train_op, (tf.Tensor, tf.Operation))
        return model_fn_ops.loss

    for _ in range(3):
        step(labels, logits)
        _ops(eager, TRAIN, labels=labels, logits=logits)
    np.testing.assert_allclose(numpy(traced.trainable_variables[0]),
                               numpy(eager.trainable_variables[0]), rtol=1e-6)


@only_on("jax", why="jax.jit cannot update the centered bias variable")
def test_centered_bias_under_jax_jit_says_why_it_fails():
    import jax

    head = learn.regression_head(enable_centered_bias=True)
    _ops(head, INFER, logits=np.zeros((2, 1), "float32"))

    @jax.jit
    def step(labels, logits):
        return _ops(head, TRAIN, labels=labels, logits=logits).loss

    with pytest.raises(ValueError, match="jax.jit cannot do that"):
        step(np.zeros((2, 1), "float32"), np.zeros((2, 1), "float32"))


@only_on("tensorflow", "torch",
         why="jax.jit cannot update the centered bias variable")
@backends.parametrize_compilers
def test_a_centered_bias_train_step_compiles(compile_fn):
    head = learn.regression_head(enable_centered_bias=True)
    reference = learn.regression_head(enable_centered_bias=True)
    labels = np.array([[0.0], [1.0], [1.0]], "float32")
    logits = np.array([[1.0], [1.0], [3.0]], "float32")

    def step(labels, logits):
        return _ops(head, TRAIN, labels=labels, logits=logits).loss

    _ops(head, INFER, logits=logits)  # variables exist before compiling
    compiled = compile_fn(step)
    for _ in range(2):
        compiled(labels, logits)
        _ops(reference, TRAIN, labels=labels, logits=logits)
    np.testing.assert_allclose(numpy(head.trainable_variables[0]),
                               numpy(reference.trainable_variables[0]),
                               rtol=1e-5)
