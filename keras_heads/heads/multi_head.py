"""`MultiHead`: several named heads trained together on one network."""

import math
import numbers

from keras import ops

from keras_heads import backend

from keras_heads.heads.base import Head
from keras_heads.heads.base import batch_weight
from keras_heads.heads.base import sum_regularization
from keras_heads.heads.config import register
from keras_heads.keys import MetricKeys
from keras_heads.keys import ModeKeys
from keras_heads.keys import SignatureKeys
from keras_heads.keys import summary_key
from keras_heads.metrics import Mean
from keras_heads.ops.reduction import reduce_terms
from keras_heads.spec import EstimatorSpec
from keras_heads.spec import Predictions
from keras_heads.spec import PredictOutput


@register
class MultiHead(Head):
    """Combines several named heads into one multi-objective head.

    Logits and labels are dicts keyed by head name; the logits may also be
    one tensor `[D0, ..., DN, sum of logits_dimension]`, split along the last
    axis in head order. The loss is the head-weighted sum of the heads'
    losses plus the regularization; predictions are keyed by
    `(head name, prediction key)`; metric keys carry each head's name.

    Args:
      heads: a non-empty list of heads, each with a distinct `name`. The
        first one serves the default signature.
      head_weights: optional list of finite floats, one per head, weighting
        the heads' losses (not their metrics).

    Unlike the reference, `update_metrics` streams: the heads' own metrics
    are created on the first call and reused by later calls (see
    docs/differences.md).

    Example:

    >>> head = keras_heads.MultiHead([
    ...     keras_heads.BinaryClassHead(name="click"),
    ...     keras_heads.RegressionHead(name="dwell")], head_weights=[1.0, 0.5])
    >>> head.name, head.logits_dimension
    ('click_dwell', 2)
    >>> logits = np.array([[2.0, 1.0], [-1.0, 3.0]], "float32")  # click|dwell
    >>> labels = {"click": np.array([[1], [0]]),
    ...           "dwell": np.array([[2.0], [3.0]], "float32")}
    >>> loss = head.loss(labels=labels, logits=logits)  # 0.2201 + 0.5 * 0.5
    >>> round(float(loss), 4)
    0.4701
    >>> tuple(head.predictions(logits)[("dwell", "predictions")].shape)
    (2, 1)
    >>> eval_metrics = head.metrics()
    >>> sorted(head.update_metrics(eval_metrics, {}, logits, labels))[:4]
    ['accuracy/click', 'accuracy_baseline/click', 'auc/click',
     'auc_precision_recall/click']
    """

    def __init__(self, heads, head_weights=None):
        if not heads:
            raise ValueError(
                f"Must specify heads. Given: {heads}. Pass a non-empty list "
                "of named heads, e.g. [BinaryClassHead(name='a'), ...]."
            )
        if head_weights and len(head_weights) != len(heads):
            raise ValueError(
                "heads and head_weights must have the same size. Given "
                f"len(heads): {len(heads)}. Given len(head_weights): "
                f"{len(head_weights)}."
            )
        for weight in head_weights or ():
            if (isinstance(weight, bool) or not isinstance(weight, numbers.Real)
                    or not math.isfinite(weight)):
                raise ValueError(
                    "head_weights must be finite numbers, one per head. "
                    f"Given: {list(head_weights)}, which holds {weight!r}."
                )
        for i, head in enumerate(heads):
            if head.name is None:
                raise ValueError(
                    f"All given heads must have name specified. Given: {head} "
                    f"(heads[{i}], name=None). Its name keys its logits, "
                    "labels, predictions and metrics."
                )
        names = [head.name for head in heads]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(
                f"Head names must be unique. Given heads named {names}, where "
                f"{repeated} appear more than once. Each name keys a head's "
                "logits, labels, predictions and metrics."
            )
        self._heads = tuple(heads)
        self._head_weights = tuple(head_weights) if head_weights else ()
        # Per head, the keys of its own metrics, known after the first
        # `update_metrics` (see `_head_metrics`).
        self._head_metric_keys = [None] * len(self._heads)

    @property
    def heads(self):
        """The heads, in order."""
        return self._heads

    @property
    def head_weights(self):
        """The heads' loss weights, or `()`."""
        return self._head_weights

    @property
    def name(self):
        return "_".join(head.name for head in self._heads)

    def _arguments(self):
        return {
            "heads": list(self._heads),
            "head_weights": list(self._head_weights) or None,
        }

    @property
    def logits_dimension(self):
        return sum(head.logits_dimension for head in self._heads)

    @property
    def loss_reduction(self):
        """The heads' common reduction; raises if they differ."""
        reductions = [head.loss_reduction for head in self._heads]
        if len(set(reductions)) > 1:
            names = [head.name for head in self._heads]
            raise ValueError(
                "The loss_reduction must be the same for different heads. "
                f"Given: {reductions} for heads {names}. The train op needs "
                "one reduction; give every head the same loss_reduction."
            )
        return reductions[0]

    # --- logits and labels ---------------------------------------------------

    def _logits_by_head(self, logits, labels=None):
        """Checks `logits` and `labels`; returns `{head name: logits}`."""
        names = [head.name for head in self._heads]
        if isinstance(logits, dict):
            _check_keys(logits, names, "logits")
        else:
            logits = self._split_logits(logits)
        if labels is not None:
            if not isinstance(labels, dict):
                raise ValueError(
                    f"labels must be a dict. Given: {labels}. Expected a "
                    f"dict keyed by head name: {names}."
                )
            _check_keys(labels, names, "labels")
        return logits

    def _split_logits(self, logits):
        logits = ops.convert_to_tensor(logits)
        shape = list(logits.shape)
        dimensions = [head.logits_dimension for head in self._heads]
        if len(shape) < 2:
            raise ValueError(
                f"logits must have rank at least 2.  Received rank "
                f"{len(shape)}, shape {shape}. Expected [D0, ..., DN, "
                f"{sum(dimensions)}] to split among the heads, or a dict of "
                "logits keyed by head name."
            )
        if shape[-1] is not None and shape[-1] != sum(dimensions):
            raise ValueError(
                f"Could not split logits of shape {shape} among the heads "
                f"with individual logits dimensions: {dimensions}. The last "
                "dimension of the logits tensor should equal "
                f"{sum(dimensions)} (the sum of the heads' logits_dimension) "
                f"but is {shape[-1]}."
            )
        split, begin = {}, 0
        for head, size in zip(self._heads, dimensions):
            split[head.name] = logits[..., begin:begin + size]
            begin += size
        return split

    # --- loss ----------------------------------------------------------------

    def loss(self, labels, logits, features=None, mode=None,
             regularization_losses=None):
        """Returns `sum(w_i * loss_i) + sum(regularization_losses)`.

        Args:
          labels: dict of labels keyed by head name.
          logits: dict of logits keyed by head name, or one tensor whose last
            axis holds the heads' logits in order.
          features: dict of features, passed to every head.
          mode: passed to the heads (which ignore it).
          regularization_losses: optional list of scalars added once.
        """
        losses = self._head_losses(labels, logits, features, mode)
        return self._total_loss(losses, regularization_losses)

    def _head_losses(self, labels, logits, features, mode=None):
        """Each head's own (unweighted, unregularized) loss, in head order."""
        logits = self._logits_by_head(logits, labels)
        return [
            head.loss(labels=_get(labels, head.name),
                      logits=logits[head.name], features=features, mode=mode)
            for head in self._heads
        ]

    def _loss_terms(self, labels, logits, features, mode=None):
        """The heads' `(weighted sum, denominator)` terms, each sum scaled by
        its head weight (see `SingleHead._loss_terms`)."""
        logits = self._logits_by_head(logits, labels)
        weights = self._head_weights or [1.0] * len(self._heads)
        return [
            (total * weight, denominator)
            for head, weight in zip(self._heads, weights)
            for total, denominator in head._loss_terms(
                _get(labels, head.name), logits[head.name], features, mode
            )
        ]

    def _total_loss(self, losses, regularization_losses):
        if self._head_weights:
            losses = [loss * weight
                      for loss, weight in zip(losses, self._head_weights)]
        total = losses[0]
        for loss in losses[1:]:
            total = total + loss
        if regularization_losses is not None:
            total = total + sum_regularization(regularization_losses)
        return total

    # --- predictions ---------------------------------------------------------

    def predictions(self, logits, keys=None):
        """Every head's predictions, keyed by `(head name, key)`.

        `keys` is ignored, as in the reference: each head returns all of its
        predictions.
        """
        del keys
        logits = self._logits_by_head(logits)
        return {
            (head.name, key): value
            for head in self._heads
            for key, value in head.predictions(logits[head.name]).items()
        }

    def _deferred_predictions(self, logits):
        logits = self._logits_by_head(logits)
        return Predictions.merged(
            head._deferred_predictions(logits[head.name]).prefixed(head.name)
            for head in self._heads
        )

    # --- metrics -------------------------------------------------------------

    def _loss_key(self, head):
        return f"{MetricKeys.LOSS}/{head.name}"

    def metrics(self, regularization_losses=None):
        """Returns fresh `loss/<head>` means (and the regularization mean).

        The heads' own metrics are added by the first `update_metrics`.
        """
        eval_metrics = {}
        if regularization_losses is not None:
            eval_metrics[summary_key(MetricKeys.LOSS_REGULARIZATION,
                                     self.name)] = Mean(
                name=MetricKeys.LOSS_REGULARIZATION
            )
        for head in self._heads:
            eval_metrics[self._loss_key(head)] = Mean(name=self._loss_key(head))
        return eval_metrics

    def _complete_metrics(self, eval_metrics):
        for i in range(len(self._heads)):
            self._head_metrics(eval_metrics, i)

    def _head_metrics(self, eval_metrics, i):
        """Head `i`'s metrics in `eval_metrics`, created on first use."""
        keys = self._head_metric_keys[i]
        if keys is not None and all(key in eval_metrics for key in keys):
            return {key: eval_metrics[key] for key in keys}
        fresh = self._heads[i].metrics()
        self._head_metric_keys[i] = list(fresh)
        eval_metrics.update(fresh)
        return fresh

    def update_metrics(self, eval_metrics, features, logits, labels,
                       regularization_losses=None, mode=None):
        """Updates `eval_metrics` (from `metrics()`) with one batch.

        Adds each head's own metrics (keys suffixed with its name) on the
        first call and updates the same objects on later calls, so every
        metric streams over batches. `loss/<head>` is the mean of the head's
        batch losses, without head weight; a batch of no examples does not
        count. `mode` goes to the heads (see `SingleHead.update_metrics`).
        """
        logits = self._logits_by_head(logits, labels)
        # A batch of no examples adds no batch to the means over batches.
        weight = batch_weight(logits[self._heads[0].name])
        if regularization_losses is not None:
            key = summary_key(MetricKeys.LOSS_REGULARIZATION, self.name)
            eval_metrics[key].update_state(
                sum_regularization(regularization_losses),
                sample_weight=weight,
            )
        for i, head in enumerate(self._heads):
            head_logits, head_labels = logits[head.name], _get(labels, head.name)
            # Every replica adds the global batch's loss (one device's, off
            # tf.distribute), so the mean over replicas and batches is right
            # for every reduction.
            share = reduce_terms(
                head._loss_terms(head_labels, head_logits, features, mode)
            )
            eval_metrics[self._loss_key(head)].update_state(
                backend.cross_replica_sum(share), sample_weight=weight
            )
            updated = head.update_metrics(self._head_metrics(eval_metrics, i),
                                          features, head_logits, head_labels,
                                          mode=mode)
            eval_metrics.update(updated or {})
        return eval_metrics

    # --- spec ----------------------------------------------------------------

    def create_estimator_spec(self, features, mode, logits, labels=None,
                              optimizer=None, trainable_variables=None,
                              train_op_fn=None, update_ops=None,
                              regularization_losses=None):
        """Returns an `EstimatorSpec` for `mode` (TRAIN, EVAL or PREDICT).

        PREDICT merges the heads' export outputs. TRAIN builds one train op
        from the merged, regularized loss; `summaries` holds `loss` (and
        `regularization_loss`) unsuffixed plus each head's `loss/<head>`.
        """
        if mode not in (ModeKeys.TRAIN, ModeKeys.EVAL, ModeKeys.PREDICT):
            raise ValueError(
                f"mode={mode} unrecognized. Expected one of "
                f"{ModeKeys.TRAIN!r}, {ModeKeys.EVAL!r}, {ModeKeys.PREDICT!r}."
            )
        logits = self._logits_by_head(logits, labels)
        if mode == ModeKeys.PREDICT:
            head_specs = [
                head.create_estimator_spec(
                    features=features, mode=mode, logits=logits[head.name]
                )
                for head in self._heads
            ]
            # The heads' own prediction tensors: the export outputs hold them.
            predictions = {
                (head.name, key): value
                for head, spec in zip(self._heads, head_specs)
                for key, value in spec.predictions.items()
            }
            return EstimatorSpec(
                mode=ModeKeys.PREDICT,
                predictions=predictions,
                export_outputs=self._merged_export_outputs(head_specs),
            )
        predictions = self._deferred_predictions(logits)
        head_losses = self._head_losses(labels, logits, features, mode)
        loss = self._total_loss(head_losses, regularization_losses)
        if mode == ModeKeys.EVAL:
            return self._eval_spec(predictions, loss, features, logits,
                                   labels, regularization_losses)
        summaries = {
            summary_key(MetricKeys.LOSS, head.name): head_loss
            for head, head_loss in zip(self._heads, head_losses)
        }
        summaries[MetricKeys.LOSS] = loss
        if regularization_losses is not None:
            summaries[MetricKeys.LOSS_REGULARIZATION] = sum_regularization(
                regularization_losses
            )
        return self._train_spec(predictions, loss, summaries, optimizer,
                                trainable_variables, train_op_fn, update_ops)

    def _merged_export_outputs(self, head_specs):
        """`serving_default` (the first head's), a merged `predict`, and each
        head's signatures as `<head>` (its default) and `<head>/<name>`."""
        first = self._heads[0]
        outputs = {
            SignatureKeys.DEFAULT: _default_output(
                head_specs[0].export_outputs, first.name
            )
        }
        merged_predict = {}
        for head, spec in zip(self._heads, head_specs):
            for key, output in spec.export_outputs.items():
                name = (head.name if key == SignatureKeys.DEFAULT
                        else f"{head.name}/{key}")
                outputs[name] = output
                if (key == SignatureKeys.PREDICT
                        and isinstance(output, PredictOutput)):
                    for output_key, value in output.outputs.items():
                        merged_predict[f"{head.name}/{output_key}"] = value
        outputs[SignatureKeys.PREDICT] = PredictOutput(merged_predict)
        return outputs


def _check_keys(values, names, what):
    missing = [name for name in names if name not in values]
    if missing:
        raise ValueError(
            f"{what} has missing values for head(s): {missing}. Expected a "
            f"dict with a key per head: {names}; got keys: {list(values)}."
        )


def _get(labels, name):
    """The labels of one head; None (which the head rejects) without labels."""
    return None if labels is None else labels[name]


def _default_output(export_outputs, head_name):
    if len(export_outputs) == 1:
        return next(iter(export_outputs.values()))
    if SignatureKeys.DEFAULT not in export_outputs:
        raise ValueError(
            f"{head_name} did not specify default export_outputs. Given: "
            f"{export_outputs} Suggested fix: Use one of the heads in "
            f"keras_heads, or include key {SignatureKeys.DEFAULT} in "
            "export_outputs."
        )
    return export_outputs[SignatureKeys.DEFAULT]
