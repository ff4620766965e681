"""`BinaryClassHead`: one logit per example, sigmoid cross-entropy."""

from keras import ops

from keras_heads import backend
from keras_heads.heads import classes
from keras_heads.heads.base import SingleHead
from keras_heads.heads.base import select_keys
from keras_heads.heads.config import register
from keras_heads.keys import MetricKeys
from keras_heads.keys import PredictionKeys
from keras_heads.keys import SignatureKeys
from keras_heads import metrics
from keras_heads.metrics.weights import weighted_sums
from keras_heads.ops import labels as label_ops
from keras_heads.ops import losses
from keras_heads.ops.reduction import Reduction
from keras_heads.spec import RegressionOutput

_KEYS = (
    PredictionKeys.LOGITS,
    PredictionKeys.LOGISTIC,
    PredictionKeys.PROBABILITIES,
    PredictionKeys.CLASS_IDS,
    PredictionKeys.CLASSES,
    PredictionKeys.ALL_CLASS_IDS,
    PredictionKeys.ALL_CLASSES,
)


def _out_of_range(thresholds, t):
    return (
        f"thresholds not in (0, 1): {thresholds}. Each threshold must be "
        f"strictly between 0 and 1; {t!r} is not."
    )


@register
class BinaryClassHead(SingleHead):
    """A head for binary classification with the sigmoid cross-entropy loss.

    Labels are `[D0, ..., DN, 1]` (or `[D0, ..., DN]`) values in [0, 1]
    (soft labels allowed), or class names when `label_vocabulary` is set
    (`label_vocabulary[0]` is the negative class). Logits are
    `[D0, ..., DN, 1]`.

    Args:
      weight_column: a feature key (string) or `keras_heads.numeric_column`
        naming the example weights in `features`.
      thresholds: distinct thresholds in (0, 1) for the extra `accuracy`,
        `precision` and `recall` metrics `.../positive_threshold_<t>`.
      label_vocabulary: two class names, e.g. `["no", "yes"]`; string labels
        are looked up in it and `classes` predictions are these names.
      loss_reduction: one of `keras_heads.Reduction` except `NONE`.
      loss_fn: optional `loss_fn(labels, logits[, features])` returning the
        unreduced `[D0, ..., DN, 1]` loss.
      name: suffixes the metric keys (`auc/<name>`); required in `MultiHead`.

    Example:

    >>> head = BinaryClassHead(label_vocabulary=["ham", "spam"])
    >>> logits = np.array([[2.0], [-1.0]], "float32")
    >>> loss = head.loss(labels=np.array([["spam"], ["ham"]]), logits=logits)
    >>> round(float(loss), 4)
    0.2201
    >>> np.asarray(head.predictions(logits)["classes"]).ravel().tolist()
    [b'spam', b'ham']
    """

    _prediction_keys = _KEYS
    _string_prediction_keys = (PredictionKeys.CLASSES, PredictionKeys.ALL_CLASSES)

    def __init__(self, weight_column=None, thresholds=None,
                 label_vocabulary=None,
                 loss_reduction=Reduction.SUM_OVER_BATCH_SIZE, loss_fn=None,
                 name=None):
        self._label_vocabulary = classes.validate_vocabulary(label_vocabulary)
        if self._label_vocabulary is not None and len(label_vocabulary) != 2:
            raise ValueError(
                "label_vocabulary of a BinaryClassHead must have 2 entries "
                "(negative class, positive class). Given "
                f"{len(label_vocabulary)}: {list(label_vocabulary)}"
            )
        self._thresholds = classes.validate_thresholds(
            thresholds, _out_of_range
        )
        super().__init__(weight_column, loss_reduction, loss_fn, name)
        self._class_names = classes.class_names(2, self._label_vocabulary)

    def _arguments(self):
        return {
            **self._common_arguments(),
            "thresholds": list(self._thresholds),
            "label_vocabulary": self._label_vocabulary,
            "loss_fn": self._loss_fn,
        }

    @property
    def logits_dimension(self):
        return 1

    # --- labels and loss ---------------------------------------------------------

    def _processed_labels(self, logits, labels):
        labels = label_ops.check_dense_labels(labels, logits, 1)
        if self._label_vocabulary is not None:
            labels = classes.ids_from_string_labels(
                labels, self._label_vocabulary
            )
        elif backend.is_string(labels):
            raise ValueError(
                "String labels need a label_vocabulary: pass "
                "label_vocabulary=[<negative class>, <positive class>] to "
                "BinaryClassHead, or give labels as 0/1 numbers."
            )
        if backend.is_traced(labels):
            return label_ops.poison_outside(labels, 0.0, 1.0)
        labels = label_ops.guard_range(
            labels, 0.0, 1.0, "Labels must be <= 2 - 1", "Labels must be >= 0"
        )
        return ops.cast(labels, "float32")

    def _default_loss(self, labels, logits):
        return losses.sigmoid_cross_entropy(labels, logits)

    # --- predictions -----------------------------------------------------------

    def predictions(self, logits, keys=None):
        """Returns the predictions in `keys` (default: all seven).

        `logistic` is `sigmoid(logits)`; `probabilities` is
        `softmax([0, logits])`, computed as `[sigmoid(-logits), logistic]`:
        an infinite logit gives `[1, 0]` or `[0, 1]` on every backend, as
        `logistic` gives 0 or 1. `class_ids` is 1 iff `logits > 0`. A NaN
        logit is not: its class is 0, the first maximum of its `[NaN, NaN]`
        probabilities by NumPy's rule (`classes.first_argmax`), and its
        `logistic` is NaN.
        """
        keys = select_keys(keys, _KEYS)
        logits = label_ops.check_logits(logits, 1)
        # `softmax([0, x])` is `sigmoid([-x, x])`, which needs no `inf - inf`
        # for an infinite x. `[-x, x]` has its first maximum at 1 iff x > 0,
        # and is `[NaN, NaN]` (class 0) for a NaN x.
        symmetric = ops.concatenate([-logits, logits], axis=-1)
        out = {}
        if PredictionKeys.LOGITS in keys:
            out[PredictionKeys.LOGITS] = logits
        if PredictionKeys.LOGISTIC in keys:
            out[PredictionKeys.LOGISTIC] = ops.sigmoid(logits)
        if PredictionKeys.PROBABILITIES in keys:
            out[PredictionKeys.PROBABILITIES] = ops.sigmoid(symmetric)
        out.update(
            classes.class_predictions(symmetric, self._class_names, keys)
        )
        return {key: out[key] for key in keys}

    # --- metrics ---------------------------------------------------------------

    # How the metrics read the scores (tf.keras'); the v1 heads replace it.
    _semantics = classes.MetricSemantics

    def _metric_objects(self):
        semantics = self._semantics
        # One histogram state for the AUCs, the threshold metrics and the
        # class-id metrics (the decision `logits > 0`).
        shared = classes.histogram_metrics(
            semantics, self._thresholds, decisions=True
        )
        totals = shared[MetricKeys.AUC].totals
        at_class_ids = dict(threshold=None, totals=totals)
        return {
            MetricKeys.ACCURACY: metrics.BinaryAccuracy(
                name=MetricKeys.ACCURACY, **at_class_ids
            ),
            MetricKeys.PRECISION: metrics.Precision(**at_class_ids),
            MetricKeys.RECALL: metrics.Recall(**at_class_ids),
            MetricKeys.PREDICTION_MEAN: metrics.Mean(
                name=MetricKeys.PREDICTION_MEAN
            ),
            MetricKeys.LABEL_MEAN: metrics.Mean(name=MetricKeys.LABEL_MEAN),
            MetricKeys.ACCURACY_BASELINE: semantics.accuracy_baseline(),
            **shared,
        }

    def _update_head_metrics(self, eval_metrics, batch):
        key = self._key
        y, w = batch.labels, batch.weights
        found_nan = classes.update_histogram_metrics(
            eval_metrics, key, y, batch.logits, w,
            decisions=batch.logits > 0.0,
        )
        (prediction_sum, label_sum), weight_sum = weighted_sums(
            [ops.sigmoid(batch.logits), y], w
        )
        eval_metrics[key(MetricKeys.PREDICTION_MEAN)].add_sums(
            prediction_sum, weight_sum
        )
        for mean_of_labels in (MetricKeys.LABEL_MEAN,
                               MetricKeys.ACCURACY_BASELINE):
            eval_metrics[key(mean_of_labels)].add_sums(label_sum, weight_sum)
        return found_nan

    # --- export ----------------------------------------------------------------

    def _export_outputs(self, predictions):
        outputs = classes.classification_export_outputs(
            predictions, PredictionKeys.PROBABILITIES, PredictionKeys.ALL_CLASSES
        )
        outputs[SignatureKeys.REGRESS] = RegressionOutput(
            predictions[PredictionKeys.LOGISTIC]
        )
        return outputs
