"""`multi_label_head`: any subset of `n_classes` labels per example."""

import numbers

from keras import ops

from keras_heads import backend
from keras_heads import metrics
from keras_heads.compat.learn import common
from keras_heads.compat.learn import losses
from keras_heads.compat.learn.base import Labels
from keras_heads.compat.learn.base import SingleHead
from keras_heads.compat.learn.keys import MetricKey
from keras_heads.compat.learn.keys import PredictionKey
from keras_heads.compat.learn.keys import ProblemType
from keras_heads.compat.learn.metrics import ScoreHistogram
from keras_heads.compat.learn.metrics import TrapezoidAUC
from keras_heads.compat.learn.metrics import add_column_means
from keras_heads.ops import labels as label_ops
from keras_heads.ops import losses as core_losses
from keras_heads.ops import sparse


class _MultiLabelHead(SingleHead):
    """Multi-label classification: one sigmoid cross-entropy per class."""

    _problem_type = ProblemType.CLASSIFICATION
    _default_scope = "multi_label_head"
    _prediction_keys = (
        PredictionKey.LOGITS,
        PredictionKey.PROBABILITIES,
        PredictionKey.CLASSES,
    )
    _per_class_keys = (
        MetricKey.CLASS_PREDICTION_MEAN,
        MetricKey.CLASS_LABEL_MEAN,
        MetricKey.CLASS_PROBABILITY_MEAN,
        MetricKey.CLASS_LOGITS_MEAN,
    )

    def __init__(self, n_classes, label_name=None, weight_column_name=None,
                 enable_centered_bias=False, head_name=None, thresholds=None,
                 metric_class_ids=None, loss_fn=None):
        super().__init__(n_classes, label_name, weight_column_name,
                         enable_centered_bias, head_name, loss_fn)
        # Stored, unused (as in the reference).
        self._thresholds = common.unique_thresholds(thresholds)
        self._metric_class_ids = common.check_class_ids(
            metric_class_ids, n_classes
        )

    def _transform_labels(self, labels):
        if backend.is_sparse(labels):
            return labels  # converted in `_align_labels`, with the logits
        return common.numeric(
            label_ops.convert_labels(labels), "multi_label_head"
        )

    def _multi_hot(self, labels, logits):
        n = self._logits_dimension
        indices, values, dense_shape = backend.sparse_components(labels)
        common.check_integer(
            values,
            f"Sparse labels of multi_label_head are class ids in [0, {n}).",
        )
        batch_shape = tuple(dense_shape[:-1])
        if any(d is None for d in batch_shape):
            batch_shape = tuple(ops.shape(logits)[:-1])
        invalid = ops.logical_or(values < 0, values >= n)
        if not backend.is_traced(values) and bool(ops.any(invalid)):
            given = ops.convert_to_numpy(values)[ops.convert_to_numpy(invalid)]
            raise ValueError(
                "labels must be an integer SparseTensor with values in "
                f"[0, {n}). Given: {given.tolist()}."
            )
        multi_hot = sparse.to_multi_hot(
            indices, ops.where(invalid, 0, values), batch_shape, n
        )
        if backend.is_traced(values):
            # Unknown values while tracing: an example with an invalid id
            # gets labels of -1, which make its loss NaN.
            poisoned = sparse.examples_with(indices, invalid, batch_shape)
            multi_hot = ops.where(ops.expand_dims(poisoned, -1), -1, multi_hot)
        return multi_hot

    def _align_labels(self, labels, logits):
        if backend.is_sparse(labels):
            labels = self._multi_hot(labels, logits)
        if not common.compatible(tuple(labels.shape), tuple(logits.shape)):
            raise ValueError(
                "logits and labels must have the same shape "
                f"({tuple(logits.shape)} vs {tuple(labels.shape)}): labels "
                f"are a [batch_size, {self._logits_dimension}] multi-hot "
                "tensor (or sparse class ids)."
            )
        return Labels(labels, ops.cast(labels, "float32"))

    def _unreduced_loss(self, labels, logits):
        values = label_ops.poison_outside(labels.values, 0.0, 1.0)
        return core_losses.sigmoid_cross_entropy(values, logits)

    def _predictions(self, logits, keys=None):
        return common.selected({
            PredictionKey.LOGITS: logits,
            PredictionKey.PROBABILITIES: ops.sigmoid(logits),
            PredictionKey.CLASSES: ops.cast(logits > 0.0, backend.int64()),
        }, keys)

    def _head_metric_factories(self):
        factories = {
            MetricKey.ACCURACY: common.metric(
                metrics.Accuracy, MetricKey.ACCURACY
            ),
            MetricKey.AUC: common.metric(TrapezoidAUC, MetricKey.AUC),
            MetricKey.AUC_PR: common.metric(
                TrapezoidAUC, MetricKey.AUC_PR, curve="PR"
            ),
        }
        for class_id in self._metric_class_ids:
            for pattern in self._per_class_keys:
                key = pattern % class_id
                factories[key] = common.metric(metrics.Mean, key)
            key = MetricKey.CLASS_AUC % class_id
            factories[key] = common.metric(TrapezoidAUC, key)
            key = MetricKey.CLASS_AUC_PR % class_id
            factories[key] = common.metric(TrapezoidAUC, key, curve="PR")
        return factories

    def _update_head_metrics(self, metrics_, logits, labels, weights):
        y = labels.values
        weights = losses.weights_like(weights, y)
        predicted = ops.cast(logits > 0.0, "float32")
        metrics_[MetricKey.ACCURACY].update_matches(
            ops.cast(ops.equal(predicted, y), "float32"), weights
        )
        histogram = ScoreHistogram(
            y, logits, weights, num_buckets=common.AUC_THRESHOLDS,
            activation=ops.sigmoid,
        )
        metrics_[MetricKey.AUC].add_histogram(histogram)
        metrics_[MetricKey.AUC_PR].add_histogram(histogram)
        selected = list(self._metric_class_ids)
        if not selected:
            return
        picked = [ops.take(x, selected, axis=-1)
                  for x in (predicted, y, logits, weights)]
        predicted_s, y_s, logits_s, weights_s = picked
        add_column_means(
            [metrics_[pattern % c]
             for pattern in self._per_class_keys for c in selected],
            ops.concatenate(
                [predicted_s, y_s, ops.sigmoid(logits_s), logits_s], axis=-1
            ),
            ops.concatenate([weights_s] * len(self._per_class_keys), axis=-1),
        )
        per_class = ScoreHistogram(
            y_s, logits_s, weights_s, num_buckets=common.AUC_THRESHOLDS,
            by_column=True, activation=ops.sigmoid,
        )
        for column, class_id in enumerate(selected):
            metrics_[MetricKey.CLASS_AUC % class_id].add_histogram(
                per_class, column
            )
            metrics_[MetricKey.CLASS_AUC_PR % class_id].add_histogram(
                per_class, column
            )

    def _output_alternative(self, logits, predictions, defer):
        return common.classification_alternative(
            self._problem_type, predictions[PredictionKey.PROBABILITIES],
            [str(i) for i in range(self._logits_dimension)], defer,
        )


def multi_label_head(n_classes, label_name=None, weight_column_name=None,
                     enable_centered_bias=False, head_name=None,
                     thresholds=None, metric_class_ids=None, loss_fn=None):
    """A head for multi-label classification: sigmoid cross-entropy per
    class, averaged over all `batch_size * n_classes` elements.

    Labels are a `[batch_size, n_classes]` multi-hot tensor, or sparse class
    ids (`tf.SparseTensor` or `keras_heads.SparseTensorValue`).

    Args:
      n_classes: number of classes, >= 2.
      label_name, weight_column_name, enable_centered_bias, head_name: as
        `multi_class_head`.
      thresholds: stored, unused.
      metric_class_ids: class ids that get per-class means and AUCs.
      loss_fn: optional `loss_fn(labels, logits, weights)` returning the
        scalar loss.

    Predictions: `logits`, `probabilities` (sigmoid), `classes` (1 iff
    `logits > 0`, `[batch_size, n_classes]`).

    Example:

    >>> from keras_heads.compat import learn
    >>> head = learn.multi_label_head(n_classes=3, metric_class_ids=[2])
    >>> ops_ = head.create_model_fn_ops(
    ...     features={}, mode=learn.ModeKeys.EVAL,
    ...     labels=np.array([[0, 0, 1]]), logits=np.array([[1.0, 0.0, 0.0]]))
    >>> round(float(ops_.loss), 6)
    0.899852
    >>> sorted(ops_.eval_metric_ops)
    ['accuracy', 'auc', 'auc/class2', 'auc_precision_recall',
     'auc_precision_recall/class2', 'labels/actual_label_mean/class2',
     'labels/logits_mean/class2', 'labels/prediction_mean/class2',
     'labels/probability_mean/class2', 'loss']
    """
    if (
        n_classes is None
        or not isinstance(n_classes, numbers.Integral)
        or n_classes < 2
    ):
        raise ValueError(
            f"n_classes must be > 1 for classification. Given: {n_classes}."
        )
    if loss_fn:
        losses.verify_loss_fn(loss_fn)
    return _MultiLabelHead(
        n_classes=int(n_classes),
        label_name=label_name,
        weight_column_name=weight_column_name,
        enable_centered_bias=enable_centered_bias,
        head_name=head_name,
        thresholds=thresholds,
        metric_class_ids=metric_class_ids,
        loss_fn=loss_fn or None,
    )
