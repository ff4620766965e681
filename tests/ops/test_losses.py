"""The loss kernels' fast forms against their plain definitions."""

import keras
import numpy as np
import pytest

from keras_heads.ops import losses
from tests import backends


def test_top1_matches_equals_argmax_with_first_maximum_on_ties():
    rng = np.random.default_rng(0)
    logits = rng.integers(0, 3, (200, 5)).astype("float32")  # many ties
    ids = rng.integers(0, 5, (200, 1))
    expected = (np.argmax(logits, axis=-1)[:, None] == ids).astype("float32")
    got = backends.numpy(losses.top1_matches(ids, logits))
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("bad_id", [-1, 5, 7])
def test_top1_matches_never_matches_an_id_out_of_range(bad_id):
    logits = np.zeros((1, 5), "float32")  # every class is a maximum
    got = backends.numpy(losses.top1_matches(np.array([[bad_id]]), logits))
    assert got.tolist() == [[0.0]]


def test_sigmoid_cross_entropy_matches_its_definition():
    x = np.linspace(-30, 30, 121, dtype="float32")[:, None]
    z = np.tile(np.array([[0.0], [0.3], [1.0]], "float32"), (41, 1))[:121]
    x64, z64 = x.astype(np.float64), z.astype(np.float64)
    # -z log s(x) - (1 - z) log(1 - s(x)), in float64 log-sigmoid form.
    expected = z64 * np.log1p(np.exp(-x64)) + (1 - z64) * np.log1p(np.exp(x64))
    got = backends.numpy(
        losses.sigmoid_cross_entropy(z, keras.ops.convert_to_tensor(x))
    )
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_cross_entropy_and_sigmoid_share_an_exponential_and_match_each():
    """The shared form equals the loss and the sigmoid computed apart, and
    stays finite (sigmoid in [0, 1]) at extreme logits."""
    x = np.concatenate([
        np.linspace(-30, 30, 121), [-1e4, -88.0, -17.0, 0.0, 17.0, 1e4]
    ]).astype("float32")[:, None]
    z = (np.arange(x.shape[0]) % 3 / 2.0).astype("float32")[:, None]
    loss, probabilities = losses.sigmoid_cross_entropy_and_sigmoid(
        z, keras.ops.convert_to_tensor(x)
    )
    loss, probabilities = backends.numpy(loss), backends.numpy(probabilities)
    expected_loss = backends.numpy(
        losses.sigmoid_cross_entropy(z, keras.ops.convert_to_tensor(x))
    )
    np.testing.assert_allclose(loss, expected_loss, rtol=1e-6)
    # sigmoid(x) = exp(-log(1 + exp(-x))), without overflow at -1e4.
    expected = np.exp(-np.logaddexp(0.0, -x.astype(np.float64)))
    np.testing.assert_allclose(probabilities, expected, rtol=1e-6, atol=1e-30)
    assert np.isfinite(loss).all()
    assert ((probabilities >= 0) & (probabilities <= 1)).all()
