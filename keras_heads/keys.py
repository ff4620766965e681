"""String constants shared by every head: modes, predictions, metrics, signatures.

These values are part of the public contract (dashboards, alerts and serving
clients are keyed on them), so they equal the reference's strings exactly.
"""


class ModeKeys:
    """The three modes a head is asked to build a spec for."""

    TRAIN = "train"
    EVAL = "eval"
    PREDICT = "infer"


class PredictionKeys:
    """Keys of the prediction dicts returned by `Head.predictions`."""

    CLASSES = "classes"
    CLASS_IDS = "class_ids"
    ALL_CLASSES = "all_classes"
    ALL_CLASS_IDS = "all_class_ids"
    LOGISTIC = "logistic"
    LOGITS = "logits"
    PREDICTIONS = "predictions"
    PROBABILITIES = "probabilities"
    TOP_K = "top_k"


class MetricKeys:
    """Keys of the metric dicts returned by `Head.metrics`.

    The `*_AT_*` keys are `%`-format patterns: thresholds use `%g`, class ids
    `%d` and class names `%s`.
    """

    LOSS = "loss"
    LOSS_MEAN = "average_loss"
    LOSS_REGULARIZATION = "regularization_loss"
    ACCURACY = "accuracy"
    PRECISION = "precision"
    RECALL = "recall"
    ACCURACY_BASELINE = "accuracy_baseline"
    AUC = "auc"
    AUC_PR = "auc_precision_recall"
    LABEL_MEAN = "label/mean"
    PREDICTION_MEAN = "prediction/mean"

    ACCURACY_AT_THRESHOLD = "accuracy/positive_threshold_%g"
    PRECISION_AT_THRESHOLD = "precision/positive_threshold_%g"
    RECALL_AT_THRESHOLD = "recall/positive_threshold_%g"

    PROBABILITY_MEAN_AT_CLASS = "probability_mean/class%d"
    AUC_AT_CLASS = "auc/class%d"
    AUC_PR_AT_CLASS = "auc_precision_recall/class%d"

    PROBABILITY_MEAN_AT_NAME = "probability_mean/%s"
    AUC_AT_NAME = "auc/%s"
    AUC_PR_AT_NAME = "auc_precision_recall/%s"

    PRECISION_AT_RECALL = "precision_at_recall_%g"
    RECALL_AT_PRECISION = "recall_at_precision_%g"
    SENSITIVITY_AT_SPECIFICITY = "sensitivity_at_specificity_%g"
    SPECIFICITY_AT_SENSITIVITY = "specificity_at_sensitivity_%g"


class SignatureKeys:
    """Names of the serving signatures a head exports."""

    DEFAULT = "serving_default"
    CLASSIFY = "classification"
    REGRESS = "regression"
    PREDICT = "predict"


def summary_key(key, head_name):
    """Returns `key` suffixed with `/<head_name>` when the head is named."""
    return f"{key}/{head_name}" if head_name else key
