"""Weights matched to values, and weighted sums taken together."""

import numpy as np
import pytest
from keras import ops

from keras_heads.metrics.weights import broadcast_weights
from keras_heads.metrics.weights import weighted_sums


def _numpy(x):
    return ops.convert_to_numpy(x)


@pytest.mark.parametrize(
    "weights", [None, 2.0, np.linspace(0.0, 1.0, 6)[:, None], np.arange(6.0)]
)
def test_weighted_sums_equal_the_separate_sums(weights):
    rng = np.random.default_rng(0)
    a = rng.random((6, 1)).astype("float32")
    b = rng.integers(0, 2, (6, 1)).astype("float32")
    sums, total = weighted_sums([a, b], weights)
    w = _numpy(broadcast_weights(weights, a))
    np.testing.assert_allclose(
        [float(_numpy(s)) for s in sums], [np.sum(w * a), np.sum(w * b)],
        rtol=1e-6,
    )
    assert float(_numpy(total)) == pytest.approx(float(np.sum(w)))


def test_weighted_sums_of_one_value_and_no_weights_count_it():
    sums, total = weighted_sums([[0.5, 1.5, 2.0]])
    assert [float(_numpy(s)) for s in sums] == [4.0]
    assert float(_numpy(total)) == 3.0
