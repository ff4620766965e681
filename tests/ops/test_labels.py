"""Label checks: the traced range check on every label dtype."""

import numpy as np
import pytest

from keras_heads.ops import labels
from tests import backends


@pytest.mark.parametrize(
    "dtype", ["int8", "uint8", "int16", "int32", "int64", "float16", "float32"]
)
def test_poison_outside_keeps_labels_in_range_and_nans_the_rest(dtype):
    values = np.array([0, 1, 2, 1, 0, 3], dtype)
    if np.dtype(dtype).kind != "u":
        values[3] = -1
    got = backends.numpy(labels.poison_outside(values, 0.0, 1.0))
    assert got.dtype == np.float32
    inside = (values >= 0) & (values <= 1)
    np.testing.assert_array_equal(got[inside], values[inside].astype("float32"))
    assert np.isnan(got[~inside]).all()


def test_poison_outside_keeps_soft_labels_and_nans_nan():
    values = np.array([0.25, 1.0, -1e-30, 1.0001, np.nan], "float32")
    got = backends.numpy(labels.poison_outside(values, 0.0, 1.0))
    assert got[:2].tolist() == [0.25, 1.0]
    assert np.isnan(got[2:]).all()


def test_poison_outside_of_booleans_is_their_float_value():
    got = backends.numpy(labels.poison_outside(np.array([True, False]), 0, 1))
    assert got.tolist() == [1.0, 0.0]


def test_poison_outside_rounds_a_fractional_range_inward_for_integers():
    got = backends.numpy(
        labels.poison_outside(np.array([0, 1, 2], "int32"), 0.5, 2.0)
    )
    assert np.isnan(got[0]) and got[1:].tolist() == [1.0, 2.0]


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int32", "float32", "bool"])
def test_poison_examples_outside_nans_exactly_the_bad_examples(dtype):
    values = np.array([[0, 1, 1], [1, 0, 0], [0, 3, 0]], dtype)
    floats, factors = labels.poison_examples_outside(values, 0.0, 1.0)
    floats = backends.numpy(floats)
    factors = np.broadcast_to(backends.numpy(factors), (3, 1))
    assert floats.dtype == np.float32
    # Per label or per example, the product marks the same examples.
    marked = np.isnan(floats * factors).any(axis=-1)
    assert marked.tolist() == [False, False, dtype != "bool"]
    np.testing.assert_array_equal(
        (floats * factors)[:2], values[:2].astype("float32")
    )
