"""Extreme float32 logits (+-1e4, mixed with 0 and small values).

The loss, every numeric prediction and the gradient of the loss with respect
to the logits stay free of NaN and inf, and equal closed forms computed here
in float64 from numerically stable NumPy expressions.
"""

import math

import keras
import numpy as np
import pytest

import keras_heads as kh
from tests import backends

BIG = 1e4
TOLERANCE = dict(rtol=1e-5, atol=1e-6)

PATTERNS = {
    "all_plus_big": np.full(12, BIG),
    "all_minus_big": np.full(12, -BIG),
    "mixed": np.array(
        [BIG, 0.0, -BIG, 1e-3, -BIG, BIG, 0.0, 0.0, 0.0, BIG, BIG, -2.5]
    ),
}


# --- float64 references -------------------------------------------------------


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # no overflow for any x


def _sigmoid_cross_entropy(x, z):
    """Per-element loss and its derivative in `x`."""
    return np.logaddexp(0.0, x) - x * z, _sigmoid(x) - z


def _softmax_cross_entropy(x, ids):
    log_normalizer = np.logaddexp.reduce(x, axis=-1, keepdims=True)
    picked = np.take_along_axis(x, ids, axis=-1)
    one_hot = np.eye(x.shape[-1])[ids[:, 0]]
    return log_normalizer - picked, np.exp(x - log_normalizer) - one_hot


def _squared_error(x, y):
    return (x - y) ** 2, 2.0 * (x - y)


# --- the heads under test -----------------------------------------------------

# name -> (head, labels for n examples, reference(logits, labels))
HEADS = {
    "binary": (
        kh.BinaryClassHead,
        lambda n: (np.arange(n) % 2).reshape(n, 1).astype("float32"),
        _sigmoid_cross_entropy,
    ),
    "multi_class": (
        lambda: kh.MultiClassHead(3),
        lambda n: (np.arange(n) % 3).reshape(n, 1),
        _softmax_cross_entropy,
    ),
    "regression": (
        kh.RegressionHead,
        lambda n: np.linspace(-1.0, 1.0, n).reshape(n, 1).astype("float32"),
        _squared_error,
    ),
    "logistic": (
        kh.LogisticRegressionHead,
        lambda n: np.linspace(0.0, 1.0, n).reshape(n, 1).astype("float32"),
        _sigmoid_cross_entropy,
    ),
}


def _loss_and_gradient(head, labels, logits):
    """The loss at float32 `logits` and its gradient in them, as NumPy."""
    return backends.value_and_gradient(
        lambda x: head.loss(labels=labels, logits=x), logits
    )


def _numeric_predictions(head, logits):
    """The non-string predictions, as NumPy (class names are strings: a
    `tf.string` tensor on TensorFlow, a NumPy array of bytes elsewhere)."""
    predictions = backends.numpy(head.predictions(logits))
    return {
        key: value
        for key, value in predictions.items()
        if value.dtype.kind not in "OSU"
    }


def _logits_for(head, pattern):
    return PATTERNS[pattern].reshape(-1, head.logits_dimension).astype(
        "float32"
    )


def _assert_finite(what, value):
    value = np.asarray(value)
    assert np.all(np.isfinite(value)), f"{what} not finite: {value}"


@pytest.mark.parametrize("pattern", sorted(PATTERNS))
@pytest.mark.parametrize("head_name", sorted(HEADS))
def test_extreme_logits_give_finite_loss_predictions_and_gradients(
    head_name, pattern
):
    """No NaN or inf anywhere for logits of +-1e4 (and mixtures)."""
    make_head, make_labels, _ = HEADS[head_name]
    head = make_head()
    logits = _logits_for(head, pattern)
    labels = make_labels(len(logits))

    loss, gradient = _loss_and_gradient(head, labels, logits)
    _assert_finite("loss", loss)
    _assert_finite("gradient", gradient)
    predictions = _numeric_predictions(head, logits)
    assert predictions
    for key, value in predictions.items():
        _assert_finite(key, value)


@pytest.mark.parametrize("pattern", sorted(PATTERNS))
@pytest.mark.parametrize("head_name", sorted(HEADS))
def test_extreme_logits_match_closed_form(head_name, pattern):
    """Loss and gradient equal the float64 closed form: the mean of the
    per-element losses, and per-element derivative / number of elements."""
    make_head, make_labels, reference = HEADS[head_name]
    head = make_head()
    logits = _logits_for(head, pattern)
    labels = make_labels(len(logits))

    loss, gradient = _loss_and_gradient(head, labels, logits)
    per_example, derivative = reference(logits.astype("float64"), labels)
    np.testing.assert_allclose(loss, per_example.mean(), **TOLERANCE)
    np.testing.assert_allclose(
        gradient, derivative / per_example.size, **TOLERANCE
    )


@pytest.mark.parametrize(
    "make_head, logits, labels, expected_loss, expected_gradient",
    [
        # softplus(-1e4) + 1e4 * 1 = 1e4; d/dx = sigmoid(-1e4) - 1 = -1.
        pytest.param(
            kh.BinaryClassHead, [[-BIG]], [[1.0]], BIG, [[-1.0]],
            id="binary_minus_big_label_1",
        ),
        # softplus(1e4) - 0 = 1e4; d/dx = sigmoid(1e4) - 0 = 1.
        pytest.param(
            kh.BinaryClassHead, [[BIG]], [[0.0]], BIG, [[1.0]],
            id="binary_plus_big_label_0",
        ),
        # softplus(0) = log 2; d/dx = sigmoid(0) - 1 = -0.5.
        pytest.param(
            kh.BinaryClassHead, [[0.0]], [[1.0]], math.log(2.0), [[-0.5]],
            id="binary_zero_label_1",
        ),
        # logsumexp(1e4, 0, 0) - 0 = 1e4; d/dx = softmax - one_hot(1).
        pytest.param(
            lambda: kh.MultiClassHead(3), [[BIG, 0.0, 0.0]], [[1]], BIG,
            [[1.0, -1.0, 0.0]],
            id="multi_class_big_first_label_1",
        ),
        # Three equal logits: log 3; d/dx = 1/3 - one_hot(2).
        pytest.param(
            lambda: kh.MultiClassHead(3), [[BIG, BIG, BIG]], [[2]],
            math.log(3.0), [[1 / 3, 1 / 3, -2 / 3]],
            id="multi_class_all_big_label_2",
        ),
        # softplus(-1e4) + 1e4 * 0.25 = 2500; d/dx = 0 - 0.25.
        pytest.param(
            kh.LogisticRegressionHead, [[-BIG]], [[0.25]], BIG / 4, [[-0.25]],
            id="logistic_minus_big_label_0.25",
        ),
        # (1e4 - 0)^2 = 1e8; d/dx = 2 * 1e4.
        pytest.param(
            kh.RegressionHead, [[BIG]], [[0.0]], BIG**2, [[2 * BIG]],
            id="regression_plus_big_label_0",
        ),
        # exp(-1e4) + 1e4 * 1 = 1e4 (no Stirling term for a label of 1);
        # d/dx = exp(-1e4) - 1 = -1.
        pytest.param(
            kh.PoissonRegressionHead, [[-BIG]], [[1.0]], BIG, [[-1.0]],
            id="poisson_minus_big_label_1",
        ),
    ],
)
def test_single_example_closed_forms(
    make_head, logits, labels, expected_loss, expected_gradient
):
    """Hand-derived loss and gradient of one example at extreme logits."""
    loss, gradient = _loss_and_gradient(
        make_head(), np.array(labels), np.array(logits)
    )
    np.testing.assert_allclose(loss, expected_loss, **TOLERANCE)
    np.testing.assert_allclose(gradient, expected_gradient, **TOLERANCE)


# --- Poisson ---------------------------------------------------------------


def _poisson_reference(x, z):
    """`exp(x) - x z` plus Stirling's `log(z!)` approximation for z > 1."""
    safe = np.where(z > 1.0, z, 1.0)
    stirling = safe * np.log(safe) - safe + 0.5 * np.log(2 * np.pi * safe)
    loss = np.exp(x) - x * z + np.where(z > 1.0, stirling, 0.0)
    return loss, np.exp(x) - z


POISSON_LOGITS = np.array([[-BIG], [-80.0], [-1.0], [0.0], [1.0], [80.0]])
POISSON_LABELS = np.array([[0.0], [1.0], [2.0], [3.0], [0.0], [5.0]])


def test_poisson_is_finite_for_logits_up_to_80():
    """exp(80) ~ 5.5e34 still fits in float32: loss, predictions and
    gradients are finite and equal the closed form."""
    head = kh.PoissonRegressionHead()
    loss, gradient = _loss_and_gradient(head, POISSON_LABELS, POISSON_LOGITS)
    _assert_finite("loss", loss)
    _assert_finite("gradient", gradient)
    for key, value in _numeric_predictions(head, POISSON_LOGITS).items():
        _assert_finite(key, value)

    per_example, derivative = _poisson_reference(POISSON_LOGITS, POISSON_LABELS)
    np.testing.assert_allclose(loss, per_example.mean(), rtol=1e-5)
    np.testing.assert_allclose(gradient, derivative / 6, **TOLERANCE)
    np.testing.assert_allclose(
        backends.numpy(head.predictions(POISSON_LOGITS)["predictions"]),
        np.exp(POISSON_LOGITS),
        rtol=1e-5,
    )


def test_poisson_overflows_without_nan_at_plus_1e4():
    """exp(1e4) overflows float32 by definition (the reference gives inf
    too), so inf is allowed at +1e4, but never NaN: not in the loss, not in
    the predictions, not in the gradients, also when mixed with ordinary
    logits."""
    head = kh.PoissonRegressionHead()
    logits = np.concatenate([POISSON_LOGITS, [[BIG]]])
    labels = np.concatenate([POISSON_LABELS, [[2.0]]])

    loss, gradient = _loss_and_gradient(head, labels, logits)
    assert not np.isnan(loss)
    assert loss > 1e30
    assert not np.any(np.isnan(gradient)), gradient
    # The ordinary rows keep their finite gradients.
    _, derivative = _poisson_reference(POISSON_LOGITS, POISSON_LABELS)
    np.testing.assert_allclose(
        gradient[:-1], derivative / len(logits), **TOLERANCE
    )
    for key, value in _numeric_predictions(head, logits).items():
        assert not np.any(np.isnan(value)), (key, value)


@pytest.mark.parametrize("label", [0.0, 0.3, 1.0])
def test_sigmoid_cross_entropy_gradient_at_zero_is_sigmoid_minus_label(label):
    """At logit 0 the gradient is sigmoid(0) - z = 0.5 - z (relu's and
    max's subgradients would give -z or 1 - z on some backends)."""
    from keras_heads.ops.losses import sigmoid_cross_entropy

    logits = np.zeros((2, 1), "float32")
    labels = np.full((2, 1), label, "float32")
    loss, gradient = backends.value_and_gradient(
        lambda x: keras.ops.sum(sigmoid_cross_entropy(labels, x)), logits
    )
    np.testing.assert_allclose(loss, 2 * np.log(2.0), rtol=1e-6)
    np.testing.assert_allclose(gradient, 0.5 - label, rtol=1e-6)
