"""What the classification heads share: class names, ids and label look-up."""

import math
import numbers

import keras
from keras import ops

from keras_heads import backend
from keras_heads import metrics
from keras_heads.keys import MetricKeys
from keras_heads.keys import PredictionKeys
from keras_heads.keys import SignatureKeys
from keras_heads.spec import ClassificationOutput
from keras_heads.spec import PredictOutput
from keras_heads.ops import labels as label_ops


def validate_vocabulary(label_vocabulary, error="should be a list or a tuple"):
    """Checks a label vocabulary: a list or tuple of distinct strings."""
    if label_vocabulary is None:
        return None
    if not isinstance(label_vocabulary, (list, tuple)):
        raise ValueError(
            f"label_vocabulary {error}. Given type: {type(label_vocabulary)}"
        )
    for entry in label_vocabulary:
        if not isinstance(entry, str):
            raise ValueError(
                "label_vocabulary must hold strings; got "
                f"{entry!r} of type {type(entry)}."
            )
    duplicates = sorted(
        {v for v in label_vocabulary if label_vocabulary.count(v) > 1}
    )
    if duplicates:
        raise ValueError(
            f"label_vocabulary has duplicated entries: {duplicates}."
        )
    return tuple(label_vocabulary)


def validate_thresholds(thresholds, out_of_range):
    """Checks metric thresholds: numbers in (0, 1), each naming its own
    metrics. Returns them as a tuple.

    `out_of_range(thresholds, t)` words the error for a threshold `t`
    outside (0, 1), so that each head keeps the reference's message.
    Thresholds whose metric keys (`accuracy/positive_threshold_%g`) would
    be the same are rejected: one would silently replace the other.
    """
    thresholds = () if thresholds is None else tuple(thresholds)
    for t in thresholds:
        if (isinstance(t, bool) or not isinstance(t, numbers.Real)
                or math.isnan(t)):
            raise ValueError(
                "thresholds must be numbers in (0, 1). Given: "
                f"{list(thresholds)}, which holds {t!r}."
            )
        if not 0.0 < t < 1.0:
            raise ValueError(out_of_range(thresholds, t))
    by_key = {}
    for t in thresholds:
        by_key.setdefault(MetricKeys.ACCURACY_AT_THRESHOLD % t, []).append(t)
    repeated = [ts for ts in by_key.values() if len(ts) > 1]
    if repeated:
        raise ValueError(
            "thresholds must be distinct (to 6 significant digits: each "
            "names its metrics, e.g. accuracy/positive_threshold_<t>). "
            f"Given: {list(thresholds)}, where {repeated} coincide."
        )
    return thresholds


def class_names(n_classes, label_vocabulary):
    """The vocabulary, or the decimal class ids `"0" .. "n-1"`."""
    if label_vocabulary:
        return list(label_vocabulary)
    return [str(i) for i in range(n_classes)]


def ids_from_string_labels(labels, label_vocabulary,
                           too_small="Labels must be >= 0"):
    """Class ids of labels that must be names, since a vocabulary is set."""
    if not backend.is_string(labels):
        dtype = keras.backend.standardize_dtype(labels.dtype)
        raise ValueError(
            "Labels dtype should be string if there is a vocabulary. Instead "
            f"got <dtype: '{dtype}'>; label_vocabulary="
            f"{list(label_vocabulary)}."
        )
    return ids_from_vocabulary(labels, label_vocabulary, too_small=too_small)


def ids_from_vocabulary(labels, label_vocabulary,
                        too_small="Labels must be >= 0",
                        argument="label_vocabulary"):
    """int64 ids of string labels; a label not in the vocabulary raises when
    values are known (`too_small`, as the reference words it, then the
    unknown names and the vocabulary, called `argument`), and becomes -1
    while tracing."""
    ids = backend.lookup_ids(labels, label_vocabulary)
    if not backend.is_traced(ids) and bool(ops.any(ids < 0)):
        raise ValueError(
            f"{too_small}: labels has values that are not in "
            f"{argument} {list(label_vocabulary)}: "
            f"{label_ops.unknown_labels(labels, ids)}."
        )
    return ids


def first_argmax(scores):
    """NumPy's `argmax(scores, axis=-1)`, on every backend and compiler.

    The position of the first maximum, where a NaN counts as larger than
    any number: a row holding a NaN gets the position of its first NaN,
    and `-0.0` ties `0.0`. (TensorFlow's own argmax skips NaN, and it and
    JAX's rank `-0.0` below `0.0`.) Infinities are ordinary values.

    >>> ids = first_argmax(np.array(
    ...     [[1.0, 3.0, 3.0], [0.0, np.nan, 5.0], [-0.0, 0.0, -1.0]],
    ...     "float32"))
    >>> ops.convert_to_numpy(ids).tolist()
    [1, 1, 0]
    """
    is_nan = ops.isnan(scores)
    first_nan = ops.argmax(ops.cast(is_nan, "int32"), axis=-1)
    # Without NaN or `-0.0`, every backend's argmax is NumPy's.
    unsigned_zeros = ops.where(scores == 0.0, 0.0, scores)
    return ops.where(
        ops.any(is_nan, axis=-1), first_nan,
        ops.argmax(unsigned_zeros, axis=-1),
    )


def class_predictions(scores, names, keys):
    """`class_ids`, `classes`, `all_class_ids`, `all_classes` (those in `keys`).

    `scores` is `[D0..DN, n]`; the predicted class is `first_argmax`: the
    first maximum, or the first NaN of a row that holds one. The `all_*`
    keys are tiled over the first dimension only.
    """
    out = {}
    class_ids = ops.expand_dims(first_argmax(scores), -1)
    if PredictionKeys.CLASS_IDS in keys:
        out[PredictionKeys.CLASS_IDS] = ops.cast(class_ids, backend.int64())
    if PredictionKeys.CLASSES in keys:
        out[PredictionKeys.CLASSES] = backend.gather_strings(names, class_ids)
    rows = ops.shape(scores)[0]
    if PredictionKeys.ALL_CLASS_IDS in keys:
        all_ids = ops.expand_dims(ops.arange(len(names), dtype="int32"), 0)
        out[PredictionKeys.ALL_CLASS_IDS] = ops.tile(all_ids, (rows, 1))
    if PredictionKeys.ALL_CLASSES in keys:
        out[PredictionKeys.ALL_CLASSES] = backend.tiled_strings(names, scores)
    return out


def threshold_metrics(threshold, totals):
    """The three `.../positive_threshold_<t>` metrics of one threshold, read
    from the head's `HistogramTotals`."""
    accuracy = MetricKeys.ACCURACY_AT_THRESHOLD % threshold
    precision = MetricKeys.PRECISION_AT_THRESHOLD % threshold
    recall = MetricKeys.RECALL_AT_THRESHOLD % threshold
    return {
        accuracy: metrics.BinaryAccuracy(
            threshold, name=accuracy, totals=totals
        ),
        precision: metrics.Precision(threshold, name=precision, totals=totals),
        recall: metrics.Recall(threshold, name=recall, totals=totals),
    }


# The buckets of a head's AUC metrics, and so of its histogram.
AUC_BUCKETS = 200


def histogram_metrics(semantics, thresholds, decisions=False):
    """`auc`, `auc_precision_recall` and the metrics of each threshold, all
    reading one `HistogramTotals` (the AUC's `totals`), which also counts
    `decisions` when asked."""
    totals = metrics.HistogramTotals(
        AUC_BUCKETS, thresholds=semantics.histogram_thresholds(thresholds),
        decisions=decisions, histogram=semantics.histogram,
    )
    objects = {
        MetricKeys.AUC: semantics.auc(totals=totals),
        MetricKeys.AUC_PR: semantics.auc(
            curve="PR", name=MetricKeys.AUC_PR, totals=totals
        ),
    }
    for t in thresholds:
        objects.update(semantics.threshold_metrics(t, totals))
    return objects


def update_histogram_metrics(eval_metrics, key, labels, logits, weights,
                             decisions=None, histogram=None):
    """Adds the batch's histogram of `sigmoid(logits)` (or `histogram`, one
    already made with the same layout) to the totals that the metrics of
    `histogram_metrics` read: one scatter-add and one state update feed all
    of them.

    Returns whether a logit was NaN (a scalar bool), which the histogram,
    that counted it as NaN, tells at no cost: what a head's
    `_update_head_metrics` returns for `SingleHead.update_metrics`.
    """
    totals = eval_metrics[key(MetricKeys.AUC)].totals
    if histogram is None:
        histogram = totals.histogram(
            labels, logits, weights, decisions=decisions,
            activation=ops.sigmoid,
        )
    totals.add(histogram)
    return histogram.has_nan()


def logit_histogram(semantics, thresholds, labels, logits, weights,
                    sigmoid_and_sum):
    """The histogram that `update_histogram_metrics` adds for a head with
    these `semantics` and metric `thresholds`, made directly, with
    `sigmoid_and_sum` as the `ScoreHistogram`'s `activation_and_sum`."""
    return semantics.histogram(
        labels, logits, weights, num_buckets=AUC_BUCKETS,
        thresholds=semantics.histogram_thresholds(thresholds),
        activation_and_sum=sigmoid_and_sum,
    )


class MetricSemantics:
    """How a classification head's metrics read its scores: `tf.keras`'s,
    as the v2 heads compute them.

    The binary and multi-label heads build their AUCs, accuracy baseline and
    threshold metrics through these names, so a head with other semantics
    (the TF 1.x heads of `keras_heads.compat.v1`) replaces this class and
    nothing else.
    """

    auc = metrics.AUC
    accuracy_baseline = metrics.AccuracyBaseline
    histogram = metrics.ScoreHistogram

    @staticmethod
    def histogram_thresholds(thresholds):
        """The metric thresholds the head's histogram counts."""
        return thresholds

    threshold_metrics = staticmethod(threshold_metrics)


def classification_export_outputs(predictions, scores_key, classes_key):
    """`serving_default` and `classification` (one `ClassificationOutput` of
    scores and every class name) and `predict` (all predictions)."""
    classification = ClassificationOutput(
        scores=predictions[scores_key], classes=predictions[classes_key]
    )
    return {
        SignatureKeys.DEFAULT: classification,
        SignatureKeys.CLASSIFY: classification,
        SignatureKeys.PREDICT: PredictOutput(predictions),
    }
