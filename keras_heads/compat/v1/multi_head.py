"""`tf.contrib.estimator.multi_head`: several named v1 heads as one.

The v1 multi-head builds every head's own spec (with a no-op
`train_op_fn`) and merges them:

* TRAIN: the loss is `Σ head_weight · head loss`, trained with `optimizer`
  or `train_op_fn`; `summaries` are the heads' own plus `loss`.
* EVAL: the same loss; the metrics are each head's plus `loss/<head>`, the
  mean of that head's loss.
* PREDICT: predictions keyed `(head name, key)`; export outputs merged as
  `keras_heads.MultiHead` merges them (whose code does it).

It has no `regularization_losses` parameter, and its `create_loss` returns
a `LossSpec` whose parts are dicts keyed by head name.
"""

from keras import ops

from keras_heads.compat.v1 import train_op as v1_train_op
from keras_heads.compat.v1.heads import Head
from keras_heads.compat.v1.heads import LossSpec
from keras_heads.heads.multi_head import MultiHead as _V2MultiHead
from keras_heads.heads.train_op import NO_OP
from keras_heads.keys import MetricKeys
from keras_heads.keys import ModeKeys
from keras_heads.keys import summary_key
from keras_heads.metrics import Mean
from keras_heads.spec import EstimatorSpec
from keras_heads.spec import Predictions


def multi_head(heads, head_weights=None):
    """A v1 head that merges `heads` (each with a name) for multi-objective
    learning.

    Logits are a dict keyed by head name, or one `[D0, ..., DN, Σ d]`
    tensor split along its last axis in head order; labels a dict keyed by
    head name. The first head serves the default signature.

    Args:
      heads: a non-empty list or tuple of v1 heads, each with a name.
      head_weights: optional list of floats, one per head, weighting the
        heads' losses.

    Example:

    >>> from keras_heads.compat import v1
    >>> head = multi_head([v1.multi_label_head(2, name="head1"),
    ...                    v1.multi_label_head(3, name="head2")],
    ...                   head_weights=[1.0, 2.0])
    >>> head.name, head.logits_dimension
    ('head1_head2', 5)
    >>> logits = {
    ...     "head1": np.array([[-10.0, 10.0], [-15.0, 10.0]], "float32"),
    ...     "head2": np.array([[20.0, -20.0, 20.0], [-30.0, 20.0, -20.0]],
    ...                       "float32")}
    >>> labels = {"head1": np.array([[1, 0], [1, 1]]),
    ...           "head2": np.array([[0, 1, 0], [1, 1, 0]])}
    >>> spec = head.create_estimator_spec(
    ...     features={}, mode="eval", logits=logits, labels=labels)
    >>> round(float(spec.loss), 2)
    38.75
    >>> {k: round(float(spec.eval_metric_ops[k].result()), 2)
    ...  for k in ("loss/head1", "loss/head2")}
    {'loss/head1': 8.75, 'loss/head2': 15.0}
    """
    if head_weights and len(head_weights) != len(heads):
        raise ValueError(
            "heads and head_weights must have the same size. Given "
            f"len(heads): {len(heads)}. Given len(head_weights): "
            f"{len(head_weights)}."
        )
    if not heads:
        raise ValueError(
            f"Must specify heads. Given: {heads}. Pass a non-empty list of "
            "named heads, e.g. [binary_classification_head(name='a'), ...]."
        )
    for i, head in enumerate(heads):
        if not head.name:
            raise ValueError(
                "All given heads must have name specified. Given: "
                f"{head} (heads[{i}], name={head.name!r}). Its name keys its "
                "logits, labels, predictions and metrics."
            )
    return MultiHead(heads, head_weights)


def _no_op_train_fn(loss):
    del loss
    return NO_OP


def _check_keys(values, names, what):
    missing = [name for name in names if name not in values]
    if missing:
        raise KeyError(
            f"{what} has missing values for head(s): {missing}. Expected a "
            f"dict with a key per head: {names}; got keys: {list(values)}."
        )


def _as_predictions(predictions):
    if isinstance(predictions, Predictions):
        return predictions
    return Predictions(predictions)


class MultiHead(Head):
    """The v1 multi-head that `multi_head` returns (see there).

    Example:

    >>> from keras_heads.compat import v1
    >>> head = MultiHead([v1.regression_head(name="a"),
    ...                   v1.regression_head(label_dimension=2, name="b")])
    >>> spec = head.create_loss(
    ...     features={}, mode="train",
    ...     logits=np.array([[1.0, 2.0, 3.0]], "float32"),
    ...     labels={"a": np.array([[0.0]], "float32"),
    ...             "b": np.array([[2.0, 1.0]], "float32")})
    >>> float(spec.training_loss), sorted(spec.unreduced_loss)
    (3.0, ['a', 'b'])
    """

    def __init__(self, heads, head_weights=None):
        self._heads = tuple(heads)
        self._head_weights = tuple(head_weights) if head_weights else ()
        # v2's MultiHead reads only `name` and `logits_dimension` of its
        # heads to split logits and to merge export outputs: reused here.
        self._merger = _V2MultiHead(list(self._heads))

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

    @property
    def logits_dimension(self):
        return sum(head.logits_dimension for head in self._heads)

    def _logits_by_head(self, logits):
        if isinstance(logits, dict):
            _check_keys(logits, [head.name for head in self._heads], "logits")
            return logits
        return self._merger._split_logits(logits)

    def _weighted(self, values):
        """`values` (one per head), each times its head weight."""
        if not self._head_weights:
            return list(values)
        return [ops.multiply(value, weight)
                for value, weight in zip(values, self._head_weights)]

    def _merged_loss(self, losses):
        total = None
        for loss in self._weighted(losses):
            total = loss if total is None else total + loss
        return total

    def create_loss(self, features, mode, logits, labels):
        """Returns a `LossSpec`: the head-weighted sum of the heads' training
        losses, and dicts keyed by head name of their unreduced losses and
        weights (both times the head weight) and processed labels."""
        logits = self._logits_by_head(logits)
        if not isinstance(labels, dict):
            raise ValueError(
                f"labels must be a dict. Given: {labels}. Expected a dict "
                f"keyed by head name: {[head.name for head in self._heads]}."
            )
        _check_keys(labels, [head.name for head in self._heads], "labels")
        specs = [
            head.create_loss(features, mode, logits[head.name],
                             labels[head.name])
            for head in self._heads
        ]
        names = [head.name for head in self._heads]
        return LossSpec(
            training_loss=self._merged_loss([s.training_loss for s in specs]),
            unreduced_loss=dict(zip(names, self._weighted(
                [s.unreduced_loss for s in specs]))),
            weights=dict(zip(names, self._weighted(
                [s.weights for s in specs]))),
            processed_labels=dict(zip(names,
                                      [s.processed_labels for s in specs])),
        )

    def create_estimator_spec(self, features, mode, logits, labels=None,
                              optimizer=None, train_op_fn=None):
        """Returns the merged `keras_heads.EstimatorSpec` for `mode` (TRAIN,
        EVAL or PREDICT; see the module docstring)."""
        if mode not in (ModeKeys.TRAIN, ModeKeys.EVAL, ModeKeys.PREDICT):
            raise ValueError(
                f"mode={mode} unrecognized. Expected one of "
                f"{ModeKeys.TRAIN!r}, {ModeKeys.EVAL!r}, {ModeKeys.PREDICT!r}."
            )
        logits = self._logits_by_head(logits)
        if labels is not None and not isinstance(labels, dict):
            raise ValueError(
                f"labels must be a dict. Given: {labels}. Expected a dict "
                f"keyed by head name: {[head.name for head in self._heads]}."
            )
        if labels:
            _check_keys(labels, [head.name for head in self._heads], "labels")
        specs = [
            head.create_estimator_spec(
                features=features, mode=mode, logits=logits[head.name],
                labels=labels[head.name] if labels else None,
                train_op_fn=_no_op_train_fn,
            )
            for head in self._heads
        ]
        if mode == ModeKeys.PREDICT:
            return EstimatorSpec(
                mode=ModeKeys.PREDICT,
                predictions={
                    (head.name, key): value
                    for head, spec in zip(self._heads, specs)
                    for key, value in spec.predictions.items()
                },
                export_outputs=self._merger._merged_export_outputs(specs),
            )
        predictions = Predictions.merged(
            _as_predictions(spec.predictions).prefixed(head.name)
            for head, spec in zip(self._heads, specs)
        )
        loss = self._merged_loss([spec.loss for spec in specs])
        if mode == ModeKeys.EVAL:
            return EstimatorSpec(
                mode=ModeKeys.EVAL,
                predictions=predictions,
                loss=loss,
                eval_metric_ops=self._eval_metrics(specs),
            )
        summaries = {}
        eval_metrics = {}
        for spec in specs:
            summaries.update(spec.summaries)
            eval_metrics.update(spec.eval_metric_ops)
        summaries[MetricKeys.LOSS] = loss
        return EstimatorSpec(
            mode=ModeKeys.TRAIN,
            predictions=predictions,
            loss=loss,
            train_op=v1_train_op.create_train_op(loss, optimizer, train_op_fn),
            eval_metric_ops=eval_metrics,
            summaries=summaries,
        )

    def _eval_metrics(self, specs):
        eval_metrics = {}
        for head, spec in zip(self._heads, specs):
            key = summary_key(MetricKeys.LOSS, head.name)
            eval_metrics[key] = Mean(name=key)
            eval_metrics[key].update_state(spec.loss)
            eval_metrics.update(spec.eval_metric_ops)
        return eval_metrics
