"""Heads as Keras-serializable objects: constructor arguments to and from JSON.

`get_config()` of every head returns its constructor arguments with the
values JSON cannot hold made serializable: callables (`loss_fn`,
`inverse_link_fn`, a weight column's `normalizer_fn`) and nested heads
through `keras.saving.serialize_keras_object`, a numeric weight column as a
dict. `from_config` reverses it; a `tf.feature_column.numeric_column` comes
back as the `keras_heads.NumericColumn` with the same fields, which every
backend reads. Functions must be registered with
`keras.saving.register_keras_serializable` to load, as for any Keras object:
Keras warns when it saves a lambda and refuses to load one in safe mode, and
fails to load an unregistered function, naming it.
"""

import keras

from keras_heads.columns import NumericColumn
from keras_heads.columns import is_numeric_column

register = keras.saving.register_keras_serializable(package="keras_heads")

_COLUMN = "__numeric_column__"


def serialize_value(value):
    """One constructor argument, JSON-ready."""
    if isinstance(value, str) or value is None:
        return value
    # Before lists and tuples: `tf.feature_column.numeric_column` is a
    # namedtuple.
    if is_numeric_column(value):
        return {_COLUMN: {
            "key": value.key,
            "shape": list(getattr(value, "shape", (1,))),
            "default_value": _lists(getattr(value, "default_value", None)),
            "dtype": keras.backend.standardize_dtype(
                getattr(value, "dtype", "float32")
            ),
            "normalizer_fn": serialize_value(value.normalizer_fn),
        }}
    if isinstance(value, (list, tuple)):
        return [serialize_value(v) for v in value]
    if callable(value) or hasattr(value, "get_config"):
        return keras.saving.serialize_keras_object(value)
    return value


def deserialize_value(value):
    """The inverse of `serialize_value`."""
    if isinstance(value, list):
        return [deserialize_value(v) for v in value]
    if isinstance(value, dict):
        if _COLUMN in value:
            column = dict(value[_COLUMN])
            column["shape"] = tuple(column["shape"])
            column["default_value"] = _tuples(column["default_value"])
            column["normalizer_fn"] = deserialize_value(column["normalizer_fn"])
            return NumericColumn(**column)
        return keras.saving.deserialize_keras_object(value)
    return value


def _lists(value):
    """Nested tuples (a column's `default_value`) as nested lists."""
    if isinstance(value, (list, tuple)):
        return [_lists(v) for v in value]
    return value


def _tuples(value):
    """The inverse of `_lists`."""
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    return value


def serialize(arguments):
    return {key: serialize_value(value) for key, value in arguments.items()}


def deserialize(config):
    return {key: deserialize_value(value) for key, value in config.items()}
