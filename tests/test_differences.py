"""Pins each deliberate difference from the reference (docs/differences.md)."""

import numpy as np
import pytest

import keras_heads
from keras_heads import backend
from keras_heads.backend import string_values
from tests import backends

LOGITS = np.array([[45.0], [-41.0]], "float32")
LABELS = np.array([[1], [1]], "int32")


def test_features_none_is_an_empty_dict():
    head = keras_heads.BinaryClassHead()
    np.testing.assert_allclose(
        float(head.loss(LABELS, LOGITS, features=None)), 20.5
    )
    metrics = head.update_metrics(head.metrics(), None, LOGITS, LABELS)
    np.testing.assert_allclose(float(metrics["average_loss"].result()), 20.5)


def test_empty_regularization_list_adds_zero():
    head = keras_heads.BinaryClassHead()
    np.testing.assert_allclose(
        float(head.loss(LABELS, LOGITS, regularization_losses=[])), 20.5
    )
    metrics = head.metrics(regularization_losses=[])
    head.update_metrics(metrics, {}, LOGITS, LABELS, regularization_losses=[])
    assert float(metrics["regularization_loss"].result()) == 0.0


def test_update_metrics_accepts_mode_by_keyword():
    head = keras_heads.BinaryClassHead()
    by_position = head.update_metrics(head.metrics([1.0]), {}, LOGITS, LABELS,
                                      [1.0])
    by_keyword = head.update_metrics(head.metrics([1.0]), {}, LOGITS, LABELS,
                                     mode="eval", regularization_losses=[1.0])
    for key in by_position:
        assert float(by_position[key].result()) == float(
            by_keyword[key].result()
        )
    assert float(by_keyword["regularization_loss"].result()) == 1.0


@pytest.mark.parametrize(
    "make_head,fragment",
    [
        (lambda: keras_heads.BinaryClassHead(label_vocabulary=["a"]),
         "must have 2 entries"),
        (lambda: keras_heads.BinaryClassHead(label_vocabulary=["a", "b", "c"]),
         "must have 2 entries"),
        (lambda: keras_heads.MultiClassHead(3, label_vocabulary=["a", "b", "a"]),
         "duplicated entries: ['a']"),
        (lambda: keras_heads.MultiClassHead(3, label_vocabulary=["a", 1, "c"]),
         "must hold strings"),
    ],
)
def test_vocabulary_is_checked_at_construction(make_head, fragment):
    with pytest.raises(ValueError) as error:
        make_head()
    assert fragment in str(error.value)
    assert "label_vocabulary" in str(error.value)


def test_binary_label_type_errors_are_explained():
    with pytest.raises(ValueError, match="need a label_vocabulary"):
        keras_heads.BinaryClassHead().loss(np.array([["yes"], ["no"]]), LOGITS)
    with pytest.raises(ValueError, match="should be string if there is a "
                                         "vocabulary"):
        keras_heads.BinaryClassHead(label_vocabulary=["no", "yes"]).loss(
            LABELS, LOGITS
        )


def test_unknown_label_names_are_listed():
    head = keras_heads.MultiClassHead(3, label_vocabulary=["a", "b", "c"])
    logits = np.zeros((2, 3), "float32")
    with pytest.raises(ValueError) as error:
        head.loss(np.array([["b"], ["zebra"]]), logits)
    message = str(error.value)
    assert "Labels must be >= 0" in message
    assert "zebra" in message and "['a', 'b', 'c']" in message


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_weights_are_rejected(bad):
    head = keras_heads.BinaryClassHead(weight_column="w")
    features = {"w": np.array([1.0, bad], "float32")}
    with pytest.raises(ValueError, match="'w' must be finite"):
        head.loss(LABELS, LOGITS, features)


def test_n_classes_must_be_an_int():
    with pytest.raises(ValueError, match="n_classes must be a Python int"):
        keras_heads.MultiClassHead(3.0)


def test_train_and_eval_specs_build_class_names_only_when_read():
    """Difference 18: string predictions of TRAIN/EVAL specs are deferred."""
    head = keras_heads.MultiClassHead(3, label_vocabulary=["a", "b", "c"])
    logits = np.array([[3.0, 0.0, 0.0], [0.0, 0.0, 2.0]], "float32")
    labels = np.array([["a"], ["b"]])
    spec = head.create_estimator_spec(features={}, mode="eval",
                                      logits=logits, labels=labels)
    assert "deferred=['classes', 'all_classes']" in repr(spec.predictions)
    eager = head.predictions(logits)
    assert list(spec.predictions) == list(eager)
    assert string_values(spec.predictions["classes"]).tolist() == [
        [b"a"], [b"c"]
    ]
    assert "deferred=[]" in repr(spec.predictions)
    for key in ("probabilities", "class_ids", "all_classes"):
        np.testing.assert_array_equal(
            _values(spec.predictions[key]), _values(eager[key])
        )


def test_a_train_spec_compiles_strictly_for_a_class_head():
    """Difference 18: nothing in a TRAIN spec stops XLA or jax.jit."""
    head = keras_heads.MultiClassHead(3)
    logits = np.array([[3.0, 0.0, 0.0], [0.0, 0.0, 2.0]], "float32")
    labels = np.array([[0], [2]])

    def train_loss(logits, labels):
        spec = head.create_estimator_spec(
            features={}, mode="train", logits=logits, labels=labels,
            train_op_fn=lambda loss: None,
        )
        return spec.loss, spec.predictions["class_ids"]

    loss, class_ids = backends.compile_strict(train_loss)(logits, labels)
    np.testing.assert_allclose(
        backends.numpy(loss), backends.numpy(head.loss(labels, logits)),
        rtol=1e-6,
    )
    assert backends.numpy(class_ids).ravel().tolist() == [0, 2]


def _values(x):
    if backend.is_string(x):
        return string_values(x)
    return backends.numpy(x)


def test_duplicated_head_names_are_rejected():
    """Difference 20: the reference summed such a head's loss twice."""
    heads = [keras_heads.BinaryClassHead(name="click"),
             keras_heads.RegressionHead(name="click")]
    with pytest.raises(ValueError, match="Head names must be unique") as error:
        keras_heads.MultiHead(heads)
    assert "['click', 'click']" in str(error.value)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_head_weights_are_rejected(bad):
    """Difference 21: the reference's loss became NaN or inf."""
    heads = [keras_heads.BinaryClassHead(name="a"),
             keras_heads.BinaryClassHead(name="b")]
    with pytest.raises(ValueError, match="head_weights must be finite") as error:
        keras_heads.MultiHead(heads, head_weights=[1.0, bad])
    assert repr(bad) in str(error.value)


@pytest.mark.parametrize("thresholds", [[np.nan], [0.5, 0.5]],
                         ids=["nan", "repeated"])
@pytest.mark.parametrize(
    "make_head",
    [keras_heads.BinaryClassHead,
     lambda **kw: keras_heads.MultiLabelHead(2, **kw)],
    ids=["binary", "multi_label"],
)
def test_thresholds_must_be_distinct_numbers(make_head, thresholds):
    """Difference 22: the reference accepted both: a NaN threshold calls
    every prediction negative; repeated ones share one set of keys."""
    with pytest.raises(ValueError, match="thresholds must be") as error:
        make_head(thresholds=thresholds)
    assert f"Given: {thresholds}" in str(error.value)


@pytest.mark.parametrize("label_dimension", [1.5, 2.0, True])
def test_label_dimension_must_be_a_python_int(label_dimension):
    """Difference 23: the reference accepted any value not below 1."""
    with pytest.raises(ValueError,
                       match="label_dimension must be a Python int") as error:
        keras_heads.RegressionHead(label_dimension=label_dimension)
    assert repr(label_dimension) in str(error.value)
