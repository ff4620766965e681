"""The `Head` interface, and the algorithm every single-objective head shares.

A single head differs from another only in how it reads labels, which loss it
computes, which predictions and metrics it offers and what it exports. All
the rest (weights, reductions, custom losses, regularization, streaming
metric updates, the per-mode `create_estimator_spec`) is written once here.
"""

import abc
import collections

import keras
import numpy as np
from keras import ops

from keras_heads import backend
from keras_heads.heads import config as config_lib
from keras_heads.heads import custom_loss
from keras_heads.heads.train_op import create_train_op
from keras_heads.keys import MetricKeys
from keras_heads.keys import ModeKeys
from keras_heads.keys import summary_key
from keras_heads.metrics import Mean
from keras_heads.metrics.weights import weighted_sums
from keras_heads.ops import labels as label_ops
from keras_heads.ops.reduction import Reduction
from keras_heads.ops.reduction import weighted_sum_and_size
from keras_heads.ops.reduction import validate_loss_reduction
from keras_heads.spec import EstimatorSpec
from keras_heads.spec import Predictions


class Head(abc.ABC):
    """Interface for the head (top) of a model.

    Given the logits of a network, a head computes the loss, the
    predictions, the evaluation metrics and the export outputs of one
    objective, and assembles them per mode into an `EstimatorSpec`.

    Example:

    >>> head = keras_heads.BinaryClassHead()
    >>> loss = head.loss(labels=[[1], [0]], logits=[[2.0], [-1.0]])
    >>> round(float(loss), 4)
    0.2201
    >>> sorted(head.predictions([[2.0], [-1.0]]))
    ['all_class_ids', 'all_classes', 'class_ids', 'classes', 'logistic',
     'logits', 'probabilities']
    """

    @property
    @abc.abstractmethod
    def name(self):
        """The head's name, or None; suffixes its metric keys."""

    @property
    @abc.abstractmethod
    def logits_dimension(self):
        """Size of the last dimension of the logits."""

    @property
    @abc.abstractmethod
    def loss_reduction(self):
        """One of `keras_heads.Reduction`."""

    @abc.abstractmethod
    def loss(self, labels, logits, features=None, mode=None,
             regularization_losses=None):
        """Returns the scalar, regularized training loss."""

    @abc.abstractmethod
    def predictions(self, logits, keys=None):
        """Returns a dict of predictions keyed by `PredictionKeys`."""

    @abc.abstractmethod
    def metrics(self, regularization_losses=None):
        """Returns a dict of fresh metric objects keyed by metric key."""

    @abc.abstractmethod
    def update_metrics(self, eval_metrics, features, logits, labels,
                       mode=None, regularization_losses=None):
        """Updates `eval_metrics` with one batch and returns it."""

    def _deferred_predictions(self, logits):
        """`predictions(logits)` as the `Predictions` of TRAIN/EVAL specs."""
        return Predictions(self.predictions(logits))

    # --- serialization ---------------------------------------------------------

    def _arguments(self):
        """The constructor arguments that rebuild this head."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement `_arguments()` to be "
            "serializable."
        )

    def get_config(self):
        """The constructor arguments, JSON-ready.

        Example:

        >>> head = keras_heads.MultiClassHead(3, label_vocabulary=["a", "b", "c"])
        >>> config = head.get_config()
        >>> config["label_vocabulary"]
        ['a', 'b', 'c']
        >>> type(keras_heads.MultiClassHead.from_config(config)).__name__
        'MultiClassHead'
        """
        return config_lib.serialize(self._arguments())

    @classmethod
    def from_config(cls, config):
        """The head that `get_config()` described."""
        return cls(**config_lib.deserialize(config))

    # --- stateless metrics (jax.jit and other pure-function compilers) -------

    def _complete_metrics(self, eval_metrics):
        """Adds any metric that `update_metrics` would create on first use."""

    def metric_variables(self, eval_metrics):
        """The state of `eval_metrics` as a flat list of tensors.

        This is what `stateless_update_metrics` threads through a compiled
        function, as Keras' `Metric.stateless_update_state` does for one
        metric. Call it outside the compiled function: for a `MultiHead`
        it first adds the sub-heads' metrics to `eval_metrics`.

        Example:

        >>> head = keras_heads.RegressionHead()
        >>> eval_metrics = head.metrics()
        >>> state = head.metric_variables(eval_metrics)
        >>> state = head.stateless_update_metrics(
        ...     state, eval_metrics, features={},
        ...     logits=[[1.0], [2.0]], labels=[[1.0], [4.0]])
        >>> {k: float(v) for k, v in
        ...  head.stateless_metric_results(state, eval_metrics).items()}
        {'average_loss': 2.0, 'prediction/mean': 1.5, 'label/mean': 2.5}
        """
        self._complete_metrics(eval_metrics)
        return [v.value for v in _variables(eval_metrics)]

    def stateless_update_metrics(self, metric_variables, eval_metrics,
                                 features, logits, labels,
                                 regularization_losses=None, mode=None):
        """`update_metrics` as a pure function of the metric state.

        Returns the new `metric_variables` and leaves the metric objects
        untouched, so it runs inside `jax.jit` (and `tf.function`).
        """
        variables = _variables(eval_metrics)
        _check_state(metric_variables, variables)
        with keras.StatelessScope(
            state_mapping=list(zip(variables, metric_variables))
        ) as scope:
            self.update_metrics(eval_metrics, features, logits, labels,
                                regularization_losses=regularization_losses,
                                mode=mode)
        return [scope.get_current_value(v) for v in variables]

    def stateless_metric_results(self, metric_variables, eval_metrics):
        """`{key: result}` of `eval_metrics` holding `metric_variables`."""
        variables = _variables(eval_metrics)
        _check_state(metric_variables, variables)
        with keras.StatelessScope(
            state_mapping=list(zip(variables, metric_variables))
        ):
            return {key: m.result() for key, m in eval_metrics.items()}

    def create_estimator_spec(self, features, mode, logits, labels=None,
                              optimizer=None, trainable_variables=None,
                              train_op_fn=None, update_ops=None,
                              regularization_losses=None):
        """Returns an `EstimatorSpec` for `mode`."""
        raise NotImplementedError(
            "Subclasses of Head must implement `create_estimator_spec()`."
        )

    def _eval_spec(self, predictions, loss, features, logits, labels,
                   regularization_losses):
        """The EVAL spec: `loss` and fresh metrics updated with this batch."""
        eval_metrics = self.metrics(regularization_losses)
        self.update_metrics(eval_metrics, features, logits, labels,
                            regularization_losses=regularization_losses,
                            mode=ModeKeys.EVAL)
        return EstimatorSpec(
            mode=ModeKeys.EVAL,
            predictions=predictions,
            loss=loss,
            eval_metric_ops=eval_metrics,
        )

    def _train_spec(self, predictions, loss, summaries, optimizer,
                    trainable_variables, train_op_fn, update_ops):
        """The TRAIN spec: `loss`, its train op and `summaries`."""
        train_op = create_train_op(
            loss, self.loss_reduction, optimizer=optimizer,
            trainable_variables=trainable_variables, train_op_fn=train_op_fn,
            update_ops=update_ops,
        )
        return EstimatorSpec(
            mode=ModeKeys.TRAIN,
            predictions=predictions,
            loss=loss,
            train_op=train_op,
            summaries=summaries,
        )


def _variables(eval_metrics):
    """Every variable of `eval_metrics` once, in order: metrics that read a
    shared state (`keras_heads.metrics.HistogramTotals`) all list it."""
    seen, variables = set(), []
    for metric in eval_metrics.values():
        for variable in metric.variables:
            if id(variable) not in seen:
                seen.add(id(variable))
                variables.append(variable)
    return variables


def _check_state(metric_variables, variables):
    if len(metric_variables) != len(variables):
        raise ValueError(
            "metric_variables must hold one value per variable of "
            f"eval_metrics: expected {len(variables)}, received "
            f"{len(metric_variables)}. Build it with "
            "head.metric_variables(eval_metrics) from the same eval_metrics."
        )


def _depending_on(value, tensor):
    """`value`, made to depend on every element of `tensor` at no cost, so
    that a compiler keeps the computation of `tensor` even when nothing else
    reads it (an optimization barrier does not: XLA on CPU expands it away
    before removing dead code).

    `value` is returned unchanged unless `tensor` sums to NaN, which a
    head's histogram does only where the loss is NaN too (a NaN weight).
    """
    total = ops.sum(tensor)
    return ops.where(ops.isnan(total), total, value)


def batch_weight(logits):
    """1.0, or 0.0 for a batch of no examples: the weight of one batch's
    value (its loss, its regularization) in a mean over batches, which a
    batch of no examples then leaves as it was. Counted over the
    data-parallel replicas: a replica whose share of the batch is empty
    still adds the global batch's value."""
    size = backend.cross_replica_sum(ops.cast(ops.size(logits), "float32"))
    return ops.cast(size > 0, "float32")


def sum_regularization(regularization_losses):
    """The float32 sum of a list of scalar losses (0 for an empty list)."""
    total = ops.convert_to_tensor(0.0, "float32")
    for value in regularization_losses:
        total = total + ops.cast(value, "float32")
    return total


def select_keys(keys, valid_keys):
    """The prediction keys to compute: `keys`, checked, or all valid ones."""
    if not keys:
        return tuple(valid_keys)
    for key in keys:
        if key not in valid_keys:
            raise ValueError(
                f"Prediction key must be in PredictionKeys, given: {key}. "
                f"Valid prediction keys include {list(valid_keys)}."
            )
    return tuple(keys)


# What one batch looks like once checked: everything a metric update needs.
# `histogram` is the batch's one-pass histogram (`SingleHead._one_pass`), if
# the head made one.
Batch = collections.namedtuple(
    "Batch",
    ["logits", "labels", "raw_labels", "unweighted_loss", "weights",
     "histogram"],
    defaults=[None],
)


class SingleHead(Head):
    """Base of the heads that own one objective.

    Subclasses provide `logits_dimension`, `predictions`, and the hooks
    `_processed_labels`, `_default_loss`, `_metric_objects`,
    `_update_head_metrics` and `_export_outputs`.
    """

    _loss_dimension = 1
    _allow_per_logit_weights = False
    # All prediction keys, and those whose values are strings.
    _prediction_keys = ()
    _string_prediction_keys = ()

    def __init__(self, weight_column=None,
                 loss_reduction=Reduction.SUM_OVER_BATCH_SIZE, loss_fn=None,
                 name=None):
        self._weight_column = weight_column
        self._loss_reduction = validate_loss_reduction(loss_reduction)
        self._loss_fn = loss_fn
        self._loss_fn_args = (
            custom_loss.validate_loss_fn(loss_fn) if loss_fn else ()
        )
        self._name = name

    @property
    def name(self):
        return self._name

    @property
    def loss_reduction(self):
        return self._loss_reduction

    # --- hooks ---------------------------------------------------------------

    @abc.abstractmethod
    def _processed_labels(self, logits, labels):
        """Checked labels in the form the loss takes."""

    @abc.abstractmethod
    def _default_loss(self, labels, logits):
        """The unreduced loss when no `loss_fn` was given."""

    @abc.abstractmethod
    def _metric_objects(self):
        """Head-specific metrics: `{unsuffixed key: metric}`, in order."""

    @abc.abstractmethod
    def _update_head_metrics(self, eval_metrics, batch):
        """Feeds one `Batch` to the head-specific metrics.

        Returns None, or a scalar bool when the metrics found out at no
        cost whether a logit of the batch is NaN (a histogram of every
        logit's score does): `update_metrics` then need not search.
        """

    @abc.abstractmethod
    def _export_outputs(self, predictions):
        """`{signature name: ExportOutput}` for PREDICT mode."""

    def _evaluation_histogram(self, batch):
        """None, or the batch's `ScoreHistogram` for the head's histogram
        metrics whose `total` is the batch's weighted loss sum (see
        `_one_pass`); `_update_head_metrics` then finds it in
        `batch.histogram`."""
        return None

    # --- loss ------------------------------------------------------------------

    def _common_arguments(self):
        return {
            "weight_column": self._weight_column,
            "loss_reduction": self._loss_reduction,
            "name": self._name,
        }

    def _batch(self, features, logits, labels):
        logits = label_ops.check_logits(logits, self.logits_dimension)
        processed = self._processed_labels(logits, labels)
        weights = label_ops.weights_from_features(
            features, self._weight_column, logits,
            self._allow_per_logit_weights,
        )
        if self._loss_fn:
            unweighted = custom_loss.call_loss_fn(
                self._loss_fn, self._loss_fn_args, processed, logits, features,
                self._loss_dimension,
            )
        elif self.logits_dimension == 1:
            # One value per example: computed on flat vectors, which compiled
            # CPU code handles far better than `[N, 1]`, then shaped back.
            shaped = (logits, processed, weights)
            logits, processed, weights = (
                ops.reshape(flat, ops.shape(like)) if hasattr(like, "shape")
                else flat
                for flat, like in zip(backend.flat_vectors(*shaped), shaped)
            )
            unweighted = self._default_loss(processed, logits)
        else:
            unweighted = self._default_loss(processed, logits)
        return Batch(logits, processed, labels, unweighted, weights)

    def loss(self, labels, logits, features=None, mode=None,
             regularization_losses=None):
        """Returns the scalar, regularized training loss.

        Args:
          labels: labels of shape `[D0, ..., DN, 1]` or `[D0, ..., DN]`
            (class names when the head has a `label_vocabulary`).
          logits: `[D0, ..., DN, logits_dimension]`; cast to float32.
          features: dict of features; holds the weights of `weight_column`.
          mode: `ModeKeys.EVAL` lets a compiled evaluation step that also
            calls `update_metrics` with it compute the loss and the metrics
            in one pass (see `update_metrics`); the value is the same in
            every mode. Not for a loss alone: under XLA an EVAL loss costs
            the metrics' pass too.
          regularization_losses: optional list of scalars added to the
            reduced loss.
        """
        [(total, size)] = self._loss_terms(labels, logits, features, mode)
        loss = total if size is None else ops.divide_no_nan(total, size)
        if regularization_losses is not None:
            loss = loss + sum_regularization(regularization_losses)
        return loss

    def _one_pass(self, batch, mode):
        """In EVAL mode under XLA, the batch's `_evaluation_histogram`.

        Its pass computes the loss with the metrics' histogram (on a large
        batch block by block, each block's loss and counts made while it is
        in cache). A loss in EVAL mode and `update_metrics` build that same
        pass from the same inputs, which XLA then runs once for both.
        """
        if mode != ModeKeys.EVAL:
            return None
        if not backend.merges_identical_loops(batch.logits):
            return None
        return self._evaluation_histogram(batch)

    def _loss_terms(self, labels, logits, features, mode=None):
        """`[(weighted sum, denominator)]`: the unregularized loss before its
        one division (`denominator` is None for `SUM`), so a data-parallel
        step can sum the denominator over replicas first."""
        batch = self._batch(features, logits, labels)
        histogram = self._one_pass(batch, mode)
        if histogram is None:
            total, size = weighted_sum_and_size(
                batch.unweighted_loss, batch.weights
            )
        else:
            # The counts, unused here, are kept so that this pass is the very
            # one `update_metrics` makes.
            total = _depending_on(histogram.total, histogram.counts)
            # One loss per example.
            size = ops.cast(ops.size(batch.logits), "float32") / float(
                self.logits_dimension
            )
        if self._loss_reduction == Reduction.SUM:
            return [(total, None)]
        return [(total, size)]

    # --- metrics -----------------------------------------------------------------

    def _key(self, key):
        return summary_key(key, self._name)

    def metrics(self, regularization_losses=None):
        """Returns fresh metric objects keyed by (name-suffixed) metric key."""
        objects = {MetricKeys.LOSS_MEAN: Mean(name=MetricKeys.LOSS_MEAN)}
        objects.update(self._metric_objects())
        if regularization_losses is not None:
            objects[MetricKeys.LOSS_REGULARIZATION] = Mean(
                name=MetricKeys.LOSS_REGULARIZATION
            )
        return {self._key(key): metric for key, metric in objects.items()}

    def update_metrics(self, eval_metrics, features, logits, labels,
                       regularization_losses=None, mode=None):
        """Updates `eval_metrics` (from `metrics()`) with one batch.

        Metrics stream: calling this for several batches accumulates. As in
        the reference's heads, a fifth positional argument is
        `regularization_losses`; `mode` is accepted by keyword.

        With `mode=ModeKeys.EVAL`, inside `jax.jit` or a
        `tf.function(jit_compile=True)`, a multi-label head computes its
        loss in the same pass over the batch as its metrics' histogram.
        Give `loss` the same mode in the same compiled step: XLA then runs
        that pass once for both, where otherwise the loss and the metrics
        each make one (a 1024 x 4096 batch: about a quarter less time). The
        values are the same either way, to float32 rounding.

        A batch holding a NaN logit makes every metric in `eval_metrics`
        NaN, on every backend and compiler, until they are reset: a NaN has
        no score (no AUC bucket, no side of a threshold, no class), and a
        metric that left it out would report a number that looks valid.
        Infinite logits are scores like any other (see `_nan_poison`).
        """
        batch = self._batch(features, logits, labels)
        histogram = self._one_pass(batch, mode)
        if histogram is None:
            (loss_sum,), weight_sum = weighted_sums(
                [batch.unweighted_loss], batch.weights
            )
        else:
            examples = ops.ones_like(batch.logits[..., :1])
            _, weight_sum = weighted_sums([examples], batch.weights)
            loss_sum = histogram.total
            batch = batch._replace(histogram=histogram)
        eval_metrics[self._key(MetricKeys.LOSS_MEAN)].add_sums(
            loss_sum, weight_sum
        )
        found_nan = self._update_head_metrics(eval_metrics, batch)
        if regularization_losses is not None:
            eval_metrics[self._key(MetricKeys.LOSS_REGULARIZATION)].update_state(
                sum_regularization(regularization_losses),
                sample_weight=batch_weight(batch.logits),
            )
        self._poison_metrics(eval_metrics, logits, loss_sum, found_nan)
        return eval_metrics

    def _poison_metrics(self, eval_metrics, logits, loss_sum, found_nan):
        """The one place where a NaN logit reaches the metrics: once a
        batch has fed `eval_metrics`, adds `_nan_poison` to every float
        state variable of theirs, so that nothing else waits for it.

        `logits` are the batch's as given: `Batch.logits` may have passed
        an optimization barrier (`backend.flat_vectors`), and a conditional
        that reads its output makes a jax.jit binary evaluation step 10x
        slower.
        """
        poison = self._nan_poison(
            label_ops.check_logits(logits, self.logits_dimension), loss_sum,
            found_nan,
        )
        for variable in _variables(eval_metrics):
            if keras.backend.is_float_dtype(variable.dtype):
                variable.assign(variable + ops.cast(poison, variable.dtype))

    def _nan_poison(self, logits, loss_sum, found_nan=None):
        """A float32 scalar added to the state of every metric a batch fed
        (`_poison_metrics`): 0, or NaN when one of its `logits` is NaN.

        Added to the state, NaN makes every metric NaN, whatever it reads
        (scores, labels, losses) and however it counts, and keeps it NaN
        over later batches. The rule is per batch, not per example: every
        metric sees every example of the batch, so a NaN one reaches them
        all anyway. A zero weight does not spare a NaN logit, as it does not
        spare the loss. An infinite logit is a score like any other (its
        sigmoid is 0 or 1, and it is its row's maximum) and poisons
        nothing, though the loss of one may be NaN (`inf - inf`, as in the
        reference's cross-entropies).

        Whether a logit is NaN is `found_nan` where the head's metrics
        already know it (a histogram of every logit's score). Otherwise, as
        a NaN logit makes the head's own loss NaN, the logits are searched
        only for a batch whose weighted loss sum `loss_sum` is NaN
        (`backend.only_if`): one more pass over every batch's logits costs
        a compiled binary evaluation step of 65,536 examples a sixth to a
        quarter more (XLA on CPU), the branch nothing measurable in a
        1024 x 1000 multi-class step. A `loss_fn` need not be NaN there, so
        its batches are always searched.
        """
        def poison(found):
            return ops.cast(ops.where(found, np.nan, 0.0), "float32")

        def search():
            return poison(ops.any(ops.isnan(logits)))

        if found_nan is not None:
            return poison(found_nan)
        if self._loss_fn is not None:
            return search()
        return backend.only_if(
            ops.isnan(loss_sum), search, lambda: ops.zeros((), "float32")
        )

    # --- spec --------------------------------------------------------------------

    def _deferred_predictions(self, logits):
        """All predictions, the string ones computed only when read.

        TRAIN and EVAL specs hold these, so a compiled step that never reads
        class names never builds strings (which XLA and jax.jit reject).
        """
        strings = self._string_prediction_keys
        if not strings:
            return super()._deferred_predictions(logits)
        numeric = [k for k in self._prediction_keys if k not in strings]
        return Predictions(
            self.predictions(logits, keys=numeric),
            [(strings, lambda: self.predictions(logits, keys=strings))],
            order=self._prediction_keys,
        )

    def create_estimator_spec(self, features, mode, logits, labels=None,
                              optimizer=None, trainable_variables=None,
                              train_op_fn=None, update_ops=None,
                              regularization_losses=None):
        """Returns an `EstimatorSpec` for `mode`.

        PREDICT: predictions and export outputs. EVAL: also the loss and the
        metrics updated with this batch. Any other mode is TRAIN: the loss, a
        train op and `summaries`.

        In TRAIN mode give exactly one of:

        * `train_op_fn`: called once with the regularized loss; what it
          returns is `spec.train_op`. Works everywhere, eager or compiled.
        * `optimizer` (a `keras.optimizers.Optimizer`) and
          `trainable_variables`: the loss's gradient is applied with
          `optimizer.apply`. Keras 3 has no graph-mode `get_updates`, so call
          this inside a `tf.function` on TensorFlow (the update runs with
          the function) or in eager PyTorch; elsewhere it raises
          `ValueError`.

        `update_ops` (ops or zero-argument callables) run after the update.
        """
        if mode == ModeKeys.PREDICT:
            predictions = self.predictions(logits)
            return EstimatorSpec(
                mode=ModeKeys.PREDICT,
                predictions=predictions,
                export_outputs=self._export_outputs(predictions),
            )
        predictions = self._deferred_predictions(logits)
        loss = self.loss(labels=labels, logits=logits, features=features,
                         mode=mode, regularization_losses=regularization_losses)
        if mode == ModeKeys.EVAL:
            return self._eval_spec(predictions, loss, features, logits,
                                   labels, regularization_losses)
        summaries = {self._key(MetricKeys.LOSS): loss}
        if regularization_losses is not None:
            summaries[self._key(MetricKeys.LOSS_REGULARIZATION)] = (
                sum_regularization(regularization_losses)
            )
        return self._train_spec(predictions, loss, summaries, optimizer,
                                trainable_variables, train_op_fn, update_ops)
