"""`MultiLabelHead`: any number of labels out of `n_classes` per example."""

import keras
import numpy as np
from keras import ops

from keras_heads import backend
from keras_heads import metrics
from keras_heads.heads import classes
from keras_heads.heads.base import SingleHead
from keras_heads.heads.base import select_keys
from keras_heads.heads.config import register
from keras_heads.keys import MetricKeys
from keras_heads.keys import PredictionKeys
from keras_heads.ops import labels as label_ops
from keras_heads.ops import losses
from keras_heads.ops import sparse
from keras_heads.ops.reduction import Reduction

_KEYS = (
    PredictionKeys.LOGITS,
    PredictionKeys.PROBABILITIES,
    PredictionKeys.CLASSES,
)
_INDICATOR_RANGE = (
    "labels must be an integer indicator Tensor with values in [0, 1]"
)


@register
class MultiLabelHead(SingleHead):
    """A head for multi-label classification: one sigmoid per class.

    The loss is the sigmoid cross-entropy averaged over the classes, one value
    per example. Logits are `[D0, ..., DN, n_classes]`. Labels come either
    dense, as a `[D0, ..., DN, n_classes]` multi-hot indicator, or sparse, as
    the class ids (or, with a `label_vocabulary`, class names) of each
    example: a `tf.SparseTensor` on TensorFlow or a
    `keras_heads.SparseTensorValue(indices, values, dense_shape)` on any
    backend, of dense shape `[D0, ..., DN, max labels per example]`.

    Args:
      n_classes: number of classes, > 1.
      weight_column: a feature key or `keras_heads.numeric_column` naming the
        example weights (one per example) in `features`.
      thresholds: distinct thresholds in (0, 1) for the extra `accuracy`,
        `precision` and `recall` metrics `.../positive_threshold_<t>`, pooled
        over all classes.
      label_vocabulary: `n_classes` class names, for sparse string labels and
        the `classes` prediction.
      loss_reduction: one of `keras_heads.Reduction` except `NONE`; the
        default divides by the number of examples.
      loss_fn: optional `loss_fn(labels, logits[, features])` returning the
        unreduced `[D0, ..., DN, 1]` loss; labels are the multi-hot tensor.
      classes_for_class_based_metrics: class ids or names that get their own
        `probability_mean`, `auc` and `auc_precision_recall` metrics.
      name: suffixes the metric keys; required in `MultiHead`.

    Example:

    >>> head = MultiLabelHead(n_classes=2)
    >>> logits = np.array([[-10.0, 10.0], [-15.0, 10.0]], "float32")
    >>> dense = np.array([[1, 0], [1, 1]], "int64")
    >>> round(float(head.loss(labels=dense, logits=logits)), 4)
    8.75
    >>> ids = keras_heads.SparseTensorValue(
    ...     indices=[[0, 0], [1, 0], [1, 1]], values=[0, 0, 1],
    ...     dense_shape=[2, 2])
    >>> round(float(head.loss(labels=ids, logits=logits)), 4)
    8.75
    """

    _prediction_keys = _KEYS
    _string_prediction_keys = (PredictionKeys.CLASSES,)

    def __init__(self, n_classes, weight_column=None, thresholds=None,
                 label_vocabulary=None,
                 loss_reduction=Reduction.SUM_OVER_BATCH_SIZE, loss_fn=None,
                 classes_for_class_based_metrics=None, name=None):
        if n_classes is None or n_classes < 2:
            raise ValueError(
                "n_classes must be > 1 for multi-label classification. "
                f"Given: {n_classes}"
            )
        thresholds = classes.validate_thresholds(
            thresholds,
            lambda _, t: f"thresholds must be in (0, 1) range. Given: {t}",
        )
        self._label_vocabulary = classes.validate_vocabulary(
            label_vocabulary, error="must be a list or tuple"
        )
        if (
            self._label_vocabulary is not None
            and len(self._label_vocabulary) != n_classes
        ):
            raise ValueError(
                f"Length of label_vocabulary must be n_classes ({n_classes}). "
                f"Given: {len(self._label_vocabulary)}"
            )
        super().__init__(weight_column, loss_reduction, loss_fn, name)
        self._n_classes = n_classes
        self._thresholds = thresholds
        self._classes_for_class_based_metrics = classes_for_class_based_metrics
        self._class_names = classes.class_names(
            n_classes, self._label_vocabulary
        )
        self._metric_classes = self._class_ids_for_metrics(
            classes_for_class_based_metrics
        )

    def _class_ids_for_metrics(self, selected):
        if not selected:
            return ()
        selected = tuple(selected)
        if isinstance(selected[0], str):
            if not self._label_vocabulary:
                raise ValueError(
                    "label_vocabulary must be provided when "
                    "classes_for_class_based_metrics are strings."
                )
            unknown = [c for c in selected if c not in self._label_vocabulary]
            if unknown:
                raise ValueError(
                    f"'{unknown[0]}' is not in list: every name in "
                    "classes_for_class_based_metrics must be in "
                    f"label_vocabulary {list(self._label_vocabulary)}."
                )
            return tuple(self._label_vocabulary.index(c) for c in selected)
        for class_id in selected:
            if not 0 <= class_id < self._n_classes:
                raise ValueError(
                    "All classes_for_class_based_metrics must be in range "
                    f"[0, {self._n_classes - 1}]. Given: {class_id}"
                )
        return selected

    def _arguments(self):
        return {
            **self._common_arguments(),
            "n_classes": self._n_classes,
            "thresholds": list(self._thresholds),
            "label_vocabulary": self._label_vocabulary,
            "loss_fn": self._loss_fn,
            "classes_for_class_based_metrics": (
                self._classes_for_class_based_metrics
            ),
        }

    @property
    def logits_dimension(self):
        return self._n_classes

    # --- labels and loss ---------------------------------------------------------

    def _processed_labels(self, logits, labels):
        if backend.is_sparse(labels):
            labels = self._multi_hot(logits, labels)
        else:
            labels = label_ops.convert_labels(labels)
            if backend.is_string(labels):
                raise ValueError(
                    "Dense multi-label labels must be a numeric multi-hot "
                    "indicator; give class names as sparse labels "
                    "(tf.SparseTensor or keras_heads.SparseTensorValue)."
                )
            label_ops.guard_range(
                labels, 0, 1, _INDICATOR_RANGE, _INDICATOR_RANGE
            )
        return label_ops.check_dense_labels(labels, logits, self._n_classes)

    def _multi_hot(self, logits, labels):
        indices, values, dense_shape = backend.sparse_components(labels)
        sparse.check_indices(indices, dense_shape)
        batch_shape = dense_shape[:-1]
        if any(d is None for d in batch_shape):
            batch_shape = tuple(ops.shape(logits)[:-1])
        ids = self._sparse_class_ids(values)
        invalid = ops.logical_or(ids < 0, ids >= self._n_classes)
        multi_hot = sparse.to_multi_hot(
            indices, ops.where(invalid, 0, ids), batch_shape, self._n_classes
        )
        if backend.is_traced(ids):
            # Values are unknown while tracing: an example with an invalid id
            # gets labels of -1, which make its loss NaN (see _default_loss).
            poisoned = sparse.examples_with(indices, invalid, batch_shape)
            multi_hot = ops.where(ops.expand_dims(poisoned, -1), -1, multi_hot)
        return multi_hot

    def _sparse_class_ids(self, values):
        n = self._n_classes
        if backend.is_string(values):
            if self._label_vocabulary is None:
                raise ValueError(
                    "Sparse string labels need a label_vocabulary: pass "
                    "label_vocabulary=[...] (n_classes names) to "
                    "MultiLabelHead, or give class ids."
                )
            ids = backend.lookup_ids(values, self._label_vocabulary)
            if not backend.is_traced(ids) and bool(ops.any(ids < 0)):
                raise ValueError(
                    f"labels must be an integer SparseTensor with values in "
                    f"[0, {n}): sparse labels have names not in "
                    f"label_vocabulary {list(self._label_vocabulary)}: "
                    f"{label_ops.unknown_labels(values, ids)}."
                )
            return ids
        dtype = keras.backend.standardize_dtype(values.dtype)
        if not keras.backend.is_int_dtype(dtype):
            raise ValueError(
                f"Labels dtype should be integer. Instead got <dtype: "
                f"'{dtype}'>. Sparse multi-label labels are class ids in "
                f"[0, {n})."
            )
        if not backend.is_traced(values):
            array = ops.convert_to_numpy(values)
            bad = (array < 0) | (array >= n)
            if np.any(bad):
                raise ValueError(
                    "labels must be an integer SparseTensor with values in "
                    f"[0, {n}). Given: {array[bad][:5].tolist()}."
                )
        return values

    def _default_loss(self, labels, logits):
        labels, factors = label_ops.poison_examples_outside(labels, 0.0, 1.0)
        loss = ops.mean(
            losses.sigmoid_cross_entropy(labels, logits), axis=-1,
            keepdims=True,
        )
        return loss * factors

    def _evaluation_histogram(self, batch):
        """The metrics' histogram with the weighted loss sum as its `total`,
        when the loss is the head's own."""
        if self._loss_fn is not None:
            return None
        n_classes = self._n_classes

        def sigmoid_and_loss_sum(logits, labels, weights):
            labels = label_ops.poison_outside(labels, 0.0, 1.0)
            if backend.shares_sigmoid_exponential():
                loss, probabilities = losses.sigmoid_cross_entropy_and_sigmoid(
                    labels, logits
                )
            else:
                loss = losses.sigmoid_cross_entropy(labels, logits)
                probabilities = ops.sigmoid(logits)
            if weights is not None:
                loss = loss * weights
            # Each example's loss is the mean over its classes.
            return probabilities, ops.sum(loss) / n_classes

        return classes.logit_histogram(
            self._semantics, self._thresholds, batch.labels, batch.logits,
            batch.weights, sigmoid_and_loss_sum,
        )

    # --- predictions -----------------------------------------------------------

    def predictions(self, logits, keys=None):
        """`logits`, `probabilities` (sigmoid) and `classes` (every class
        name, tiled over the first dimension; not the predicted classes)."""
        keys = select_keys(keys, _KEYS)
        logits = label_ops.check_logits(logits, self._n_classes)
        out = {}
        if PredictionKeys.LOGITS in keys:
            out[PredictionKeys.LOGITS] = logits
        if PredictionKeys.PROBABILITIES in keys:
            out[PredictionKeys.PROBABILITIES] = ops.sigmoid(logits)
        if PredictionKeys.CLASSES in keys:
            out[PredictionKeys.CLASSES] = backend.tiled_strings(
                self._class_names, logits
            )
        return out

    # --- metrics ---------------------------------------------------------------

    def _class_keys(self, class_id):
        """The three per-class metric keys (by name with a vocabulary)."""
        if self._label_vocabulary is not None:
            name = self._label_vocabulary[class_id]
            return (
                MetricKeys.PROBABILITY_MEAN_AT_NAME % name,
                MetricKeys.AUC_AT_NAME % name,
                MetricKeys.AUC_PR_AT_NAME % name,
            )
        return (
            MetricKeys.PROBABILITY_MEAN_AT_CLASS % class_id,
            MetricKeys.AUC_AT_CLASS % class_id,
            MetricKeys.AUC_PR_AT_CLASS % class_id,
        )

    # How the metrics read the scores (tf.keras'); the v1 heads replace it.
    _semantics = classes.MetricSemantics

    def _metric_objects(self):
        auc = self._semantics.auc
        objects = classes.histogram_metrics(self._semantics, self._thresholds)
        for class_id in self._metric_classes:
            mean_key, auc_key, auc_pr_key = self._class_keys(class_id)
            objects[mean_key] = metrics.Mean(name=mean_key)
            objects[auc_key] = auc(name=auc_key)
            # The class's two AUCs read one histogram state.
            objects[auc_pr_key] = auc(
                curve="PR", name=auc_pr_key, totals=objects[auc_key].totals
            )
        return objects

    def _update_head_metrics(self, eval_metrics, batch):
        key, semantics = self._key, self._semantics
        y, w = batch.labels, batch.weights
        found_nan = classes.update_histogram_metrics(
            eval_metrics, key, y, batch.logits, w, histogram=batch.histogram
        )
        if not self._metric_classes:
            return found_nan
        selected = list(self._metric_classes)
        p = ops.sigmoid(ops.take(batch.logits, selected, axis=-1))
        per_class = semantics.histogram(
            ops.take(y, selected, axis=-1), p, w,
            num_buckets=eval_metrics[key(MetricKeys.AUC)].num_thresholds,
            by_column=True,
        )
        weights = metrics.broadcast_weights(w, p)
        probability_sums = ops.sum(
            ops.reshape(p * weights, (-1, len(selected))), axis=0
        )
        count = ops.sum(weights[..., 0])
        for column, class_id in enumerate(selected):
            mean_key, auc_key, _ = self._class_keys(class_id)
            eval_metrics[key(mean_key)].add_sums(
                probability_sums[column], count
            )
            eval_metrics[key(auc_key)].add_histogram(per_class, column)
        return found_nan

    # --- export ----------------------------------------------------------------

    def _export_outputs(self, predictions):
        return classes.classification_export_outputs(
            predictions, PredictionKeys.PROBABILITIES, PredictionKeys.CLASSES
        )
