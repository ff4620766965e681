"""TRAIN mode really trains: the spec's train op lowers a small model's loss.

Keras 3 has no graph-mode `get_updates`; the optimizer path applies the
gradient of the loss inside a `tf.function` (see keras_heads/heads/train_op.py).
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_heads
from keras_heads import ModeKeys


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


HEADS_AND_RATES = [
    pytest.param(keras_heads.BinaryClassHead(), 0.5, id="binary"),
    pytest.param(keras_heads.MultiClassHead(3), 0.5, id="multi_class"),
    pytest.param(
        keras_heads.RegressionHead(loss_reduction="sum"), 0.001, id="regression"
    ),
]


@pytest.mark.parametrize("head,learning_rate", HEADS_AND_RATES)
def test_optimizer_path_lowers_the_loss_inside_tf_function(
    head, learning_rate
):
    x, labels = _data(head)
    model = _model(head)
    optimizer = keras.optimizers.SGD(learning_rate)

    @tf.function
    def train_step():
        spec = head.create_estimator_spec(
            features={}, mode=ModeKeys.TRAIN, logits=model(x), labels=labels,
            optimizer=optimizer,
            trainable_variables=model.trainable_variables,
        )
        return spec.loss

    before = float(head.loss(labels=labels, logits=model(x)))
    for _ in range(40):
        train_step()
    after = float(head.loss(labels=labels, logits=model(x)))
    assert after < 0.7 * before
    assert int(optimizer.iterations) == 40


def test_train_op_fn_path_lowers_the_loss_and_gets_the_regularized_loss():
    head = keras_heads.BinaryClassHead()
    x, labels = _data(head)
    model = _model(head)
    optimizer = keras.optimizers.SGD(0.5)
    received = []

    def train_op_fn(loss):
        received.append(loss)
        variables = model.trainable_variables
        grads = tf.gradients(loss, [v.value for v in variables])
        optimizer.apply(grads, variables)
        return optimizer.iterations

    @tf.function
    def train_step():
        spec = head.create_estimator_spec(
            features={}, mode=ModeKeys.TRAIN, logits=model(x), labels=labels,
            train_op_fn=train_op_fn, regularization_losses=[0.25],
        )
        return spec.loss

    before = float(head.loss(labels=labels, logits=model(x)))
    losses = [float(train_step()) for _ in range(20)]
    after = float(head.loss(labels=labels, logits=model(x)))
    assert after < 0.7 * before
    assert len(received) == 1  # traced once, called once per trace
    np.testing.assert_allclose(losses[0], before + 0.25, rtol=1e-5)


def test_eager_train_op_fn_with_a_gradient_tape():
    """The reference's "do it yourself" idiom: a no-op train_op_fn and
    gradients of spec.loss."""
    head = keras_heads.RegressionHead()
    x, labels = _data(head)
    model = _model(head)
    optimizer = keras.optimizers.SGD(0.1)
    before = float(head.loss(labels=labels, logits=model(x)))
    for _ in range(30):
        with tf.GradientTape() as tape:
            spec = head.create_estimator_spec(
                features={}, mode=ModeKeys.TRAIN, logits=model(x),
                labels=labels, train_op_fn=lambda loss: tf.no_op(),
            )
        variables = model.trainable_variables
        optimizer.apply(tape.gradient(spec.loss, variables), variables)
    assert float(head.loss(labels=labels, logits=model(x))) < 0.5 * before


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
    assert float(counter.numpy()) == 2.0
    assert spec.train_op[0] == "trained"


def test_eager_optimizer_path_explains_what_to_do():
    head = keras_heads.BinaryClassHead()
    x, labels = _data(head)
    model = _model(head)
    with pytest.raises(ValueError, match="inside a tf.function"):
        head.create_estimator_spec(
            features={}, mode=ModeKeys.TRAIN, logits=model(x), labels=labels,
            optimizer=keras.optimizers.SGD(0.1),
            trainable_variables=model.trainable_variables,
        )


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
