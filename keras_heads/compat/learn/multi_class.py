"""`multi_class_head`: single-label classification (a binary logistic head
for two classes)."""

import numbers

import keras
from keras import ops

from keras_heads import backend
from keras_heads import metrics
from keras_heads.compat.learn import common
from keras_heads.heads import classes
from keras_heads.compat.learn import losses
from keras_heads.compat.learn.base import Labels
from keras_heads.compat.learn.base import SingleHead
from keras_heads.compat.learn.binary import _BinaryLogisticHead
from keras_heads.compat.learn.keys import MetricKey
from keras_heads.compat.learn.keys import PredictionKey
from keras_heads.compat.learn.keys import ProblemType
from keras_heads.compat.learn.metrics import add_column_means
from keras_heads.ops import labels as label_ops
from keras_heads.ops import losses as core_losses


class _MultiClassHead(SingleHead):
    """Single-label classification over `n_classes > 2`: softmax
    cross-entropy; integer class ids, or class names with `label_keys`."""

    _problem_type = ProblemType.CLASSIFICATION
    _default_scope = "multi_class_head"
    _prediction_keys = (
        PredictionKey.LOGITS,
        PredictionKey.PROBABILITIES,
        PredictionKey.CLASSES,
    )

    def __init__(self, n_classes, label_name=None, weight_column_name=None,
                 enable_centered_bias=False, head_name=None, loss_fn=None,
                 thresholds=None, metric_class_ids=None, label_keys=None):
        super().__init__(n_classes, label_name, weight_column_name,
                         enable_centered_bias, head_name, loss_fn)
        if n_classes <= 2:
            raise ValueError(
                f"n_classes must be > 2: {n_classes}. For two classes use "
                "multi_class_head(n_classes=2), a binary logistic head."
            )
        self._thresholds = common.unique_thresholds(thresholds)
        self._metric_class_ids = common.check_class_ids(
            metric_class_ids, n_classes
        )
        if label_keys:
            if not isinstance(label_keys, (list, tuple)) or not all(
                isinstance(key, str) for key in label_keys
            ):
                raise ValueError(
                    "label_keys must be a list or tuple of strings (the class "
                    f"names). Given: {label_keys!r}."
                )
            if len(label_keys) != n_classes:
                raise ValueError(
                    "Length of label_keys must equal n_classes. Given "
                    f"len(label_keys)={len(label_keys)}, n_classes="
                    f"{n_classes}."
                )
        self._label_keys = tuple(label_keys) if label_keys else None
        self._string_prediction_keys = (
            (PredictionKey.CLASSES,) if self._label_keys else ()
        )

    def _class_names(self):
        if self._label_keys:
            return list(self._label_keys)
        return [str(i) for i in range(self._logits_dimension)]

    def _transform_labels(self, labels):
        labels = common.dense_labels(labels)
        n = self._logits_dimension
        if self._label_keys:
            if not backend.is_string(labels):
                dtype = keras.backend.standardize_dtype(labels.dtype)
                raise ValueError(
                    "Labels dtype should be string when label_keys is set. "
                    f"Instead got <dtype: '{dtype}'>; label_keys="
                    f"{list(self._label_keys)}."
                )
            return classes.ids_from_vocabulary(
                labels, self._label_keys, argument="label_keys"
            )
        common.check_integer(
            labels,
            f"Give class ids in [0, {n}), or class names with label_keys.",
        )
        return label_ops.guard_range(
            labels, 0, n - 1, f"Labels must be <= {n} - 1",
            "Labels must be >= 0",
        )

    def _align_labels(self, labels, logits):
        values = common.with_trailing_axis(labels)
        expected = tuple(logits.shape[:-1]) + (1,)
        if len(labels.shape) > 2 or not common.compatible(
            tuple(values.shape), expected
        ):
            raise ValueError(
                "labels shape should be either [batch_size, 1] or "
                f"[batch_size]; got {tuple(labels.shape)} for logits of "
                f"shape {tuple(logits.shape)}."
            )
        return Labels(labels, values)

    def _unreduced_loss(self, labels, logits):
        return core_losses.sparse_softmax_cross_entropy(labels.values, logits)

    def _predictions(self, logits, keys=None):
        keys = self._prediction_keys if keys is None else keys
        out = {}
        if PredictionKey.LOGITS in keys:
            out[PredictionKey.LOGITS] = logits
        if PredictionKey.PROBABILITIES in keys:
            out[PredictionKey.PROBABILITIES] = ops.softmax(logits, axis=-1)
        if PredictionKey.CLASSES in keys:
            class_ids = ops.cast(ops.argmax(logits, axis=-1), backend.int64())
            out[PredictionKey.CLASSES] = (
                backend.gather_strings(self._label_keys, class_ids)
                if self._label_keys else class_ids
            )
        return out

    def _per_class_keys(self):
        """The four per-class patterns, in the reference's order (none with
        `label_keys`)."""
        if self._label_keys:
            return ()
        return (
            MetricKey.CLASS_PREDICTION_MEAN,
            MetricKey.CLASS_LABEL_MEAN,
            MetricKey.CLASS_PROBABILITY_MEAN,
            MetricKey.CLASS_LOGITS_MEAN,
        )

    def _head_metric_factories(self):
        factories = {
            MetricKey.ACCURACY: common.metric(
                metrics.Accuracy, MetricKey.ACCURACY
            )
        }
        for class_id in self._metric_class_ids:
            for pattern in self._per_class_keys():
                key = pattern % class_id
                factories[key] = common.metric(metrics.Mean, key)
        return factories

    def _update_head_metrics(self, metrics_, logits, labels, weights):
        ids = labels.values
        weights = losses.weights_like(weights, ids)
        columns = [core_losses.top1_matches(ids, logits)]
        means = [metrics_[MetricKey.ACCURACY]]
        selected = list(self._metric_class_ids)
        if selected and self._per_class_keys():
            chosen = ops.convert_to_tensor(selected, "int32")
            class_ids = ops.cast(
                ops.expand_dims(ops.argmax(logits, axis=-1), -1), "int32"
            )
            columns += [
                ops.cast(ops.equal(class_ids, chosen), "float32"),
                ops.cast(ops.equal(ops.cast(ids, "int32"), chosen), "float32"),
                ops.take(ops.softmax(logits, axis=-1), selected, axis=-1),
                ops.take(logits, selected, axis=-1),
            ]
            means += [
                metrics_[pattern % class_id]
                for pattern in self._per_class_keys()
                for class_id in selected
            ]
        add_column_means(means, ops.concatenate(columns, axis=-1), weights)

    def _output_alternative(self, logits, predictions, defer):
        return common.classification_alternative(
            self._problem_type, predictions[PredictionKey.PROBABILITIES],
            self._class_names(), defer,
        )


def multi_class_head(n_classes, label_name=None, weight_column_name=None,
                     enable_centered_bias=False, head_name=None,
                     thresholds=None, metric_class_ids=None, loss_fn=None,
                     label_keys=None):
    """A head for single-label classification: softmax cross-entropy, or
    for `n_classes == 2` a binary logistic head (sigmoid cross-entropy).

    Args:
      n_classes: number of classes, >= 2.
      label_name: the key of this head's labels when labels are a dict.
      weight_column_name: the feature holding example weights.
      enable_centered_bias: learn a bias per class, trained apart (see
        `regression_head`).
      head_name: suffixes metric and summary keys; names the variable scope.
      thresholds: for a binary head, the thresholds of the
        `accuracy/threshold_<t>_mean`, `precision/...` and `recall/...`
        metrics (default `(0.5,)`).
      metric_class_ids: class ids that get the `labels/*_mean/class<id>`
        metrics (not for two classes).
      loss_fn: optional `loss_fn(labels, logits, weights)` returning the
        scalar loss (called without `weights` when there are none).
      label_keys: `n_classes` class names: labels are these names and the
        `classes` predictions too (not for two classes).

    Binary predictions: `logits`, `logistic`, `probabilities` (of `[0, x]`),
    `classes` (`[batch_size]` ids). Multi-class: `logits`, `probabilities`,
    `classes`.

    Example:

    >>> from keras_heads.compat import learn
    >>> head = learn.multi_class_head(n_classes=2, head_name="click")
    >>> ops_ = head.create_model_fn_ops(
    ...     features={}, mode=learn.ModeKeys.EVAL,
    ...     labels=np.array([[1], [0]]), logits=np.array([[1.0], [1.0]]))
    >>> round(float(ops_.loss), 6)
    0.813262
    >>> sorted(ops_.eval_metric_ops)[:3]
    ['accuracy/baseline_label_mean/click', 'accuracy/click',
     'accuracy/threshold_0.500000_mean/click']
    """
    if (
        n_classes is None
        or not isinstance(n_classes, numbers.Integral)
        or n_classes < 2
    ):
        raise ValueError(
            f"n_classes must be > 1 for classification: {n_classes}. Pass the "
            "number of classes as an int >= 2."
        )
    if loss_fn:
        losses.verify_loss_fn(loss_fn)
    if n_classes == 2:
        if metric_class_ids:
            raise ValueError(
                "metric_class_ids invalid for n_classes==2. Given "
                f"metric_class_ids={metric_class_ids!r}; a binary head has "
                "no per-class metrics."
            )
        if label_keys:
            raise ValueError(
                "label_keys is not supported for n_classes=2. Given "
                f"label_keys={label_keys!r}; give 0/1 labels."
            )
        return _BinaryLogisticHead(
            label_name=label_name,
            weight_column_name=weight_column_name,
            enable_centered_bias=enable_centered_bias,
            head_name=head_name,
            loss_fn=loss_fn or None,
            thresholds=thresholds,
        )
    return _MultiClassHead(
        n_classes=int(n_classes),
        label_name=label_name,
        weight_column_name=weight_column_name,
        enable_centered_bias=enable_centered_bias,
        head_name=head_name,
        loss_fn=loss_fn or None,
        thresholds=thresholds,
        metric_class_ids=metric_class_ids,
        label_keys=label_keys,
    )
