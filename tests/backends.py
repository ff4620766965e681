"""What the tests need to know about the active Keras backend, in one place.

The suite runs once per backend (`KERAS_BACKEND=tensorflow|jax|torch`). Tests
compile, differentiate and read tensors through these helpers, so one test
checks all three.
"""

import keras
import numpy as np
import pytest

BACKEND = keras.backend.backend()


def _compilers():
    """`{name: decorator}`: the ways this backend compiles a function."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        return {
            "tf.function": tf.function,
            "xla": lambda fn: tf.function(fn, jit_compile=True),
        }
    if BACKEND == "jax":
        import jax

        return {"jax.jit": jax.jit}
    import torch

    return {"torch.compile": torch.compile}


COMPILERS = _compilers()

# The strictest compiler of each backend: XLA on TensorFlow.
compile_strict = list(COMPILERS.values())[-1]

parametrize_compilers = pytest.mark.parametrize(
    "compile_fn", list(COMPILERS.values()), ids=list(COMPILERS)
)


def only_on(*backends, why):
    """Marks a test that only makes sense on `backends`, saying why."""
    return pytest.mark.skipif(
        BACKEND not in backends,
        reason=f"{', '.join(backends)} only: {why}",
    )


def numpy(x):
    """Any tensor (or nested dict of them) as NumPy."""
    if isinstance(x, dict):
        return {k: numpy(v) for k, v in x.items()}
    return np.asarray(keras.ops.convert_to_numpy(x))


def backend_dtype(dtype):
    """The dtype this backend gives a value typed `dtype` elsewhere.

    The same name, except where the backend cannot hold the type: JAX
    without `jax_enable_x64` narrows 64-bit types to 32 bits.
    """
    tensor = keras.ops.convert_to_tensor(np.zeros((), dtype), dtype=dtype)
    return keras.backend.standardize_dtype(tensor.dtype)


def value_and_gradient(fn, x):
    """`fn(x)` (a scalar) and its gradient with respect to `x`, as NumPy."""
    x = np.asarray(x, "float32")
    if BACKEND == "tensorflow":
        import tensorflow as tf

        x = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            value = fn(x)
        return numpy(value), numpy(tape.gradient(value, x))
    if BACKEND == "jax":
        import jax

        value, gradient = jax.value_and_grad(fn)(jax.numpy.asarray(x))
        return numpy(value), numpy(gradient)
    import torch

    x = torch.tensor(x, requires_grad=True)
    value = fn(x)
    (gradient,) = torch.autograd.grad(value, x)
    return numpy(value.detach()), numpy(gradient)
