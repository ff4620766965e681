"""`loss_only_head`: extra loss terms (e.g. regularization) for a
`multi_head`."""

from keras import ops

from keras_heads.compat.learn import train_ops
from keras_heads.compat.learn.base import Head
from keras_heads.compat.learn.base import check_mode
from keras_heads.compat.learn.keys import MetricKey
from keras_heads.compat.learn.keys import ModeKeys
from keras_heads.compat.learn.model_fn_ops import ModelFnOps
from keras_heads.keys import summary_key


class _LossOnlyHead(Head):
    """A head of extra loss terms (e.g. regularization), with no logits,
    predictions or metrics."""

    def __init__(self, loss_fn, head_name=None):
        if not callable(loss_fn):
            raise ValueError(
                "loss_fn must be a function of no arguments returning a "
                f"scalar loss (or a list of them). Given: {loss_fn!r}."
            )
        self._loss_fn = loss_fn
        self._head_name = head_name or "loss_only_head"

    @property
    def head_name(self):
        """The head's name (default `"loss_only_head"`)."""
        return self._head_name

    @property
    def logits_dimension(self):
        return 0

    def create_model_fn_ops(self, features, mode, labels=None,
                            train_op_fn=None, logits=None, logits_input=None,
                            scope=None):
        """`loss = loss_fn()` outside INFER (a list is summed); `features`,
        `labels`, `logits`, `logits_input` and `scope` are not used."""
        del features, labels, logits, logits_input, scope
        check_mode(mode)
        loss, train_op, summaries = None, None, {}
        if mode != ModeKeys.INFER:
            loss = self._loss_fn()
            if isinstance(loss, (list, tuple)):
                terms = [ops.cast(term, "float32") for term in loss]
                loss = terms[0]
                for term in terms[1:]:
                    loss = loss + term
            loss = ops.cast(ops.convert_to_tensor(loss), "float32")
            summaries[summary_key(MetricKey.LOSS, self._head_name)] = loss
            if mode == ModeKeys.TRAIN:
                train_op = train_ops.call_train_op_fn(train_op_fn, loss)
        return ModelFnOps(mode=mode, predictions={}, loss=loss,
                          train_op=train_op, eval_metric_ops={},
                          summaries=summaries)


def loss_only_head(loss_fn, head_name=None):
    """A head holding extra loss terms, e.g. regularization, to add to
    other heads in a `multi_head`.

    Args:
      loss_fn: a function of no arguments returning a scalar loss or a list
        of them (summed).
      head_name: default `"loss_only_head"`; the summary is
        `loss/<head_name>`.

    `logits_dimension` is 0; predictions and metrics are empty and there is
    no output alternative.

    Example:

    >>> from keras_heads.compat import learn
    >>> head = learn.loss_only_head(lambda: [0.5, 0.25])
    >>> ops_ = head.create_model_fn_ops(
    ...     features={}, mode=learn.ModeKeys.TRAIN,
    ...     train_op_fn=learn.no_op_train_fn)
    >>> float(ops_.loss), list(ops_.summaries)
    (0.75, ['loss/loss_only_head'])
    """
    return _LossOnlyHead(loss_fn, head_name=head_name)
