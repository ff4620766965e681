"""A minimal numeric column, for `weight_column` without `tf.feature_column`."""

import dataclasses
from typing import Callable, Optional


@dataclasses.dataclass(frozen=True)
class NumericColumn:
    """Names the feature that holds example weights, and how to normalise it.

    Any object with `key` and `normalizer_fn` attributes (such as a
    `tf.feature_column.numeric_column` from TensorFlow 2.15) is accepted as
    a `weight_column` too.

    Example:

    >>> column = numeric_column("w", normalizer_fn=lambda x: x + 1.0)
    >>> column.key
    'w'
    """

    key: str
    shape: tuple = (1,)
    default_value: Optional[float] = None
    dtype: str = "float32"
    normalizer_fn: Optional[Callable] = None


def numeric_column(
    key, shape=(1,), default_value=None, dtype="float32", normalizer_fn=None
):
    """Returns a `NumericColumn`, with `tf.feature_column`'s signature."""
    if not isinstance(key, str):
        raise TypeError(f"key must be a string. Given type: {type(key)}.")
    return NumericColumn(key, tuple(shape), default_value, dtype, normalizer_fn)


def is_numeric_column(column):
    return hasattr(column, "key") and hasattr(column, "normalizer_fn")
