import pytest

from tests.backends import only_on

pytestmark = only_on(
    "tensorflow", why="the Estimator runner traces model_fn with tf.function"
)


def test_keys_drop_keras_numbering_and_rank_repeats():
    from keras_heads.compat.estimator.variables import variable_key

    assert variable_key("dense_12/kernel:0", 0) == "dense/kernel"
    assert variable_key("sequential_3_dense_1_kernel_momentum", 2) == (
        "sequential_dense_kernel_momentum_2"
    )
    assert variable_key("layer2", 0) == "layer2"  # not Keras' numbering
    assert variable_key(None, 1) == "Variable_1"


def test_a_second_trace_gets_the_first_traces_variables():
    import keras
    import tensorflow as tf

    from keras_heads.compat.estimator.variables import VariableStore

    store = VariableStore()

    @tf.function
    def forward(x):
        with store.scope():
            return keras.layers.Dense(3)(keras.layers.Dense(2)(x))

    x = tf.ones([4, 5])
    first = forward(x)
    again = forward(tf.ones([6, 5]))  # retraced: new layers, same variables
    assert sorted(store.variables) == ["bias", "bias_1", "kernel", "kernel_1"]
    assert store.variables["kernel"].shape == (5, 2)
    assert float(tf.reduce_max(tf.abs(first[0] - again[0]))) == 0.0


def test_a_changed_shape_is_an_error():
    import keras
    import tensorflow as tf

    from keras_heads.compat.estimator.variables import VariableStore

    store = VariableStore()
    with store.scope():
        keras.layers.Dense(2)(tf.ones([1, 3]))
    with pytest.raises(ValueError, match=r"'kernel' with shape \(4, 2\).*"
                       r"earlier call created it with shape \(3, 2\)"):
        with store.scope():
            keras.layers.Dense(2)(tf.ones([1, 4]))


def test_tf1_collections_are_filled_while_tracing():
    import keras
    import tensorflow as tf

    from keras_heads.compat.estimator.variables import VariableStore

    store = VariableStore()
    step = tf.Variable(7, dtype=tf.int64, trainable=False)
    seen = {}

    @tf.function
    def forward(x):
        with store.scope(global_step=step):
            y = keras.layers.Dense(2)(x)
            seen["step"] = tf.compat.v1.train.get_global_step()
            seen["trainable"] = len(tf.compat.v1.trainable_variables())
        return y

    outside = tf.compat.v1.get_default_graph()
    before = outside.get_collection(tf.compat.v1.GraphKeys.TRAINABLE_VARIABLES)
    forward(tf.ones([1, 3]))
    assert seen["step"] is step
    assert seen["trainable"] == 2
    # Traced graphs write variable collections through to the outer graph;
    # the store gives that graph its collections back.
    assert outside.get_collection(
        tf.compat.v1.GraphKeys.TRAINABLE_VARIABLES) == before


def test_metric_state_is_left_out_of_checkpoints():
    import keras
    import tensorflow as tf

    from keras_heads.compat.estimator.variables import VariableStore

    store = VariableStore()
    with store.scope():
        keras.layers.Dense(2)(tf.ones([1, 3]))
        metric = keras.metrics.Mean()
    store.mark_local(metric.variables)
    assert sorted(store.persistent_variables()) == ["bias", "kernel"]
    assert len(store.variables) == 4
