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


@backends.parametrize_compilers
def test_sum_all_is_the_float32_sum_of_every_element(compile_fn):
    values = np.linspace(-3.0, 5.0, 4096, dtype="float32").reshape(-1, 1)
    total = compile_fn(backend.sum_all)(values)
    assert backends.numpy(total).dtype == np.float32
    assert backends.numpy(total).shape == ()
    np.testing.assert_allclose(
        backends.numpy(total), np.sum(values.astype("float64")), rtol=1e-6
    )


@backends.only_on(
    "tensorflow",
    why="only TensorFlow's sum_all accumulates in float64 (to keep XLA off "
    "YNNPACK's slow [N, 1] reduction); the others sum in float32",
)
def test_sum_all_accumulates_in_float64_on_tensorflow():
    # 2^24 + 1 is not a float32: a float32 running sum would drop each 1.
    values = np.array([2.0**24] + [1.0] * 1000 + [-(2.0**24)], "float32")
    total = backends.compile_strict(backend.sum_all)(values.reshape(-1, 1))
    assert float(backends.numpy(total)) == 1000.0


def test_merges_identical_loops_only_under_xla():
    """True inside `jax.jit` and `tf.function(jit_compile=True)`; False
    eagerly, in a TensorFlow graph without XLA and on PyTorch."""
    seen = {}

    def probe(name):
        def fn(x):
            seen[name] = backend.merges_identical_loops(x)
            return x

        return fn

    x = np.zeros((2,), "float32")
    probe("eager")(x)
    for name, compile_fn in backends.COMPILERS.items():
        compile_fn(probe(name))(x)
    expected = {"eager": False, "tf.function": False, "xla": True,
                "jax.jit": True, "torch.compile": False}
    assert seen == {name: expected[name] for name in seen}
