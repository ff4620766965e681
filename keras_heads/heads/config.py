"""Heads as Keras-serializable objects: constructor arguments to and from JSON.

`get_config()` of every head returns its constructor arguments with the
values JSON cannot hold made serializable: callables (`loss_fn`,
`inverse_link_fn`, a weight column's `normalizer_fn`) and nested heads
through `keras.saving.serialize_keras_object`, a `NumericColumn` as a dict.
`from_config` reverses it. Functions must be registered with
`keras.saving.register_keras_serializable` to load in safe mode, as for any
Keras object.
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
    if isinstance(value, (list, tuple)):
        return [serialize_value(v) for v in value]
    if is_numeric_column(value):
        return {_COLUMN: {
            "key": value.key,
            "shape": list(getattr(value, "shape", (1,))),
            "default_value": getattr(value, "default_value", None),
            "dtype": str(getattr(value, "dtype", "float32")),
            "normalizer_fn": serialize_value(value.normalizer_fn),
        }}
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
            column["normalizer_fn"] = deserialize_value(column["normalizer_fn"])
            return NumericColumn(**column)
        return keras.saving.deserialize_keras_object(value)
    return value


def serialize(arguments):
    return {key: serialize_value(value) for key, value in arguments.items()}


def deserialize(config):
    return {key: deserialize_value(value) for key, value in config.items()}
