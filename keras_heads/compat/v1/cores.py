"""The v2 heads inside the v1 heads, with v1's differences.

A v1 head (`keras_heads.compat.v1.heads.SingleHead`) holds a v2 head, its
*core*, and reuses its label processing, weights, unreduced loss,
predictions, metric objects and export outputs. Where the TF 1.x heads
behaved differently, a core below overrides the v2 hook:

* binary and multi-class label range errors read `Labels must <=
  n_classes - 1` and `Labels must >= 0`;
* a multi-class vocabulary need not hold `n_classes` names (an id past its
  end is predicted as `UNK`, and `all_classes` is the vocabulary as given);
* binary and multi-label metrics follow v1's semantics
  (`keras_heads.compat.v1.metrics`);
* multi-label predictions are only `logits` and `probabilities`.

The regression heads (squared error, Poisson, logistic) behave as in v2:
their cores are the v2 classes themselves. A core's own `loss_reduction`
is never used: the v1 head reduces with v1's reductions.
"""

import keras
from keras import ops

from keras_heads import backend
from keras_heads.compat.v1 import metrics as v1_metrics
from keras_heads.heads import classes
from keras_heads.heads.binary_class import BinaryClassHead
from keras_heads.heads.multi_class import MultiClassHead
from keras_heads.heads.multi_label import MultiLabelHead
from keras_heads.keys import PredictionKeys
from keras_heads.keys import SignatureKeys
from keras_heads.ops import labels as label_ops
from keras_heads.ops.reduction import Reduction
from keras_heads.spec import ClassificationOutput
from keras_heads.spec import PredictOutput

# The reduction cores are built with; never used (see the module docstring).
UNUSED_REDUCTION = Reduction.SUM

_TOO_LARGE = "Labels must <= n_classes - 1 (n_classes={})"
_TOO_SMALL = "Labels must >= 0"
# What v1 predicted for a class id that its vocabulary does not reach.
_UNKNOWN_CLASS = "UNK"


class BinaryCore(BinaryClassHead):
    """`BinaryClassHead` with v1's label errors and metrics.

    Metrics: `accuracy/positive_threshold_<t>` counts `p >= t`, `auc` and
    `auc_precision_recall` are v1's trapezoidal AUCs, `accuracy_baseline` is
    1.0 before any label.

    Example:

    >>> core = BinaryCore(thresholds=[0.5])
    >>> eval_metrics = core.metrics()
    >>> _ = core.update_metrics(eval_metrics, {}, logits=[[0.0], [2.0]],
    ...                         labels=[[1], [0]])
    >>> float(eval_metrics["accuracy/positive_threshold_0.5"].result())
    0.5
    """

    _semantics = v1_metrics.Semantics

    def __init__(self, weight_column=None, thresholds=None,
                 label_vocabulary=None, loss_fn=None, name=None):
        super().__init__(
            weight_column=weight_column, thresholds=thresholds,
            label_vocabulary=label_vocabulary,
            loss_reduction=UNUSED_REDUCTION, loss_fn=loss_fn, name=name,
        )

    def _processed_labels(self, logits, labels):
        labels = label_ops.check_dense_labels(labels, logits, 1)
        if self._label_vocabulary is not None:
            labels = classes.ids_from_string_labels(
                labels, self._label_vocabulary, too_small=_TOO_SMALL
            )
        elif backend.is_string(labels):
            raise ValueError(
                "String labels need a label_vocabulary: pass "
                "label_vocabulary=[<negative class>, <positive class>], or "
                "give labels as 0/1 numbers."
            )
        labels = ops.cast(labels, "float32")
        return label_ops.guard_range(
            labels, 0.0, 1.0, _TOO_LARGE.format(2), _TOO_SMALL
        )


class MultiClassCore(MultiClassHead):
    """`MultiClassHead` with v1's label errors, and a vocabulary of any
    length.

    Example:

    >>> core = MultiClassCore(3, label_vocabulary=["a", "b"])
    >>> p = core.predictions(np.array([[0.0, 0.0, 5.0]], "float32"))
    >>> np.asarray(p["classes"]).ravel().tolist()
    [b'UNK']
    >>> np.asarray(p["all_classes"]).tolist()
    [[b'a', b'b']]
    """

    def __init__(self, n_classes, weight_column=None, label_vocabulary=None,
                 loss_fn=None, name=None):
        super().__init__(
            n_classes, weight_column=weight_column,
            loss_reduction=UNUSED_REDUCTION, loss_fn=loss_fn, name=name,
        )
        # The names of `all_classes` and the export's classes.
        self._all_class_names = self._class_names
        if label_vocabulary is not None:
            vocabulary = classes.validate_vocabulary(label_vocabulary)
            self._label_vocabulary = vocabulary
            self._all_class_names = list(vocabulary)
            # The name of each class id, for `classes`.
            self._class_names = [
                vocabulary[i] if i < len(vocabulary) else _UNKNOWN_CLASS
                for i in range(n_classes)
            ]

    def _processed_labels(self, logits, labels):
        labels = label_ops.check_dense_labels(labels, logits, 1)
        n = self._n_classes
        if self._label_vocabulary is not None:
            labels = classes.ids_from_string_labels(
                labels, self._label_vocabulary, too_small=_TOO_SMALL
            )
        elif backend.is_string(labels) or not keras.backend.is_int_dtype(
            keras.backend.standardize_dtype(labels.dtype)
        ):
            dtype = "string" if backend.is_string(labels) else (
                keras.backend.standardize_dtype(labels.dtype)
            )
            raise ValueError(
                f"Labels dtype should be integer. Instead got <dtype: "
                f"'{dtype}'>. Give class ids in [0, {n}), or class names "
                "with a label_vocabulary."
            )
        return label_ops.guard_range(
            labels, 0, n - 1, _TOO_LARGE.format(n), _TOO_SMALL
        )

    def predictions(self, logits, keys=None):
        """The v2 predictions; `all_classes` is the vocabulary as given."""
        out = super().predictions(logits, keys)
        if (PredictionKeys.ALL_CLASSES in out
                and self._all_class_names != self._class_names):
            out[PredictionKeys.ALL_CLASSES] = backend.tiled_strings(
                self._all_class_names,
                label_ops.check_logits(logits, self._n_classes),
            )
        return out


class MultiLabelCore(MultiLabelHead):
    """`MultiLabelHead` with v1's predictions (`logits`, `probabilities`)
    and metrics (trapezoidal AUCs, `p >= t` accuracies).

    Example:

    >>> core = MultiLabelCore(n_classes=2)
    >>> sorted(core.predictions(np.zeros((1, 2), "float32")))
    ['logits', 'probabilities']
    """

    _prediction_keys = (PredictionKeys.LOGITS, PredictionKeys.PROBABILITIES)
    _string_prediction_keys = ()
    _semantics = v1_metrics.Semantics

    def __init__(self, n_classes, weight_column=None, thresholds=None,
                 label_vocabulary=None, loss_fn=None,
                 classes_for_class_based_metrics=None, name=None):
        super().__init__(
            n_classes, weight_column=weight_column, thresholds=thresholds,
            label_vocabulary=label_vocabulary,
            loss_reduction=UNUSED_REDUCTION, loss_fn=loss_fn,
            classes_for_class_based_metrics=classes_for_class_based_metrics,
            name=name,
        )

    def predictions(self, logits, keys=None):
        """`logits` and `probabilities` (no `classes`, as in v1)."""
        return super().predictions(logits, keys or self._prediction_keys)

    def _export_outputs(self, predictions):
        scores = predictions[PredictionKeys.PROBABILITIES]
        classification = ClassificationOutput(
            scores=scores,
            classes=backend.tiled_strings(self._class_names, scores),
        )
        return {
            SignatureKeys.DEFAULT: classification,
            SignatureKeys.CLASSIFY: classification,
            SignatureKeys.PREDICT: PredictOutput(predictions),
        }
