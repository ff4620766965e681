"""SequentialHeadWrapper: flattening by the mask, delegation to the static
head, PREDICT, errors, and its deliberate differences from the reference."""

import re

import numpy as np
import pytest
import tensorflow as tf
from keras import ops

import keras_heads as kh
from tests import backends

MASK = np.array([[1, 1, 0], [1, 0, 0], [1, 1, 1]])  # 6 real steps of 9
REAL = MASK.astype(bool)
RNG = np.random.default_rng(0)
LOGITS_3 = RNG.normal(size=(3, 3, 3)).astype("float32")
LOGITS_1 = RNG.normal(size=(3, 3, 1)).astype("float32")
CLASS_IDS = RNG.integers(0, 3, (3, 3)).astype("int64")
BINARY = RNG.integers(0, 2, (3, 3)).astype("int64")
WEIGHTS = RNG.uniform(0.5, 2.0, (3, 3)).astype("float32")


_np = backends.numpy


def _wrapper(static_head, feature_columns=None):
    return kh.SequentialHeadWrapper(static_head, "mask", feature_columns)


def _sparse(dense, kind, order=None):
    """The real steps of `dense` as a sparse tensor, entries in `order`."""
    indices = np.argwhere(np.broadcast_to(
        REAL.reshape(REAL.shape + (1,) * (dense.ndim - 2)), dense.shape))
    if order is not None:
        indices = indices[order]
    values = dense[tuple(indices.T)]
    if kind == "tf":
        return tf.SparseTensor(indices, values, dense.shape)
    return kh.SparseTensorValue(indices, values, dense.shape)


def _raises(exception, match, call, *fragments):
    with pytest.raises(exception, match=re.escape(match)) as info:
        call()
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)


# --- flattening --------------------------------------------------------------


@pytest.mark.parametrize("mask_dtype", ["int32", "int64", "bool", "float32"])
def test_dense_tensors_keep_the_real_steps_in_row_major_order(mask_dtype):
    head = _wrapper(kh.MultiClassHead(3, weight_column="w"), "w")
    features = {"mask": MASK.astype(mask_dtype), "w": WEIGHTS, "other": 1}
    logits, labels, flat_features = head._flatten(
        LOGITS_3, CLASS_IDS, features
    )
    np.testing.assert_array_equal(_np(logits), LOGITS_3[REAL])
    np.testing.assert_array_equal(_np(labels), CLASS_IDS[REAL][:, None])
    assert list(flat_features) == ["w"]  # only the feature_columns
    np.testing.assert_array_equal(
        _np(flat_features["w"]), WEIGHTS[REAL][:, None]
    )
    # dtypes are kept (JAX without x64 holds int64 as int32)
    assert _np(labels).dtype == backends.backend_dtype("int64")


def test_string_labels_are_flattened():
    names = np.array([["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"]])
    head = _wrapper(kh.MultiClassHead(3, label_vocabulary=["a", "b", "c"]))
    _, labels, _ = head._flatten(LOGITS_3, names, {"mask": MASK})
    flat = [s.decode() for s in np.asarray(labels).reshape(-1)]
    assert flat == names[REAL].tolist()


@pytest.mark.parametrize("kind", ["tf", "value"])
def test_sparse_labels_and_weights_are_sorted_row_major(kind):
    shuffled = RNG.permutation(int(MASK.sum()))
    head = _wrapper(kh.MultiClassHead(3, weight_column="w"), ["w"])
    features = {"mask": MASK, "w": _sparse(WEIGHTS, kind, shuffled)}
    _, labels, flat_features = head._flatten(
        LOGITS_3, _sparse(CLASS_IDS, kind, shuffled), features
    )
    np.testing.assert_array_equal(_np(labels), CLASS_IDS[REAL][:, None])
    np.testing.assert_allclose(_np(flat_features["w"]), WEIGHTS[REAL][:, None])


@pytest.mark.parametrize("kind", ["tf", "value"])
def test_sparse_rank3_labels_are_sorted_row_major(kind):
    # Deliberate difference (docs/differences.md): the reference reorders
    # only rank-2 sparse tensors and reshapes rank > 2 ones as given.
    labels = RNG.normal(size=(3, 3, 2)).astype("float32")
    shuffled = RNG.permutation(2 * int(MASK.sum()))
    head = _wrapper(kh.RegressionHead(label_dimension=2))
    _, flat, _ = head._flatten(
        RNG.normal(size=(3, 3, 2)), _sparse(labels, kind, shuffled),
        {"mask": MASK},
    )
    np.testing.assert_array_equal(_np(flat), labels[REAL])


def test_rank2_logits_become_a_column():
    head = _wrapper(kh.BinaryClassHead())
    logits, _, _ = head._flatten(LOGITS_1[..., 0], BINARY, {"mask": MASK})
    assert tuple(logits.shape) == (6, 1)


# --- delegation: the static head sees the hand-flattened batch ---------------

STATIC_HEADS = {
    "binary": (lambda: kh.BinaryClassHead(weight_column="w"), LOGITS_1, BINARY),
    "multi_class": (
        lambda: kh.MultiClassHead(3, weight_column="w", loss_reduction="sum"),
        LOGITS_3, CLASS_IDS,
    ),
    "regression": (
        lambda: kh.RegressionHead(label_dimension=3, weight_column="w"),
        LOGITS_3, RNG.normal(size=(3, 3, 3)).astype("float32"),
    ),
}


def _hand_flattened(labels):
    features = {"w": WEIGHTS[REAL]}
    flat_labels = labels[REAL] if labels.ndim == 3 else labels[REAL][:, None]
    return flat_labels, features


@pytest.mark.parametrize("name", sorted(STATIC_HEADS))
def test_loss_is_the_static_heads_loss_on_the_real_steps(name):
    make_head, logits, labels = STATIC_HEADS[name]
    static = make_head()
    head = _wrapper(static, "w")
    features = {"mask": MASK.astype(bool), "w": WEIGHTS}
    flat_labels, flat_features = _hand_flattened(labels)
    got = head.loss(logits=logits, labels=labels, features=features,
                    regularization_losses=[0.5])
    want = static.loss(labels=flat_labels, logits=logits[REAL],
                       features=flat_features, regularization_losses=[0.5])
    np.testing.assert_allclose(float(got), float(want), rtol=1e-6)
    # The logits come first, as in the reference.
    positional = head.loss(logits, labels, features, None, [0.5])
    np.testing.assert_allclose(float(positional), float(want), rtol=1e-6)


@pytest.mark.parametrize("name", sorted(STATIC_HEADS))
def test_metrics_are_the_static_heads_metrics_on_the_real_steps(name):
    make_head, logits, labels = STATIC_HEADS[name]
    static = make_head()
    head = _wrapper(static, "w")
    flat_labels, flat_features = _hand_flattened(labels)
    got = head.update_metrics(head.metrics(), {"mask": MASK, "w": WEIGHTS},
                              logits, labels)
    want = static.update_metrics(static.metrics(), flat_features,
                                 logits[REAL], flat_labels)
    assert set(got) == set(want)
    for key in want:
        np.testing.assert_allclose(float(got[key].result()),
                                   float(want[key].result()), rtol=1e-5)


def test_train_and_eval_specs_run_on_the_real_steps():
    static = kh.BinaryClassHead(weight_column="w")
    head = _wrapper(static, "w")
    features = {"mask": MASK, "w": WEIGHTS}
    flat_labels, flat_features = _hand_flattened(BINARY)
    want = static.loss(labels=flat_labels, logits=LOGITS_1[REAL],
                       features=flat_features)
    seen = []
    train = head.create_estimator_spec(
        features, kh.ModeKeys.TRAIN, LOGITS_1, BINARY,
        train_op_fn=lambda loss: seen.append(loss) or "op",
    )
    assert train.train_op == "op" and len(seen) == 1
    np.testing.assert_allclose(float(train.loss), float(want), rtol=1e-6)
    assert tuple(train.predictions["logits"].shape) == (6, 1)
    evaluation = head.create_estimator_spec(
        features, kh.ModeKeys.EVAL, LOGITS_1, BINARY
    )
    static_eval = static.create_estimator_spec(
        flat_features, kh.ModeKeys.EVAL, LOGITS_1[REAL], flat_labels
    )
    np.testing.assert_allclose(float(evaluation.loss), float(want), rtol=1e-6)
    for key, metric in static_eval.eval_metric_ops.items():
        np.testing.assert_allclose(
            float(evaluation.eval_metric_ops[key].result()),
            float(metric.result()), rtol=1e-5,
        )


def test_only_the_feature_columns_reach_the_static_head():
    head = _wrapper(kh.BinaryClassHead(weight_column="w"))  # "w" not listed
    _raises(ValueError, "Feature w is not in features dictionary",
            lambda: head.loss(logits=LOGITS_1, labels=BINARY,
                              features={"mask": MASK, "w": WEIGHTS}))


def _sequence_loss(logits, labels, mask, weights):
    head = _wrapper(kh.MultiClassHead(3, weight_column="w"), "w")
    return head.loss(logits=logits, labels=labels,
                     features={"mask": mask, "w": weights})


@backends.only_on("tensorflow", "torch", why=(
    "the number of real steps is data-dependent: tf.function graphs (and "
    "XLA, with bounded dynamic shapes) and torch.compile (a graph break at "
    "nonzero) allow that; jax.jit does not (tested below)"))
@backends.parametrize_compilers
def test_loss_compiles_for_any_number_of_real_steps(compile_fn):
    compiled = compile_fn(_sequence_loss)
    for mask in (MASK, np.ones_like(MASK)):  # 6 and 9 real steps
        eager = _sequence_loss(LOGITS_3, CLASS_IDS, mask, WEIGHTS)
        got = compiled(LOGITS_3, CLASS_IDS, mask, WEIGHTS)
        np.testing.assert_allclose(_np(got), _np(eager), rtol=1e-6)


@backends.only_on("jax", why=(
    "jax.jit needs static shapes, and the number of real steps that a "
    "traced mask marks is data-dependent"))
def test_jax_jit_explains_that_a_traced_mask_cannot_flatten():
    import jax

    compiled = jax.jit(_sequence_loss)
    with pytest.raises(ValueError, match=r"traced mask 'mask' inside "
                                         r"jax\.jit"):
        compiled(LOGITS_3, CLASS_IDS, MASK, WEIGHTS)


# --- PREDICT and predictions -------------------------------------------------


def test_predict_keeps_all_steps_and_adds_the_mask():
    head = _wrapper(kh.BinaryClassHead(weight_column="w"), "w")
    mask = ops.convert_to_tensor(MASK.astype(bool))
    spec = head.create_estimator_spec({"mask": mask}, kh.ModeKeys.PREDICT,
                                      LOGITS_1)
    assert spec.predictions["mask"] is mask
    assert tuple(spec.predictions["logits"].shape) == (3, 3, 1)
    assert "mask" not in spec.export_outputs["predict"].outputs


def test_predict_without_the_mask_names_it():
    # Deliberate difference: the reference raised a bare KeyError.
    head = _wrapper(kh.BinaryClassHead())
    _raises(ValueError, "The provided sequence_length_mask key `mask`",
            lambda: head.create_estimator_spec({"x": 1}, kh.ModeKeys.PREDICT,
                                               LOGITS_1),
            "Found keys: ['x']")


def test_predictions_without_keys_work_for_a_regression_static_head():
    # Deliberate difference: the reference always forwarded keys=None, which
    # RegressionHead.predictions does not take (TypeError).
    head = _wrapper(kh.RegressionHead())
    got = head.predictions(LOGITS_1)
    np.testing.assert_array_equal(_np(got["predictions"]), LOGITS_1)
    with pytest.raises(TypeError, match="keys"):
        head.predictions(LOGITS_1, keys=["predictions"])


def test_predictions_forward_keys():
    head = _wrapper(kh.BinaryClassHead())
    assert list(head.predictions(LOGITS_1, keys=["logistic"])) == ["logistic"]


# --- construction and properties ---------------------------------------------


def test_properties_come_from_the_static_head():
    head = kh.SequentialHeadWrapper(
        kh.BinaryClassHead(loss_reduction="sum", name="tag"), "seq")
    assert head.name == "tag_sequential"
    assert head.input_sequence_mask_key == "seq"
    assert head.logits_dimension == 1
    assert head.loss_reduction == "sum"
    assert kh.SequentialHeadWrapper(kh.BinaryClassHead()).name is None
    assert kh.SequentialHeadWrapper(
        kh.BinaryClassHead()).input_sequence_mask_key == "sequence_length_mask"


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(sequence_length_mask=1), TypeError,
     "`sequence_mask` column must be a string. Given type: <class 'int'>"),
    (dict(feature_columns=1), TypeError,
     "`feature_columns` must be either a string or an iterable"),
    (dict(feature_columns=["w", 2]), TypeError,
     "Column must a string. Given type: <class 'int'>."),
])
def test_constructor_errors(kwargs, error, match):
    _raises(error, match, lambda: kh.SequentialHeadWrapper(None, **kwargs))


def test_a_multi_head_is_rejected():
    multi = kh.MultiHead([kh.BinaryClassHead(name="a")])
    _raises(ValueError,
            "`MultiHead` is not supported with `SequentialHeadWrapper`.",
            lambda: kh.SequentialHeadWrapper(multi))


# --- call errors -------------------------------------------------------------


def _loss_call(labels=BINARY, logits=LOGITS_1, **features):
    head = _wrapper(kh.BinaryClassHead(weight_column="w"), "w")
    return lambda: head.loss(logits=logits, labels=labels, features=features)


def test_call_errors_name_what_is_wrong():
    _raises(ValueError, "The provided sequence_length_mask key `mask` should "
            "be included in the features dictionary, but was not found. "
            "Found keys: ['w'].", _loss_call(w=WEIGHTS))
    _raises(ValueError, "Mask is expected to have two dimensions, got 1",
            _loss_call(mask=MASK[0], w=WEIGHTS), "(3,)")
    _raises(ValueError, "`w` column expected in features dictionary.",
            _loss_call(mask=MASK), "['mask']")
    _raises(ValueError, "Input tensor expected to have at least 2 dimensions, "
            "got 1 instead.", _loss_call(mask=MASK, w=WEIGHTS[0]),
            "feature 'w'")
    _raises(ValueError, "Tensor shape is incompatible with provided mask.",
            _loss_call(logits=LOGITS_1[:2], mask=MASK, w=WEIGHTS),
            "logits has shape [2, 3, 1]", "[3, 3]")
    _raises(ValueError, "Tensor shape is incompatible with provided mask.",
            _loss_call(mask=MASK * 2, w=WEIGHTS), "sums to 12")
    too_few = tf.SparseTensor([[0, 0], [0, 1], [1, 0]], [1, 0, 1], [3, 3])
    _raises(ValueError, "Tensor shape is incompatible with provided mask.",
            _loss_call(labels=too_few, mask=MASK, w=WEIGHTS),
            "labels is sparse with 3 entries", "marks 6 real steps")


def test_missing_labels_are_reported_by_the_static_head():
    _raises(ValueError, "You must provide a labels Tensor",
            _loss_call(labels=None, mask=MASK, w=WEIGHTS))
