"""MultiLabelHead: dense and sparse labels agree, large label spaces, compiled
use."""

import numpy as np
import pytest
import tensorflow as tf

import keras_heads
from tests import backends


def _random_labels(rng, batch, n_classes, max_labels):
    """The same labels three ways: multi-hot, sparse ids, sparse names."""
    multi_hot = np.zeros((batch, n_classes), "int64")
    indices, ids = [], []
    for row in range(batch):
        chosen = rng.choice(n_classes, rng.integers(0, max_labels + 1),
                            replace=False)
        multi_hot[row, chosen] = 1
        for slot, class_id in enumerate(sorted(chosen)):
            indices.append([row, slot])
            ids.append(class_id)
    indices = np.array(indices, "int64").reshape(-1, 2)
    ids = np.array(ids, "int64")
    return multi_hot, indices, ids


def _bcoo(indices, values, dense_shape):
    from jax.experimental import sparse

    return sparse.BCOO((np.asarray(values), np.asarray(indices)),
                       shape=tuple(dense_shape))


def _traceable_sparse(indices, values, dense_shape):
    """Sparse labels that this backend's compiler takes as an argument: a
    tf.SparseTensor (TensorFlow), a BCOO (JAX; a pytree of arrays) or a
    SparseTensorValue (torch.compile traces its NumPy arrays)."""
    if backends.BACKEND == "tensorflow":
        return tf.SparseTensor(indices, values, dense_shape)
    if backends.BACKEND == "jax":
        return _bcoo(indices, values, dense_shape)
    return keras_heads.SparseTensorValue(np.asarray(indices),
                                         np.asarray(values), dense_shape)


def _results(head, labels, logits, features):
    metrics = head.update_metrics(head.metrics(), features, logits, labels)
    values = {k: float(m.result()) for k, m in metrics.items()}
    return float(head.loss(labels, logits, features)), values


@pytest.mark.parametrize("sparse_kind", [
    "SparseTensorValue", "tf.SparseTensor", "names",
    pytest.param("BCOO", marks=backends.only_on(
        "jax", why="BCOO is JAX's sparse array type")),
])
def test_sparse_and_dense_labels_give_identical_loss_and_metrics(sparse_kind):
    rng = np.random.default_rng(3)
    n_classes, batch = 5, 32
    names = [f"tag{i}" for i in range(n_classes)]
    head = keras_heads.MultiLabelHead(
        n_classes, weight_column="w", thresholds=[0.3, 0.6],
        label_vocabulary=names, classes_for_class_based_metrics=[1, 4],
    )
    multi_hot, indices, ids = _random_labels(rng, batch, n_classes, 3)
    shape = [batch, 3]
    if sparse_kind == "SparseTensorValue":
        sparse = keras_heads.SparseTensorValue(indices, ids, shape)
    elif sparse_kind == "tf.SparseTensor":
        sparse = tf.SparseTensor(indices, ids, shape)
    elif sparse_kind == "BCOO":
        sparse = _bcoo(indices, ids, shape)
    else:
        sparse = keras_heads.SparseTensorValue(
            indices, np.array(names)[ids], shape
        )
    logits = rng.normal(size=(batch, n_classes)).astype("float32")
    features = {"w": rng.uniform(0.5, 2.0, size=(batch, 1)).astype("float32")}

    dense_loss, dense_metrics = _results(head, multi_hot, logits, features)
    sparse_loss, sparse_metrics = _results(head, sparse, logits, features)
    assert sparse_loss == dense_loss
    assert sparse_metrics == dense_metrics
    assert "auc/tag4" in dense_metrics


def test_duplicate_sparse_ids_count_once():
    head = keras_heads.MultiLabelHead(3)
    logits = np.array([[1.0, -1.0, 0.5]], "float32")
    twice = keras_heads.SparseTensorValue([[0, 0], [0, 1]], [2, 2], [1, 2])
    once = np.array([[0, 0, 1]])
    assert float(head.loss(twice, logits)) == float(head.loss(once, logits))


def test_ten_thousand_classes_with_sparse_labels():
    """A large label space: the loss and pooled metrics are vectorised over
    classes and match a NumPy computation."""
    rng = np.random.default_rng(0)
    n_classes, batch = 10_000, 64
    multi_hot, indices, ids = _random_labels(rng, batch, n_classes, 20)
    labels = keras_heads.SparseTensorValue(indices, ids, [batch, 20])
    logits = rng.normal(size=(batch, n_classes)).astype("float32")
    head = keras_heads.MultiLabelHead(n_classes)

    x, z = logits.astype("float64"), multi_hot
    expected = np.mean(
        np.maximum(x, 0) - x * z + np.log1p(np.exp(-np.abs(x))), axis=-1
    ).mean()
    np.testing.assert_allclose(float(head.loss(labels, logits)), expected,
                               rtol=1e-5)
    metrics = head.update_metrics(head.metrics(), {}, logits, labels)
    assert 0.4 < float(metrics["auc"].result()) < 0.6  # random scores


@backends.only_on("jax", why="BCOO is JAX's sparse array type")
def test_bcoo_labels_need_one_index_row_per_entry():
    labels = _bcoo([[0, 0], [1, 0]], [1, 2], [2, 1]).update_layout(
        n_batch=1, on_inefficient=None)
    with pytest.raises(ValueError, match="must have n_batch=0 and n_dense=0"):
        keras_heads.MultiLabelHead(3).loss(labels, np.zeros((2, 3), "float32"))


@pytest.mark.parametrize("stateful", [
    pytest.param(True, id="stateful", marks=backends.only_on(
        "tensorflow", why="metric variables are mutable inside tf.function; "
        "elsewhere compiled code updates metrics through the stateless API")),
    pytest.param(False, id="stateless"),
])
@backends.parametrize_compilers
def test_compiled_loss_and_metrics_match_eager(compile_fn, stateful):
    """Sparse labels passed to the compiled function (not captured as
    constants) give the eager loss and metrics."""
    rng = np.random.default_rng(1)
    head = keras_heads.MultiLabelHead(4, weight_column="w", thresholds=[0.5],
                                      classes_for_class_based_metrics=[0])
    multi_hot, indices, ids = _random_labels(rng, 16, 4, 2)
    labels = _traceable_sparse(indices, ids, [16, 2])
    logits = rng.normal(size=(16, 4)).astype("float32")
    features = {"w": rng.uniform(size=(16,)).astype("float32")}
    eager_metrics = head.update_metrics(head.metrics(), features, logits,
                                        labels)
    compiled_metrics = head.metrics()

    if stateful:
        @compile_fn
        def step(logits, labels, w):
            head.update_metrics(compiled_metrics, {"w": w}, logits, labels)
            return head.loss(labels, logits, {"w": w})

        loss = step(logits, labels, features["w"])
        results = {k: m.result() for k, m in compiled_metrics.items()}
    else:
        @compile_fn
        def step(state, logits, labels, w):
            state = head.stateless_update_metrics(
                state, compiled_metrics, {"w": w}, logits, labels)
            return head.loss(labels, logits, {"w": w}), state

        loss, state = step(head.metric_variables(compiled_metrics), logits,
                           labels, features["w"])
        results = head.stateless_metric_results(state, compiled_metrics)
    np.testing.assert_allclose(
        backends.numpy(loss),
        backends.numpy(head.loss(multi_hot, logits, features)), rtol=1e-5)
    assert set(results) == set(eager_metrics)
    for key, metric in eager_metrics.items():
        np.testing.assert_allclose(backends.numpy(results[key]),
                                   backends.numpy(metric.result()),
                                   rtol=1e-4, err_msg=key)


@backends.parametrize_compilers
def test_invalid_labels_give_nan_loss_when_traced(compile_fn):
    head = keras_heads.MultiLabelHead(3)
    logits = np.zeros((2, 3), "float32")

    @compile_fn
    def loss(labels):
        return head.loss(labels, logits)

    def traced_loss(labels):
        return float(backends.numpy(loss(labels)))

    assert np.isnan(traced_loss(np.array([[0, 2, 0], [1, 0, 0]])))
    out_of_range = _traceable_sparse([[0, 0], [1, 0]], np.array([1, 7]),
                                     [2, 1])
    assert np.isnan(traced_loss(out_of_range))
    valid = _traceable_sparse([[0, 0], [1, 0]], np.array([1, 2]), [2, 1])
    assert np.isfinite(traced_loss(valid))


@backends.parametrize_compilers
@pytest.mark.parametrize("dtype", ["int8", "uint8"])
def test_8_bit_labels_out_of_range_poison_their_example_only(compile_fn, dtype):
    """However a backend checks 8-bit labels (per label or per example), a
    bad label makes its example's loss and its own gradient NaN and leaves
    the other examples as they are with float labels."""
    head = keras_heads.MultiLabelHead(3)
    logits = np.array([[0.5, -1.0, 2.0], [1.0, 0.0, -3.0]], "float32")
    good = np.array([[0, 1, 1], [1, 0, 0]], dtype)
    bad = good.copy()
    bad[1, 2] = 2 if dtype == "uint8" else -1
    loss = compile_fn(lambda labels, logits: head.loss(labels, logits))

    expected = backends.numpy(head.loss(good.astype("float32"), logits))
    np.testing.assert_allclose(backends.numpy(loss(good, logits)), expected,
                               rtol=1e-6)
    assert np.isnan(backends.numpy(loss(bad, logits)))
    _, gradient = backends.value_and_gradient(
        compile_fn(lambda x: head.loss(bad, x)), logits
    )
    assert np.isfinite(gradient[0]).all() and np.isnan(gradient[1, 2])


@pytest.mark.parametrize(
    "labels,fragment",
    [
        (keras_heads.SparseTensorValue([[0, 0]], [3], [2, 1]),
         "values in [0, 3). Given: [3]"),
        (keras_heads.SparseTensorValue([[0, 0]], ["x"], [2, 1]),
         "Sparse string labels need a label_vocabulary"),
        (np.array([["a", "b", "c"]] * 2), "numeric multi-hot indicator"),
        (np.array([[0, 1, 2], [1, 1, 0]]), "labels has values above 1: [2]"),
    ],
)
def test_bad_labels_are_explained(labels, fragment):
    head = keras_heads.MultiLabelHead(3)
    with pytest.raises(ValueError) as error:
        head.loss(labels, np.zeros((2, 3), "float32"))
    assert fragment in str(error.value)


def test_unknown_sparse_names_are_listed():
    head = keras_heads.MultiLabelHead(2, label_vocabulary=["cat", "dog"])
    labels = keras_heads.SparseTensorValue([[0, 0], [1, 0]], ["dog", "emu"],
                                           [2, 1])
    with pytest.raises(ValueError, match=r"not in label_vocabulary.*'emu'"):
        head.loss(labels, np.zeros((2, 2), "float32"))
