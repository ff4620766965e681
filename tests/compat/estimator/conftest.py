"""A small binary problem and a model_fn over it, for the runner's tests."""

import numpy as np
import pytest

from tests.backends import BACKEND

FEATURES = np.random.default_rng(0).normal(size=(256, 4)).astype("float32")
LABELS = (FEATURES @ np.array([1.0, -1.0, 0.5, 0.0]) > 0).astype("int64")[:, None]


@pytest.fixture
def data():
    return FEATURES, LABELS


@pytest.fixture
def input_fn():
    import tensorflow as tf

    def make(batch_size=32, repeat=False, labels=True):
        def fn():
            pairs = ({"x": FEATURES}, LABELS) if labels else {"x": FEATURES}
            dataset = tf.data.Dataset.from_tensor_slices(pairs)
            return (dataset.repeat() if repeat else dataset).batch(batch_size)

        return fn

    return make


@pytest.fixture
def binary_model_fn():
    """A two-layer network under a BinaryClassHead, trained with Adagrad."""
    if BACKEND != "tensorflow":
        pytest.skip("the Estimator runner is TensorFlow only")
    import keras

    import keras_heads

    def model_fn(features, labels, mode, params):
        head = keras_heads.BinaryClassHead()
        network = keras.Sequential([
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(1),
        ])
        logits = network(features["x"])
        return head.create_estimator_spec(
            features=features, mode=mode, logits=logits, labels=labels,
            optimizer=keras.optimizers.Adagrad(params.get("learning_rate", 0.1)),
            trainable_variables=network.trainable_variables,
        )

    return model_fn
