"""The backend seam's helpers that every head leans on."""

import numpy as np

from keras_heads import backend
from tests import backends


def test_flat_vectors_flattens_tensors_and_passes_numbers_through():
    logits = np.arange(6, dtype="float32").reshape(3, 2, 1)
    labels = np.ones((3, 2, 1), "int32")
    flat_logits, weight, flat_labels = backend.flat_vectors(logits, 1.0, labels)
    assert weight == 1.0 and isinstance(weight, float)
    np.testing.assert_array_equal(backends.numpy(flat_logits), np.arange(6))
    assert backends.numpy(flat_labels).shape == (6,)
    assert backends.numpy(flat_labels).dtype == np.int32
