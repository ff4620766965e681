"""The v1 train op: `train_op_fn` on every backend; a TF1 or Keras
`optimizer` inside a `tf.function` whose graph holds the TF1 collections
(as the model_fn runner fills them); the graph's `UPDATE_OPS` grouped in."""

import contextlib

import keras
import numpy as np
import pytest

from keras_heads.compat import v1
from keras_heads.heads.train_op import NO_OP
from tests import backends
from tests.backends import numpy

X = np.array([[1.0], [2.0], [3.0]], "float32")
Y = 2.0 * X


def _train_spec(head, logits, **kwargs):
    return head.create_estimator_spec(
        features={}, mode="train", logits=logits, labels=Y, **kwargs
    )


def test_train_op_fn_gets_the_regularized_loss_on_every_backend():
    received = []
    spec = _train_spec(
        v1.regression_head(), np.zeros((3, 1), "float32"),
        train_op_fn=lambda loss: received.append(loss) or "my op",
        regularization_losses=[0.5],
    )
    expected = float(np.mean(Y ** 2)) + 0.5
    assert float(numpy(received[0])) == pytest.approx(expected)
    assert float(numpy(spec.loss)) == pytest.approx(expected)
    assert spec.train_op == "my op"


def test_a_train_op_fn_returning_none_gives_no_op():
    spec = _train_spec(v1.regression_head(), np.zeros((3, 1), "float32"),
                       train_op_fn=lambda loss: None)
    assert spec.train_op is NO_OP


@backends.parametrize_compilers
def test_train_op_fn_compiles(compile_fn):
    head = v1.binary_classification_head(loss_reduction=v1.Reduction.SUM)

    @compile_fn
    def loss(logits):
        return head.create_estimator_spec(
            features={}, mode="train", logits=logits,
            labels=keras.ops.ones((2, 1)), train_op_fn=lambda loss: None,
        ).loss

    logits = keras.ops.convert_to_tensor(np.array([[45.0], [-41.0]],
                                                  "float32"))
    assert float(numpy(loss(logits))) == pytest.approx(41.0)


@backends.only_on("jax", "torch", why="the optimizer path needs TF graphs")
def test_an_optimizer_needs_tensorflow():
    for optimizer in (keras.optimizers.SGD(0.1), object()):
        with pytest.raises(ValueError, match="Pass train_op_fn=... instead"):
            _train_spec(v1.regression_head(), np.zeros((3, 1), "float32"),
                        optimizer=optimizer)


# --- TensorFlow: inside a tf.function with the TF1 collections ---------------


@contextlib.contextmanager
def _tf1_collections():
    """Yields the collection keys, with the process-wide graph's collections
    emptied first and restored after: a `tf.function` writes its
    TRAINABLE_VARIABLES through to them."""
    import tensorflow as tf

    keys = tf.compat.v1.GraphKeys
    names = [keys.TRAINABLE_VARIABLES, keys.GLOBAL_STEP, keys.UPDATE_OPS]
    graph = tf.compat.v1.get_default_graph()
    saved = {name: list(graph.get_collection(name)) for name in names}
    for name in names:
        graph.clear_collection(name)
    try:
        yield keys
    finally:
        for name in names:
            graph.clear_collection(name)
            for item in saved[name]:
                graph.add_to_collection(name, item)


def _linear_step(head, keys, optimizer, with_global_step=True,
                 update_counter=None, seen=None):
    """A tf.function training step of `logits = X w`, filling the TF1
    collections as the runner does; returns `(step, w, global_step)`."""
    import tensorflow as tf

    w = tf.Variable([[0.0]], name="w")
    global_step = tf.Variable(0, dtype=tf.int64, name="global_step",
                              trainable=False)

    @tf.function
    def step():
        tf.compat.v1.add_to_collection(keys.TRAINABLE_VARIABLES, w)
        if with_global_step:
            tf.compat.v1.add_to_collection(keys.GLOBAL_STEP, global_step)
        if update_counter is not None:
            tf.compat.v1.add_to_collection(keys.UPDATE_OPS,
                                           update_counter.assign_add(1))
        spec = _train_spec(head, tf.matmul(X, w), optimizer=optimizer)
        if seen is not None:
            seen.append(spec.train_op)
        with tf.control_dependencies([spec.train_op]):
            return tf.identity(spec.loss)

    return step, w, global_step


@backends.only_on("tensorflow", why="TF1 optimizers and graph collections")
def test_a_tf1_optimizer_trains_inside_a_tf_function():
    import tensorflow as tf

    with _tf1_collections() as keys:
        step, w, global_step = _linear_step(
            v1.regression_head(), keys,
            tf.compat.v1.train.GradientDescentOptimizer(0.05),
        )
        losses = [float(step()) for _ in range(5)]
    assert losses == sorted(losses, reverse=True) and losses[-1] < losses[0]
    assert int(global_step.numpy()) == 5  # minimize(global_step=...)
    assert 0.0 < float(w.numpy()[0, 0]) < 2.0


@backends.only_on("tensorflow", why="Keras optimizers on TF1 collections")
def test_a_keras_optimizer_trains_the_collection_variables():
    with _tf1_collections() as keys:
        step, w, global_step = _linear_step(
            v1.regression_head(), keys, keras.optimizers.SGD(0.05)
        )
        losses = [float(step()) for _ in range(5)]
    assert losses[-1] < losses[0]
    assert int(global_step.numpy()) == 5
    assert 0.0 < float(w.numpy()[0, 0]) < 2.0


@backends.only_on("tensorflow", why="TF1 optimizers and graph collections")
def test_update_ops_are_grouped_with_the_train_op():
    import tensorflow as tf

    counter = tf.Variable(0)
    seen = []
    with _tf1_collections() as keys:
        step, _, _ = _linear_step(
            v1.regression_head(), keys,
            tf.compat.v1.train.GradientDescentOptimizer(0.05),
            update_counter=counter, seen=seen,
        )
        step()
        step()
    assert int(counter.numpy()) == 2
    train_op = seen[-1]
    assert train_op.type == "NoOp"  # tf.group(minimize, *UPDATE_OPS)
    assert any(op.type == "AssignAddVariableOp"
               for op in train_op.control_inputs)
    assert len(train_op.control_inputs) == 2


@backends.only_on("tensorflow", why="TF1 optimizers and graph collections")
def test_no_optimizer_type_check():
    import tensorflow as tf

    class Minimizer:
        def minimize(self, loss, global_step=None):
            self.global_step = global_step
            return tf.no_op(name="minimized")

    minimizer, seen = Minimizer(), []
    with _tf1_collections() as keys:
        step, _, global_step = _linear_step(v1.regression_head(), keys,
                                            minimizer, seen=seen)
        step()
    assert seen[-1].name.startswith("minimized")
    assert minimizer.global_step is global_step


@backends.only_on("tensorflow", why="eager TensorFlow has no graph")
def test_an_optimizer_needs_a_graph():
    import tensorflow as tf

    for optimizer in (tf.compat.v1.train.GradientDescentOptimizer(0.1),
                      keras.optimizers.SGD(0.1)):
        with pytest.raises(ValueError, match="inside a tf.function"):
            _train_spec(v1.regression_head(), np.zeros((3, 1), "float32"),
                        optimizer=optimizer)


@backends.only_on("tensorflow", why="TF1 optimizers and graph collections")
def test_a_keras_optimizer_without_trainable_variables():
    import tensorflow as tf

    @tf.function
    def step():
        return _train_spec(v1.regression_head(), tf.zeros((3, 1)),
                           optimizer=keras.optimizers.SGD(0.1)).loss

    with _tf1_collections():
        with pytest.raises(ValueError, match="TRAINABLE_VARIABLES collection "
                           "is empty"):
            step()


@backends.only_on("tensorflow", why="TF1 optimizers and graph collections")
def test_multi_head_trains_with_a_tf1_optimizer():
    import tensorflow as tf

    head = v1.multi_head([v1.regression_head(name="a"),
                          v1.regression_head(name="b")])
    w = tf.Variable([[0.0, 0.0]], name="w2")
    global_step = tf.Variable(0, dtype=tf.int64, name="global_step",
                              trainable=False)
    optimizer = tf.compat.v1.train.GradientDescentOptimizer(0.05)

    with _tf1_collections() as keys:

        @tf.function
        def step():
            tf.compat.v1.add_to_collection(keys.TRAINABLE_VARIABLES, w)
            tf.compat.v1.add_to_collection(keys.GLOBAL_STEP, global_step)
            spec = head.create_estimator_spec(
                features={}, mode="train", logits=tf.matmul(X, w),
                labels={"a": Y, "b": -Y}, optimizer=optimizer,
            )
            with tf.control_dependencies([spec.train_op]):
                return tf.identity(spec.loss)

        losses = [float(step()) for _ in range(4)]
    assert losses[-1] < losses[0]
    assert int(global_step.numpy()) == 4
    assert w.numpy()[0, 0] > 0 > w.numpy()[0, 1]
