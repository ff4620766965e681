"""The TF1 metric formulas of contrib.learn heads (spec A.4 §6, A.6, B.5),
and the eval metric values of each factory on the reference's examples."""

import numpy as np
import pytest

from keras_heads.compat import learn
from keras_heads.compat.learn.metrics import PrecisionAtThreshold
from keras_heads.compat.learn.metrics import RecallAtThreshold
from keras_heads.compat.learn.metrics import TrapezoidAUC
from tests.backends import numpy

EVAL = learn.ModeKeys.EVAL


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, "float64")))


def _results(head, labels, logits, features=None):
    model_fn_ops = head.create_model_fn_ops(
        features=features or {}, mode=EVAL, labels=labels, logits=logits)
    return {key: float(numpy(metric.result()))
            for key, metric in model_fn_ops.eval_metric_ops.items()}


def _assert_results(results, expected, rtol=1e-5, atol=1e-6):
    assert sorted(results) == sorted(expected)
    for key, value in expected.items():
        np.testing.assert_allclose(results[key], value, rtol=rtol, atol=atol,
                                   err_msg=key)


# --- the metric objects ------------------------------------------------------


def test_trapezoid_auc_of_the_weighted_3d_binary_example():
    scores = _sigmoid([10, -10, 12, -12]).astype("float32")
    labels = np.array([0, 0, 1, 1])
    weights = np.array([1.0, 1.5, 2.0, 2.5], "float32")
    roc, pr = TrapezoidAUC(), TrapezoidAUC(curve="PR")
    for metric in (roc, pr):
        metric.update_state(labels, scores, weights)
    np.testing.assert_allclose(float(numpy(roc.result())), 0.5222221,
                               rtol=1e-5)
    np.testing.assert_allclose(float(numpy(pr.result())), 0.7341269,
                               rtol=1e-5)


def test_trapezoid_auc_streams_over_batches():
    scores = _sigmoid([10, -10, 12, -12]).astype("float32")
    labels = np.array([0, 0, 1, 1])
    whole, split = TrapezoidAUC(), TrapezoidAUC()
    whole.update_state(labels, scores)
    split.update_state(labels[:2], scores[:2])
    split.update_state(labels[2:], scores[2:])
    assert float(numpy(whole.result())) == float(numpy(split.result()))


def test_precision_and_recall_at_threshold_add_epsilon_to_the_denominator():
    # One positive of weight 1e-6: TF1's 1e-7 in the denominator shows.
    precision, recall = PrecisionAtThreshold(0.5), RecallAtThreshold(0.5)
    for metric in (precision, recall):
        metric.update_state([[1]], [[0.9]], sample_weight=[[1e-6]])
    np.testing.assert_allclose(float(numpy(precision.result())), 1 / 1.1,
                               rtol=1e-4)
    np.testing.assert_allclose(float(numpy(recall.result())), 1 / 1.1,
                               rtol=1e-4)
    empty = PrecisionAtThreshold(0.5)
    assert float(numpy(empty.result())) == 0.0


# --- binary ------------------------------------------------------------------


def test_binary_metrics_of_the_reference_example():
    results = _results(learn.multi_class_head(n_classes=2),
                       np.array([[1.0], [0.0]], "float32"),
                       np.array([[1.0], [1.0]], "float32"))
    _assert_results(results, {
        "loss": 0.8132616,
        "accuracy": 0.5,
        "accuracy/baseline_label_mean": 0.5,
        "accuracy/threshold_0.500000_mean": 0.5,
        "auc": 0.5,
        "auc_precision_recall": 0.749999,
        "labels/actual_label_mean": 0.5,
        "labels/prediction_mean": 0.731059,
        "precision/positive_threshold_0.500000_mean": 0.5,
        "recall/positive_threshold_0.500000_mean": 1.0,
    })


def test_binary_weighted_metrics_use_v1_auc_and_the_label_mean_baseline():
    head = learn.multi_class_head(n_classes=2, weight_column_name="w")
    results = _results(
        head, np.array([[1], [1], [0]]),
        np.array([[45.0], [-41.0], [44.0]], "float32"),
        {"w": np.array([[1.0], [0.1], [1.5]], "float32")})
    _assert_results(results, {
        "loss": 26.9615385,
        "accuracy": 0.3846154,
        "labels/prediction_mean": 0.9615385,
        "labels/actual_label_mean": 0.4230769,
        # The label mean itself, not max(m, 1 - m).
        "accuracy/baseline_label_mean": 0.4230769,
        "auc": 0.4545456,
        "auc_precision_recall": 0.6737757,
        "accuracy/threshold_0.500000_mean": 0.3846154,
        "precision/positive_threshold_0.500000_mean": 0.4,
        "recall/positive_threshold_0.500000_mean": 0.9090909,
    })


def test_binary_threshold_accuracy_is_non_strict_precision_is_strict():
    # logistic(0) = 0.5 exactly: positive for accuracy (p >= t), negative
    # for precision and recall (p > t).
    results = _results(
        learn.multi_class_head(n_classes=2, thresholds=[0.5]),
        np.array([[1.0]], "float32"), np.array([[0.0]], "float32"))
    assert results["accuracy/threshold_0.500000_mean"] == 1.0
    assert results["precision/positive_threshold_0.500000_mean"] == 0.0
    assert results["recall/positive_threshold_0.500000_mean"] == 0.0
    assert results["accuracy"] == 0.0  # class_ids: 1 iff logits > 0


def test_binary_metrics_at_several_thresholds():
    logits = np.array([[-1.0], [1.0]], "float32")  # logistic .268941, .731059
    results = _results(
        learn.multi_class_head(n_classes=2, thresholds=[0.25, 0.5, 0.75]),
        np.array([[1], [1]]), logits)
    expected = {0.25: (1.0, 1.0, 1.0), 0.5: (0.5, 1.0, 0.5),
                0.75: (0.0, 0.0, 0.0)}
    for t, (accuracy, precision, recall) in expected.items():
        np.testing.assert_allclose(
            [results["accuracy/threshold_%f_mean" % t],
             results["precision/positive_threshold_%f_mean" % t],
             results["recall/positive_threshold_%f_mean" % t]],
            [accuracy, precision, recall], rtol=1e-6)


# --- multi-class -------------------------------------------------------------


def test_multi_class_per_class_metrics():
    logits = np.array([[1.0, 0.0, 0.0]], "float32")
    results = _results(
        learn.multi_class_head(n_classes=3, metric_class_ids=range(3)),
        np.array([[2]]), logits)
    softmax = np.exp(logits[0]) / np.exp(logits[0]).sum()
    expected = {"loss": 1.5514446, "accuracy": 0.0}
    for c in range(3):
        expected[f"labels/prediction_mean/class{c}"] = float(c == 0)
        expected[f"labels/actual_label_mean/class{c}"] = float(c == 2)
        expected[f"labels/probability_mean/class{c}"] = softmax[c]
        expected[f"labels/logits_mean/class{c}"] = logits[0, c]
    _assert_results(results, expected)


def test_multi_class_weighted_per_class_means():
    head = learn.multi_class_head(n_classes=3, metric_class_ids=[1],
                                  weight_column_name="w")
    logits = np.array([[0.0, 2.0, 0.0], [3.0, 0.0, 0.0]], "float32")
    results = _results(head, np.array([1, 1]), logits,
                       {"w": np.array([1.0, 3.0], "float32")})
    np.testing.assert_allclose(results["accuracy"], 0.25, rtol=1e-6)
    np.testing.assert_allclose(results["labels/prediction_mean/class1"], 0.25,
                               rtol=1e-6)
    np.testing.assert_allclose(results["labels/actual_label_mean/class1"], 1.0,
                               rtol=1e-6)
    np.testing.assert_allclose(results["labels/logits_mean/class1"], 0.5,
                               rtol=1e-6)


def test_multi_class_accuracy_with_label_keys_compares_names():
    head = learn.multi_class_head(n_classes=3, label_keys=["a", "b", "c"],
                                  metric_class_ids=[0])
    results = _results(head, np.array([["a"], ["c"]]),
                       np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]], "float32"))
    # Without class ids as classes, no per-class metrics.
    assert sorted(results) == ["accuracy", "loss"]
    assert results["accuracy"] == 0.5


# --- SVM ---------------------------------------------------------------------


def test_svm_accuracy():
    results = _results(learn.binary_svm_head(), np.array([0, 1, 1]),
                       np.array([[-0.5], [1.2], [-0.1]], "float32"))
    np.testing.assert_allclose(results["accuracy"], 2 / 3, rtol=1e-6)


# --- multi-label -------------------------------------------------------------


def test_multi_label_metrics_of_the_reference_example():
    logits = np.array([[1.0, 0.0, 0.0]], "float32")
    results = _results(
        learn.multi_label_head(n_classes=3, metric_class_ids=range(3)),
        np.array([[0, 0, 1]]), logits)
    expected = {
        "loss": 0.89985204,
        "accuracy": 1 / 3,
        "auc": 0.25,
        "auc_precision_recall": 0.166667,
        "auc/class0": 1.0, "auc/class1": 1.0, "auc/class2": 0.0,
        "auc_precision_recall/class0": 0.0,
        "auc_precision_recall/class1": 0.0,
        "auc_precision_recall/class2": 1.0,
    }
    for c in range(3):
        expected[f"labels/actual_label_mean/class{c}"] = float(c == 2)
        expected[f"labels/logits_mean/class{c}"] = logits[0, c]
        expected[f"labels/prediction_mean/class{c}"] = float(c == 0)
        expected[f"labels/probability_mean/class{c}"] = _sigmoid(logits[0, c])
    _assert_results(results, expected, atol=2e-6)


@pytest.mark.parametrize("weights, logits, auc, auc_pr", [
    (None, [[-1.0, 1.0], [-1.5, 1.5]], 0.3333332, 0.7638887),
    ([[1.0], [2.0]], [[-10.0, 10.0], [-15.0, 10.0]], 0.2, 0.7833332),
])
def test_multi_label_aucs_are_v1_aucs(weights, logits, auc, auc_pr):
    head = learn.multi_label_head(n_classes=2, weight_column_name="w")
    features = {"w": np.ones((2, 1), "float32") if weights is None
                else np.array(weights, "float32")}
    results = _results(head, np.array([[1, 0], [1, 1]]),
                       np.array(logits, "float32"), features)
    np.testing.assert_allclose(results["auc"], auc, rtol=1e-5)
    np.testing.assert_allclose(results["auc_precision_recall"], auc_pr,
                               rtol=1e-5)


def test_multi_label_per_class_weights_are_the_example_weights():
    head = learn.multi_label_head(n_classes=2, weight_column_name="w",
                                  metric_class_ids=[1])
    logits = np.array([[-1.0, 2.0], [1.0, -2.0]], "float32")
    results = _results(head, np.array([[0, 1], [1, 1]]), logits,
                       {"w": np.array([1.0, 3.0], "float32")})
    np.testing.assert_allclose(results["labels/logits_mean/class1"],
                               (2.0 - 6.0) / 4, rtol=1e-6)
    np.testing.assert_allclose(results["labels/prediction_mean/class1"], 0.25,
                               rtol=1e-6)
    np.testing.assert_allclose(results["accuracy"], (1 + 1 + 3) / 8,
                               rtol=1e-6)


def test_regression_metrics_are_the_report_loss():
    head = learn.regression_head(weight_column_name="w")
    results = _results(head, np.array([[0.0], [1.0], [1.0]], "float32"),
                       np.array([[1.0], [1.0], [3.0]], "float32"),
                       {"w": np.array([[2.0], [5.0], [0.0]], "float32")})
    _assert_results(results, {"loss": 2 / 7})
