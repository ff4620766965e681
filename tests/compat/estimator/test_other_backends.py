import pytest

from tests.backends import only_on


@only_on("jax", "torch", why="checks the runner's error on the other backends")
def test_the_runner_says_it_needs_tensorflow():
    from keras_heads.compat.estimator import Estimator

    with pytest.raises(ValueError, match="needs the tensorflow Keras backend; "
                       "KERAS_BACKEND is '(jax|torch)'"):
        Estimator(lambda features, labels, mode: None)
