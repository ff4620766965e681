"""Regression heads: squared error, Poisson and logistic regression."""


from keras import ops

from keras_heads import backend
from keras_heads.heads.base import SingleHead
from keras_heads.heads.config import register
from keras_heads.keys import MetricKeys
from keras_heads.keys import PredictionKeys
from keras_heads.keys import SignatureKeys
from keras_heads import metrics
from keras_heads.ops import labels as label_ops
from keras_heads.ops import losses
from keras_heads.ops.reduction import Reduction
from keras_heads.spec import PredictOutput
from keras_heads.spec import RegressionOutput


@register
class RegressionHead(SingleHead):
    """A head for regression with the squared-error loss.

    Labels and logits are `[D0, ..., DN, label_dimension]` (labels may be
    `[D0, ..., DN]` when `label_dimension` is 1). Weights may be per example
    or per label dimension.

    Args:
      label_dimension: number of regression targets per example, a Python
        int >= 1.
      weight_column: a feature key or `keras_heads.numeric_column` naming the
        example weights in `features`.
      loss_reduction: one of `keras_heads.Reduction` except `NONE`; the
        default divides by the number of loss elements
        (`batch * label_dimension`).
      loss_fn: optional `loss_fn(labels, logits[, features])` returning the
        unreduced `[D0, ..., DN, label_dimension]` loss.
      inverse_link_fn: optional `f(logits)` giving the predictions (e.g.
        `keras.ops.exp`); the loss still uses the logits. With it, the
        predictions also contain `logits`.
      name: suffixes the metric keys; required in `MultiHead`.

    Example:

    >>> head = RegressionHead()
    >>> logits = np.array([[45.0], [41.0]], "float32")
    >>> float(head.loss(labels=np.array([[43], [44]]), logits=logits))
    6.5
    """

    _allow_per_logit_weights = True

    def __init__(self, label_dimension=1, weight_column=None,
                 loss_reduction=Reduction.SUM_OVER_BATCH_SIZE, loss_fn=None,
                 inverse_link_fn=None, name=None):
        if (not isinstance(label_dimension, int)
                or isinstance(label_dimension, bool)):
            raise ValueError(
                "label_dimension must be a Python int >= 1. Given: "
                f"{label_dimension!r} of type {type(label_dimension).__name__}."
            )
        if label_dimension < 1:
            raise ValueError(
                f"Invalid label_dimension {label_dimension}. It must be an "
                "int >= 1."
            )
        super().__init__(weight_column, loss_reduction, loss_fn, name)
        self._label_dimension = label_dimension
        self._inverse_link_fn = inverse_link_fn

    def _arguments(self):
        return {
            **self._common_arguments(),
            "label_dimension": self._label_dimension,
            "loss_fn": self._loss_fn,
            "inverse_link_fn": self._inverse_link_fn,
        }

    @property
    def logits_dimension(self):
        return self._label_dimension

    @property
    def _loss_dimension(self):
        return self._label_dimension

    def _processed_labels(self, logits, labels):
        labels = label_ops.check_dense_labels(
            labels, logits, self._label_dimension
        )
        if backend.is_string(labels):
            raise ValueError(
                "Regression labels must be numeric; got string labels."
            )
        return ops.cast(labels, "float32")

    def _default_loss(self, labels, logits):
        return losses.squared_error(labels, logits)

    def predictions(self, logits):
        """`{"predictions": f(logits)}` (plus `"logits"` with a link)."""
        logits = label_ops.check_logits(logits, self._label_dimension)
        if self._inverse_link_fn is None:
            return {PredictionKeys.PREDICTIONS: logits}
        return {
            PredictionKeys.PREDICTIONS: ops.cast(
                self._inverse_link_fn(logits), "float32"
            ),
            PredictionKeys.LOGITS: logits,
        }

    def _metric_objects(self):
        return {
            MetricKeys.PREDICTION_MEAN: metrics.Mean(
                name=MetricKeys.PREDICTION_MEAN
            ),
            MetricKeys.LABEL_MEAN: metrics.Mean(name=MetricKeys.LABEL_MEAN),
        }

    def _update_head_metrics(self, eval_metrics, batch):
        predictions = self.predictions(batch.logits)[PredictionKeys.PREDICTIONS]
        eval_metrics[self._key(MetricKeys.PREDICTION_MEAN)].update_state(
            predictions, batch.weights
        )
        # The reference averages the labels as given, before any reshape.
        eval_metrics[self._key(MetricKeys.LABEL_MEAN)].update_state(
            ops.convert_to_tensor(batch.raw_labels), batch.weights
        )

    def _export_outputs(self, predictions):
        regression = RegressionOutput(predictions[PredictionKeys.PREDICTIONS])
        return {
            SignatureKeys.DEFAULT: regression,
            SignatureKeys.REGRESS: regression,
            SignatureKeys.PREDICT: PredictOutput(predictions),
        }


@register
class PoissonRegressionHead(RegressionHead):
    """A head for Poisson regression: `predictions = exp(logits)`.

    The loss is the negative log-likelihood `exp(x) - x * z`, plus (with
    `compute_full_loss`) Stirling's approximation of `log(z!)` for labels
    above 1. Labels are counts; predictions overflow to `inf` past
    `logits = 88` in float32, as `exp` does.

    Example:

    >>> head = PoissonRegressionHead()
    >>> logits = np.array([[0.0], [-1.0], [1.0]], "float32")
    >>> loss = head.loss(labels=np.array([[1], [2], [3]]), logits=logits)
    >>> round(float(loss), 4)
    1.834
    """

    def __init__(self, label_dimension=1, weight_column=None,
                 loss_reduction=Reduction.SUM_OVER_BATCH_SIZE,
                 compute_full_loss=True, name=None):
        self._compute_full_loss = compute_full_loss
        super().__init__(
            label_dimension=label_dimension,
            weight_column=weight_column,
            loss_reduction=loss_reduction,
            inverse_link_fn=ops.exp,
            name=name,
        )

    def _arguments(self):
        return {
            **self._common_arguments(),
            "label_dimension": self._label_dimension,
            "compute_full_loss": self._compute_full_loss,
        }

    def _default_loss(self, labels, logits):
        return losses.log_poisson(labels, logits, self._compute_full_loss)


@register
class LogisticRegressionHead(RegressionHead):
    """A head for regression on [0, 1]: `predictions = sigmoid(logits)`.

    Labels must lie in [0, 1]; the loss is the sigmoid cross-entropy. Unlike
    `BinaryClassHead` it reports regression metrics and exports a regression
    signature.

    Example:

    >>> head = LogisticRegressionHead()
    >>> logits = np.array([[0.0], [-1.0], [1.0]], "float32")
    >>> loss = head.loss(labels=np.array([[.4], [.6], [.8]]), logits=logits)
    >>> round(float(loss), 4)
    0.7066
    """

    def __init__(self, weight_column=None,
                 loss_reduction=Reduction.SUM_OVER_BATCH_SIZE, name=None):
        super().__init__(
            label_dimension=1,
            weight_column=weight_column,
            loss_reduction=loss_reduction,
            inverse_link_fn=ops.sigmoid,
            name=name,
        )

    def _arguments(self):
        return self._common_arguments()

    def _default_loss(self, labels, logits):
        labels = label_ops.guard_range(
            labels, 0.0, 1.0, "Labels must be in range [0, 1]",
            "Labels must be in range [0, 1]",
        )
        return losses.sigmoid_cross_entropy(labels, logits)
