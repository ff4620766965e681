"""The v2 heads inside the v1 heads, with v1's differences.

A v1 head (`keras_heads.compat.v1.heads.SingleHead`) holds a v2 head, its
*core*, and reuses its label processing, weights, unreduced loss,
predictions, metric objects and export outputs. Where the TF 1.x heads
behaved differently, a core below overrides the v2 hook:

* binary and multi-class label range errors read `Labels must <=
  n_classes - 1` and `Labels must >= 0`;
* a multi-class vocabulary need not hold `n_classes` names (an id past its
  end is predicted as `UNK`, and `all_classes` is the vocabulary as given);
* binary and multi-label metrics follow v1's semantics
  (`keras_heads.compat.v1.metrics`);
* multi-label predictions are only `logits` and `probabilities`.

The regression heads (squared error, Poisson, logistic) behave as in v2:
their cores are the v2 classes themselves. A core's own `loss_reduction`
is never used: the v1 head reduces with v1's reductions.
"""

import keras
from keras import ops

from keras_heads import backend
from keras_heads import metrics
from keras_heads.compat.v1 import metrics as v1_metrics
from keras_heads.heads import classes
from keras_heads.heads.binary_class import BinaryClassHead
from keras_heads.heads.multi_class import MultiClassHead
from keras_heads.heads.multi_label import MultiLabelHead
from keras_heads.keys import MetricKeys
from keras_heads.keys import PredictionKeys
from keras_heads.keys import SignatureKeys
from keras_heads.ops import labels as label_ops
from keras_heads.ops.reduction import Reduction
from keras_heads.spec import ClassificationOutput
from keras_heads.spec import PredictOutput

# The reduction cores are built with; never used (see the module docstring).
UNUSED_REDUCTION = Reduction.SUM

_TOO_LARGE = "Labels must <= n_classes - 1 (n_classes={})"
_TOO_SMALL = "Labels must >= 0"
# What v1 predicted for a class id that its vocabulary does not reach.
_UNKNOWN_CLASS = "UNK"


def _label_ids(labels, vocabulary):
    """Class ids of string `labels` (-1 for unknown names while tracing)."""
    if not backend.is_string(labels):
        dtype = keras.backend.standardize_dtype(labels.dtype)
        raise ValueError(
            "Labels dtype should be string if there is a vocabulary. Instead "
            f"got <dtype: '{dtype}'>; label_vocabulary={list(vocabulary)}."
        )
    ids = backend.lookup_ids(labels, vocabulary)
    if not backend.is_traced(ids) and bool(ops.any(ids < 0)):
        raise ValueError(
            f"{_TOO_SMALL}: labels has values that are not in "
            f"label_vocabulary {list(vocabulary)}: "
            f"{label_ops.unknown_labels(labels, ids)}."
        )
    return ids


class BinaryCore(BinaryClassHead):
    """`BinaryClassHead` with v1's label errors and metrics.

    Metrics: `accuracy/positive_threshold_<t>` counts `p >= t`, `auc` and
    `auc_precision_recall` are v1's trapezoidal AUCs, `accuracy_baseline` is
    1.0 before any label.

    Example:

    >>> core = BinaryCore(thresholds=[0.5])
    >>> eval_metrics = core.metrics()
    >>> _ = core.update_metrics(eval_metrics, {}, logits=[[0.0], [2.0]],
    ...                         labels=[[1], [0]])
    >>> float(eval_metrics["accuracy/positive_threshold_0.5"].result())
    0.5
    """

    def __init__(self, weight_column=None, thresholds=None,
                 label_vocabulary=None, loss_fn=None, name=None):
        super().__init__(
            weight_column=weight_column, thresholds=thresholds,
            label_vocabulary=label_vocabulary,
            loss_reduction=UNUSED_REDUCTION, loss_fn=loss_fn, name=name,
        )

    def _processed_labels(self, logits, labels):
        labels = label_ops.check_dense_labels(labels, logits, 1)
        if self._label_vocabulary is not None:
            labels = _label_ids(labels, self._label_vocabulary)
        elif backend.is_string(labels):
            raise ValueError(
                "String labels need a label_vocabulary: pass "
                "label_vocabulary=[<negative class>, <positive class>], or "
                "give labels as 0/1 numbers."
            )
        labels = ops.cast(labels, "float32")
        return label_ops.guard_range(
            labels, 0.0, 1.0, _TOO_LARGE.format(2), _TOO_SMALL
        )

    def _metric_objects(self):
        objects = {
            MetricKeys.ACCURACY: metrics.Accuracy(),
            MetricKeys.PRECISION: metrics.Precision(),
            MetricKeys.RECALL: metrics.Recall(),
            MetricKeys.PREDICTION_MEAN: metrics.Mean(
                name=MetricKeys.PREDICTION_MEAN
            ),
            MetricKeys.LABEL_MEAN: metrics.Mean(name=MetricKeys.LABEL_MEAN),
            MetricKeys.ACCURACY_BASELINE: v1_metrics.AccuracyBaseline(),
            MetricKeys.AUC: v1_metrics.AUC(),
            MetricKeys.AUC_PR: v1_metrics.AUC(
                curve="PR", name=MetricKeys.AUC_PR
            ),
        }
        for t in self._thresholds:
            objects.update(v1_metrics.threshold_metrics(t))
        return objects

    def _update_head_metrics(self, eval_metrics, batch):
        key = self._key
        y, w = batch.labels, batch.weights
        histogram = v1_metrics.ScoreHistogram(
            y, batch.logits, w,
            num_buckets=eval_metrics[key(MetricKeys.AUC)].num_thresholds,
            thresholds=v1_metrics.histogram_thresholds(self._thresholds),
            decisions=batch.logits > 0.0, activation=ops.sigmoid,
        )
        # Precision and recall of the class ids: labels and ids as booleans.
        at_class_ids = histogram.at_decisions()
        for metric_key in (
            MetricKeys.ACCURACY, MetricKeys.PRECISION, MetricKeys.RECALL
        ):
            eval_metrics[key(metric_key)].add_counts(at_class_ids)
        eval_metrics[key(MetricKeys.PREDICTION_MEAN)].update_state(
            ops.sigmoid(batch.logits), w
        )
        eval_metrics[key(MetricKeys.LABEL_MEAN)].update_state(y, w)
        eval_metrics[key(MetricKeys.ACCURACY_BASELINE)].update_state(y, w)
        classes.update_auc_metrics(eval_metrics, key, histogram)
        v1_metrics.update_threshold_metrics(
            eval_metrics, key, self._thresholds, histogram
        )


class MultiClassCore(MultiClassHead):
    """`MultiClassHead` with v1's label errors, and a vocabulary of any
    length.

    Example:

    >>> core = MultiClassCore(3, label_vocabulary=["a", "b"])
    >>> p = core.predictions(np.array([[0.0, 0.0, 5.0]], "float32"))
    >>> np.asarray(p["classes"]).ravel().tolist()
    [b'UNK']
    >>> np.asarray(p["all_classes"]).tolist()
    [[b'a', b'b']]
    """

    def __init__(self, n_classes, weight_column=None, label_vocabulary=None,
                 loss_fn=None, name=None):
        super().__init__(
            n_classes, weight_column=weight_column,
            loss_reduction=UNUSED_REDUCTION, loss_fn=loss_fn, name=name,
        )
        # The names of `all_classes` and the export's classes.
        self._all_class_names = self._class_names
        if label_vocabulary is not None:
            vocabulary = classes.validate_vocabulary(label_vocabulary)
            self._label_vocabulary = vocabulary
            self._all_class_names = list(vocabulary)
            # The name of each class id, for `classes`.
            self._class_names = [
                vocabulary[i] if i < len(vocabulary) else _UNKNOWN_CLASS
                for i in range(n_classes)
            ]

    def _processed_labels(self, logits, labels):
        labels = label_ops.check_dense_labels(labels, logits, 1)
        n = self._n_classes
        if self._label_vocabulary is not None:
            labels = _label_ids(labels, self._label_vocabulary)
        elif backend.is_string(labels) or not keras.backend.is_int_dtype(
            keras.backend.standardize_dtype(labels.dtype)
        ):
            dtype = "string" if backend.is_string(labels) else (
                keras.backend.standardize_dtype(labels.dtype)
            )
            raise ValueError(
                f"Labels dtype should be integer. Instead got <dtype: "
                f"'{dtype}'>. Give class ids in [0, {n}), or class names "
                "with a label_vocabulary."
            )
        return label_ops.guard_range(
            labels, 0, n - 1, _TOO_LARGE.format(n), _TOO_SMALL
        )

    def predictions(self, logits, keys=None):
        """The v2 predictions; `all_classes` is the vocabulary as given."""
        out = super().predictions(logits, keys)
        if (PredictionKeys.ALL_CLASSES in out
                and self._all_class_names != self._class_names):
            out[PredictionKeys.ALL_CLASSES] = backend.tiled_strings(
                self._all_class_names,
                label_ops.check_logits(logits, self._n_classes),
            )
        return out


class MultiLabelCore(MultiLabelHead):
    """`MultiLabelHead` with v1's predictions (`logits`, `probabilities`)
    and metrics (trapezoidal AUCs, `p >= t` accuracies).

    Example:

    >>> core = MultiLabelCore(n_classes=2)
    >>> sorted(core.predictions(np.zeros((1, 2), "float32")))
    ['logits', 'probabilities']
    """

    _prediction_keys = (PredictionKeys.LOGITS, PredictionKeys.PROBABILITIES)
    _string_prediction_keys = ()

    def __init__(self, n_classes, weight_column=None, thresholds=None,
                 label_vocabulary=None, loss_fn=None,
                 classes_for_class_based_metrics=None, name=None):
        super().__init__(
            n_classes, weight_column=weight_column, thresholds=thresholds,
            label_vocabulary=label_vocabulary,
            loss_reduction=UNUSED_REDUCTION, loss_fn=loss_fn,
            classes_for_class_based_metrics=classes_for_class_based_metrics,
            name=name,
        )

    def predictions(self, logits, keys=None):
        """`logits` and `probabilities` (no `classes`, as in v1)."""
        return super().predictions(logits, keys or self._prediction_keys)

    def _export_outputs(self, predictions):
        scores = predictions[PredictionKeys.PROBABILITIES]
        classification = ClassificationOutput(
            scores=scores,
            classes=backend.tiled_strings(self._class_names, scores),
        )
        return {
            SignatureKeys.DEFAULT: classification,
            SignatureKeys.CLASSIFY: classification,
            SignatureKeys.PREDICT: PredictOutput(predictions),
        }

    def _metric_objects(self):
        objects = {
            MetricKeys.AUC: v1_metrics.AUC(),
            MetricKeys.AUC_PR: v1_metrics.AUC(
                curve="PR", name=MetricKeys.AUC_PR
            ),
        }
        for t in self._thresholds:
            objects.update(v1_metrics.threshold_metrics(t))
        for class_id in self._metric_classes:
            mean_key, auc_key, auc_pr_key = self._class_keys(class_id)
            objects[mean_key] = metrics.Mean(name=mean_key)
            objects[auc_key] = v1_metrics.AUC(name=auc_key)
            objects[auc_pr_key] = v1_metrics.AUC(curve="PR", name=auc_pr_key)
        return objects

    def _update_head_metrics(self, eval_metrics, batch):
        key = self._key
        y, w = batch.labels, batch.weights
        num_buckets = eval_metrics[key(MetricKeys.AUC)].num_thresholds
        histogram = v1_metrics.ScoreHistogram(
            y, batch.logits, w, num_buckets=num_buckets,
            thresholds=v1_metrics.histogram_thresholds(self._thresholds),
            activation=ops.sigmoid,
        )
        classes.update_auc_metrics(eval_metrics, key, histogram)
        v1_metrics.update_threshold_metrics(
            eval_metrics, key, self._thresholds, histogram
        )
        if not self._metric_classes:
            return
        selected = list(self._metric_classes)
        p = ops.sigmoid(ops.take(batch.logits, selected, axis=-1))
        per_class = v1_metrics.ScoreHistogram(
            ops.take(y, selected, axis=-1), p, w, num_buckets=num_buckets,
            by_column=True,
        )
        weights = metrics.broadcast_weights(w, p)
        totals = ops.sum(ops.reshape(p * weights, (-1, len(selected))), axis=0)
        count = ops.sum(weights[..., 0])
        for column, class_id in enumerate(selected):
            mean_key, auc_key, auc_pr_key = self._class_keys(class_id)
            eval_metrics[key(mean_key)].add_sums(totals[column], count)
            eval_metrics[key(auc_key)].add_histogram(per_class, column)
            eval_metrics[key(auc_pr_key)].add_histogram(per_class, column)
