"""v1 loss reductions: the constants, the four formulas, the rejected ones."""

import numpy as np
import pytest

from keras_heads.compat import v1
from keras_heads.compat.v1.reduction import reduce_loss
from tests.backends import numpy

Reduction = v1.Reduction

# The weighted binary example: unreduced loss [0, 41, 44], weights
# [1, .1, 1.5].
LOSS = np.array([[0.0], [41.0], [44.0]], "float32")
WEIGHTS = np.array([[1.0], [0.1], [1.5]], "float32")


def test_constants_are_the_v1_strings():
    assert Reduction.NONE == "none"
    assert Reduction.SUM == "weighted_sum"
    assert Reduction.SUM_OVER_BATCH_SIZE == "weighted_sum_over_batch_size"
    assert Reduction.MEAN == "weighted_mean"
    assert Reduction.SUM_BY_NONZERO_WEIGHTS == "weighted_sum_by_nonzero_weights"
    assert (Reduction.SUM_OVER_NONZERO_WEIGHTS
            == Reduction.SUM_BY_NONZERO_WEIGHTS)
    assert set(Reduction.all()) == {
        "none", "weighted_sum", "weighted_sum_over_batch_size",
        "weighted_mean", "weighted_sum_by_nonzero_weights",
    }
    assert Reduction.validate("weighted_sum") == "weighted_sum"
    with pytest.raises(ValueError, match="Invalid Reduction Key"):
        Reduction.validate("sum")


@pytest.mark.parametrize("reduction, expected", [
    (Reduction.SUM, 70.1),
    (Reduction.SUM_OVER_BATCH_SIZE, 70.1 / 3),
    (Reduction.MEAN, 70.1 / 2.6),
    (Reduction.SUM_BY_NONZERO_WEIGHTS, 70.1 / 3),
])
def test_each_reduction(reduction, expected):
    np.testing.assert_allclose(
        numpy(reduce_loss(LOSS, WEIGHTS, reduction)), expected, rtol=1e-6
    )


def test_nonzero_weights_count_elements_not_weight():
    weights = np.array([[1.0], [0.0], [1.5]], "float32")
    np.testing.assert_allclose(
        numpy(reduce_loss(LOSS, weights, Reduction.SUM_BY_NONZERO_WEIGHTS)),
        66.0 / 2, rtol=1e-6,
    )


def test_weights_broadcast_over_the_loss():
    loss = np.array([[1.0, 2.0], [3.0, 4.0]], "float32")
    weights = np.array([[2.0], [0.0]], "float32")
    assert float(numpy(reduce_loss(loss, weights, Reduction.MEAN))) == 6.0 / 4
    assert float(numpy(
        reduce_loss(loss, weights, Reduction.SUM_BY_NONZERO_WEIGHTS)
    )) == 6.0 / 2
    assert float(numpy(reduce_loss(loss, 1.0, Reduction.MEAN))) == 2.5


@pytest.mark.parametrize("reduction", [
    Reduction.SUM_OVER_BATCH_SIZE, Reduction.MEAN,
    Reduction.SUM_BY_NONZERO_WEIGHTS,
])
def test_a_zero_denominator_gives_zero(reduction):
    zero = np.zeros((2, 1), "float32")
    assert float(numpy(reduce_loss(LOSS[:2], zero, reduction))) == 0.0
    empty = np.zeros((0, 1), "float32")
    assert float(numpy(reduce_loss(empty, 1.0, reduction))) == 0.0


@pytest.mark.parametrize("bad", [Reduction.NONE, "sum", "sum_over_batch_size",
                                 "auto", None])
@pytest.mark.parametrize("factory", [
    lambda r: v1.binary_classification_head(loss_reduction=r),
    lambda r: v1.multi_class_head(3, loss_reduction=r),
    lambda r: v1.regression_head(loss_reduction=r),
    lambda r: v1.poisson_regression_head(loss_reduction=r),
    lambda r: v1.logistic_regression_head(loss_reduction=r),
    lambda r: v1.multi_label_head(2, loss_reduction=r),
    lambda r: v1._regression_head(loss_reduction=r),
], ids=["binary", "multi_class", "regression", "poisson", "logistic",
        "multi_label", "canned_regression"])
def test_factories_reject_none_and_the_v2_strings(factory, bad):
    with pytest.raises(ValueError, match=f"Invalid loss_reduction: {bad}"):
        factory(bad)
