"""`regression_head` and `poisson_regression_head`: a generalized linear
model with the squared error or the log-Poisson loss."""

from keras import ops

from keras_heads.compat.learn import common
from keras_heads.compat.learn.base import Labels
from keras_heads.compat.learn.base import SingleHead
from keras_heads.compat.learn.keys import PredictionKey
from keras_heads.compat.learn.keys import ProblemType
from keras_heads.ops import losses as core_losses


class _RegressionHead(SingleHead):
    """Regression with a generalized linear model: squared error or
    log-Poisson loss, `scores = link_fn(logits)`."""

    _problem_type = ProblemType.LINEAR_REGRESSION
    _default_scope = "regression_head"
    _prediction_keys = (PredictionKey.SCORES,)

    def __init__(self, label_dimension, unreduced_loss, link_fn,
                 label_name=None, weight_column_name=None,
                 enable_centered_bias=False, head_name=None):
        super().__init__(label_dimension, label_name, weight_column_name,
                         enable_centered_bias, head_name)
        self._loss_of = unreduced_loss
        self._link_fn = link_fn

    def _transform_labels(self, labels):
        labels = common.numeric(
            common.dense_labels(labels), "a regression head"
        )
        return ops.cast(labels, "float32")

    def _align_labels(self, labels, logits):
        values = common.with_trailing_axis(labels)
        logits_shape = tuple(common.with_trailing_axis(logits).shape)
        if not common.compatible(logits_shape, tuple(values.shape)):
            raise ValueError(
                f"Shapes {logits_shape} and {tuple(values.shape)} are "
                "incompatible: labels must have the logits' shape "
                f"[batch_size, {self._logits_dimension}] (label_dimension) "
                "or, for label_dimension 1, [batch_size]."
            )
        return Labels(labels, values)

    def _unreduced_loss(self, labels, logits):
        return self._loss_of(labels.values, common.with_trailing_axis(logits))

    def _predictions(self, logits, keys=None):
        scores = logits
        if self._logits_dimension == 1 and len(logits.shape) >= 2:
            scores = ops.squeeze(logits, axis=-1)
        if self._link_fn is not None:
            scores = ops.convert_to_tensor(self._link_fn(scores))
        return common.selected({PredictionKey.SCORES: scores}, keys)

    def _head_metric_factories(self):
        return {}

    def _update_head_metrics(self, metrics_, logits, labels, weights):
        pass

    def _output_alternative(self, logits, predictions, defer):
        return self._problem_type, predictions


def regression_head(label_name=None, weight_column_name=None,
                    label_dimension=1, enable_centered_bias=False,
                    head_name=None, link_fn=None):
    """A head for linear regression: the squared error `(x - y)^2`.

    Args:
      label_name: the key of this head's labels when labels are a dict.
      weight_column_name: the feature holding example weights.
      label_dimension: number of regression targets per example.
      enable_centered_bias: learn a bias per target, added to the logits
        and trained apart: each TRAIN call takes one Adagrad step on it
        (eagerly, or inside `tf.function` / `torch.compile`; not inside
        `jax.jit`, which cannot update a variable).
      head_name: suffixes metric and summary keys (`loss/<head_name>`) and
        names the variable scope.
      link_fn: optional function of the logits giving the `scores`.

    Predictions: `{"scores": link_fn(logits)}`, `[batch_size]` when
    `label_dimension` is 1. Metrics: `loss`. Output alternative:
    `(LINEAR_REGRESSION, predictions)`.

    Example:

    >>> from keras_heads.compat import learn
    >>> head = learn.regression_head()
    >>> ops_ = head.create_model_fn_ops(
    ...     features={}, mode=learn.ModeKeys.EVAL,
    ...     labels=np.array([[0.0], [1.0], [1.0]]),
    ...     logits=np.array([[1.0], [1.0], [3.0]]))
    >>> round(float(ops_.loss), 6)        # mean([1, 0, 4])
    1.666667
    >>> sorted(ops_.predictions), sorted(ops_.eval_metric_ops)
    (['scores'], ['loss'])
    """
    return _RegressionHead(
        label_dimension=label_dimension,
        unreduced_loss=core_losses.squared_error,
        link_fn=link_fn,
        label_name=label_name,
        weight_column_name=weight_column_name,
        enable_centered_bias=enable_centered_bias,
        head_name=head_name,
    )


def _log_poisson(labels, logits):
    return core_losses.log_poisson(labels, logits, compute_full_loss=True)


def poisson_regression_head(label_name=None, weight_column_name=None,
                            label_dimension=1, enable_centered_bias=False,
                            head_name=None):
    """A head for Poisson regression: the log-Poisson loss (with Stirling's
    term) and `scores = exp(logits)`.

    Arguments as `regression_head` (without `link_fn`).

    Example:

    >>> from keras_heads.compat import learn
    >>> head = learn.poisson_regression_head()
    >>> ops_ = head.create_model_fn_ops(
    ...     features={}, mode=learn.ModeKeys.INFER,
    ...     logits=np.array([[0.0], [1.0]]))
    >>> np.round(keras.ops.convert_to_numpy(ops_.predictions["scores"]), 4)
    array([1.    , 2.7183], dtype=float32)
    """
    return _RegressionHead(
        label_dimension=label_dimension,
        unreduced_loss=_log_poisson,
        link_fn=ops.exp,
        label_name=label_name,
        weight_column_name=weight_column_name,
        enable_centered_bias=enable_centered_bias,
        head_name=head_name,
    )
