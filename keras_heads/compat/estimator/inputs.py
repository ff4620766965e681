"""Calling user functions the way `tf.estimator` did, and reading batches.

`model_fn` and `input_fn` declare which of the optional arguments they take
(`params`, `config`, `mode`, ...); they get exactly those, by name.
"""

import inspect
import itertools

import numpy as np
import tensorflow as tf


def call_with_declared(fn, required, optional):
    """Calls `fn` with the `required` arguments and the `optional` ones it
    declares (all of them if it takes `**kwargs`), by keyword."""
    parameters = inspect.signature(fn).parameters
    takes_all = any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
    )
    kwargs = dict(required)
    kwargs.update(
        (name, value)
        for name, value in optional.items()
        if takes_all or name in parameters
    )
    return fn(**kwargs)


def check_model_fn(model_fn):
    if not callable(model_fn):
        raise ValueError(
            f"model_fn must be callable; got {type(model_fn).__name__}."
        )
    parameters = inspect.signature(model_fn).parameters
    if "features" not in parameters:
        raise ValueError(
            "model_fn must take an argument named `features`; its arguments "
            f"are {list(parameters)}."
        )
    if "mode" not in parameters:
        raise ValueError(
            "model_fn must take an argument named `mode`; its arguments are "
            f"{list(parameters)}."
        )


def batches(input_fn, mode, params, config, repeat):
    """`(pairs, endless)`: the `(features, labels)` pairs from `input_fn`,
    and whether they never run out.

    `input_fn` returns a `tf.data.Dataset` of `(features, labels)` pairs (or
    of features alone), or one batch as a `(features, labels)` tuple or as
    features alone. A single batch is repeated when `repeat` (training, as
    the reference's constant input tensors were), else read once.
    """
    result = call_with_declared(
        input_fn, {}, {"mode": mode, "params": params, "config": config}
    )
    if isinstance(result, tf.data.Dataset):
        return (_split(element) for element in result), False
    batch = _split(result)
    if repeat:
        return itertools.repeat(batch), True
    return iter([batch]), False


def _split(element):
    if isinstance(element, tuple) and len(element) == 2:
        features, labels = element
    else:
        features, labels = element, None
    return _as_tensors(features), _as_tensors(labels)


def _as_tensors(value):
    """Arrays and nested lists become tensors, in a dict or alone."""
    if isinstance(value, dict):
        return {key: _as_tensors(item) for key, item in value.items()}
    if isinstance(value, (np.ndarray, list, int, float, str, bytes)):
        return tf.convert_to_tensor(value)
    return value
