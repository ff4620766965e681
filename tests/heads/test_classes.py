"""What the logistic heads' metrics share (`keras_heads.heads.classes`): one
histogram state for the AUCs, every threshold metric and the class-id
metrics, so a compiled evaluation step carries a few tensors whatever the
number of thresholds."""

import numpy as np
import pytest

import keras_heads as kh
from keras_heads.compat import v1
from tests import backends


def _state_size(head, eval_metrics=None):
    eval_metrics = head.metrics() if eval_metrics is None else eval_metrics
    return len(head.metric_variables(eval_metrics))


@pytest.mark.parametrize("thresholds", [None, [0.5], [0.1, 0.3, 0.5, 0.9]])
def test_multi_label_state_does_not_grow_with_thresholds(thresholds):
    # The loss mean's sums (one variable) and one histogram.
    head = kh.MultiLabelHead(16, thresholds=thresholds)
    assert _state_size(head) == 2


@pytest.mark.parametrize("thresholds", [None, [0.5], [0.1, 0.3, 0.5, 0.9]])
def test_binary_state_does_not_grow_with_thresholds(thresholds):
    # Four means (loss, prediction, label, baseline) and one histogram.
    head = kh.BinaryClassHead(thresholds=thresholds)
    assert _state_size(head) == 5


def test_v1_heads_share_the_histogram_too():
    head = v1.multi_label_head(4, thresholds=[0.3, 0.6])
    spec = head.create_estimator_spec(
        features={}, mode=kh.ModeKeys.EVAL,
        logits=np.zeros((2, 4), "float32"), labels=np.ones((2, 4), "int64"),
    )
    variables = {
        id(v) for m in spec.eval_metric_ops.values() for v in m.variables
    }
    assert len(spec.eval_metric_ops) == 9  # loss, 2 AUCs, 2 x 3 thresholds
    assert len(variables) == 2


def test_per_class_aucs_share_one_histogram_per_class():
    head = kh.MultiLabelHead(4, classes_for_class_based_metrics=[0, 2])
    # 2 as above, then per class a probability mean and a histogram.
    assert _state_size(head) == 2 + 2 * 2


def test_shared_state_streams_like_separate_metrics():
    """Two batches through the shared state give the threshold metrics that
    direct counting gives."""
    rng = np.random.default_rng(0)
    head = kh.MultiLabelHead(3, thresholds=[0.4])
    eval_metrics = head.metrics()
    logits = rng.normal(size=(2, 30, 3)).astype("float32")
    labels = (rng.random((2, 30, 3)) < 0.5).astype("int64")
    for x, y in zip(logits, labels):
        head.update_metrics(eval_metrics, {}, x, y)
    p = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
    predicted, positive = p > 0.4, labels == 1
    tp = np.sum(predicted & positive)
    expected = {
        "precision/positive_threshold_0.4": tp / np.sum(predicted),
        "recall/positive_threshold_0.4": tp / np.sum(positive),
        "accuracy/positive_threshold_0.4": np.mean(predicted == positive),
    }
    for key, value in expected.items():
        assert float(backends.numpy(eval_metrics[key].result())) == (
            pytest.approx(value, rel=1e-6)
        ), key


def test_a_binary_heads_shared_metrics_say_how_to_feed_them():
    eval_metrics = kh.BinaryClassHead().metrics()
    with pytest.raises(ValueError, match="feed a head's metrics with its "
                       "`update_metrics`"):
        eval_metrics["precision"].update_state([[1.0]], [[0.9]])
