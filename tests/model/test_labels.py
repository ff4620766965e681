"""Labels through every data path: `HeadModel` prepares each batch's labels
before its compiled step (keras_heads/model/labels.py), so class names,
sparse labels and bad labels behave the same from arrays, `tf.data`, a
`PyDataset` and a generator, on every backend."""

import importlib.util

import keras
import numpy as np
import pytest

import keras_heads as kh
from keras_heads.model.labels import prepare_labels
from tests import backends

N = 24
BATCH = 8
VOCABULARY = ["cat", "dog", "eel"]
HAS_TF = importlib.util.find_spec("tensorflow") is not None
PATHS = ["arrays", "tf.data", "pydataset", "generator"]


def _features():
    rng = np.random.default_rng(7)
    return {"x": rng.normal(size=(N, 4)).astype("float32")}


def _network(outputs):
    inputs = keras.Input((4,), name="x")
    if isinstance(outputs, dict):
        logits = {
            name: keras.layers.Dense(units, name=name)(inputs)
            for name, units in outputs.items()
        }
    else:
        logits = keras.layers.Dense(outputs)(inputs)
    return keras.Model({"x": inputs}, logits)


def _model(head, outputs, jit_compile="auto"):
    keras.utils.set_random_seed(1)
    model = kh.HeadModel(_network(outputs), head)
    model.compile(optimizer=keras.optimizers.SGD(0.1),
                  jit_compile=jit_compile)
    return model


def _rows(value, start, stop):
    if isinstance(value, dict):
        return {k: _rows(v, start, stop) for k, v in value.items()}
    if isinstance(value, kh.SparseTensorValue):
        indices = np.asarray(value.indices)
        keep = (indices[:, 0] >= start) & (indices[:, 0] < stop)
        shifted = indices[keep] - np.array([start, 0])
        return kh.SparseTensorValue(
            shifted, np.asarray(value.values)[keep],
            (stop - start, value.dense_shape[1]),
        )
    return value[start:stop]


def _batches(features, labels):
    return [
        (_rows(features, i, i + BATCH), _rows(labels, i, i + BATCH))
        for i in range(0, N, BATCH)
    ]


class _Batches(keras.utils.PyDataset):
    def __init__(self, batches):
        super().__init__()
        self._batches = batches

    def __len__(self):
        return len(self._batches)

    def __getitem__(self, index):
        return self._batches[index]


def _tf_labels(labels):
    import tensorflow as tf

    if isinstance(labels, dict):
        return {k: _tf_labels(v) for k, v in labels.items()}
    if isinstance(labels, kh.SparseTensorValue):
        return tf.SparseTensor(
            np.asarray(labels.indices, "int64"), labels.values,
            np.asarray(labels.dense_shape, "int64"),
        )
    return labels


def _data(path, features, labels):
    """`(x, y)` arguments of fit / evaluate for one data path."""
    if path == "arrays":
        return features, labels
    batches = _batches(features, labels)
    if path == "pydataset":
        return _Batches(batches), None
    if path == "generator":
        return (batch for batch in batches), None
    if not HAS_TF:
        pytest.skip("tf.data needs TensorFlow, which is not installed")
    import tensorflow as tf

    first = tf.data.Dataset.from_tensors(
        (batches[0][0], _tf_labels(batches[0][1]))
    )
    for x, y in batches[1:]:
        first = first.concatenate(
            tf.data.Dataset.from_tensors((x, _tf_labels(y)))
        )
    return first, None


def _logs(model, path, features, labels):
    x, y = _data(path, features, labels)
    kwargs = {"batch_size": BATCH} if path == "arrays" else {}
    return model.evaluate(x, y, verbose=0, return_dict=True, **kwargs)


def _assert_same_logs(a, b):
    assert sorted(a) == sorted(b)
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=1e-5, atol=1e-6,
                                   err_msg=key)


# --- the cases ---------------------------------------------------------------


def _class_names(family):
    """`(head, outputs, labels, the same labels as the id head takes)`."""
    rng = np.random.default_rng(3)
    ids = rng.integers(0, 3, size=(N, 1))
    if family == "binary":
        ids = ids % 2
        head = kh.BinaryClassHead(label_vocabulary=VOCABULARY[:2])
        return head, 1, np.array(VOCABULARY)[ids], ids
    if family == "multi_class":
        head = kh.MultiClassHead(3, label_vocabulary=VOCABULARY)
        return head, 3, np.array(VOCABULARY)[ids], ids
    if family == "multi_label":
        rows, cols = np.nonzero(rng.uniform(size=(N, 3)) < 0.4)
        position = np.concatenate(
            [np.arange(np.sum(rows == r)) for r in range(N)]
        )
        names = kh.SparseTensorValue(
            np.stack([rows, position], axis=1),
            np.array(VOCABULARY)[cols].astype(object), (N, 3),
        )
        multi_hot = np.zeros((N, 3), "int64")
        multi_hot[rows, cols] = 1
        head = kh.MultiLabelHead(3, label_vocabulary=VOCABULARY)
        return head, 3, names, multi_hot
    head = kh.MultiHead([
        kh.MultiClassHead(3, label_vocabulary=VOCABULARY, name="kind"),
        kh.RegressionHead(name="size"),
    ])
    size = rng.normal(size=(N, 1)).astype("float32")
    return (head, {"kind": 3, "size": 1},
            {"kind": np.array(VOCABULARY)[ids], "size": size},
            {"kind": ids, "size": size})


FAMILIES = ["binary", "multi_class", "multi_label", "multi_head"]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("family", FAMILIES)
def test_class_names_evaluate_and_fit_from_every_data_path(family, path):
    head, outputs, names, ids = _class_names(family)
    by_id_head = kh.HeadModel(_network(outputs), head)._objective
    want = _logs(_model(by_id_head, outputs), "arrays", _features(), ids)

    model = _model(head, outputs)
    _assert_same_logs(_logs(model, path, _features(), names), want)
    x, y = _data(path, _features(), names)
    history = model.fit(x, y, epochs=1, verbose=0,
                        **({"batch_size": BATCH} if y is not None else {}))
    assert np.isfinite(history.history["loss"][0])
    predictions = model.predict(_features(), verbose=0)
    if family != "multi_head":
        assert predictions["classes"].dtype == object


@backends.only_on("tensorflow", why="jit_compile=True is TensorFlow's "
                  "switch for XLA (JAX always compiles with it)")
@pytest.mark.parametrize("path", ["arrays", "tf.data"])
@pytest.mark.parametrize("family", FAMILIES)
def test_class_names_train_under_xla_on_tensorflow(family, path):
    head, outputs, names, ids = _class_names(family)
    plain = _logs(_model(head, outputs, jit_compile=False), path,
                  _features(), names)
    model = _model(head, outputs, jit_compile=True)
    _assert_same_logs(_logs(model, path, _features(), names), plain)
    x, y = _data(path, _features(), names)
    model.fit(x, y, epochs=1, verbose=0)


@pytest.mark.parametrize("path", PATHS)
def test_sparse_label_values_train_from_every_data_path(path):
    """`SparseTensorValue` labels of class ids (#8 of issue 19)."""
    head, outputs, names, multi_hot = _class_names("multi_label")
    rows, cols = np.nonzero(multi_hot)
    position = np.concatenate([np.arange(np.sum(rows == r)) for r in range(N)])
    sparse_ids = kh.SparseTensorValue(
        np.stack([rows, position], axis=1), cols, (N, 3)
    )
    head = kh.MultiLabelHead(3)
    want = _logs(_model(head, 3), "arrays", _features(), multi_hot)
    model = _model(head, 3)
    _assert_same_logs(_logs(model, path, _features(), sparse_ids), want)
    x, y = _data(path, _features(), sparse_ids)
    model.fit(x, y, epochs=1, verbose=0)


def test_validation_data_and_split_take_class_names():
    head, outputs, names, ids = _class_names("multi_class")
    model = _model(head, outputs)
    features = _features()
    for validation in [(features, names), (features, names, None),
                       _Batches(_batches(features, names))]:
        history = model.fit(features, names, epochs=1, verbose=0,
                            validation_data=validation)
        assert np.isfinite(history.history["val_loss"][0])
    history = model.fit(features, names, epochs=1, verbose=0,
                        validation_split=0.25)
    assert np.isfinite(history.history["val_accuracy"][0])


def test_validation_data_with_sample_weights_is_rejected():
    head, outputs, names, _ = _class_names("multi_class")
    model = _model(head, outputs)
    with pytest.raises(ValueError, match="sample_weight.*weight_column"):
        model.fit(_features(), names, verbose=0,
                  validation_data=(_features(), names, np.ones(N)))


# --- one clear error for every bad label, on every path --------------------------


def _bad_labels(case):
    """`(head, outputs, labels, the error's message fragment)`."""
    ids = np.arange(N).reshape(N, 1) % 3
    if case == "unknown class name":
        names = np.array(VOCABULARY)[ids]
        names[4, 0] = "yak"
        return (kh.MultiClassHead(3, label_vocabulary=VOCABULARY), 3, names,
                r"not in label_vocabulary.*yak")
    if case == "class id too large":
        bad = ids.copy()
        bad[5, 0] = 3
        return kh.MultiClassHead(3), 3, bad, r"Labels must be <= 3 - 1"
    if case == "negative class id":
        bad = ids.copy()
        bad[5, 0] = -1
        return kh.MultiClassHead(3), 3, bad, r"Labels must be >= 0"
    if case == "binary label 2":
        bad = ids.copy()
        return kh.BinaryClassHead(), 1, bad, r"Labels must be <= 2 - 1"
    if case == "strings without a vocabulary":
        return (kh.BinaryClassHead(), 1, np.array(VOCABULARY)[ids % 2],
                r"label_vocabulary")
    if case == "strings for a regression head":
        return (kh.RegressionHead(), 1, np.array(VOCABULARY)[ids],
                r"Regression labels must be numeric")
    if case == "ids for a vocabulary":
        return (kh.MultiClassHead(3, label_vocabulary=VOCABULARY), 3, ids,
                r"should be string if there is a vocabulary")
    if case == "multi-hot value 2":
        bad = np.zeros((N, 3), "int64")
        bad[2, 1] = 2
        return kh.MultiLabelHead(3), 3, bad, r"\[0, 1\]|0 or 1|<= 1"
    if case == "sparse entry outside dense_shape":
        sparse = kh.SparseTensorValue(
            np.array([[0, 0], [1, 3]]), np.array([1, 2]), (N, 3)
        )
        return kh.MultiLabelHead(3), 3, sparse, r"outside its dense_shape"
    if case == "unknown label key":
        head = kh.MultiHead([kh.RegressionHead(name="a"),
                             kh.RegressionHead(name="b")])
        values = np.ones((N, 1), "float32")
        return (head, {"a": 1, "b": 1}, {"a": values, "b": values,
                                         "c": values},
                r"keys \['c'\] that are no head's name")
    head = kh.MultiHead([kh.RegressionHead(name="a"),
                         kh.RegressionHead(name="b")])
    return (head, {"a": 1, "b": 1}, {"a": np.ones((N, 1), "float32")},
            r"no entry for the heads \['b'\]")


BAD_CASES = [
    "unknown class name", "class id too large", "negative class id",
    "binary label 2", "strings without a vocabulary",
    "strings for a regression head", "ids for a vocabulary",
    "multi-hot value 2", "sparse entry outside dense_shape",
    "unknown label key", "missing label key",
]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("case", BAD_CASES)
def test_a_bad_label_raises_the_same_error_on_every_path(case, path):
    """The same `ValueError` class and message on every backend and from
    every data path, before any compiled step (#5, #14 of issue 19)."""
    head, outputs, labels, message = _bad_labels(case)
    if case == "binary label 2":
        labels = labels.copy()
        labels[6, 0] = 2
    model = _model(head, outputs)
    for method in ("fit", "evaluate"):
        x, y = _data(path, _features(), labels)
        with pytest.raises(ValueError, match=message):
            getattr(model, method)(x, y, verbose=0)


def test_a_failed_fit_leaves_the_model_usable():
    """On JAX a loop that raised before its first step used to leave the
    variables empty (`'NoneType' object is not callable` on every later
    call)."""
    head, outputs, names, _ = _class_names("multi_class")
    model = _model(head, outputs)
    bad = names.copy()
    bad[0, 0] = "yak"
    for path in PATHS:
        if path == "tf.data" and not HAS_TF:
            continue
        before = [np.array(w) for w in model.get_weights()]
        x, y = _data(path, _features(), bad)
        with pytest.raises(ValueError, match="yak"):
            model.fit(x, y, verbose=0)
        if path != "pydataset":  # Keras' PyDataset reader on PyTorch may
            # run the batches after the bad one before it reports it.
            for a, b in zip(before, model.get_weights()):
                np.testing.assert_array_equal(a, b)
        logs = model.evaluate(_features(), names, verbose=0, return_dict=True)
        assert np.isfinite(logs["loss"])


def test_prepare_labels_leaves_numeric_labels_as_they_came():
    values = np.array([[0.5], [2.0]], "float32")
    assert prepare_labels(kh.RegressionHead(), values) is values
    ids = np.array([1, 0])
    prepared = prepare_labels(kh.MultiClassHead(3), ids)
    np.testing.assert_array_equal(prepared, ids)


def test_sequence_labels_are_looked_up_on_real_steps_only():
    head = kh.SequentialHeadWrapper(
        kh.MultiClassHead(3, label_vocabulary=VOCABULARY), "mask"
    )
    labels = np.array([["dog", "eel"], ["cat", "<pad>"]])
    mask = np.array([[1, 1], [1, 0]])
    ids = prepare_labels(head, labels, {"mask": mask})
    np.testing.assert_array_equal(ids[..., 0], [[1, 2], [0, 0]])
    with pytest.raises(ValueError, match="<pad>"):
        prepare_labels(head, labels, {"mask": np.ones((2, 2))})
