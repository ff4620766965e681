"""Checking and normalising logits, labels and example weights.

Every head runs its inputs through these functions, so a mistake is reported
the same way everywhere: the argument's name, what was expected and what
came. Static shape checks always run (also while tracing); value checks run
when values are known, and inside compiled functions an invalid label turns
the loss into NaN instead of passing silently.
"""

import math

import keras
import numpy as np
from keras import ops

from keras_heads import backend
from keras_heads import columns

_LABELS_HINT = (
    "Suggested Fix: check your n_classes argument to the head and/or the "
    "shape of your label."
)


def _shape(x):
    return tuple(x.shape)


def _same_shape(a, b):
    """Shapes agree where both are known (a traced dimension may be None)."""
    return len(a) == len(b) and all(
        x is None or y is None or x == y for x, y in zip(a, b)
    )


def check_logits(logits, logits_dimension):
    """Returns `logits` as float32 after checking `[D0, ..., DN, d]`."""
    logits = ops.cast(ops.convert_to_tensor(logits), "float32")
    shape = _shape(logits)
    if len(shape) < 2:
        raise ValueError(
            "logits must have rank at least 2.  Received rank "
            f"{len(shape)}, shape {shape}"
        )
    if shape[-1] is not None and shape[-1] != logits_dimension:
        raise ValueError(
            "logits shape must be [D0, D1, ... DN, logits_dimension], got "
            f"{shape}. Expected the last dimension to be the head's "
            f"logits_dimension={logits_dimension}."
        )
    return logits


def convert_labels(labels):
    """Labels as a backend tensor, or this backend's string array."""
    if labels is None:
        raise ValueError(
            "You must provide a labels Tensor. Given: None. Labels are "
            "required in TRAIN and EVAL modes and by loss() and "
            "update_metrics()."
        )
    if backend.is_sparse(labels):
        raise ValueError(
            "SparseTensor labels are not supported. Labels must be a dense "
            "Tensor of shape [D0, D1, ..., DN, 1], e.g. [batch_size, 1]; "
            "only MultiLabelHead accepts sparse labels."
        )
    if backend.is_string(labels):
        return backend.convert_strings(labels)
    return ops.convert_to_tensor(labels)


def check_dense_labels(labels, logits, expected_labels_dimension):
    """Checks labels against logits; a `[D0..DN]` label gains a last axis."""
    labels = convert_labels(labels)
    logits_shape = _shape(logits)
    if len(labels.shape) == len(logits_shape) - 1:
        labels = backend.expand_dims(labels, -1)
    shape = _shape(labels)
    if len(shape) < 2:
        raise ValueError(
            f"labels must have rank at least 2.  Received rank {len(shape)}, "
            f"shape {shape}"
        )
    if shape[-1] is not None and shape[-1] != expected_labels_dimension:
        raise ValueError(
            "Mismatched label shape. Expected labels dimension="
            f"{expected_labels_dimension}.  Received {shape[-1]}. "
            "Suggested Fix: If your classifier expects one-hot encoding "
            "label, check your n_classes argument to the head and/or the "
            "shape of your label. Otherwise, check the shape of your label."
        )
    expected = logits_shape[:-1] + (expected_labels_dimension,)
    if not _same_shape(shape, expected):
        raise ValueError(
            "labels shape must be [D0, D1, ... DN, "
            f"{expected_labels_dimension}]. {_LABELS_HINT} "
            f"expected_labels_shape: {expected}. labels_shape: {shape}."
        )
    return labels


def _example_values(values, mask, limit=5):
    flagged = np.asarray(values)[np.asarray(mask)]
    return flagged.reshape(-1)[:limit].tolist()


def guard_range(values, lower, upper, too_large, too_small):
    """Checks `lower <= values <= upper`.

    With known values, raises `ValueError` whose message starts with
    `too_large` (checked first) or `too_small` and lists offending values.
    While tracing, float values outside the range are replaced by NaN so
    that the loss reports them; integer values are returned as they are
    (the losses that index with them guard themselves).
    """
    if backend.is_traced(values):
        if not keras.backend.is_float_dtype(values.dtype):
            return values
        return poison_outside(values, lower, upper)
    array = ops.convert_to_numpy(values)
    if array.size and np.any(array > upper):
        raise ValueError(
            f"{too_large}. labels has values above {upper}: "
            f"{_example_values(array, array > upper)}."
        )
    if array.size and np.any(array < lower):
        raise ValueError(
            f"{too_small}. labels has values below {lower}: "
            f"{_example_values(array, array < lower)}."
        )
    return values


def poison_outside(values, lower, upper):
    """`values` as float32, NaN where outside `[lower, upper]` (or NaN).

    Float and 8-bit values get `0 * sqrt((v - lower)(upper - v))` added: 0
    inside the range, NaN outside it, and no `select`, which XLA on CPU
    vectorises poorly inside a loss (a `where` there made a large
    multi-label loss 2x slower). Wider integers take a `where`: XLA on CPU
    cannot fuse their float conversion into the loss and gives it a pass of
    its own, where the check costs nothing, and the loss is left with less
    to do (a W1 step on JAX: 8-19% faster than with the square root).

    >>> values = poison_outside(ops.convert_to_tensor([0, 1, 2]), 0, 1)
    >>> ops.convert_to_numpy(values).tolist()
    [0.0, 1.0, nan]
    """
    dtype = keras.backend.standardize_dtype(values.dtype)
    if dtype == "bool":
        return ops.cast(values, "float32")
    if keras.backend.is_int_dtype(dtype) and np.dtype(dtype).itemsize > 1:
        inside = ops.logical_and(
            values >= math.ceil(lower), values <= math.floor(upper)
        )
        return ops.where(inside, ops.cast(values, "float32"), np.nan)
    values = ops.cast(values, "float32")
    inside = (values - lower) * (upper - values)
    return values + 0.0 * ops.sqrt(inside)


def poison_examples_outside(values, lower, upper):
    """`(labels, factors)`: `values` as float32, and `[..., 1]` float32
    factors, 1 for an example whose values (along the last axis) all lie in
    `[lower, upper]` and NaN for any other.

    Multiplying each example's loss by its factor makes NaN the losses of
    the examples that `poison_outside` would have (and their gradients,
    all of an example's rather than its bad labels' only). 8-bit integer
    values are checked by example where the backend does that faster (see
    `backend.checks_narrow_labels_by_example`); other values are poisoned
    label by label and get factors of `1.0`.

    >>> labels, factors = poison_examples_outside(
    ...     ops.convert_to_tensor([[0, 1], [1, 2]], "int8"), 0, 1)
    >>> poisoned = ops.any(ops.isnan(labels * factors), axis=-1)
    >>> ops.convert_to_numpy(poisoned).tolist()
    [False, True]
    """
    dtype = keras.backend.standardize_dtype(values.dtype)
    narrow_int = (
        dtype != "bool"
        and keras.backend.is_int_dtype(dtype)
        and np.dtype(dtype).itemsize == 1
    )
    if not (narrow_int and backend.checks_narrow_labels_by_example()):
        return poison_outside(values, lower, upper), 1.0
    outside = ops.logical_or(
        backend.reduce_last_axis(ops.max, values) > math.floor(upper),
        backend.reduce_last_axis(ops.min, values) < math.ceil(lower),
    )
    return ops.cast(values, "float32"), ops.where(outside, np.nan, 1.0)


def unknown_labels(labels, ids):
    """The string labels that mapped to -1, for an error message."""
    strings = backend.string_values(labels)
    mask = ops.convert_to_numpy(ids) < 0
    return [s.decode("utf-8", "replace") for s in strings[mask][:5]]


def weights_from_features(
    features, weight_column, logits, allow_per_logit_weights=False
):
    """Example weights for `logits`, looked up with `weight_column`.

    Returns the Python float `1.0` without a weight column; otherwise float32
    weights of shape `[D0..DN, 1]` (or `[D0..DN, d]` for per-logit
    regression weights).
    """
    if weight_column is None:
        return 1.0
    if isinstance(weight_column, str):
        key, normalizer_fn = weight_column, None
    elif columns.is_numeric_column(weight_column):
        key, normalizer_fn = weight_column.key, weight_column.normalizer_fn
    else:
        raise TypeError(
            "Weight column must be either a string or NumericColumn. "
            f"Given type: {type(weight_column)}."
        )
    features = features or {}
    if key not in features:
        raise ValueError(
            f"Feature {key} is not in features dictionary. weight_column="
            f"{key!r}; available features: {sorted(features)}."
        )
    weights = features[key]
    if backend.is_sparse(weights):
        raise ValueError(
            f"Weight column {key!r} must be a dense tensor, not a sparse one."
        )
    weights = ops.convert_to_tensor(weights)
    rank = len(weights.shape)
    if rank == 0:
        raise ValueError(
            f"Feature (key: {key}) cannot have rank 0. Give one weight per "
            "example, e.g. of shape [batch_size] or [batch_size, 1]."
        )
    if rank == 1:
        weights = ops.expand_dims(weights, -1)
    if normalizer_fn is not None:
        weights = normalizer_fn(weights)
    dtype = keras.backend.standardize_dtype(weights.dtype)
    if not any(kind in dtype for kind in ("float", "int", "bool")):
        raise ValueError(
            f"Weight column should be castable to float. Given dtype: {dtype}"
        )
    weights = ops.cast(weights, "float32")
    weights = _check_weights_shape(
        weights, logits, allow_per_logit_weights, key
    )
    _check_finite(weights, key)
    return weights


def _check_weights_shape(weights, logits, allow_per_logit_weights, key):
    logits_shape, shape = _shape(logits), _shape(weights)
    if len(shape) == len(logits_shape) - 1:
        if _same_shape(shape, logits_shape[:-1]):
            return ops.expand_dims(weights, -1)
    elif _same_shape(shape, logits_shape[:-1] + (1,)):
        return weights
    elif allow_per_logit_weights and _same_shape(shape, logits_shape):
        return weights
    options = (
        "[D0, D1, ... DN], [D0, D1, ... DN, 1] or [D0, D1, ... DN, "
        "logits_dimension]"
        if allow_per_logit_weights
        else "[D0, D1, ... DN] or [D0, D1, ... DN, 1]"
    )
    raise ValueError(
        f"weights shape must be {options}, logits_shape: {logits_shape}. "
        f"weights_shape: {shape}. The weights come from feature {key!r} "
        "(weight_column)."
    )


def _check_finite(weights, key):
    if backend.is_traced(weights):
        return
    array = ops.convert_to_numpy(weights)
    bad = ~np.isfinite(array)
    if np.any(bad):
        raise ValueError(
            f"weights from feature {key!r} must be finite. Found "
            f"{int(bad.sum())} non-finite value(s), e.g. "
            f"{_example_values(array, bad)}."
        )
