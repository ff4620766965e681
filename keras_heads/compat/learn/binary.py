"""Binary heads: the logistic head of `multi_class_head(n_classes=2)` and
`binary_svm_head`."""

import functools

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
from keras_heads.compat.learn.metrics import PrecisionAtThreshold
from keras_heads.compat.learn.metrics import RecallAtThreshold
from keras_heads.compat.learn.metrics import ScoreHistogram
from keras_heads.compat.learn.metrics import TrapezoidAUC
from keras_heads.compat.learn.metrics import add_column_means
from keras_heads.ops import losses as core_losses


class _BinaryLogisticHead(SingleHead):
    """Binary classification with logistic regression (one logit)."""

    _problem_type = ProblemType.LOGISTIC_REGRESSION
    _default_scope = "binary_logistic_head"
    _prediction_keys = (
        PredictionKey.LOGITS,
        PredictionKey.LOGISTIC,
        PredictionKey.PROBABILITIES,
        PredictionKey.CLASSES,
    )

    def __init__(self, label_name=None, weight_column_name=None,
                 enable_centered_bias=False, head_name=None, loss_fn=None,
                 thresholds=None):
        super().__init__(1, label_name, weight_column_name,
                         enable_centered_bias, head_name, loss_fn)
        self._thresholds = common.unique_thresholds(thresholds)

    def _transform_labels(self, labels):
        return common.numeric(
            common.dense_labels(labels),
            "multi_class_head(n_classes=2) (0/1 labels; label_keys is not "
            "supported for n_classes=2)",
        )

    def _align_labels(self, labels, logits):
        values = common.with_trailing_axis(ops.cast(labels, "float32"))
        if not common.compatible(tuple(values.shape), tuple(logits.shape)):
            raise ValueError(
                "logits and labels must have the same shape "
                f"({tuple(logits.shape)} vs {tuple(values.shape)}): labels "
                "are [batch_size, 1] or [batch_size] for logits of shape "
                "[batch_size, 1]."
            )
        return Labels(labels, values)

    def _unreduced_loss(self, labels, logits):
        return core_losses.sigmoid_cross_entropy(labels.values, logits)

    def _predictions(self, logits, keys=None):
        two_class = common.two_class(logits)
        return common.selected({
            PredictionKey.LOGITS: logits,
            PredictionKey.LOGISTIC: ops.sigmoid(logits),
            PredictionKey.PROBABILITIES: ops.softmax(two_class, axis=-1),
            PredictionKey.CLASSES: ops.cast(
                ops.argmax(two_class, axis=-1), backend.int64()
            ),
        }, keys)

    def _head_metric_factories(self):
        # The AUCs and the precision and recall at each threshold read one
        # histogram state, made when the first of them is (so metrics that
        # are never built, as in a lazy TRAIN spec, make none).
        totals = functools.cache(lambda: metrics.HistogramTotals(
            common.AUC_THRESHOLDS, thresholds=self._thresholds,
            histogram=ScoreHistogram,
        ))

        def shared(cls, key, **kwargs):
            return lambda: cls(name=key, totals=totals(), **kwargs)

        factories = {
            MetricKey.ACCURACY: common.metric(
                metrics.Accuracy, MetricKey.ACCURACY
            ),
            MetricKey.PREDICTION_MEAN: common.metric(
                metrics.Mean, MetricKey.PREDICTION_MEAN
            ),
            MetricKey.LABEL_MEAN: common.metric(
                metrics.Mean, MetricKey.LABEL_MEAN
            ),
            MetricKey.ACCURACY_BASELINE: common.metric(
                metrics.Mean, MetricKey.ACCURACY_BASELINE
            ),
            MetricKey.AUC: shared(TrapezoidAUC, MetricKey.AUC),
            MetricKey.AUC_PR: shared(
                TrapezoidAUC, MetricKey.AUC_PR, curve="PR"
            ),
        }
        for t in self._thresholds:
            accuracy = MetricKey.ACCURACY_MEAN % t
            precision = MetricKey.PRECISION_MEAN % t
            recall = MetricKey.RECALL_MEAN % t
            factories[accuracy] = common.metric(metrics.Accuracy, accuracy)
            factories[precision] = shared(
                PrecisionAtThreshold, precision, threshold=t
            )
            factories[recall] = shared(RecallAtThreshold, recall, threshold=t)
        return factories

    def _update_head_metrics(self, metrics_, logits, labels, weights):
        y = labels.values
        weights = losses.weights_like(weights, y)
        logistic = ops.sigmoid(logits)
        thresholds = list(self._thresholds)
        # Accuracy at threshold t: positive iff p >= t (not strict).
        at_thresholds = ops.cast(
            logistic >= ops.convert_to_tensor(thresholds, "float32"),
            "float32",
        )
        class_ids = ops.cast(logits > 0.0, "float32")
        columns = ops.concatenate(
            [
                logistic, y, y,
                ops.cast(ops.equal(class_ids, y), "float32"),
                ops.cast(ops.equal(at_thresholds, y), "float32"),
            ],
            axis=-1,
        )
        add_column_means(
            [
                metrics_[key] for key in (
                    MetricKey.PREDICTION_MEAN, MetricKey.LABEL_MEAN,
                    MetricKey.ACCURACY_BASELINE, MetricKey.ACCURACY,
                )
            ]
            + [metrics_[MetricKey.ACCURACY_MEAN % t] for t in thresholds],
            columns, weights,
        )
        # AUCs and precision / recall (positive iff p > t): one histogram.
        totals = metrics_[MetricKey.AUC].totals
        totals.add(totals.histogram(y, logits, weights, activation=ops.sigmoid))

    def _output_alternative(self, logits, predictions, defer):
        return common.classification_alternative(
            self._problem_type, predictions[PredictionKey.PROBABILITIES],
            ["0", "1"], defer,
        )


# --- binary SVM --------------------------------------------------------------


class _BinarySvmHead(SingleHead):
    """Binary classification with the hinge loss of an SVM."""

    _problem_type = ProblemType.LOGISTIC_REGRESSION
    _default_scope = "binary_svm_head"
    _prediction_keys = (PredictionKey.LOGITS, PredictionKey.CLASSES)

    def __init__(self, label_name=None, weight_column_name=None,
                 enable_centered_bias=False, head_name=None, thresholds=None):
        super().__init__(1, label_name, weight_column_name,
                         enable_centered_bias, head_name)
        # Stored, unused (as in the reference).
        self._thresholds = common.unique_thresholds(thresholds)

    def _transform_labels(self, labels):
        return common.numeric(
            common.dense_labels(labels), "binary_svm_head (0/1 labels)"
        )

    def _align_labels(self, labels, logits):
        if len(labels.shape) > 2:
            raise ValueError(
                "labels shape should be either [batch_size, 1] or "
                f"[batch_size]; got {tuple(labels.shape)}."
            )
        values = ops.reshape(ops.cast(labels, "float32"), (-1, 1))
        if not common.compatible(tuple(logits.shape), tuple(values.shape)):
            raise ValueError(
                f"Shapes {tuple(logits.shape)} and {tuple(values.shape)} are "
                "incompatible: one 0/1 label per example ([batch_size] or "
                "[batch_size, 1]) for logits of shape [batch_size, 1]."
            )
        return Labels(labels, values)

    def _unreduced_loss(self, labels, logits):
        return losses.hinge(labels.values, logits)

    def _predictions(self, logits, keys=None):
        return common.selected({
            PredictionKey.LOGITS: logits,
            PredictionKey.CLASSES: ops.cast(
                ops.argmax(common.two_class(logits), axis=-1), backend.int64()
            ),
        }, keys)

    def _head_metric_factories(self):
        return {
            MetricKey.ACCURACY: common.metric(
                metrics.Accuracy, MetricKey.ACCURACY
            )
        }

    def _update_head_metrics(self, metrics_, logits, labels, weights):
        y = labels.values
        matches = ops.equal(ops.cast(logits > 0.0, "float32"), y)
        add_column_means([metrics_[MetricKey.ACCURACY]],
                         ops.cast(matches, "float32"),
                         losses.weights_like(weights, y))

    def _output_alternative(self, logits, predictions, defer):
        return self._problem_type, predictions


def binary_svm_head(label_name=None, weight_column_name=None,
                    enable_centered_bias=False, head_name=None,
                    thresholds=None):
    """A head for binary classification with an SVM: the hinge loss
    `max(0, 1 - (2y - 1) x)` of 0/1 labels `y`.

    Predictions: `logits` and `classes` (1 iff `logits > 0`). Metrics:
    `loss` and `accuracy`. `thresholds` are stored but unused. The output
    alternative `(LOGISTIC_REGRESSION, predictions)` has neither scores nor
    string classes, so `ModelFnOps.estimator_spec()` cannot export it.

    Example:

    >>> from keras_heads.compat import learn
    >>> head = learn.binary_svm_head()
    >>> ops_ = head.create_model_fn_ops(
    ...     features={}, mode=learn.ModeKeys.EVAL, labels=np.array([0, 1]),
    ...     logits=np.array([[-0.5], [1.2]]))
    >>> float(ops_.loss)       # mean([0.5, 0.0])
    0.25
    """
    return _BinarySvmHead(
        label_name=label_name,
        weight_column_name=weight_column_name,
        enable_centered_bias=enable_centered_bias,
        head_name=head_name,
        thresholds=thresholds,
    )
