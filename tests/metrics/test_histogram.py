"""Pins `ScoreHistogram`, the one scatter-add that feeds a head's AUC and
threshold metrics, against direct NumPy counting."""

import numpy as np
import pytest
from keras import ops

from keras_heads.metrics import AUC
from keras_heads.metrics import BinaryAccuracy
from keras_heads.metrics import Precision
from keras_heads.metrics import Recall
from keras_heads.metrics import ScoreHistogram


def _data(seed=0, shape=(64, 5)):
    rng = np.random.default_rng(seed)
    scores = rng.random(shape).astype("float32")
    scores[0, 0], scores[1, 0] = 0.5, 0.25  # exactly at a threshold
    labels = rng.choice([0.0, 1.0, 0.4], size=shape).astype("float32")
    weights = rng.random((shape[0], 1)).astype("float32")
    return labels, scores, weights


def _direct(labels, scores, weights, predicted):
    """(tp, fp, fn, matches, total) by elementwise comparison."""
    w = np.broadcast_to(weights, scores.shape).astype(np.float64)
    positive = labels != 0
    matches = (labels == 1) & predicted | (labels == 0) & ~predicted
    return (
        np.sum(w * (positive & predicted)),
        np.sum(w * (~positive & predicted)),
        np.sum(w * (positive & ~predicted)),
        np.sum(w * matches),
        np.sum(w),
    )


def _floats(counts):
    return [float(ops.convert_to_numpy(c)) for c in counts]


@pytest.mark.parametrize("threshold", [0.75, 0.25, 0.5])
def test_counts_at_each_threshold_match_direct_comparison(threshold):
    labels, scores, weights = _data()
    histogram = ScoreHistogram(
        labels, scores, weights, thresholds=[0.75, 0.25, 0.5, 0.25]
    )
    expected = _direct(labels, scores, weights, scores > threshold)
    np.testing.assert_allclose(
        _floats(histogram.at_threshold(threshold)), expected, rtol=1e-5
    )


def test_counts_at_decisions_match_direct_comparison():
    labels, scores, weights = _data(1)
    decisions = scores > 0.3
    histogram = ScoreHistogram(
        labels, scores, weights, thresholds=[0.5], decisions=decisions
    )
    expected = _direct(labels, scores, weights, decisions)
    np.testing.assert_allclose(
        _floats(histogram.at_decisions()), expected, rtol=1e-5
    )


def test_at_decisions_needs_decisions():
    with pytest.raises(ValueError, match="without `decisions`"):
        ScoreHistogram([1], [0.5]).at_decisions()


def test_auc_histogram_matches_bucketing_and_ignores_thresholds():
    labels, scores, weights = _data(2)
    plain = ScoreHistogram(labels, scores, weights, num_buckets=10)
    split = ScoreHistogram(
        labels, scores, weights, num_buckets=10, thresholds=[0.3, 0.6],
        decisions=scores > 0.5,
    )
    buckets = np.maximum(np.ceil(scores * 9) - 1, 0).astype(int).ravel()
    w = np.broadcast_to(weights, scores.shape).ravel()
    positive = labels.ravel() != 0
    expected = np.stack(
        [
            np.bincount(buckets, w * positive, minlength=10),
            np.bincount(buckets, w * ~positive, minlength=10),
        ],
        axis=-1,
    )
    for histogram in (plain, split):
        np.testing.assert_allclose(
            ops.convert_to_numpy(histogram.auc_histogram()), expected,
            rtol=1e-5,
        )


def test_by_column_histograms_are_per_column():
    labels, scores, weights = _data(3)
    histogram = ScoreHistogram(labels, scores, weights, by_column=True)
    for column in (0, 3):
        alone = ScoreHistogram(
            labels[:, column], scores[:, column], weights[:, 0]
        )
        np.testing.assert_allclose(
            ops.convert_to_numpy(histogram.auc_histogram(column)),
            ops.convert_to_numpy(alone.auc_histogram()),
            rtol=1e-6,
        )
    np.testing.assert_allclose(
        ops.convert_to_numpy(histogram.auc_histogram()),
        ops.convert_to_numpy(
            ScoreHistogram(labels, scores, weights).auc_histogram()
        ),
        rtol=1e-6,
    )


def test_auc_fed_from_a_histogram_equals_update_state():
    labels, scores, weights = _data(4)
    direct, fed = AUC(curve="PR"), AUC(curve="PR")
    direct.update_state(labels, scores, weights)
    fed.add_histogram(ScoreHistogram(labels, scores, weights))
    assert float(fed.result()) == pytest.approx(float(direct.result()))


def test_out_of_range_scores_stay_in_the_histogram():
    histogram = ScoreHistogram(
        [1, 0, 1], np.array([-3.0, 7.0, np.inf], "float32"), num_buckets=4
    )
    counts = ops.convert_to_numpy(histogram.auc_histogram())
    np.testing.assert_array_equal(counts, [[1, 0], [0, 0], [1, 1], [0, 0]])


@pytest.mark.parametrize("by_column", [False, True])
@pytest.mark.parametrize("where", ["score", "weight"])
def test_a_nan_score_or_weight_is_counted_as_nan(where, by_column):
    scores = np.array([[0.2, 0.9], [0.7, 0.4]], "float32")
    weights = np.array([[1.0, 2.0], [1.0, 1.0]], "float32")
    (scores if where == "score" else weights)[1, 0] = np.nan
    histogram = ScoreHistogram(
        [[1, 0], [0, 1]], scores, weights, num_buckets=4, thresholds=[0.5],
        by_column=by_column,
    )
    assert bool(histogram.has_nan())
    assert np.isnan(ops.convert_to_numpy(histogram.counts)).any()
    if by_column:
        clean = ops.convert_to_numpy(histogram.column_counts(1))
        assert not np.isnan(clean).any() and clean.sum() == 3.0


@pytest.mark.parametrize("make_metric", [
    AUC, lambda: AUC(curve="PR"), Precision, Recall, BinaryAccuracy,
], ids=["auc", "auc_pr", "precision", "recall", "binary_accuracy"])
def test_a_metric_fed_a_nan_score_reports_nan_until_reset(make_metric):
    metric = make_metric()
    metric.update_state([1, 0, 1], [0.9, np.nan, 0.2])
    metric.update_state([1, 0], [0.8, 0.1])
    assert np.isnan(float(metric.result()))
    metric.reset_state()
    metric.update_state([1, 0, 1], [0.9, np.inf, -np.inf])
    fresh = make_metric()
    fresh.update_state([1, 0, 1], [0.9, 1.0, 0.0])
    assert float(metric.result()) == float(fresh.result())


@pytest.mark.parametrize("weight", [1.0, 2.5, np.float32(0.5)])
def test_one_weight_for_every_score_scales_the_counts(weight):
    labels, scores, _ = _data(seed=3)
    scalar = ScoreHistogram(labels, scores, weight, thresholds=[0.5])
    spread = ScoreHistogram(
        labels, scores, np.full(scores.shape, weight, "float32"),
        thresholds=[0.5],
    )
    np.testing.assert_allclose(
        ops.convert_to_numpy(scalar.counts),
        ops.convert_to_numpy(spread.counts), rtol=1e-6,
    )
    # Scaled as a whole, not per score: the total is the weight times the
    # number of scores.
    assert float(ops.convert_to_numpy(ops.sum(scalar.counts))) == (
        pytest.approx(float(weight) * scores.size)
    )


@pytest.mark.parametrize("shape", [(64, 5), (1 << 10, 1 << 10)],
                         ids=["one block", "two blocks"])
@pytest.mark.parametrize("weight_kind", ["scalar", "per example"])
def test_activation_and_sum_is_summed_over_the_batch_with_the_counts(
    shape, weight_kind
):
    """`activation_and_sum`'s scalars add up to `total` (block by block past
    2^19 scores), and its activated scores are what gets counted."""
    rng = np.random.default_rng(5)
    logits = rng.normal(size=shape).astype("float32")
    labels = (rng.random(shape) < 0.3).astype("float32")
    if weight_kind == "scalar":
        weights, per_score = np.float32(2.0), np.full(shape, 2.0)
    else:
        weights = rng.random((shape[0], 1)).astype("float32")
        per_score = np.broadcast_to(weights, shape)

    def sigmoid_and_sum(scores, block_labels, block_weights):
        value = scores * block_labels
        if block_weights is not None:
            value = value * block_weights
        return ops.sigmoid(scores), ops.sum(value)

    histogram = ScoreHistogram(labels, logits, weights, thresholds=[0.5],
                               activation_and_sum=sigmoid_and_sum)
    expected = np.sum(per_score * logits.astype(np.float64) * labels)
    np.testing.assert_allclose(float(ops.convert_to_numpy(histogram.total)),
                               expected, rtol=1e-4)
    plain = ScoreHistogram(labels, logits, weights, thresholds=[0.5],
                           activation=ops.sigmoid)
    np.testing.assert_allclose(ops.convert_to_numpy(histogram.counts),
                               ops.convert_to_numpy(plain.counts), rtol=1e-6)
