"""Pins Precision, Recall and BinaryAccuracy at one threshold (metrics.md
§4-§5): weighted TP/FP/FN, non-zero labels are positive, strict `>`, 0 on a
zero denominator, streaming."""

import numpy as np
import pytest

from keras_heads.metrics import BinaryAccuracy
from keras_heads.metrics import Precision
from keras_heads.metrics import Recall


def _counts(labels, scores, weights, threshold):
    """Weighted (TP, FP, FN) by direct comparison, in float64."""
    scores = np.asarray(scores, np.float64)
    weights = np.broadcast_to(np.asarray(weights, np.float64), scores.shape)
    labels = np.asarray(labels, np.float64).ravel()
    scores, weights = scores.ravel(), weights.ravel()
    positive = labels != 0
    predicted = scores > threshold
    tp = np.sum(weights * (positive & predicted))
    fp = np.sum(weights * (~positive & predicted))
    fn = np.sum(weights * (positive & ~predicted))
    return tp, fp, fn


def _precision(labels, scores, weights, threshold):
    tp, fp, _ = _counts(labels, scores, weights, threshold)
    return tp / (tp + fp) if tp + fp else 0.0


def _recall(labels, scores, weights, threshold):
    tp, _, fn = _counts(labels, scores, weights, threshold)
    return tp / (tp + fn) if tp + fn else 0.0


METRICS = [(Precision, _precision), (Recall, _recall)]
IDS = ["precision", "recall"]


def _random_data(seed, size=200, soft=False):
    rng = np.random.default_rng(seed)
    if soft:
        labels = rng.choice([0.0, 0.2, 0.4, 1.0], size=(size, 1))
    else:
        labels = rng.integers(0, 2, size=(size, 1)).astype(np.float64)
    scores = rng.uniform(size=(size, 1))
    weights = rng.uniform(0.0, 3.0, size=(size, 1))
    return (
        labels.astype(np.float32),
        scores.astype(np.float32),
        weights.astype(np.float32),
    )


@pytest.mark.parametrize("metric_cls, reference", METRICS, ids=IDS)
@pytest.mark.parametrize("threshold", [0.1, 0.5, 0.8])
@pytest.mark.parametrize("seed", [0, 1])
def test_weighted_against_numpy(metric_cls, reference, threshold, seed):
    """Weighted TP/FP/FN on random data match a NumPy computation."""
    labels, scores, weights = _random_data(seed)
    metric = metric_cls(threshold=threshold)
    metric.update_state(labels, scores, weights)
    expected = reference(labels, scores, weights, np.float32(threshold))
    assert 0.0 < expected < 1.0
    assert float(metric.result()) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("metric_cls, reference", METRICS, ids=IDS)
def test_unweighted_against_numpy(metric_cls, reference):
    """No weight means weight 1 per element."""
    labels, scores, _ = _random_data(7, size=60)
    metric = metric_cls()
    metric.update_state(labels, scores)
    expected = reference(labels, scores, 1.0, np.float32(0.5))
    assert float(metric.result()) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("metric_cls, reference", METRICS, ids=IDS)
def test_soft_labels_count_as_positive_when_non_zero(metric_cls, reference):
    """A soft label such as 0.4 (or 0.2) is positive: the label is cast to
    bool, not rounded."""
    labels, scores, weights = _random_data(2, soft=True)
    metric = metric_cls(threshold=0.5)
    metric.update_state(labels, scores, weights)
    expected = reference(labels, scores, weights, np.float32(0.5))
    rounded = reference(labels > 0.5, scores, weights, np.float32(0.5))
    assert abs(expected - rounded) > 1e-3  # The data tells the rules apart.
    assert float(metric.result()) == pytest.approx(expected, rel=1e-5)


def test_soft_label_0_4_is_a_true_positive():
    """One soft label 0.4 predicted positive is a TP (precision 1, recall 1),
    not an FP."""
    precision, recall = Precision(), Recall()
    for metric in (precision, recall):
        metric.update_state([[0.4]], [[0.9]])
    assert float(precision.result()) == 1.0
    assert float(recall.result()) == 1.0


@pytest.mark.parametrize("threshold", [0.25, 0.5, 0.75])
def test_threshold_is_strict(threshold):
    """A score equal to the threshold is predicted negative: a positive
    there is a false negative, a negative there is no false positive."""
    t = np.float32(threshold)
    above = np.nextafter(t, np.float32(1.0))
    labels = np.array([[1.0], [1.0], [0.0], [0.0]], np.float32)
    scores = np.array([[t], [above], [t], [above]], np.float32)
    weights = np.array([[1.0], [2.0], [4.0], [8.0]], np.float32)
    precision = Precision(threshold=threshold)
    recall = Recall(threshold=threshold)
    precision.update_state(labels, scores, weights)
    recall.update_state(labels, scores, weights)
    # TP = 2 (the one above), FP = 8, FN = 1 (the positive at t).
    assert float(precision.result()) == pytest.approx(
        _precision(labels, scores, weights, t), rel=1e-6
    )
    assert float(precision.result()) == pytest.approx(2.0 / 10.0, rel=1e-6)
    assert float(recall.result()) == pytest.approx(
        _recall(labels, scores, weights, t), rel=1e-6
    )
    assert float(recall.result()) == pytest.approx(2.0 / 3.0, rel=1e-6)


def test_class_ids_as_scores_at_default_threshold():
    """metrics.md §9: class ids [1,0,1], labels [1,1,0], weights [1,.1,1.5]
    give precision 1/2.5 and recall 1/1.1."""
    labels = np.array([[1.0], [1.0], [0.0]], np.float32)
    class_ids = np.array([[1.0], [0.0], [1.0]], np.float32)
    weights = np.array([[1.0], [0.1], [1.5]], np.float32)
    precision, recall = Precision(), Recall()
    precision.update_state(labels, class_ids, weights)
    recall.update_state(labels, class_ids, weights)
    assert float(precision.result()) == pytest.approx(0.4, rel=1e-6)
    assert float(recall.result()) == pytest.approx(1.0 / 1.1, rel=1e-6)


def test_zero_denominators_give_zero():
    """No predicted positive -> precision 0; no positive label -> recall 0;
    nothing seen -> both 0 (never NaN)."""
    precision, recall = Precision(), Recall()
    assert float(precision.result()) == 0.0
    assert float(recall.result()) == 0.0

    precision.update_state([[1.0], [0.0]], [[0.1], [0.5]])
    assert float(precision.result()) == 0.0  # TP + FP == 0.

    recall.update_state([[0.0], [0.0]], [[0.9], [0.1]])
    assert float(recall.result()) == 0.0  # TP + FN == 0.

    zero_weight = Precision()
    zero_weight.update_state([[1.0]], [[0.9]], [[0.0]])
    assert float(zero_weight.result()) == 0.0


@pytest.mark.parametrize("metric_cls", [Precision, Recall], ids=IDS)
def test_streaming_equals_one_batch(metric_cls):
    """Counts accumulate: uneven batches give the one-batch value."""
    labels, scores, weights = _random_data(11, size=97)
    whole = metric_cls(threshold=0.4)
    whole.update_state(labels, scores, weights)
    streamed = metric_cls(threshold=0.4)
    for start, stop in [(0, 10), (10, 11), (11, 60), (60, 97)]:
        streamed.update_state(
            labels[start:stop], scores[start:stop], weights[start:stop]
        )
    assert float(streamed.result()) == pytest.approx(
        float(whole.result()), rel=1e-5
    )
    # And it is not just the last batch's value.
    last = metric_cls(threshold=0.4)
    last.update_state(labels[60:], scores[60:], weights[60:])
    assert float(last.result()) != pytest.approx(
        float(whole.result()), rel=1e-5
    )


@pytest.mark.parametrize("metric_cls, reference", METRICS, ids=IDS)
def test_reset_state_forgets(metric_cls, reference):
    """After reset_state only later batches count."""
    labels, scores, weights = _random_data(5, size=80)
    metric = metric_cls()
    metric.update_state(labels[:40], scores[:40], weights[:40])
    metric.reset_state()
    assert float(metric.result()) == 0.0
    metric.update_state(labels[40:], scores[40:], weights[40:])
    expected = reference(
        labels[40:], scores[40:], weights[40:], np.float32(0.5)
    )
    assert float(metric.result()) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("metric_cls, reference", METRICS, ids=IDS)
def test_flattened_multi_column_with_per_example_weights(metric_cls, reference):
    """[B, k] scores are pooled element-wise, each element carrying its
    example's [B] weight."""
    rng = np.random.default_rng(9)
    labels = rng.integers(0, 2, size=(30, 3)).astype(np.float32)
    scores = rng.uniform(size=(30, 3)).astype(np.float32)
    weights = rng.uniform(0.0, 2.0, size=(30,)).astype(np.float32)
    metric = metric_cls()
    metric.update_state(labels, scores, weights)
    expected = reference(labels, scores, weights[:, None], np.float32(0.5))
    assert float(metric.result()) == pytest.approx(expected, rel=1e-5)


def _weighted_mean(values, weights):
    values = np.asarray(values, np.float64)
    weights = np.broadcast_to(np.asarray(weights, np.float64), values.shape)
    return float(np.sum(values * weights) / np.sum(weights))


# --- BinaryAccuracy ----------------------------------------------------------


@pytest.mark.parametrize("threshold", [0.25, 0.5, 0.75])
def test_binary_accuracy_uses_strict_greater(threshold):
    """A probability equal to the threshold is predicted negative."""
    labels = np.array([[0.0], [1.0], [1.0], [0.0]], np.float32)
    probs = np.array(
        [[threshold], [threshold],
         [np.nextafter(np.float32(threshold), np.float32(1.0))], [0.0]],
        np.float32,
    )
    weights = np.array([[1.0], [2.0], [3.0], [0.5]], np.float32)
    predicted = (probs > np.float32(threshold)).astype(np.float32)
    expected = _weighted_mean(labels == predicted, weights)
    metric = BinaryAccuracy(threshold=threshold)
    metric.update_state(labels, probs, weights)
    # p == t counts as negative: the first example is right, the second wrong.
    assert float(metric.result()) == pytest.approx(expected, rel=1e-6)
    assert float(metric.result()) == pytest.approx((1.0 + 3.0 + 0.5) / 6.5, rel=1e-6)


def test_binary_accuracy_random_against_numpy():
    """Weighted fraction of y == (p > t) over random data."""
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 2, size=(50, 1)).astype(np.float32)
    probs = rng.uniform(size=(50, 1)).astype(np.float32)
    weights = rng.uniform(0.0, 3.0, size=(50, 1)).astype(np.float32)
    metric = BinaryAccuracy(threshold=0.3)
    metric.update_state(labels[:20], probs[:20], weights[:20])
    metric.update_state(labels[20:], probs[20:], weights[20:])
    expected = _weighted_mean(labels == (probs > 0.3), weights)
    assert float(metric.result()) == pytest.approx(expected, rel=1e-5)
