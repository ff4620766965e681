"""Golden keys: the exact metric, prediction, export and summary keys of each
head configuration (dashboards, alerts and serving clients are keyed on these
strings; conventions.md §3-§6, binary_class_head.md §5-§6,
multi_class_head.md §5-§6, regression_heads.md §1.4-§3)."""

import keras
import numpy as np
import pytest

from keras_heads import BinaryClassHead
from keras_heads import LogisticRegressionHead
from keras_heads import MetricKeys
from keras_heads import ModeKeys
from keras_heads import MultiClassHead
from keras_heads import PoissonRegressionHead
from keras_heads import PredictionKeys
from keras_heads import RegressionHead
from keras_heads import SignatureKeys
from keras_heads.keys import summary_key

BINARY_LOGITS = np.array([[0.3], [-0.4]], np.float32)
MULTI_LOGITS = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], np.float32)
REGRESSION_LOGITS = np.array([[0.3], [-0.4]], np.float32)

BINARY_METRICS = {
    "average_loss",
    "accuracy",
    "precision",
    "recall",
    "prediction/mean",
    "label/mean",
    "accuracy_baseline",
    "auc",
    "auc_precision_recall",
}
BINARY_PREDICTIONS = {
    "logits",
    "logistic",
    "probabilities",
    "class_ids",
    "classes",
    "all_class_ids",
    "all_classes",
}
BINARY_EXPORTS = {"serving_default", "classification", "regression", "predict"}
MULTI_PREDICTIONS = {
    "logits",
    "probabilities",
    "class_ids",
    "classes",
    "all_class_ids",
    "all_classes",
}
MULTI_EXPORTS = {"serving_default", "classification", "predict"}
REGRESSION_METRICS = {"average_loss", "prediction/mean", "label/mean"}
REGRESSION_EXPORTS = {"serving_default", "regression", "predict"}

# (id, head factory, logits, eval labels, regularization_losses,
#  metric keys, prediction keys, export keys, train summary keys)
CASES = [
    (
        "binary",
        lambda: BinaryClassHead(),
        BINARY_LOGITS,
        np.array([[1.0], [0.0]], np.float32),
        None,
        BINARY_METRICS,
        BINARY_PREDICTIONS,
        BINARY_EXPORTS,
        {"loss"},
    ),
    (
        "binary_thresholds_named",
        lambda: BinaryClassHead(thresholds=[0.25, 0.5], name="h"),
        BINARY_LOGITS,
        np.array([[1.0], [0.0]], np.float32),
        None,
        {
            "average_loss/h",
            "accuracy/h",
            "precision/h",
            "recall/h",
            "prediction/mean/h",
            "label/mean/h",
            "accuracy_baseline/h",
            "auc/h",
            "auc_precision_recall/h",
            "accuracy/positive_threshold_0.25/h",
            "precision/positive_threshold_0.25/h",
            "recall/positive_threshold_0.25/h",
            "accuracy/positive_threshold_0.5/h",
            "precision/positive_threshold_0.5/h",
            "recall/positive_threshold_0.5/h",
        },
        BINARY_PREDICTIONS,
        BINARY_EXPORTS,
        {"loss/h"},
    ),
    (
        "binary_thresholds_percent_g",
        lambda: BinaryClassHead(thresholds=[1e-05, 0.123456789]),
        BINARY_LOGITS,
        np.array([[1.0], [0.0]], np.float32),
        None,
        BINARY_METRICS
        | {
            "accuracy/positive_threshold_1e-05",
            "precision/positive_threshold_1e-05",
            "recall/positive_threshold_1e-05",
            "accuracy/positive_threshold_0.123457",
            "precision/positive_threshold_0.123457",
            "recall/positive_threshold_0.123457",
        },
        BINARY_PREDICTIONS,
        BINARY_EXPORTS,
        {"loss"},
    ),
    (
        "multi_class",
        lambda: MultiClassHead(3),
        MULTI_LOGITS,
        np.array([[0], [1]], np.int64),
        None,
        {"average_loss", "accuracy"},
        MULTI_PREDICTIONS,
        MULTI_EXPORTS,
        {"loss"},
    ),
    (
        "multi_class_named_regularized",
        lambda: MultiClassHead(3, name="mc"),
        MULTI_LOGITS,
        np.array([[0], [1]], np.int64),
        [1.0],
        {"average_loss/mc", "accuracy/mc", "regularization_loss/mc"},
        MULTI_PREDICTIONS,
        MULTI_EXPORTS,
        {"loss/mc", "regularization_loss/mc"},
    ),
    (
        "regression",
        lambda: RegressionHead(),
        REGRESSION_LOGITS,
        np.array([[1.0], [2.0]], np.float32),
        None,
        REGRESSION_METRICS,
        {"predictions"},
        REGRESSION_EXPORTS,
        {"loss"},
    ),
    (
        "regression_inverse_link",
        lambda: RegressionHead(inverse_link_fn=keras.ops.exp),
        REGRESSION_LOGITS,
        np.array([[1.0], [2.0]], np.float32),
        None,
        REGRESSION_METRICS,
        {"predictions", "logits"},
        REGRESSION_EXPORTS,
        {"loss"},
    ),
    (
        "poisson",
        lambda: PoissonRegressionHead(),
        REGRESSION_LOGITS,
        np.array([[1.0], [3.0]], np.float32),
        None,
        REGRESSION_METRICS,
        {"predictions", "logits"},
        REGRESSION_EXPORTS,
        {"loss"},
    ),
    (
        "logistic_named",
        lambda: LogisticRegressionHead(name="lr"),
        REGRESSION_LOGITS,
        np.array([[0.2], [0.9]], np.float32),
        None,
        {"average_loss/lr", "prediction/mean/lr", "label/mean/lr"},
        {"predictions", "logits"},
        REGRESSION_EXPORTS,
        {"loss/lr"},
    ),
]
IDS = [case[0] for case in CASES]


def _case(name):
    return dict(zip(
        ["id", "head", "logits", "labels", "reg", "metrics", "predictions",
         "exports", "summaries"],
        CASES[IDS.index(name)],
    ))


@pytest.mark.parametrize("name", IDS)
def test_metric_keys(name):
    """`head.metrics(...)` has exactly the golden keys (name suffix appended
    after the whole key, thresholds formatted with %g)."""
    case = _case(name)
    head = case["head"]()
    metrics = head.metrics(regularization_losses=case["reg"])
    assert set(metrics) == case["metrics"]


@pytest.mark.parametrize("name", IDS)
def test_eval_metric_ops_keys(name):
    """An EVAL spec reports the same keys, every one updated and finite."""
    case = _case(name)
    head = case["head"]()
    spec = head.create_estimator_spec(
        features={}, mode=ModeKeys.EVAL, logits=case["logits"],
        labels=case["labels"], regularization_losses=case["reg"],
    )
    assert set(spec.eval_metric_ops) == case["metrics"]
    for key, metric in spec.eval_metric_ops.items():
        assert np.isfinite(float(metric.result())), key


@pytest.mark.parametrize("name", IDS)
def test_prediction_keys(name):
    """`head.predictions(logits)` has exactly the golden keys (never
    name-suffixed)."""
    case = _case(name)
    head = case["head"]()
    assert set(head.predictions(case["logits"])) == case["predictions"]


@pytest.mark.parametrize("name", IDS)
def test_predict_spec_keys(name):
    """PREDICT: export signatures are exactly the golden set, and the spec's
    predictions carry the golden prediction keys."""
    case = _case(name)
    head = case["head"]()
    spec = head.create_estimator_spec(
        features={}, mode="infer", logits=case["logits"]
    )
    assert set(spec.export_outputs) == case["exports"]
    assert set(spec.predictions) == case["predictions"]


@pytest.mark.parametrize("name", IDS)
def test_train_summary_keys(name):
    """TRAIN: summaries `loss` (and `regularization_loss` when given), both
    name-suffixed."""
    case = _case(name)
    head = case["head"]()
    spec = head.create_estimator_spec(
        features={}, mode=ModeKeys.TRAIN, logits=case["logits"],
        labels=case["labels"], train_op_fn=lambda loss: keras.ops.zeros(()),
        regularization_losses=case["reg"],
    )
    assert set(spec.summaries) == case["summaries"]


def test_binary_prediction_keys_can_be_selected():
    """Requested keys only, and an unknown key is a ValueError."""
    head = BinaryClassHead()
    selected = head.predictions(BINARY_LOGITS, keys=["classes", "logistic"])
    assert set(selected) == {"classes", "logistic"}
    with pytest.raises(ValueError, match="Prediction key must be in"):
        head.predictions(BINARY_LOGITS, keys=["logistic", "top_k"])


# --- the constants themselves ------------------------------------------------


@pytest.mark.parametrize(
    "constant, value",
    [
        (ModeKeys.TRAIN, "train"),
        (ModeKeys.EVAL, "eval"),
        (ModeKeys.PREDICT, "infer"),
        (PredictionKeys.CLASSES, "classes"),
        (PredictionKeys.CLASS_IDS, "class_ids"),
        (PredictionKeys.ALL_CLASSES, "all_classes"),
        (PredictionKeys.ALL_CLASS_IDS, "all_class_ids"),
        (PredictionKeys.LOGISTIC, "logistic"),
        (PredictionKeys.LOGITS, "logits"),
        (PredictionKeys.PREDICTIONS, "predictions"),
        (PredictionKeys.PROBABILITIES, "probabilities"),
        (PredictionKeys.TOP_K, "top_k"),
        (MetricKeys.LOSS, "loss"),
        (MetricKeys.LOSS_MEAN, "average_loss"),
        (MetricKeys.LOSS_REGULARIZATION, "regularization_loss"),
        (MetricKeys.ACCURACY, "accuracy"),
        (MetricKeys.PRECISION, "precision"),
        (MetricKeys.RECALL, "recall"),
        (MetricKeys.ACCURACY_BASELINE, "accuracy_baseline"),
        (MetricKeys.AUC, "auc"),
        (MetricKeys.AUC_PR, "auc_precision_recall"),
        (MetricKeys.LABEL_MEAN, "label/mean"),
        (MetricKeys.PREDICTION_MEAN, "prediction/mean"),
        (MetricKeys.ACCURACY_AT_THRESHOLD % 0.1,
         "accuracy/positive_threshold_0.1"),
        (MetricKeys.PRECISION_AT_THRESHOLD % 1e-05,
         "precision/positive_threshold_1e-05"),
        (MetricKeys.RECALL_AT_THRESHOLD % 0.123456789,
         "recall/positive_threshold_0.123457"),
        (MetricKeys.PROBABILITY_MEAN_AT_CLASS % 0, "probability_mean/class0"),
        (MetricKeys.AUC_AT_CLASS % 2, "auc/class2"),
        (MetricKeys.AUC_PR_AT_CLASS % 1, "auc_precision_recall/class1"),
        (MetricKeys.PROBABILITY_MEAN_AT_NAME % "cat", "probability_mean/cat"),
        (MetricKeys.AUC_AT_NAME % "cat", "auc/cat"),
        (MetricKeys.AUC_PR_AT_NAME % "cat", "auc_precision_recall/cat"),
        (MetricKeys.PRECISION_AT_RECALL % 0.7, "precision_at_recall_0.7"),
        (MetricKeys.RECALL_AT_PRECISION % 0.7, "recall_at_precision_0.7"),
        (MetricKeys.SENSITIVITY_AT_SPECIFICITY % 0.7,
         "sensitivity_at_specificity_0.7"),
        (MetricKeys.SPECIFICITY_AT_SENSITIVITY % 0.7,
         "specificity_at_sensitivity_0.7"),
        (SignatureKeys.DEFAULT, "serving_default"),
        (SignatureKeys.CLASSIFY, "classification"),
        (SignatureKeys.REGRESS, "regression"),
        (SignatureKeys.PREDICT, "predict"),
    ],
)
def test_key_constants(constant, value):
    """Every public key constant equals the reference string."""
    assert constant == value


@pytest.mark.parametrize(
    "key, head_name, expected",
    [
        ("auc", None, "auc"),
        ("auc", "", "auc"),
        ("auc", "head1", "auc/head1"),
        ("accuracy/positive_threshold_0.5", "head1",
         "accuracy/positive_threshold_0.5/head1"),
    ],
)
def test_summary_key(key, head_name, expected):
    """The suffix `/<name>` is added only for a truthy name."""
    assert summary_key(key, head_name) == expected
