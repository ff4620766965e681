"""`multi_head`: several named contrib.learn heads on one network."""

from keras import ops

from keras_heads.compat.learn import train_ops
from keras_heads.compat.learn.base import Head
from keras_heads.compat.learn.base import check_mode
from keras_heads.compat.learn.loss_only import _LossOnlyHead
from keras_heads.compat.learn.keys import ModeKeys
from keras_heads.compat.learn.model_fn_ops import ModelFnOps
from keras_heads.spec import Predictions


def _as_predictions(predictions):
    if isinstance(predictions, Predictions):
        return predictions
    return Predictions(predictions or {})


class _MultiHead(Head):
    """Merges the `ModelFnOps` of several named heads (see `multi_head`)."""

    def __init__(self, heads, loss_weights=None):
        heads = list(heads or [])
        if not heads:
            raise ValueError(
                f"Must specify heads. Given: {heads}. Pass a non-empty list "
                "of named heads."
            )
        for i, head in enumerate(heads):
            if not getattr(head, "head_name", None):
                raise ValueError(
                    f"Members of MultiHead must have names. heads[{i}] "
                    f"({head!r}) has head_name="
                    f"{getattr(head, 'head_name', None)!r}; give every head "
                    "a head_name."
                )
        self._heads = tuple(heads)
        self._loss_weights = (
            tuple(loss_weights)
            if loss_weights is not None and len(loss_weights) else ()
        )

    @property
    def heads(self):
        """The heads, in order."""
        return self._heads

    @property
    def logits_dimension(self):
        return sum(head.logits_dimension for head in self._heads)

    @property
    def trainable_variables(self):
        variables = []
        for head in self._heads:
            for variable in head.trainable_variables:
                if not any(variable is v for v in variables):
                    variables.append(variable)
        return variables

    def _head_logits(self, logits, logits_input):
        """`[{"logits": ...} or {"logits_input": ...}]`, one per head."""
        if logits is None:
            return [{"logits_input": logits_input} for _ in self._heads]
        if logits_input is not None:
            raise ValueError(
                "Both logits and logits_input supplied. Pass exactly one: "
                "logits (a dict keyed by head name, or one tensor to split "
                "among the heads), or logits_input."
            )
        if isinstance(logits, dict):
            names = [h.head_name for h in self._heads
                     if not isinstance(h, _LossOnlyHead)]
            missing = [name for name in names if name not in logits]
            if missing:
                raise ValueError(
                    f"logits has no entry for head(s) {missing}. Expected a "
                    f"dict with a key per head: {names}; got keys: "
                    f"{list(logits)}."
                )
            return [
                {"logits": None if isinstance(head, _LossOnlyHead)
                 else logits[head.head_name]}
                for head in self._heads
            ]
        return [{"logits": part} for part in self._split_logits(logits)]

    def _split_logits(self, logits):
        logits = ops.cast(ops.convert_to_tensor(logits), "float32")
        shape = tuple(logits.shape)
        dimensions = [head.logits_dimension for head in self._heads]
        if len(shape) != 2:
            raise ValueError(
                "logits must have rank 2, [batch_size, "
                f"{sum(dimensions)}], to be split among the heads; got shape "
                f"{shape}. Or pass a dict of logits keyed by head name."
            )
        if shape[-1] is not None and shape[-1] != sum(dimensions):
            raise ValueError(
                f"Could not split logits of shape {shape} among the heads "
                f"with logits dimensions {dimensions}: the last dimension "
                f"must be their sum, {sum(dimensions)}."
            )
        parts, begin = [], 0
        for head, size in zip(self._heads, dimensions):
            if isinstance(head, _LossOnlyHead):
                parts.append(None)
            else:
                parts.append(logits[:, begin:begin + size])
            begin += size
        return parts

    def _merged_loss(self, losses):
        if self._loss_weights:
            losses = [loss * weight
                      for loss, weight in zip(losses, self._loss_weights)]
        total = losses[0]
        for loss in losses[1:]:
            total = total + loss
        return total

    def create_model_fn_ops(self, features, mode, labels=None,
                            train_op_fn=None, logits=None, logits_input=None,
                            scope=None):
        """Calls every head (with the full `labels` and `no_op_train_fn`)
        and merges their `ModelFnOps`.

        `logits` is a dict keyed by head name (a loss-only head gets None)
        or one `[batch_size, logits_dimension]` tensor split in head order;
        without `logits`, every head gets `logits_input`. TRAIN: the loss is
        `sum(loss_weight * head loss)`, the train op groups
        `train_op_fn(loss)` with the heads' train ops, the metrics are
        merged and there are no predictions. EVAL: also predictions keyed
        `(head_name, key)`. INFER: predictions keyed `(head_name, key)` and
        the heads' output alternatives, loss-only heads skipped.
        """
        check_mode(mode)
        all_ops = [
            head.create_model_fn_ops(
                features=features, mode=mode, labels=labels,
                train_op_fn=train_ops.no_op_train_fn, scope=scope,
                **head_logits,
            )
            for head, head_logits in zip(
                self._heads, self._head_logits(logits, logits_input)
            )
        ]
        summaries = {}
        for model_fn_ops in all_ops:
            summaries.update(model_fn_ops.summaries)
        if mode == ModeKeys.INFER:
            return self._merge_infer(all_ops, summaries)
        loss = self._merged_loss([m.loss for m in all_ops])
        if mode == ModeKeys.TRAIN:
            train_ops.check_train_op_fn(train_op_fn)
            train_op = train_ops.group(
                [train_ops.call_train_op_fn(train_op_fn, loss)]
                + [m.train_op for m in all_ops]
            )
            # The heads' TRAIN metrics are built when read: merged unread.
            eval_metric_ops = Predictions.merged(
                _as_predictions(m.eval_metric_ops) for m in all_ops
            )
            return ModelFnOps(mode=mode, loss=loss, train_op=train_op,
                              eval_metric_ops=eval_metric_ops,
                              summaries=summaries)
        eval_metric_ops = {}
        for model_fn_ops in all_ops:
            eval_metric_ops.update(model_fn_ops.eval_metric_ops)
        predictions = Predictions.merged(
            _as_predictions(m.predictions).prefixed(head.head_name)
            for head, m in zip(self._heads, all_ops)
        )
        return ModelFnOps(mode=mode, predictions=predictions, loss=loss,
                          eval_metric_ops=eval_metric_ops, summaries=summaries)

    def _merge_infer(self, all_ops, summaries):
        predictions, alternatives = {}, {}
        for head, model_fn_ops in zip(self._heads, all_ops):
            if isinstance(head, _LossOnlyHead):
                continue
            name = head.head_name
            alternatives[name] = model_fn_ops.output_alternatives[name]
            for key, value in model_fn_ops.predictions.items():
                predictions[(name, key)] = value
        return ModelFnOps(mode=ModeKeys.INFER, predictions=predictions,
                          output_alternatives=alternatives,
                          summaries=summaries)


def multi_head(heads, loss_weights=None):
    """A head that merges several named heads on one network.

    Args:
      heads: a non-empty list of heads, each with a `head_name` (a
        `loss_only_head` has one by default).
      loss_weights: optional list of floats, one per head, weighting the
        heads' losses (a plain sum without).

    Every head reads its own labels (`label_name`) from the full `labels`
    dict, and its metric keys carry its name. `logits_dimension` is the sum
    of the heads'.

    Example:

    >>> from keras_heads.compat import learn
    >>> head = learn.multi_head([
    ...     learn.multi_class_head(n_classes=2, label_name="click",
    ...                            head_name="click"),
    ...     learn.regression_head(label_name="dwell", head_name="dwell")],
    ...     loss_weights=[1.0, 0.5])
    >>> head.logits_dimension
    2
    >>> ops_ = head.create_model_fn_ops(
    ...     features={}, mode=learn.ModeKeys.INFER,
    ...     logits=np.array([[2.0, 1.0], [-1.0, 3.0]]))
    >>> sorted(ops_.predictions)[:2], sorted(ops_.output_alternatives)
    ([('click', 'classes'), ('click', 'logistic')], ['click', 'dwell'])
    """
    if loss_weights is not None and len(loss_weights) and (
        len(loss_weights) != len(heads)
    ):
        raise ValueError(
            "heads and loss_weights must have same size. Given "
            f"len(heads)={len(heads)}, len(loss_weights)={len(loss_weights)}."
        )
    return _MultiHead(heads, loss_weights)
