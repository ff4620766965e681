"""The string and integer constants of `tf.contrib.learn`'s heads.

They differ from the v2 heads' (`keras_heads.keys`): the predicted value of a
regression is `scores`, the metric keys are `labels/...` and `%f`-formatted,
and the prediction mode is `ModeKeys.INFER`.
"""


class ModeKeys:
    """The three modes of `create_model_fn_ops`.

    `INFER` is the mode `keras_heads.ModeKeys` calls `PREDICT`; both are the
    string `"infer"`.

    Example:

    >>> from keras_heads.compat.learn import ModeKeys
    >>> ModeKeys.INFER
    'infer'
    >>> ModeKeys.validate("predict")
    Traceback (most recent call last):
    ...
    ValueError: Invalid mode 'predict'. Expected one of 'train', 'eval', ...
    """

    TRAIN = "train"
    EVAL = "eval"
    INFER = "infer"

    @classmethod
    def all(cls):
        """The valid modes, in the order TRAIN, EVAL, INFER."""
        return (cls.TRAIN, cls.EVAL, cls.INFER)

    @classmethod
    def validate(cls, key):
        """Raises `ValueError` unless `key` is one of the three modes."""
        if not (isinstance(key, str) and key in cls.all()):
            raise ValueError(
                f"Invalid mode {key!r}. Expected one of 'train', 'eval', "
                "'infer' (ModeKeys.TRAIN, ModeKeys.EVAL, ModeKeys.INFER)."
            )


class ProblemType:
    """What an output alternative holds; decides its export output.

    `LINEAR_REGRESSION` becomes a `RegressionOutput`, `CLASSIFICATION` and
    `LOGISTIC_REGRESSION` a `ClassificationOutput`, `UNSPECIFIED` a
    `PredictOutput` (see `ModelFnOps.estimator_spec`).

    Example:

    >>> from keras_heads.compat.learn import ProblemType
    >>> ProblemType.CLASSIFICATION, ProblemType.LINEAR_REGRESSION
    (1, 2)
    """

    UNSPECIFIED = 0
    CLASSIFICATION = 1
    LINEAR_REGRESSION = 2
    LOGISTIC_REGRESSION = 3


class PredictionKey:
    """Keys of the prediction dicts of the contrib.learn heads.

    Example:

    >>> from keras_heads.compat.learn import PredictionKey
    >>> PredictionKey.SCORES
    'scores'
    """

    CLASSES = "classes"
    PROBABILITIES = "probabilities"
    LOGITS = "logits"
    LOGISTIC = "logistic"
    SCORES = "scores"


class MetricKey:
    """Keys of the eval metrics and summaries of the contrib.learn heads.

    The `*_MEAN` threshold keys are `%f` patterns (six decimals) and the
    `CLASS_*` keys `%d` patterns. A head with a `head_name` suffixes every
    key with `/<head_name>`.

    Example:

    >>> from keras_heads.compat.learn import MetricKey
    >>> MetricKey.ACCURACY_MEAN % 0.5
    'accuracy/threshold_0.500000_mean'
    >>> MetricKey.CLASS_LOGITS_MEAN % 2
    'labels/logits_mean/class2'
    """

    LOSS = "loss"
    AUC = "auc"
    AUC_PR = "auc_precision_recall"
    CLASS_AUC = "auc/class%d"
    CLASS_AUC_PR = "auc_precision_recall/class%d"
    PREDICTION_MEAN = "labels/prediction_mean"
    CLASS_PREDICTION_MEAN = "labels/prediction_mean/class%d"
    CLASS_LOGITS_MEAN = "labels/logits_mean/class%d"
    CLASS_PROBABILITY_MEAN = "labels/probability_mean/class%d"
    LABEL_MEAN = "labels/actual_label_mean"
    CLASS_LABEL_MEAN = "labels/actual_label_mean/class%d"
    ACCURACY = "accuracy"
    ACCURACY_BASELINE = "accuracy/baseline_label_mean"
    ACCURACY_MEAN = "accuracy/threshold_%f_mean"
    PRECISION_MEAN = "precision/positive_threshold_%f_mean"
    RECALL_MEAN = "recall/positive_threshold_%f_mean"
