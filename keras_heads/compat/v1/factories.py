"""The public TF 1.x head factories (`tf.contrib.estimator.*_head`).

Each returns a v1 head (`keras_heads.compat.v1.heads.SingleHead`) whose
`loss_reduction` defaults to `SUM_OVER_BATCH_SIZE`
(`"weighted_sum_over_batch_size"`). Note the argument order: `weight_column`
comes first in `binary_classification_head`, `regression_head` and the
other regression factories, unlike the v2 classes.
"""

from keras_heads.compat.v1 import canned
from keras_heads.compat.v1 import cores
from keras_heads.compat.v1.heads import SingleHead
from keras_heads.compat.v1.reduction import Reduction
from keras_heads.compat.v1.reduction import validate_loss_reduction
from keras_heads.heads.regression import LogisticRegressionHead
from keras_heads.heads.regression import PoissonRegressionHead


def multi_class_head(n_classes, weight_column=None, label_vocabulary=None,
                     loss_reduction=Reduction.SUM_OVER_BATCH_SIZE,
                     loss_fn=None, name=None):
    """A v1 head for one class among `n_classes > 2` (softmax
    cross-entropy).

    Labels are class ids `[D0, ..., DN, 1]` (or names with a
    `label_vocabulary`, which need not hold `n_classes` names); logits are
    `[D0, ..., DN, n_classes]`.

    Example:

    >>> head = multi_class_head(n_classes=3, name="kind")
    >>> spec = head.create_estimator_spec(
    ...     features={}, mode="eval",
    ...     logits=np.array([[10.0, 0.0, 0.0], [0.0, 10.0, 0.0]], "float32"),
    ...     labels=np.array([[1], [1]]))
    >>> round(float(spec.loss), 4)
    5.0001
    >>> sorted(spec.eval_metric_ops)
    ['accuracy/kind', 'average_loss/kind']
    """
    return canned._multi_class_head_with_softmax_cross_entropy_loss(
        n_classes=n_classes, weight_column=weight_column,
        label_vocabulary=label_vocabulary, loss_reduction=loss_reduction,
        loss_fn=loss_fn, name=name,
    )


def binary_classification_head(weight_column=None, thresholds=None,
                               label_vocabulary=None,
                               loss_reduction=Reduction.SUM_OVER_BATCH_SIZE,
                               loss_fn=None, name=None):
    """A v1 head for binary classification (sigmoid cross-entropy).

    Labels are 0/1 (or names from a two-name `label_vocabulary`, which must
    be a list or tuple: anything else raises `TypeError`); logits are
    `[D0, ..., DN, 1]`. For each of `thresholds`, v1 adds accuracy
    (`p >= t`), precision and recall (`p > t`) metrics.

    Example:

    >>> head = binary_classification_head(thresholds=[0.5])
    >>> spec = head.create_estimator_spec(
    ...     features={}, mode="eval",
    ...     logits=np.array([[0.0], [2.0]], "float32"),
    ...     labels=np.array([[1], [0]]))
    >>> float(spec.eval_metric_ops["accuracy/positive_threshold_0.5"].result())
    0.5
    """
    return canned._binary_logistic_head_with_sigmoid_cross_entropy_loss(
        weight_column=weight_column, thresholds=thresholds,
        label_vocabulary=label_vocabulary, loss_reduction=loss_reduction,
        loss_fn=loss_fn, name=name,
    )


def regression_head(weight_column=None, label_dimension=1,
                    loss_reduction=Reduction.SUM_OVER_BATCH_SIZE,
                    loss_fn=None, inverse_link_fn=None, name=None):
    """A v1 head for regression with the squared-error loss (or `loss_fn`).

    `inverse_link_fn` maps logits to the `predictions` (which then also
    hold the `logits`).

    Example:

    >>> head = regression_head()
    >>> spec = head.create_loss(
    ...     features={}, mode="train",
    ...     logits=np.array([[45.0], [41.0]], "float32"),
    ...     labels=np.array([[43.0], [44.0]], "float32"))
    >>> float(spec.training_loss)
    6.5
    """
    return canned._regression_head(
        weight_column=weight_column, label_dimension=label_dimension,
        loss_reduction=loss_reduction, loss_fn=loss_fn,
        inverse_link_fn=inverse_link_fn, name=name,
    )


def poisson_regression_head(weight_column=None, label_dimension=1,
                            loss_reduction=Reduction.SUM_OVER_BATCH_SIZE,
                            compute_full_loss=True, name=None):
    """A v1 regression head with the log-Poisson loss;
    `predictions = exp(logits)`.

    Example:

    >>> head = poisson_regression_head()
    >>> spec = head.create_loss(
    ...     features={}, mode="train",
    ...     logits=np.array([[0.0], [-1.0], [1.0]], "float32"),
    ...     labels=np.array([[1], [2], [3]]))
    >>> round(float(spec.training_loss), 4)
    1.834
    """
    validate_loss_reduction(loss_reduction)
    core = PoissonRegressionHead(
        label_dimension=label_dimension, weight_column=weight_column,
        loss_reduction=cores.UNUSED_REDUCTION,
        compute_full_loss=compute_full_loss, name=name,
    )
    return SingleHead(core, loss_reduction)


def logistic_regression_head(weight_column=None,
                             loss_reduction=Reduction.SUM_OVER_BATCH_SIZE,
                             name=None):
    """A v1 regression head for labels in [0, 1] (sigmoid cross-entropy);
    `predictions = sigmoid(logits)`.

    Labels outside [0, 1] raise `ValueError` ("Labels must be in range
    [0, 1]").

    Example:

    >>> head = logistic_regression_head()
    >>> spec = head.create_loss(
    ...     features={}, mode="train",
    ...     logits=np.array([[0.0], [-1.0], [1.0]], "float32"),
    ...     labels=np.array([[0.4], [0.6], [0.8]], "float32"))
    >>> round(float(spec.training_loss), 4)
    0.7066
    """
    validate_loss_reduction(loss_reduction)
    core = LogisticRegressionHead(
        weight_column=weight_column, loss_reduction=cores.UNUSED_REDUCTION,
        name=name,
    )
    return SingleHead(core, loss_reduction)


def multi_label_head(n_classes, weight_column=None, thresholds=None,
                     label_vocabulary=None,
                     loss_reduction=Reduction.SUM_OVER_BATCH_SIZE,
                     loss_fn=None, classes_for_class_based_metrics=None,
                     name=None):
    """A v1 head for multi-label classification: one sigmoid per class, the
    loss averaged over the classes.

    Labels are a multi-hot `[D0, ..., DN, n_classes]` tensor, or sparse
    class ids (or names, with a `label_vocabulary`) as a `tf.SparseTensor`
    or `keras_heads.SparseTensorValue`. Predictions are `logits` and
    `probabilities` only (v1 had no `classes`).

    Example:

    >>> head = multi_label_head(n_classes=2)
    >>> spec = head.create_estimator_spec(
    ...     features={}, mode="eval",
    ...     logits=np.array([[-1.0, 1.0], [-1.5, 1.5]], "float32"),
    ...     labels=np.array([[1, 0], [1, 1]]))
    >>> auc = spec.eval_metric_ops["auc"]
    >>> round(float(spec.loss), 4), round(float(auc.result()), 4)
    (1.1323, 0.3333)
    >>> sorted(spec.predictions)
    ['logits', 'probabilities']
    """
    if n_classes is None or n_classes < 2:
        raise ValueError(
            "n_classes must be > 1 for multi-class classification. Given: "
            f"{n_classes}"
        )
    if loss_fn:
        canned.validate_loss_fn(loss_fn)
    validate_loss_reduction(loss_reduction)
    if classes_for_class_based_metrics and label_vocabulary is None:
        selected = tuple(classes_for_class_based_metrics)
        if isinstance(selected[0], str):
            raise ValueError(
                f"classes_for_class_based_metrics={list(selected)} names "
                "classes, and no label_vocabulary was given: "
                "label_vocabulary must be provided when "
                "classes_for_class_based_metrics are sting."
            )
    core = cores.MultiLabelCore(
        n_classes, weight_column=weight_column, thresholds=thresholds,
        label_vocabulary=label_vocabulary, loss_fn=loss_fn,
        classes_for_class_based_metrics=classes_for_class_based_metrics,
        name=name,
    )
    return SingleHead(core, loss_reduction)
