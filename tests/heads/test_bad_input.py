"""Bad input gives a clear error: the message names the argument and shows
what was expected and what came (shape or value)."""

import re

import numpy as np
import pytest

import keras_heads as kh
from tests import backends

WEIGHT_KEY = "example_weight"


def _raises(exception, match, call, *fragments):
    """Runs `call`, expecting `exception` matching `match` (a literal) whose
    message also contains every fragment; returns the message."""
    with pytest.raises(exception, match=re.escape(match)) as info:
        call()
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


def _zeros(*shape):
    return np.zeros(shape, "float32")


def _label_dimension(head):
    """Regression labels have one value per logit, class labels one id."""
    return head.logits_dimension if isinstance(head, kh.RegressionHead) else 1


def _loss(head, labels, logits, features=None):
    return lambda: head.loss(labels=labels, logits=logits, features=features)


def _update_metrics(head, labels, logits, features=None):
    return lambda: head.update_metrics(
        head.metrics(), features, logits, labels
    )


ENTRY_POINTS = {"loss": _loss, "update_metrics": _update_metrics}


ALL_HEADS = {
    "binary": kh.BinaryClassHead,
    "multi_class": lambda **kw: kh.MultiClassHead(3, **kw),
    "regression": kh.RegressionHead,
    "poisson": kh.PoissonRegressionHead,
    "logistic": kh.LogisticRegressionHead,
}


# --- labels: shape -----------------------------------------------------------

# (head, logits, labels with a wrong last dimension, expected dimension)
WRONG_LAST_DIM = {
    "binary": (kh.BinaryClassHead(), _zeros(2, 1), _zeros(2, 5), 1),
    "multi_class": (
        kh.MultiClassHead(3), _zeros(2, 3), np.zeros((2, 3), "int64"), 1,
    ),
    "regression_dim_2": (
        kh.RegressionHead(label_dimension=2), _zeros(2, 2), _zeros(2, 3), 2,
    ),
    "regression_dim_2_rank_1_labels": (
        kh.RegressionHead(label_dimension=2), _zeros(2, 2), _zeros(2), 2,
    ),
}


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
@pytest.mark.parametrize("name", sorted(WRONG_LAST_DIM))
def test_labels_with_wrong_last_dimension(name, entry):
    """The message gives the expected and the received label dimension."""
    head, logits, labels, expected = WRONG_LAST_DIM[name]
    received = labels.shape[-1] if labels.ndim == logits.ndim else 1
    _raises(
        ValueError,
        "Mismatched label shape",
        ENTRY_POINTS[entry](head, labels, logits),
        f"labels dimension={expected}",
        f"Received {received}",
    )


# (head, logits, labels with wrong leading dimensions)
WRONG_LEADING_DIMS = {
    "binary": (kh.BinaryClassHead(), _zeros(2, 1), _zeros(3, 1)),
    "binary_rank_1_labels": (kh.BinaryClassHead(), _zeros(2, 1), _zeros(3)),
    "binary_rank_3": (kh.BinaryClassHead(), _zeros(2, 2, 1), _zeros(2, 3, 1)),
    "multi_class": (
        kh.MultiClassHead(3), _zeros(2, 3), np.zeros((3, 1), "int64"),
    ),
    "regression_dim_2": (
        kh.RegressionHead(label_dimension=2), _zeros(2, 2), _zeros(3, 2),
    ),
}


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
@pytest.mark.parametrize("name", sorted(WRONG_LEADING_DIMS))
def test_labels_with_wrong_leading_dimensions(name, entry):
    """The message gives the expected and the actual labels shape."""
    head, logits, labels = WRONG_LEADING_DIMS[name]
    expected = logits.shape[:-1] + (_label_dimension(head),)
    if labels.ndim == logits.ndim - 1:
        labels_shape = labels.shape + (1,)  # [D0..DN] gains a last axis
    else:
        labels_shape = labels.shape
    _raises(
        ValueError,
        "labels shape must be [D0, D1, ... DN,",
        ENTRY_POINTS[entry](head, labels, logits),
        f"expected_labels_shape: {expected}",
        f"labels_shape: {labels_shape}",
    )


# --- labels: values ----------------------------------------------------------


@pytest.mark.parametrize(
    "make_head, logits, bad, match",
    [
        pytest.param(
            lambda: kh.MultiClassHead(3), _zeros(2, 3), 3,
            "Labels must be <= 3 - 1", id="multi_class_id_3",
        ),
        pytest.param(
            lambda: kh.MultiClassHead(3), _zeros(2, 3), -1,
            "Labels must be >= 0", id="multi_class_id_minus_1",
        ),
        pytest.param(
            kh.BinaryClassHead, _zeros(2, 1), 2.0,
            "Labels must be <= 2 - 1", id="binary_2",
        ),
        pytest.param(
            kh.BinaryClassHead, _zeros(2, 1), -1.0,
            "Labels must be >= 0", id="binary_minus_1",
        ),
        pytest.param(
            kh.LogisticRegressionHead, _zeros(2, 1), 1.5,
            "Labels must be in range [0, 1]", id="logistic_1.5",
        ),
        pytest.param(
            kh.LogisticRegressionHead, _zeros(2, 1), -0.5,
            "Labels must be in range [0, 1]", id="logistic_minus_0.5",
        ),
    ],
)
def test_label_out_of_range(make_head, logits, bad, match):
    """The message gives the allowed bound and the offending value."""
    dtype = "int64" if isinstance(bad, int) else "float32"
    labels = np.array([[0], [bad]], dtype)
    _raises(
        ValueError, match, _loss(make_head(), labels, logits),
        "labels", f"[{bad}]",
    )


@pytest.mark.parametrize(
    "head, logits, vocabulary, bad",
    [
        (
            kh.BinaryClassHead(label_vocabulary=["ham", "spam"]),
            _zeros(2, 1), ["ham", "spam"], "eggs",
        ),
        (
            kh.MultiClassHead(3, label_vocabulary=["cat", "dog", "eel"]),
            _zeros(2, 3), ["cat", "dog", "eel"], "fox",
        ),
    ],
    ids=["binary", "multi_class"],
)
def test_string_label_not_in_vocabulary(head, logits, vocabulary, bad):
    """The message shows the unknown string and the whole vocabulary."""
    labels = np.array([[vocabulary[0]], [bad]])
    _raises(
        ValueError, "not in label_vocabulary", _loss(head, labels, logits),
        repr(bad), str(vocabulary),
    )


@pytest.mark.parametrize(
    "head, logits, match",
    [
        (kh.BinaryClassHead(), _zeros(2, 1), "String labels need a"),
        (kh.MultiClassHead(3), _zeros(2, 3), "Labels dtype should be integer"),
    ],
    ids=["binary", "multi_class"],
)
def test_string_labels_without_vocabulary(head, logits, match):
    """The message says the labels are strings and points to
    `label_vocabulary`."""
    labels = np.array([["a"], ["b"]])
    message = _raises(
        ValueError, match, _loss(head, labels, logits), "label_vocabulary"
    )
    assert "string" in message.lower()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_float_labels_to_multi_class(dtype):
    """Whole-valued floats are still rejected; the dtype is shown (as the
    backend holds it: JAX without x64 sees float64 labels as float32)."""
    labels = np.array([[1.0], [2.0]], dtype)
    _raises(
        ValueError, "Labels dtype should be integer",
        _loss(kh.MultiClassHead(3), labels, _zeros(2, 3)),
        backends.backend_dtype(dtype),
    )


# --- weights -----------------------------------------------------------------

# (head, logits, weights of a wrong shape)
WRONG_WEIGHTS = {
    "binary_rows": (kh.BinaryClassHead, _zeros(2, 1), _zeros(3, 1)),
    "binary_rank_3": (kh.BinaryClassHead, _zeros(2, 2, 1), _zeros(2, 1)),
    "multi_class_per_logit": (
        lambda **kw: kh.MultiClassHead(3, **kw), _zeros(2, 3), _zeros(2, 3),
    ),
    "regression_dim_2": (
        lambda **kw: kh.RegressionHead(label_dimension=2, **kw),
        _zeros(2, 2), _zeros(2, 3),
    ),
}


def _labels_for(head, logits):
    return np.zeros(logits.shape[:-1] + (_label_dimension(head),), "int64")


def _wrong_weights_call(name, entry):
    make_head, logits, weights = WRONG_WEIGHTS[name]
    head = make_head(weight_column=WEIGHT_KEY)
    features = {WEIGHT_KEY: weights}
    labels = _labels_for(head, logits)
    return ENTRY_POINTS[entry](head, labels, logits, features), logits, weights


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
@pytest.mark.parametrize("name", sorted(WRONG_WEIGHTS))
def test_weights_with_wrong_shape(name, entry):
    """The message gives the logits shape (what weights must follow) and the
    weights shape."""
    call, logits, weights = _wrong_weights_call(name, entry)
    _raises(
        ValueError, "weights shape must be [D0, D1, ... DN]", call,
        f"logits_shape: {logits.shape}", f"weights_shape: {weights.shape}",
    )


@pytest.mark.parametrize("name", sorted(WRONG_WEIGHTS))
def test_weights_shape_error_names_the_weight_feature(name):
    """The weights come from `features[weight_column]`: the message must say
    which feature, as the non-finite and missing-feature errors do."""
    call, _, _ = _wrong_weights_call(name, "loss")
    _raises(ValueError, "weights shape", call, WEIGHT_KEY)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("head_name", sorted(ALL_HEADS))
def test_non_finite_weights(head_name, bad):
    """The message names the feature key and shows the non-finite value."""
    head = ALL_HEADS[head_name](weight_column=WEIGHT_KEY)
    logits = _zeros(3, head.logits_dimension)
    features = {WEIGHT_KEY: np.array([[1.0], [bad], [2.0]], "float32")}
    _raises(
        ValueError, "must be finite",
        _loss(head, _labels_for(head, logits), logits, features),
        repr(WEIGHT_KEY), str(bad),
    )


@pytest.mark.parametrize(
    "features, available",
    [({"x": _zeros(2, 1), "age": _zeros(2, 1)}, "['age', 'x']"), (None, "[]")],
    ids=["other_features", "no_features"],
)
def test_missing_weight_feature(features, available):
    """The message names the missing key and lists the available features."""
    head = kh.BinaryClassHead(weight_column=WEIGHT_KEY)
    _raises(
        ValueError, "is not in features dictionary",
        _loss(head, _zeros(2, 1), _zeros(2, 1), features),
        WEIGHT_KEY, f"available features: {available}",
    )


@pytest.mark.parametrize("weight_column", [3, ["w"], {"key": "w"}])
def test_weight_column_of_wrong_type(weight_column):
    """A `TypeError` that shows the type that was given."""
    head = kh.RegressionHead(weight_column=weight_column)
    _raises(
        TypeError, "Weight column must be either a string or NumericColumn",
        _loss(head, _zeros(2, 1), _zeros(2, 1), {"w": _zeros(2, 1)}),
        type(weight_column).__name__,
    )


# --- logits ------------------------------------------------------------------


def _predictions(head, labels, logits):
    return lambda: head.predictions(logits)


LOGITS_ENTRY_POINTS = {"loss": _loss, "predictions": _predictions}


@pytest.mark.parametrize("entry", sorted(LOGITS_ENTRY_POINTS))
@pytest.mark.parametrize("head_name", sorted(ALL_HEADS))
def test_logits_of_rank_1(head_name, entry):
    """The message gives the required rank and the rank and shape received."""
    head = ALL_HEADS[head_name]()
    call = LOGITS_ENTRY_POINTS[entry](head, _zeros(3, 1), _zeros(3))
    _raises(
        ValueError, "logits must have rank at least 2", call,
        "rank 1", "(3,)",
    )


@pytest.mark.parametrize("entry", sorted(LOGITS_ENTRY_POINTS))
@pytest.mark.parametrize("head_name", sorted(ALL_HEADS))
def test_logits_with_wrong_last_dimension(head_name, entry):
    """The message gives the head's logits_dimension and the shape received."""
    head = ALL_HEADS[head_name]()
    dimension = head.logits_dimension
    logits = _zeros(2, dimension + 1)
    call = LOGITS_ENTRY_POINTS[entry](head, _zeros(2, 1), logits)
    _raises(
        ValueError, "logits shape must be [D0, D1, ... DN, logits_dimension]",
        call, f"logits_dimension={dimension}", str(logits.shape),
    )


# --- constructor arguments ---------------------------------------------------


@pytest.mark.parametrize("reduction", ["none", "mean", "SUM"])
@pytest.mark.parametrize("head_name", sorted(ALL_HEADS))
def test_invalid_loss_reduction(head_name, reduction):
    """The message shows the value given and the valid ones."""
    _raises(
        ValueError, f"Invalid loss_reduction: {reduction}",
        lambda: ALL_HEADS[head_name](loss_reduction=reduction),
        "'sum_over_batch_size'", "'sum'", "'auto'",
    )


@pytest.mark.parametrize(
    "thresholds, bad",
    [
        ([0.0], "0.0"),
        ([1.0], "1.0"),
        ([-0.5, 0.5], "-0.5"),
        ([0.5, 1.5], "1.5"),
    ],
)
def test_thresholds_outside_unit_interval(thresholds, bad):
    """The message shows the allowed interval and the offending value."""
    _raises(
        ValueError, "thresholds not in (0, 1)",
        lambda: kh.BinaryClassHead(thresholds=thresholds), bad,
    )


LOSS_FN_HEADS = {
    "binary": (kh.BinaryClassHead, _zeros(2, 1), _zeros(2, 1), 1),
    "multi_class": (
        lambda **kw: kh.MultiClassHead(3, **kw),
        _zeros(2, 3), np.zeros((2, 1), "int64"), 1,
    ),
    "regression_dim_2": (
        lambda **kw: kh.RegressionHead(label_dimension=2, **kw),
        _zeros(2, 2), _zeros(2, 2), 2,
    ),
}


def _loss_fn_missing_logits(labels, predictions):
    return labels


def _loss_fn_missing_labels(logits):
    return logits


def _loss_fn_extra_arg(labels, logits, name):
    return logits


@pytest.mark.parametrize(
    "loss_fn, match, fragment",
    [
        (
            _loss_fn_missing_logits, "loss_fn must contain argument: logits",
            "('labels', 'predictions')",
        ),
        (
            _loss_fn_missing_labels, "loss_fn must contain argument: labels",
            "('logits',)",
        ),
        (_loss_fn_extra_arg, "loss_fn has unexpected args", "['name']"),
    ],
    ids=["missing_logits", "missing_labels", "extra_arg"],
)
@pytest.mark.parametrize("head_name", sorted(LOSS_FN_HEADS))
def test_loss_fn_with_wrong_signature(head_name, loss_fn, match, fragment):
    """Rejected at construction; the message shows the arguments found."""
    make_head = LOSS_FN_HEADS[head_name][0]
    _raises(ValueError, match, lambda: make_head(loss_fn=loss_fn), fragment)


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
@pytest.mark.parametrize("head_name", sorted(LOSS_FN_HEADS))
def test_loss_fn_returning_wrong_shape(head_name, entry):
    """The message gives the required loss shape, the logits shape and the
    shape the loss_fn returned."""
    make_head, logits, labels, dimension = LOSS_FN_HEADS[head_name]
    # One loss value too many in the last dimension.
    wrong = logits.shape[:-1] + (dimension + 1,)
    head = make_head(loss_fn=lambda labels, logits: np.ones(wrong, "float32"))
    _raises(
        ValueError,
        f"loss_fn must return Tensor of shape [D0, D1, ... DN, {dimension}]",
        ENTRY_POINTS[entry](head, labels, logits),
        f"logits_shape: {logits.shape}", f"loss_shape: {wrong}",
    )


def test_loss_fn_dropping_the_last_axis():
    """A `[batch]` loss (the usual mistake) is rejected, showing `(2,)`."""
    head = kh.BinaryClassHead(
        loss_fn=lambda labels, logits: np.ones((2,), "float32")
    )
    _raises(
        ValueError, "loss_fn must return Tensor of shape",
        _loss(head, _zeros(2, 1), _zeros(2, 1)),
        "logits_shape: (2, 1)", "loss_shape: (2,)",
    )


THRESHOLD_HEADS = {
    "binary": kh.BinaryClassHead,
    "multi_label": lambda **kw: kh.MultiLabelHead(3, **kw),
}


@pytest.mark.parametrize(
    "thresholds, bad",
    [
        ([float("nan")], "nan"),
        ([0.5, float("nan")], "nan"),
        (["0.5"], "'0.5'"),
        ([True], "True"),
        ([None], "None"),
    ],
    ids=["nan", "nan_second", "string", "bool", "none"],
)
@pytest.mark.parametrize("head_name", sorted(THRESHOLD_HEADS))
def test_thresholds_that_are_not_numbers(head_name, thresholds, bad):
    """NaN passed the range check (every comparison with it is false);
    now the message names thresholds, what they must be and the value."""
    _raises(
        ValueError, "thresholds must be numbers in (0, 1)",
        lambda: THRESHOLD_HEADS[head_name](thresholds=thresholds),
        f"Given: {thresholds}", bad,
    )


@pytest.mark.parametrize(
    "thresholds, coinciding",
    [
        ([0.5, 0.5], "[[0.5, 0.5]]"),
        ([0.2, 0.7, 0.2, 0.7], "[[0.2, 0.2], [0.7, 0.7]]"),
        # Both name the metrics `.../positive_threshold_0.3`.
        ([0.3, 0.3000001], "[[0.3, 0.3000001]]"),
    ],
    ids=["pair", "two_pairs", "same_metric_key"],
)
@pytest.mark.parametrize("head_name", sorted(THRESHOLD_HEADS))
def test_thresholds_that_coincide(head_name, thresholds, coinciding):
    """Two thresholds with one metric key would share (and collapse) their
    metrics; the message shows the thresholds and which coincide."""
    _raises(
        ValueError, "thresholds must be distinct",
        lambda: THRESHOLD_HEADS[head_name](thresholds=thresholds),
        f"Given: {thresholds}", coinciding,
    )


def test_distinct_thresholds_each_get_their_metrics():
    """Close but distinct thresholds keep one metric triple each."""
    head = kh.MultiLabelHead(3, thresholds=(0.3, 0.31, np.float32(0.5)))
    keys = [key for key in head.metrics() if "positive_threshold" in key]
    assert len(keys) == 9
    assert "recall/positive_threshold_0.31" in keys


@pytest.mark.parametrize("thresholds", [[0.0, 0.5], [0.5, 1.0],
                                        [float("inf")]])
def test_multi_label_thresholds_outside_unit_interval(thresholds):
    """The reference's message, which gives the first offending value."""
    bad = next(t for t in thresholds if not 0.0 < t < 1.0)
    _raises(
        ValueError, f"thresholds must be in (0, 1) range. Given: {bad}",
        lambda: kh.MultiLabelHead(2, thresholds=thresholds),
    )


REGRESSION_HEADS = {
    "regression": kh.RegressionHead,
    "poisson": kh.PoissonRegressionHead,
}


@pytest.mark.parametrize(
    "label_dimension, shown",
    [
        (1.5, "1.5 of type float"),
        (2.0, "2.0 of type float"),
        (True, "True of type bool"),
        ("2", "'2' of type str"),
        (np.int64(2), "of type int64"),
        (None, "None of type NoneType"),
    ],
    ids=["float", "integral_float", "bool", "string", "numpy_int", "none"],
)
@pytest.mark.parametrize("head_name", sorted(REGRESSION_HEADS))
def test_label_dimension_must_be_a_python_int(head_name, label_dimension,
                                              shown):
    """The logits dimension must be a static int (and JSON in the head's
    config): the message names label_dimension, the type expected and the
    value and type given."""
    _raises(
        ValueError, "label_dimension must be a Python int >= 1. Given: ",
        lambda: REGRESSION_HEADS[head_name](label_dimension=label_dimension),
        shown,
    )


@pytest.mark.parametrize("label_dimension", [0, -1])
@pytest.mark.parametrize("head_name", sorted(REGRESSION_HEADS))
def test_label_dimension_below_one_keeps_the_reference_message(
        head_name, label_dimension):
    _raises(
        ValueError, f"Invalid label_dimension {label_dimension}.",
        lambda: REGRESSION_HEADS[head_name](label_dimension=label_dimension),
        "int >= 1",
    )
