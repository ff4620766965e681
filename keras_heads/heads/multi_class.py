"""`MultiClassHead`: one label among `n_classes > 2`, softmax cross-entropy."""

import keras
from keras import ops

from keras_heads import backend
from keras_heads.heads import classes
from keras_heads.heads.base import SingleHead
from keras_heads.heads.base import select_keys
from keras_heads.heads.config import register
from keras_heads.keys import MetricKeys
from keras_heads.keys import PredictionKeys
from keras_heads import metrics
from keras_heads.ops import labels as label_ops
from keras_heads.ops import losses
from keras_heads.ops.reduction import Reduction

_KEYS = (
    PredictionKeys.LOGITS,
    PredictionKeys.PROBABILITIES,
    PredictionKeys.CLASS_IDS,
    PredictionKeys.CLASSES,
    PredictionKeys.ALL_CLASS_IDS,
    PredictionKeys.ALL_CLASSES,
)


def _softmax(logits):
    """The softmax over the last axis, the same on every backend for any
    logits.

    Each logit is shifted by its row's maximum, the maximum itself to
    exactly 0, so that an infinite maximum gives no `inf - inf`: `+inf`
    logits share all of their row's probability, and a row of `-inf` is
    uniform, as any row of equal logits. A row holding a NaN is all NaN.
    (`keras.ops.softmax` differs there: NaN on JAX and PyTorch, and on
    TensorFlow NaN or 0 by position.)

    >>> p = _softmax(ops.convert_to_tensor(
    ...     [[np.inf, 0.0, np.inf], [np.nan, 0.0, 1.0]], "float32"))
    >>> ops.convert_to_numpy(p).tolist()
    [[0.5, 0.0, 0.5], [nan, nan, nan]]
    """
    top = backend.reduce_last_axis(ops.max, logits)
    exponentials = ops.exp(ops.where(logits == top, 0.0, logits - top))
    return exponentials / ops.sum(exponentials, axis=-1, keepdims=True)


@register
class MultiClassHead(SingleHead):
    """A head for single-label classification over `n_classes > 2` classes.

    Labels are integer class ids `[D0, ..., DN, 1]` (or `[D0, ..., DN]`),
    or class names when `label_vocabulary` is set. Logits are
    `[D0, ..., DN, n_classes]`. For two classes use `BinaryClassHead`.

    Args:
      n_classes: number of classes, > 2.
      weight_column: a feature key or `keras_heads.numeric_column` naming the
        example weights in `features`.
      label_vocabulary: `n_classes` class names; string labels are looked up
        in it and `classes` predictions are these names.
      loss_reduction: one of `keras_heads.Reduction` except `NONE`.
      loss_fn: optional `loss_fn(labels, logits[, features])` returning the
        unreduced `[D0, ..., DN, 1]` loss; labels are integer class ids.
      name: suffixes the metric keys; required in `MultiHead`.

    Example:

    >>> head = MultiClassHead(3, label_vocabulary=["cat", "dog", "eel"])
    >>> logits = np.array([[10.0, 0.0, 0.0], [0.0, 10.0, 0.0]], "float32")
    >>> loss = head.loss(labels=np.array([["dog"], ["dog"]]), logits=logits)
    >>> round(float(loss), 4)
    5.0001
    >>> np.asarray(head.predictions(logits)["classes"]).ravel().tolist()
    [b'cat', b'dog']
    """

    _prediction_keys = _KEYS
    _string_prediction_keys = (PredictionKeys.CLASSES, PredictionKeys.ALL_CLASSES)

    def __init__(self, n_classes, weight_column=None, label_vocabulary=None,
                 loss_reduction=Reduction.SUM_OVER_BATCH_SIZE, loss_fn=None,
                 name=None):
        if n_classes is None:
            raise ValueError(
                "n_classes cannot be None. Pass the number of classes (> 2)."
            )
        self._label_vocabulary = classes.validate_vocabulary(label_vocabulary)
        if (
            self._label_vocabulary is not None
            and len(self._label_vocabulary) != n_classes
        ):
            raise ValueError(
                '"label_vocabulary" does not have "n_classes" items. '
                f"len(label_vocabulary)={len(self._label_vocabulary)}, "
                f"n_classes={n_classes}, "
                f"label_vocabulary={list(self._label_vocabulary)}"
            )
        super().__init__(weight_column, loss_reduction, loss_fn, name)
        if not isinstance(n_classes, int) or isinstance(n_classes, bool):
            raise ValueError(
                f"n_classes must be a Python int. Given: {n_classes!r}"
            )
        if n_classes <= 2:
            raise ValueError(
                f"n_classes must be > 2: {n_classes}. Use BinaryClassHead for "
                "two classes."
            )
        self._n_classes = n_classes
        self._class_names = classes.class_names(
            n_classes, self._label_vocabulary
        )

    def _arguments(self):
        return {
            **self._common_arguments(),
            "n_classes": self._n_classes,
            "label_vocabulary": self._label_vocabulary,
            "loss_fn": self._loss_fn,
        }

    @property
    def logits_dimension(self):
        return self._n_classes

    # --- labels and loss ---------------------------------------------------------

    def _processed_labels(self, logits, labels):
        labels = label_ops.check_dense_labels(labels, logits, 1)
        is_string = backend.is_string(labels)
        if self._label_vocabulary is not None:
            labels = classes.ids_from_string_labels(
                labels, self._label_vocabulary
            )
        else:
            dtype = "string" if is_string else keras.backend.standardize_dtype(
                labels.dtype
            )
            if is_string or not keras.backend.is_int_dtype(dtype):
                raise ValueError(
                    f"Labels dtype should be integer. Instead got <dtype: "
                    f"'{dtype}'>. Give class ids in [0, {self._n_classes}), "
                    "or class names with a label_vocabulary."
                )
        n = self._n_classes
        return label_ops.guard_range(
            labels, 0, n - 1, f"Labels must be <= {n} - 1",
            "Labels must be >= 0",
        )

    def _default_loss(self, labels, logits):
        return losses.sparse_softmax_cross_entropy(labels, logits)

    # --- predictions -----------------------------------------------------------

    def predictions(self, logits, keys=None):
        """Returns the predictions in `keys` (default: all six).

        `probabilities` is the softmax of the logits (see `_softmax` for
        infinite and NaN logits); `class_ids` is the first maximum of the
        logits, or the first NaN of a row holding one, by NumPy's rule
        (`classes.first_argmax`), on every backend.
        """
        keys = select_keys(keys, _KEYS)
        logits = label_ops.check_logits(logits, self._n_classes)
        out = {}
        if PredictionKeys.LOGITS in keys:
            out[PredictionKeys.LOGITS] = logits
        if PredictionKeys.PROBABILITIES in keys:
            out[PredictionKeys.PROBABILITIES] = _softmax(logits)
        out.update(classes.class_predictions(logits, self._class_names, keys))
        return {key: out[key] for key in keys}

    # --- metrics ---------------------------------------------------------------

    def _metric_objects(self):
        return {MetricKeys.ACCURACY: metrics.Accuracy()}

    def _update_head_metrics(self, eval_metrics, batch):
        matches = losses.top1_matches(batch.labels, batch.logits)
        eval_metrics[self._key(MetricKeys.ACCURACY)].update_matches(
            matches, batch.weights
        )

    # --- export ----------------------------------------------------------------

    def _export_outputs(self, predictions):
        return classes.classification_export_outputs(
            predictions, PredictionKeys.PROBABILITIES, PredictionKeys.ALL_CLASSES
        )
