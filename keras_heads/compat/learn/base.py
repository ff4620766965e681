"""The contrib.learn `Head` interface, and the algorithm every single head
of that API shares (`create_model_fn_ops`).

A single head differs from another only in how it reads labels, which loss
it computes, which predictions and metrics it offers and which output
alternative it exports; the rest (mode checks, the logits layer, the
centered bias, weights, train and report losses, the train op, summaries)
is written once here.
"""

import abc
import collections
import functools

from keras import ops

from keras_heads import backend
from keras_heads.compat.learn import losses
from keras_heads.compat.learn import train_ops
from keras_heads.compat.learn.keys import MetricKey
from keras_heads.compat.learn.keys import ModeKeys
from keras_heads.compat.learn.model_fn_ops import ModelFnOps
from keras_heads.compat.learn.variables import HeadVariables
from keras_heads.keys import summary_key
from keras_heads.metrics import Mean
from keras_heads.spec import Predictions

# Labels once checked against the logits: `raw` is what a custom `loss_fn`
# receives (the reference's transformed labels), `values` the labels in the
# logits' shape that the default loss and the metrics read.
Labels = collections.namedtuple("Labels", ["raw", "values"])


class Head(abc.ABC):
    """Interface of a `tf.contrib.learn` head: the top of a model.

    Given logits (or the last hidden layer, `logits_input`), a head computes
    the predictions, the loss, the eval metrics and the output alternatives
    of one objective and returns them as `ModelFnOps`. Build one with a
    factory: `regression_head`, `poisson_regression_head`,
    `multi_class_head`, `binary_svm_head`, `multi_label_head`,
    `loss_only_head` or `multi_head`.

    Example:

    >>> from keras_heads.compat import learn
    >>> head = learn.multi_class_head(n_classes=3)
    >>> head.logits_dimension
    3
    >>> model_fn_ops = head.create_model_fn_ops(
    ...     features={}, mode=learn.ModeKeys.EVAL,
    ...     labels=np.array([[2]]), logits=np.array([[1.0, 0.0, 0.0]]))
    >>> round(float(model_fn_ops.loss), 4)
    1.5514
    """

    @property
    @abc.abstractmethod
    def logits_dimension(self):
        """Size of the last dimension of the logits."""

    @abc.abstractmethod
    def create_model_fn_ops(self, features, mode, labels=None,
                            train_op_fn=None, logits=None, logits_input=None,
                            scope=None):
        """Returns the `ModelFnOps` of `mode`.

        Args:
          features: dict of features (holds the weight column).
          mode: one of `ModeKeys`.
          labels: labels, or a dict of labels from which the head reads its
            `label_name`. Not used in INFER mode.
          train_op_fn: in TRAIN mode, a function of the scalar train loss
            returning the train op (`no_op_train_fn` to train elsewhere).
          logits: `[batch_size, logits_dimension]` logits; or
          logits_input: the last hidden layer, from which the head builds
            its logits with its own linear layer (exactly one of the two).
          scope: name of the variable scope the head's variables live in;
            calls with the same scope share them.
        """

    @property
    def trainable_variables(self):
        """The variables the head created (logits layers, centered biases),
        which `train_op_fn` has to train along with the network's."""
        return []


def check_mode(mode):
    """Raises `ValueError` for a mode other than TRAIN, EVAL and INFER."""
    if not (isinstance(mode, str) and mode in ModeKeys.all()):
        raise ValueError(
            f"mode={mode} unrecognized. Expected one of ModeKeys.TRAIN "
            "('train'), ModeKeys.EVAL ('eval'), ModeKeys.INFER ('infer')."
        )


def scope_name(scope, default):
    """The name of a variable scope given as a string (or an object with a
    `name`), or `default` for None."""
    if scope is None:
        return default
    if isinstance(scope, str):
        return scope
    name = getattr(scope, "name", None)
    if isinstance(name, str):
        return name
    raise TypeError(
        f"scope must be a string (a variable scope name) or None. Given: "
        f"{scope!r} of type {type(scope)}."
    )


def select_labels(labels, label_name):
    """`labels[label_name]` when `labels` is a dict, else `labels`."""
    if not isinstance(labels, dict):
        return labels
    if label_name not in labels:
        raise ValueError(
            f"labels is a dict, so the head reads labels[label_name]; but "
            f"label_name={label_name!r} is not one of its keys: "
            f"{list(labels)}. Give the head the label_name of its labels."
        )
    return labels[label_name]


def weight_tensor(features, weight_column_name):
    """float32 example weights from `features`, or None without a weight
    column; rank-1 weights become `[-1, 1]`."""
    if not weight_column_name:
        return None
    features = features or {}
    if weight_column_name not in features:
        raise ValueError(
            f"Weights {weight_column_name} missing from features. "
            f"weight_column_name={weight_column_name!r}; available features: "
            f"{sorted(features)}."
        )
    weights = features[weight_column_name]
    if backend.is_sparse(weights):
        raise ValueError(
            f"Weights {weight_column_name} must be a dense tensor, not a "
            "sparse one."
        )
    weights = ops.cast(ops.convert_to_tensor(weights), "float32")
    if len(weights.shape) == 1:
        weights = ops.reshape(weights, (-1, 1))
    return weights


class SingleHead(Head):
    """Base of the heads of one objective (every head but the multi-head
    and the loss-only head).

    Subclasses set `_problem_type` and `_default_scope` and provide the hooks
    `_transform_labels`, `_align_labels`, `_unreduced_loss`, `_predictions`,
    `_head_metric_factories`, `_update_head_metrics` and
    `_output_alternative`.
    """

    _problem_type = None
    _default_scope = None
    # All prediction keys, and those whose values are strings.
    _prediction_keys = ()
    _string_prediction_keys = ()

    def __init__(self, logits_dimension, label_name=None,
                 weight_column_name=None, enable_centered_bias=False,
                 head_name=None, loss_fn=None):
        if (
            not isinstance(logits_dimension, int)
            or isinstance(logits_dimension, bool)
            or logits_dimension < 1
        ):
            raise ValueError(
                f"Invalid logits_dimension {logits_dimension} (the head's "
                "label_dimension or n_classes). It must be an int >= 1."
            )
        self._logits_dimension = logits_dimension
        self._label_name = label_name
        self._weight_column_name = weight_column_name
        self._enable_centered_bias = bool(enable_centered_bias)
        self._head_name = head_name
        self._loss_fn = loss_fn
        self._variables = HeadVariables()

    @property
    def logits_dimension(self):
        return self._logits_dimension

    @property
    def label_name(self):
        """The key of this head's labels in a labels dict."""
        return self._label_name

    @property
    def weight_column_name(self):
        """The feature holding the example weights, or None."""
        return self._weight_column_name

    @property
    def head_name(self):
        """The head's name, or None; suffixes its metric and summary keys."""
        return self._head_name

    @property
    def trainable_variables(self):
        return self._variables.trainable_variables

    def _key(self, key):
        return summary_key(key, self._head_name)

    # --- hooks ---------------------------------------------------------------

    @abc.abstractmethod
    def _transform_labels(self, labels):
        """The head's labels read from `labels` (already not None)."""

    @abc.abstractmethod
    def _align_labels(self, labels, logits):
        """`Labels(raw, values)` of transformed labels, checked against the
        logits."""

    @abc.abstractmethod
    def _unreduced_loss(self, labels, logits):
        """The default unreduced loss of `Labels` and logits."""

    @abc.abstractmethod
    def _predictions(self, logits, keys=None):
        """The prediction dict (only `keys`, when given)."""

    @abc.abstractmethod
    def _head_metric_factories(self):
        """`{unsuffixed key: function building the metric}` besides `loss`,
        in order."""

    @abc.abstractmethod
    def _update_head_metrics(self, metrics, logits, labels, weights):
        """Feeds one batch to the metrics, keyed as the factories."""

    @abc.abstractmethod
    def _output_alternative(self, logits, predictions, defer):
        """`(ProblemType, {key: tensor})` for export; string tensors are
        computed when read if `defer`."""

    # --- the algorithm -------------------------------------------------------

    def _losses(self, labels, logits, weights):
        """`(train loss, report loss)` of `Labels` (see `losses`)."""
        if self._loss_fn is not None:
            return losses.custom_losses(
                self._loss_fn, labels.raw, logits, weights
            )
        return losses.train_and_report_losses(
            self._unreduced_loss(labels, logits), weights
        )

    def _logits(self, logits, logits_input, scope):
        d = self._logits_dimension
        if logits is None:
            if logits_input is None:
                raise ValueError(
                    "Neither logits nor logits_input supplied. Pass exactly "
                    f"one: logits of shape [batch_size, {d}], or logits_input "
                    "(the last hidden layer), from which the head builds "
                    f"its logits with a linear layer of {d} outputs."
                )
            return self._variables.logits(scope, logits_input, d)
        if logits_input is not None:
            raise ValueError(
                "Both logits and logits_input supplied. Pass exactly one: "
                "logits, or logits_input to let the head build the logits."
            )
        logits = ops.cast(ops.convert_to_tensor(logits), "float32")
        shape = tuple(logits.shape)
        if not shape:
            raise ValueError(
                f"logits must have a last dimension of size {d} "
                "(logits_dimension); got a scalar."
            )
        if shape[-1] is not None and shape[-1] != d:
            raise ValueError(
                f"Dimensions {shape[-1]} and {d} are not compatible: the last "
                f"dimension of logits must be logits_dimension={d}. Given "
                f"logits of shape {shape}."
            )
        return logits

    def _all_predictions(self, logits, mode):
        """A plain dict in INFER mode; else a `Predictions` mapping that
        computes string predictions only when read (they do not compile)."""
        if mode == ModeKeys.INFER or not self._string_prediction_keys:
            return self._predictions(logits)
        strings = self._string_prediction_keys
        return Predictions(
            self._predictions(
                logits,
                keys=[k for k in self._prediction_keys if k not in strings],
            ),
            [(strings, lambda: self._predictions(logits, keys=strings))],
            order=self._prediction_keys,
        )

    def _eval_metric_ops(self, report_loss, logits, labels, weights, lazy):
        """Fresh metrics fed with this batch, keyed with the name suffix.

        With `lazy` (TRAIN mode), a read-only mapping that builds and feeds
        them when first read: a compiled training step that never reads its
        metrics creates no metric variables (which `tf.function` allows on
        the first trace only, and `jax.jit` cannot update).
        """
        factories = {
            MetricKey.LOSS: functools.partial(Mean, name=MetricKey.LOSS)
        }
        factories.update(self._head_metric_factories())

        def build():
            metrics = {key: factory() for key, factory in factories.items()}
            metrics[MetricKey.LOSS].update_state(report_loss)
            self._update_head_metrics(metrics, logits, labels, weights)
            return {self._key(key): metric for key, metric in metrics.items()}

        if not lazy:
            return build()
        return Predictions({}, [([self._key(k) for k in factories], build)])

    def create_model_fn_ops(self, features, mode, labels=None,
                            train_op_fn=None, logits=None, logits_input=None,
                            scope=None):
        """Returns the `ModelFnOps` of `mode` (see `Head`).

        INFER: predictions and output alternatives. TRAIN and EVAL with
        labels: also the train loss (`ModelFnOps.loss`), the report loss as
        the `loss` summary and eval metric, and the eval metrics; TRAIN also
        calls `train_op_fn(loss)` for the train op. Without labels, TRAIN
        raises "Missing train_op." and EVAL "Missing loss.".
        """
        check_mode(mode)
        scope = scope_name(scope, self._head_name or self._default_scope)
        if mode != ModeKeys.INFER and labels is not None:
            labels = self._transform_labels(
                select_labels(labels, self._label_name)
            )
        else:
            labels = None
        logits = self._logits(logits, logits_input, scope)
        summaries = {}
        if self._enable_centered_bias:
            bias = ops.convert_to_tensor(
                self._variables.centered_bias(scope, self._logits_dimension)
            )
            # A copy: PyTorch tensors alias the variable, which the
            # centered-bias step updates in place.
            values = ops.unstack(ops.copy(bias), axis=0)
            for i, value in enumerate(values):
                summaries[self._key(f"centered_bias/bias_{i}")] = value
            logits = logits + bias
        predictions = self._all_predictions(logits, mode)
        alternatives = {
            self._head_name: self._output_alternative(
                logits, predictions, defer=mode != ModeKeys.INFER
            )
        }
        if labels is None:
            return ModelFnOps(mode=mode, predictions=predictions,
                              output_alternatives=alternatives,
                              summaries=summaries)
        labels = self._align_labels(labels, logits)
        weights = weight_tensor(features, self._weight_column_name)
        loss, report_loss = self._losses(labels, logits, weights)
        summaries[self._key(MetricKey.LOSS)] = report_loss
        train_op = None
        if mode == ModeKeys.TRAIN:
            train_ops.check_train_op_fn(train_op_fn)
            step = train_ops.NO_OP
            if self._enable_centered_bias:
                step = self._centered_bias_step(scope, labels, logits, weights)
            train_op = train_ops.group(
                [train_ops.call_train_op_fn(train_op_fn, loss), step]
            )
        return ModelFnOps(
            mode=mode,
            predictions=predictions,
            loss=loss,
            train_op=train_op,
            eval_metric_ops=self._eval_metric_ops(
                report_loss, logits, labels, weights,
                lazy=mode == ModeKeys.TRAIN,
            ),
            output_alternatives=alternatives,
            summaries=summaries,
        )

    def _centered_bias_step(self, scope, labels, logits, weights):
        zeros = ops.zeros_like(logits)

        def objective(bias):
            train, report = self._losses(labels, zeros + bias, weights)
            return (train + report) / 2.0

        return self._variables.centered_bias_step(scope, objective, logits)
