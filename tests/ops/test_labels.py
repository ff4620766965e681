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
