"""v1 metric semantics: exact AUC thresholds, trapezoidal AUCs, `p >= t`
accuracy, the accuracy baseline before any label."""

import keras
import numpy as np
import pytest

from keras_heads import metrics as v2_metrics
from keras_heads.compat.v1 import metrics
from tests import backends
from tests.backends import numpy

THRESHOLDS = metrics.auc_thresholds()


def reference_auc(labels, scores, weights=None, curve="ROC"):
    """v1's AUC written out with NumPy: `p > t` at every float32 threshold,
    trapezoid rule, 1e-6 smoothing."""
    labels = np.asarray(labels, "float32").ravel() != 0
    scores = np.asarray(scores, "float32")
    weights = (np.ones_like(scores) if weights is None
               else np.broadcast_to(np.asarray(weights, "float32"),
                                    scores.shape))
    scores, weights = scores.ravel(), weights.ravel()
    positive = scores[None, :] > THRESHOLDS[:, None]
    tp = (positive & labels) @ weights
    fp = (positive & ~labels) @ weights
    fn = (~positive & labels) @ weights
    tn = (~positive & ~labels) @ weights
    e = 1e-6
    recall = (tp + e) / (tp + fn + e)
    if curve == "ROC":
        x, y = fp / (fp + tn + e), recall
    else:
        x, y = recall, (tp + e) / (tp + fp + e)
    return float(np.sum((x[:-1] - x[1:]) * (y[:-1] + y[1:]) / 2))


def _edge_scores():
    """Every float32 threshold in (0, 1], with its two neighbours."""
    inner = THRESHOLDS[1:-1]
    below = np.nextafter(inner, np.float32(-1))
    above = np.nextafter(inner, np.float32(2))
    return np.concatenate(
        [[0.0, 1.0], below, inner, above]
    ).astype("float32")


def _counts_above(histogram):
    """Positive weight above each threshold, read off a histogram."""
    positives = numpy(histogram.auc_histogram())[:, 0]
    return np.cumsum(positives[::-1])[::-1]


def test_thresholds():
    assert THRESHOLDS.dtype == np.float32 and len(THRESHOLDS) == 200
    assert THRESHOLDS[0] == np.float32(-1e-7)
    assert THRESHOLDS[-1] == np.float32(1 + 1e-7)
    np.testing.assert_array_equal(
        THRESHOLDS[1:-1],
        (np.arange(1, 199, dtype="float64") / 199.0).astype("float32"),
    )


def test_buckets_count_scores_strictly_above_each_threshold():
    scores = _edge_scores()
    expected = (scores[None, :] > THRESHOLDS[:, None]).sum(axis=1)
    histogram = metrics.ScoreHistogram(np.ones_like(scores), scores)
    np.testing.assert_array_equal(_counts_above(histogram), expected)
    # The v2 buckets (`ceil(199 p) - 1`) disagree with `p > t` next to some
    # thresholds: what makes v1's own bucketing necessary.
    v2 = v2_metrics.ScoreHistogram(np.ones_like(scores), scores)
    assert np.any(_counts_above(v2) != expected)


@backends.parametrize_compilers
def test_buckets_compile(compile_fn):
    scores = _edge_scores()
    expected = (scores[None, :] > THRESHOLDS[:, None]).sum(axis=1)

    @compile_fn
    def positives(scores):
        histogram = metrics.ScoreHistogram(keras.ops.ones_like(scores), scores)
        return histogram.auc_histogram()[:, 0]

    counts = numpy(positives(keras.ops.convert_to_tensor(scores)))
    np.testing.assert_array_equal(np.cumsum(counts[::-1])[::-1], expected)


# (labels, probabilities, weights, v1 ROC AUC, v1 PR AUC) from the spec.
EXAMPLES = {
    "binary_weighted": (
        [1, 1, 0], [1.0, 1.6e-18, 1.0], [1.0, 0.1, 1.5], 0.4545456, 0.6737757,
    ),
    "binary_3d": (
        [0, 0, 1, 1],
        1 / (1 + np.exp(-np.array([10.0, -10.0, 12.0, -12.0]))),
        [1.0, 1.5, 2.0, 2.5], 0.5222221, 0.7341269,
    ),
    "multi_label": (
        [[1, 0], [1, 1]],
        1 / (1 + np.exp(-np.array([[-1.0, 1.0], [-1.5, 1.5]]))),
        None, 0.3333332, 0.7638887,
    ),
    "multi_label_weighted": (
        [[1, 0], [1, 1]],
        1 / (1 + np.exp(-np.array([[-10.0, 10.0], [-15.0, 10.0]]))),
        [[1.0], [2.0]], 0.2, 0.7833332,
    ),
}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_auc_worked_examples(name):
    labels, scores, weights, roc, pr = EXAMPLES[name]
    scores = np.asarray(scores, "float32")
    for curve, expected in (("ROC", roc), ("PR", pr)):
        m = metrics.AUC(curve=curve)
        m.update_state(labels, scores, sample_weight=weights)
        np.testing.assert_allclose(float(numpy(m.result())), expected,
                                   atol=2e-7)
        assert reference_auc(labels, scores, weights, curve) == pytest.approx(
            expected, abs=2e-7
        )


@pytest.mark.parametrize("curve", ["ROC", "PR"])
def test_auc_matches_the_reference_formula_and_streams(curve):
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, size=(64, 1))
    # Scores on the thresholds and next to them, and anywhere.
    edges = rng.choice(_edge_scores(), size=32)
    scores = np.concatenate([edges, rng.uniform(size=32)]).astype("float32")
    scores = scores.reshape(64, 1)
    weights = rng.uniform(size=(64, 1)).astype("float32")
    m = metrics.AUC(curve=curve)
    m.update_state(labels[:40], scores[:40], weights[:40])
    m.update_state(labels[40:], scores[40:], weights[40:])
    np.testing.assert_allclose(
        float(numpy(m.result())),
        reference_auc(labels, scores, weights, curve), rtol=1e-5,
    )


def test_auc_with_one_label_class():
    roc, pr = metrics.AUC(), metrics.AUC(curve="PR")
    for m in (roc, pr):
        m.update_state([1, 1], [0.9, 0.2])
    assert float(numpy(roc.result())) == 0.0  # no negative: every fpr is 0
    assert float(numpy(pr.result())) == pytest.approx(
        reference_auc([1, 1], [0.9, 0.2], curve="PR"), abs=1e-7
    )


def test_accuracy_at_threshold_counts_equal_scores_as_positive():
    labels, scores = [[1], [0], [0]], [[0.5], [0.2], [0.7]]
    v1_accuracy = metrics.BinaryAccuracy(threshold=0.5)
    v1_accuracy.update_state(labels, scores)
    v2_accuracy = v2_metrics.BinaryAccuracy(threshold=0.5)
    v2_accuracy.update_state(labels, scores)
    assert float(numpy(v1_accuracy.result())) == pytest.approx(2 / 3)
    assert float(numpy(v2_accuracy.result())) == pytest.approx(1 / 3)


def test_at_least_is_the_float32_just_below():
    for t in (0.25, 0.5, 0.1, 1 / 3):
        below = np.float32(metrics.at_least(t))
        t32 = np.float32(t)
        assert below < t32 and np.nextafter(below, np.float32(1)) == t32


def test_accuracy_baseline_before_and_after_labels():
    m = metrics.AccuracyBaseline()
    assert float(numpy(m.result())) == 1.0
    m.update_state([1.0, 1.0, 0.0], sample_weight=[1.0, 0.1, 1.5])
    assert float(numpy(m.result())) == pytest.approx(0.5769231)
    assert float(numpy(v2_metrics.AccuracyBaseline().result())) == 0.0
