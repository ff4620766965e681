"""The TF 1.x head interface (`_Head`) and the single heads behind its
factories.

A v1 head has no public `loss`, `predictions` or `metrics`: everything goes
through `create_loss` (the reduced training loss and what it was made of)
and `create_estimator_spec` (per mode, with `optimizer` or `train_op_fn`,
and no `trainable_variables` or `update_ops`). `SingleHead` implements it
over a v2 head, its core (`keras_heads.compat.v1.cores`), whose label
processing, weights, unreduced loss, predictions, metrics and export
outputs it reuses; the v1 parts are the reductions
(`keras_heads.compat.v1.reduction`), the train op
(`keras_heads.compat.v1.train_op`) and the training summaries.

Eval metrics are keras-heads metric objects (`keras.metrics.Metric`
subclasses, already updated with the batch; read them with `.result()`),
not TF1 `(value, update_op)` pairs: see `keras_heads.compat.v1.metrics`.
"""

import abc
import collections

from keras import ops

from keras_heads.compat.v1 import reduction as v1_reduction
from keras_heads.compat.v1 import train_op as v1_train_op
from keras_heads.heads.base import sum_regularization
from keras_heads.metrics.weights import weighted_sums
from keras_heads.keys import MetricKeys
from keras_heads.keys import ModeKeys
from keras_heads.spec import EstimatorSpec


class LossSpec(
    collections.namedtuple(
        "LossSpec",
        ["training_loss", "unreduced_loss", "weights", "processed_labels"],
    )
):
    """What `create_loss` returns.

    Fields:
      training_loss: the reduced loss, without regularization.
      unreduced_loss: the loss before weights and reduction, e.g.
        `[batch, 1]`.
      weights: the example weights it was weighted with: the scalar `1.0`
        without a weight column, else a tensor.
      processed_labels: the labels as the loss took them (reshaped, looked
        up in the vocabulary, multi-hot).

    Example:

    >>> spec = LossSpec(training_loss=2.0, unreduced_loss=[[1.0], [3.0]],
    ...                 weights=1.0, processed_labels=[[0.0], [1.0]])
    >>> spec.training_loss, spec.weights
    (2.0, 1.0)
    """


class Head(abc.ABC):
    """Interface of a TF 1.x head (`tf.contrib.estimator`'s `_Head`).

    Subclass it to write a custom head that `multi_head` can combine. All
    arguments of the methods are passed by keyword.

    Example:

    >>> from keras_heads.compat import v1
    >>> head = v1.binary_classification_head(name="click")
    >>> isinstance(head, Head), head.name, head.logits_dimension
    (True, 'click', 1)
    """

    @property
    @abc.abstractmethod
    def name(self):
        """The head's name, or None; suffixes its metric and summary keys."""

    @property
    @abc.abstractmethod
    def logits_dimension(self):
        """Size of the last dimension of the logits."""

    @abc.abstractmethod
    def create_loss(self, features, mode, logits, labels):
        """Returns a `LossSpec`: the unregularized training loss and its
        parts."""

    @abc.abstractmethod
    def create_estimator_spec(self, features, mode, logits, labels=None,
                              optimizer=None, train_op_fn=None,
                              regularization_losses=None):
        """Returns a `keras_heads.EstimatorSpec` for `mode`."""


class SingleHead(Head):
    """A v1 head for one objective, over a v2 head (its core).

    The factories (`binary_classification_head`, `regression_head`, ...)
    build these; see `keras_heads.compat.v1`.

    Args:
      core: the v2 head whose label processing, unreduced loss,
        predictions, metrics and export outputs this head uses.
      loss_reduction: one of `keras_heads.compat.v1.Reduction`, except
        `NONE`.

    Example:

    >>> from keras_heads.compat import v1
    >>> head = v1.binary_classification_head(loss_reduction=v1.Reduction.SUM)
    >>> logits = np.array([[45.0], [-41.0]], "float32")
    >>> spec = head.create_estimator_spec(
    ...     features={}, mode="train", logits=logits,
    ...     labels=np.array([[1], [1]]), train_op_fn=lambda loss: None)
    >>> {k: round(float(v), 2) for k, v in spec.summaries.items()}
    {'loss': 41.0, 'average_loss': 20.5}
    """

    def __init__(self, core, loss_reduction):
        self._core = core
        self._loss_reduction = v1_reduction.validate_loss_reduction(
            loss_reduction
        )

    @property
    def name(self):
        return self._core.name

    @property
    def logits_dimension(self):
        return self._core.logits_dimension

    def __repr__(self):
        return (
            f"<v1 head over {type(self._core).__name__}, name={self.name!r}, "
            f"loss_reduction={self._loss_reduction!r}>"
        )

    def _loss_spec(self, features, logits, labels):
        batch = self._core._batch(features, logits, labels)
        training_loss = v1_reduction.reduce_loss(
            batch.unweighted_loss, batch.weights, self._loss_reduction
        )
        spec = LossSpec(
            training_loss=training_loss,
            unreduced_loss=batch.unweighted_loss,
            weights=batch.weights,
            processed_labels=batch.labels,
        )
        return spec, batch

    def create_loss(self, features, mode, logits, labels):
        """Returns a `LossSpec` for one batch (`mode` is not used).

        The training loss is the weighted unreduced loss reduced with the
        head's `loss_reduction`, without regularization.
        """
        del mode
        return self._loss_spec(features, logits, labels)[0]

    def create_estimator_spec(self, features, mode, logits, labels=None,
                              optimizer=None, train_op_fn=None,
                              regularization_losses=None):
        """Returns a `keras_heads.EstimatorSpec` for `mode`.

        PREDICT: every prediction, and the export outputs. EVAL: also the
        loss (regularized) and the metrics updated with this batch. Any other
        mode is TRAIN: the loss, the train op (from `optimizer` or
        `train_op_fn`, see `keras_heads.compat.v1.train_op`, grouped with the
        graph's `UPDATE_OPS`) and `summaries`: `loss`, `regularization_loss`
        and, for a `SUM` reduction, `average_loss` (the training loss over
        the sum of the weights), each suffixed with `/<name>` when named.

        `regularization_losses` are added only when the list is non-empty.
        """
        core = self._core
        if mode == ModeKeys.PREDICT:
            predictions = core.predictions(logits)
            return EstimatorSpec(
                mode=ModeKeys.PREDICT,
                predictions=predictions,
                export_outputs=core._export_outputs(predictions),
            )
        loss_spec, batch = self._loss_spec(features, logits, labels)
        regularization = (
            sum_regularization(regularization_losses)
            if regularization_losses else None
        )
        loss = loss_spec.training_loss
        if regularization is not None:
            loss = loss + regularization
        predictions = core._deferred_predictions(logits)
        if mode == ModeKeys.EVAL:
            return EstimatorSpec(
                mode=ModeKeys.EVAL,
                predictions=predictions,
                loss=loss,
                eval_metric_ops=self._eval_metrics(
                    batch, logits, regularization
                ),
            )
        train_op = v1_train_op.append_update_ops(
            v1_train_op.create_train_op(loss, optimizer, train_op_fn)
        )
        return EstimatorSpec(
            mode=ModeKeys.TRAIN,
            predictions=predictions,
            loss=loss,
            train_op=train_op,
            summaries=self._summaries(loss_spec, loss, regularization),
        )

    def _eval_metrics(self, batch, logits, regularization):
        """Fresh metrics, updated with one checked batch (`logits` as
        given); a NaN logit makes them all NaN, as in v2."""
        core, key = self._core, self._core._key
        eval_metrics = core.metrics(
            regularization_losses=None if regularization is None else []
        )
        (loss_sum,), weight_sum = weighted_sums(
            [batch.unweighted_loss], batch.weights
        )
        eval_metrics[key(MetricKeys.LOSS_MEAN)].add_sums(loss_sum, weight_sum)
        found_nan = core._update_head_metrics(eval_metrics, batch)
        if regularization is not None:
            eval_metrics[key(MetricKeys.LOSS_REGULARIZATION)].update_state(
                regularization
            )
        core._poison_metrics(eval_metrics, logits, loss_sum, found_nan)
        return eval_metrics

    def _summaries(self, loss_spec, loss, regularization):
        key = self._core._key
        summaries = {key(MetricKeys.LOSS): loss}
        if regularization is not None:
            summaries[key(MetricKeys.LOSS_REGULARIZATION)] = regularization
        if self._loss_reduction == v1_reduction.Reduction.SUM:
            summaries[key(MetricKeys.LOSS_MEAN)] = ops.divide_no_nan(
                loss_spec.training_loss,
                v1_reduction.weight_sum(
                    loss_spec.unreduced_loss, loss_spec.weights
                ),
            )
        return summaries
