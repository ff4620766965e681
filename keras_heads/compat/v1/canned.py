"""The private head factories of TF 1.x's canned estimators
(`tensorflow_estimator/python/estimator/canned/head.py`).

They build the same heads as the public `tf.contrib.estimator` factories
(`keras_heads.compat.v1.factories`), which forward to them, but default to
the `SUM` reduction (`"weighted_sum"`), as the canned estimators did.
"""

from keras_heads.compat.v1 import cores
from keras_heads.compat.v1.heads import SingleHead
from keras_heads.compat.v1.reduction import Reduction
from keras_heads.compat.v1.reduction import validate_loss_reduction
from keras_heads.heads import classes
from keras_heads.heads import custom_loss
from keras_heads.heads.binary_class import _out_of_range
from keras_heads.heads.regression import RegressionHead


def validate_loss_fn(loss_fn):
    """Checks a v1 `loss_fn`: it takes `labels`, `logits` and optionally
    `features` (v1 has no `loss_reduction` argument).

    Example:

    >>> validate_loss_fn(lambda labels, logits, features: labels)
    ('labels', 'logits', 'features')
    """
    args = custom_loss.validate_loss_fn(loss_fn)
    unexpected = [a for a in args if a not in ("labels", "logits", "features")]
    if unexpected:
        raise ValueError(
            f"loss_fn has unexpected args: {unexpected}. A v1 head's loss_fn "
            f"takes labels, logits and optionally features; given {args}."
        )
    return args


def _multi_class_head_with_softmax_cross_entropy_loss(
    n_classes, weight_column=None, label_vocabulary=None,
    loss_reduction=Reduction.SUM, loss_fn=None, name=None,
):
    """A v1 head for one class among `n_classes > 2` (softmax
    cross-entropy); the canned estimators' default `SUM` reduction.

    Unlike `keras_heads.MultiClassHead`, the vocabulary need not hold
    `n_classes` names.

    Example:

    >>> head = _multi_class_head_with_softmax_cross_entropy_loss(n_classes=3)
    >>> spec = head.create_loss(
    ...     features={}, mode="train",
    ...     logits=np.array([[10.0, 0.0, 0.0], [0.0, 10.0, 0.0]], "float32"),
    ...     labels=np.array([[1], [1]]))
    >>> round(float(spec.training_loss), 4)
    10.0002
    """
    if label_vocabulary is not None and not isinstance(
        label_vocabulary, (list, tuple)
    ):
        raise ValueError(
            "label_vocabulary should be a list or a tuple. Given type: "
            f"{type(label_vocabulary)}"
        )
    validate_loss_reduction(loss_reduction)
    if loss_fn:
        validate_loss_fn(loss_fn)
    core = cores.MultiClassCore(
        n_classes, weight_column=weight_column,
        label_vocabulary=label_vocabulary, loss_fn=loss_fn, name=name,
    )
    return SingleHead(core, loss_reduction)


def _binary_logistic_head_with_sigmoid_cross_entropy_loss(
    weight_column=None, thresholds=None, label_vocabulary=None,
    loss_reduction=Reduction.SUM, loss_fn=None, name=None,
):
    """A v1 head for binary classification (sigmoid cross-entropy); the
    canned estimators' default `SUM` reduction.

    A `label_vocabulary` that is not a list or tuple raises `TypeError`.

    Example:

    >>> head = _binary_logistic_head_with_sigmoid_cross_entropy_loss()
    >>> spec = head.create_loss(
    ...     features={}, mode="train",
    ...     logits=np.array([[45.0], [-41.0]], "float32"),
    ...     labels=np.array([[1], [1]]))
    >>> round(float(spec.training_loss), 4)
    41.0
    """
    if label_vocabulary is not None and not isinstance(
        label_vocabulary, (list, tuple)
    ):
        raise TypeError(
            "label_vocabulary should be a list or tuple. Given type: "
            f"{type(label_vocabulary)}"
        )
    classes.validate_thresholds(thresholds, _out_of_range)
    validate_loss_reduction(loss_reduction)
    if loss_fn:
        validate_loss_fn(loss_fn)
    core = cores.BinaryCore(
        weight_column=weight_column, thresholds=thresholds,
        label_vocabulary=label_vocabulary, loss_fn=loss_fn, name=name,
    )
    return SingleHead(core, loss_reduction)


def _regression_head(
    weight_column=None, label_dimension=1, loss_reduction=Reduction.SUM,
    loss_fn=None, inverse_link_fn=None, name=None,
):
    """A v1 head for regression (squared error, or `loss_fn`); the canned
    estimators' default `SUM` reduction.

    Example:

    >>> head = _regression_head(label_dimension=2)
    >>> spec = head.create_loss(
    ...     features={}, mode="train",
    ...     logits=np.array([[1.0, 2.0]], "float32"),
    ...     labels=np.array([[0.0, 4.0]], "float32"))
    >>> float(spec.training_loss)
    5.0
    """
    validate_loss_reduction(loss_reduction)
    if loss_fn:
        validate_loss_fn(loss_fn)
    core = RegressionHead(
        label_dimension=label_dimension, weight_column=weight_column,
        loss_reduction=cores.UNUSED_REDUCTION, loss_fn=loss_fn,
        inverse_link_fn=inverse_link_fn, name=name,
    )
    return SingleHead(core, loss_reduction)


def _binary_logistic_or_multi_class_head(
    n_classes, weight_column, label_vocabulary, loss_reduction
):
    """The binary head when `n_classes == 2`, else the multi-class head.

    Example:

    >>> head = _binary_logistic_or_multi_class_head(
    ...     2, weight_column=None, label_vocabulary=None,
    ...     loss_reduction=Reduction.SUM)
    >>> head.logits_dimension
    1
    """
    if n_classes == 2:
        return _binary_logistic_head_with_sigmoid_cross_entropy_loss(
            weight_column=weight_column, label_vocabulary=label_vocabulary,
            loss_reduction=loss_reduction,
        )
    return _multi_class_head_with_softmax_cross_entropy_loss(
        n_classes=n_classes, weight_column=weight_column,
        label_vocabulary=label_vocabulary, loss_reduction=loss_reduction,
    )
