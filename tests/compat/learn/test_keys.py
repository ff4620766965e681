"""Golden keys of the contrib.learn heads: metric keys (`%f` thresholds,
`class%d`, `/head_name` suffixes), prediction keys and summary keys, per
factory configuration (spec B.5). Dashboards are keyed on these strings."""

import numpy as np
import pytest

from keras_heads.compat import learn
from keras_heads.compat.learn import MetricKey
from keras_heads.compat.learn import PredictionKey

BINARY = [
    "loss",
    "accuracy",
    "labels/prediction_mean",
    "labels/actual_label_mean",
    "accuracy/baseline_label_mean",
    "auc",
    "auc_precision_recall",
]


def _threshold_keys(*thresholds):
    return [key
            for t in thresholds
            for key in (f"accuracy/threshold_{t:f}_mean",
                        f"precision/positive_threshold_{t:f}_mean",
                        f"recall/positive_threshold_{t:f}_mean")]


def _multi_class_class_keys(*class_ids):
    return [f"labels/{kind}/class{c}"
            for c in class_ids
            for kind in ("prediction_mean", "actual_label_mean",
                         "probability_mean", "logits_mean")]


def _multi_label_class_keys(*class_ids):
    return [key
            for c in class_ids
            for key in (f"labels/prediction_mean/class{c}",
                        f"labels/actual_label_mean/class{c}",
                        f"labels/probability_mean/class{c}",
                        f"labels/logits_mean/class{c}",
                        f"auc/class{c}",
                        f"auc_precision_recall/class{c}")]


def _suffixed(keys, name):
    return [f"{key}/{name}" for key in keys]


CASES = {
    "regression": (lambda **kw: learn.regression_head(**kw), 1, ["loss"]),
    "poisson": (lambda **kw: learn.poisson_regression_head(**kw), 1, ["loss"]),
    "binary": (lambda **kw: learn.multi_class_head(n_classes=2, **kw), 1,
               BINARY + _threshold_keys(0.5)),
    "binary_thresholds": (
        lambda **kw: learn.multi_class_head(
            n_classes=2, thresholds=[0.25, 0.75], **kw),
        1, BINARY + _threshold_keys(0.25, 0.75)),
    "multi_class": (
        lambda **kw: learn.multi_class_head(
            n_classes=3, thresholds=[0.25], **kw),
        3, ["loss", "accuracy"]),
    "multi_class_class_ids": (
        lambda **kw: learn.multi_class_head(
            n_classes=3, metric_class_ids=[0, 2], **kw),
        3, ["loss", "accuracy"] + _multi_class_class_keys(0, 2)),
    "multi_class_label_keys": (
        lambda **kw: learn.multi_class_head(
            n_classes=3, metric_class_ids=[0, 2], label_keys=["a", "b", "c"],
            **kw),
        3, ["loss", "accuracy"]),
    "svm": (lambda **kw: learn.binary_svm_head(thresholds=[0.3], **kw), 1,
            ["loss", "accuracy"]),
    "multi_label": (
        lambda **kw: learn.multi_label_head(n_classes=3, **kw), 3,
        ["loss", "accuracy", "auc", "auc_precision_recall"]),
    "multi_label_class_ids": (
        lambda **kw: learn.multi_label_head(
            n_classes=3, metric_class_ids=[1, 2], thresholds=[0.3], **kw),
        3, ["loss", "accuracy", "auc", "auc_precision_recall"]
        + _multi_label_class_keys(1, 2)),
}

PREDICTIONS = {
    "regression": ["scores"],
    "poisson": ["scores"],
    "binary": ["logits", "logistic", "probabilities", "classes"],
    "binary_thresholds": ["logits", "logistic", "probabilities", "classes"],
    "multi_class": ["logits", "probabilities", "classes"],
    "multi_class_class_ids": ["logits", "probabilities", "classes"],
    "multi_class_label_keys": ["logits", "probabilities", "classes"],
    "svm": ["logits", "classes"],
    "multi_label": ["logits", "probabilities", "classes"],
    "multi_label_class_ids": ["logits", "probabilities", "classes"],
}


def _labels(name, dimension):
    if name == "multi_class_label_keys":
        return np.array([["a"], ["c"]])
    if name.startswith("multi_class"):
        return np.array([[0], [2]])
    if name.startswith("multi_label"):
        return np.array([[1, 0, 1], [0, 1, 0]])
    return np.ones((2, dimension), "float32")


def _model_fn_ops(name, mode, **kwargs):
    factory, dimension, _ = CASES[name]
    head = factory(**kwargs)
    return head.create_model_fn_ops(
        features={}, mode=mode, labels=_labels(name, dimension),
        train_op_fn=learn.no_op_train_fn,
        logits=np.linspace(-1.0, 1.0, 2 * dimension, dtype="float32").reshape(
            2, dimension))


@pytest.mark.parametrize("name", list(CASES))
def test_eval_metric_keys(name):
    expected = CASES[name][2]
    model_fn_ops = _model_fn_ops(name, learn.ModeKeys.EVAL)
    assert list(model_fn_ops.eval_metric_ops) == expected
    named = _model_fn_ops(name, learn.ModeKeys.EVAL, head_name="h")
    assert list(named.eval_metric_ops) == _suffixed(expected, "h")


@pytest.mark.parametrize("name", list(CASES))
def test_train_mode_has_the_same_metric_keys(name):
    model_fn_ops = _model_fn_ops(name, learn.ModeKeys.TRAIN, head_name="h")
    assert list(model_fn_ops.eval_metric_ops) == _suffixed(CASES[name][2], "h")


@pytest.mark.parametrize("name", list(CASES))
def test_prediction_keys(name):
    for mode in learn.ModeKeys.all():
        model_fn_ops = _model_fn_ops(name, mode, head_name="h")
        if mode == learn.ModeKeys.INFER or model_fn_ops.predictions:
            assert list(model_fn_ops.predictions) == PREDICTIONS[name], mode


@pytest.mark.parametrize("name", list(CASES))
def test_summary_keys(name):
    dimension = CASES[name][1]
    bias = [f"centered_bias/bias_{i}" for i in range(dimension)]
    plain = _model_fn_ops(name, learn.ModeKeys.TRAIN)
    assert list(plain.summaries) == ["loss"]
    named = _model_fn_ops(name, learn.ModeKeys.EVAL, head_name="h",
                          enable_centered_bias=True)
    assert list(named.summaries) == _suffixed(bias + ["loss"], "h")
    inferred = _model_fn_ops(name, learn.ModeKeys.INFER,
                             enable_centered_bias=True)
    assert list(inferred.summaries) == bias


def test_loss_only_head_keys():
    head = learn.loss_only_head(lambda: 1.0)
    model_fn_ops = head.create_model_fn_ops(
        features={}, mode=learn.ModeKeys.EVAL)
    assert list(model_fn_ops.summaries) == ["loss/loss_only_head"]
    assert model_fn_ops.eval_metric_ops == {}
    named = learn.loss_only_head(lambda: 1.0, head_name="reg")
    assert list(named.create_model_fn_ops(
        features={}, mode=learn.ModeKeys.EVAL).summaries) == ["loss/reg"]


def test_threshold_keys_have_six_decimals():
    assert MetricKey.ACCURACY_MEAN % 0.5 == "accuracy/threshold_0.500000_mean"
    assert (MetricKey.PRECISION_MEAN % 0.123456789
            == "precision/positive_threshold_0.123457_mean")
    assert (MetricKey.RECALL_MEAN % 1e-7
            == "recall/positive_threshold_0.000000_mean")


def test_constants():
    assert {k: v for k, v in vars(MetricKey).items() if k.isupper()} == {
        "LOSS": "loss",
        "AUC": "auc",
        "AUC_PR": "auc_precision_recall",
        "CLASS_AUC": "auc/class%d",
        "CLASS_AUC_PR": "auc_precision_recall/class%d",
        "PREDICTION_MEAN": "labels/prediction_mean",
        "CLASS_PREDICTION_MEAN": "labels/prediction_mean/class%d",
        "CLASS_LOGITS_MEAN": "labels/logits_mean/class%d",
        "CLASS_PROBABILITY_MEAN": "labels/probability_mean/class%d",
        "LABEL_MEAN": "labels/actual_label_mean",
        "CLASS_LABEL_MEAN": "labels/actual_label_mean/class%d",
        "ACCURACY": "accuracy",
        "ACCURACY_BASELINE": "accuracy/baseline_label_mean",
        "ACCURACY_MEAN": "accuracy/threshold_%f_mean",
        "PRECISION_MEAN": "precision/positive_threshold_%f_mean",
        "RECALL_MEAN": "recall/positive_threshold_%f_mean",
    }
    assert {k: v for k, v in vars(PredictionKey).items() if k.isupper()} == {
        "CLASSES": "classes",
        "PROBABILITIES": "probabilities",
        "LOGITS": "logits",
        "LOGISTIC": "logistic",
        "SCORES": "scores",
    }
