"""Every `>>>` example in the package's docstrings runs and prints what it
says."""

import doctest
import importlib
import pkgutil

import keras
import numpy as np
import pytest

import keras_heads

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(keras_heads.__path__, "keras_heads.")
)


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples(module_name):
    module = importlib.import_module(module_name)
    result = doctest.testmod(
        module,
        extraglobs={"np": np, "keras": keras, "keras_heads": keras_heads,
                    "ops": keras.ops},
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        report=True,
    )
    assert result.failed == 0


def test_the_public_classes_have_examples():
    finder = doctest.DocTestFinder()
    for name in ("Head", "BinaryClassHead", "MultiClassHead", "MultiLabelHead",
                 "RegressionHead", "PoissonRegressionHead",
                 "LogisticRegressionHead", "MultiHead",
                 "SequentialHeadWrapper"):
        tests = finder.find(getattr(keras_heads, name), name)
        assert any(t.examples for t in tests if t.name == name), name
