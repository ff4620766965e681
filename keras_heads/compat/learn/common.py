"""What the single contrib.learn heads share: label and shape checks, metric
factories, thresholds and the classification output alternative."""

import functools
import numbers

import keras
from keras import ops

from keras_heads import backend
from keras_heads.compat.learn.keys import MetricKey
from keras_heads.compat.learn.keys import PredictionKey
from keras_heads.ops import labels as label_ops
from keras_heads.spec import Predictions

# Thresholds of every AUC, as `tf.compat.v1.metrics.auc`.
AUC_THRESHOLDS = 200


def dense_labels(labels):
    """Labels as a tensor (or this backend's string array); no sparse."""
    if backend.is_sparse(labels):
        raise ValueError(
            "SparseTensor is not supported. The labels of this head must be "
            "a dense tensor of shape [batch_size] or [batch_size, 1] (only "
            "multi_label_head accepts sparse labels)."
        )
    return label_ops.convert_labels(labels)


def numeric(labels, what):
    """`labels`, after checking they are not strings."""
    if backend.is_string(labels):
        raise ValueError(
            f"The labels of {what} must be numeric; got string labels."
        )
    return labels


def check_integer(values, hint):
    """Raises unless `values` hold integers (class ids); `hint` says what was
    expected instead."""
    dtype = "string" if backend.is_string(values) else (
        keras.backend.standardize_dtype(values.dtype)
    )
    if dtype == "string" or not keras.backend.is_int_dtype(dtype):
        raise ValueError(
            f"Labels dtype should be integer. Instead got <dtype: '{dtype}'>. "
            f"{hint}"
        )


def compatible(a, b):
    """Static shapes agree wherever both are known."""
    return len(a) == len(b) and all(
        x is None or y is None or x == y for x, y in zip(a, b)
    )


def with_trailing_axis(x):
    """A `[B]` tensor as `[B, 1]`; other ranks unchanged."""
    return ops.expand_dims(x, -1) if len(x.shape) == 1 else x


def two_class(logits):
    """`[0, x]`: one logit as the logits of two classes."""
    return ops.concatenate([ops.zeros_like(logits), logits], axis=-1)


def metric(cls, key, **kwargs):
    """A factory of the metric of `key` (built when metrics are read)."""
    return functools.partial(cls, name=key, **kwargs)


def selected(out, keys):
    """The entries of `out` in `keys` (all for None)."""
    return out if keys is None else {key: out[key] for key in keys}


def classification_alternative(problem_type, probabilities, names, defer):
    """`(problem_type, {probabilities, classes})`, `classes` being every
    class name tiled over the batch (built when read if `defer`)."""

    def classes():
        return {
            PredictionKey.CLASSES: backend.tiled_strings(names, probabilities)
        }

    if defer:
        tensors = Predictions(
            {PredictionKey.PROBABILITIES: probabilities},
            [((PredictionKey.CLASSES,), classes)],
        )
    else:
        tensors = {PredictionKey.PROBABILITIES: probabilities, **classes()}
    return problem_type, tensors


def unique_thresholds(thresholds):
    """`thresholds` (default `(0.5,)`), one per metric key (the last wins,
    as a dict assignment did in the reference)."""
    thresholds = tuple(thresholds) if thresholds is not None else ()
    by_key = {}
    for t in thresholds or (0.5,):
        by_key[MetricKey.ACCURACY_MEAN % t] = float(t)
    return tuple(by_key.values())


def check_class_ids(class_ids, n_classes):
    """`metric_class_ids`, deduplicated, after checking each is in
    `[0, n_classes)`."""
    class_ids = tuple(dict.fromkeys(class_ids or ()))
    for class_id in class_ids:
        if (
            not isinstance(class_id, numbers.Integral)
            or not 0 <= class_id < n_classes
        ):
            raise ValueError(
                f"Class ID {class_id} not in [0, {n_classes}). Every entry of "
                f"metric_class_ids must be a class id in [0, {n_classes})."
            )
    return tuple(int(c) for c in class_ids)
