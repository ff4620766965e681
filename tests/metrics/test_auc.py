"""Pins AUC (ROC and PR, 200 thresholds, interpolation) against an
independent NumPy implementation of metrics.md §6, the spec's worked example,
sklearn, streaming, clipping and argument validation."""

import keras
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from keras_heads.metrics import AUC

EPSILON = 1e-7


def _thresholds(n=200):
    """t_0 = -eps, t_i = i / (n - 1), t_{n-1} = 1 + eps."""
    inner = [i / (n - 1) for i in range(1, n - 1)]
    return np.array([-EPSILON, *inner, 1.0 + EPSILON], np.float64)


def _confusion(labels, scores, weights, n=200):
    """TP, FP, FN, TN per threshold by direct comparison `score > t_i`."""
    scores = np.asarray(scores, np.float64)
    weights = np.broadcast_to(
        np.asarray(1.0 if weights is None else weights, np.float64),
        scores.shape,
    ).ravel()
    scores = np.clip(scores.ravel(), 0.0, 1.0)
    positive = np.asarray(labels).ravel() != 0
    predicted = scores[None, :] > _thresholds(n)[:, None]  # [n, N]
    tp = np.sum(weights * (predicted & positive), axis=1)
    fp = np.sum(weights * (predicted & ~positive), axis=1)
    fn = np.sum(weights * (~predicted & positive), axis=1)
    tn = np.sum(weights * (~predicted & ~positive), axis=1)
    return tp, fp, fn, tn


def _safe_divide(num, den):
    num, den = np.broadcast_arrays(np.asarray(num, np.float64), den)
    out = np.zeros_like(num)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _roc_auc(tp, fp, fn, tn):
    recall = _safe_divide(tp, tp + fn)
    fpr = _safe_divide(fp, fp + tn)
    return float(
        np.sum((fpr[:-1] - fpr[1:]) * (recall[:-1] + recall[1:]) / 2.0)
    )


def _pr_auc(tp, fp, fn):
    """Davis & Goadrich interpolation, written out loop by loop."""
    predicted = tp + fp
    total = 0.0
    for i in range(len(tp) - 1):
        d_tp = tp[i] - tp[i + 1]
        d_p = predicted[i] - predicted[i + 1]
        den = max(d_p, 0.0)
        slope = d_tp / den if den != 0 else 0.0
        intercept = tp[i + 1] - slope * predicted[i + 1]
        if predicted[i] > 0 and predicted[i + 1] > 0:
            ratio = predicted[i] / max(predicted[i + 1], 0.0)
        else:
            ratio = 1.0
        den = max(tp[i + 1] + fn[i + 1], 0.0)
        if den != 0:
            total += slope * (d_tp + intercept * np.log(ratio)) / den
    return total


def reference_auc(labels, scores, weights=None, curve="ROC", n=200):
    tp, fp, fn, tn = _confusion(labels, scores, weights, n)
    if curve == "PR":
        return _pr_auc(tp, fp, fn)
    return _roc_auc(tp, fp, fn, tn)


def _auc(labels, scores, weights=None, curve="ROC", **kwargs):
    metric = AUC(curve=curve, **kwargs)
    metric.update_state(labels, scores, weights)
    return float(metric.result())


def _random_data(seed, size=500, skew=1.0):
    """Labels correlated with uniform-ish scores, positive weights."""
    rng = np.random.default_rng(seed)
    labels = (rng.uniform(size=(size, 1)) < 0.4).astype(np.float32)
    noise = rng.uniform(size=(size, 1))
    scores = np.clip(0.5 * noise + 0.35 * labels * skew + 0.1, 0, 1)
    weights = rng.uniform(0.1, 3.0, size=(size, 1))
    return labels, scores.astype(np.float32), weights.astype(np.float32)


# --- (a) against the NumPy reference -----------------------------------------


@pytest.mark.parametrize("curve", ["ROC", "PR"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_numpy_reference_on_weighted_random_data(curve, seed):
    """The bucket histogram gives the same area as counting `p > t_i` per
    threshold and applying the §6 interpolation formulas."""
    labels, scores, weights = _random_data(seed)
    expected = reference_auc(labels, scores, weights, curve)
    assert 0.5 < expected < 1.0
    assert _auc(labels, scores, weights, curve) == pytest.approx(
        expected, rel=1e-4
    )


def _nudge(values, ulps):
    """`values` moved by `ulps` float32 units in the last place."""
    values = np.asarray(values, np.float32)
    direction = np.float32(np.inf if ulps > 0 else -np.inf)
    for _ in range(abs(ulps)):
        values = np.nextafter(values, direction)
    return values


@pytest.mark.parametrize("curve", ["ROC", "PR"])
def test_matches_numpy_reference_next_to_thresholds(curve):
    """Scores a few ulps either side of a threshold i/199, and exactly 0 and
    exactly 1, fall on the side of each threshold that `p > t_i` says: 0 is
    positive only at t_0, 1 at every threshold but t_199."""
    rng = np.random.default_rng(3)
    grid = (rng.integers(1, 199, size=300) / 199.0).astype(np.float32)
    near = np.where(
        rng.uniform(size=grid.shape) < 0.5, _nudge(grid, 4), _nudge(grid, -4)
    )
    scores = np.concatenate([near, [0.0, 0.0, 1.0, 1.0]]).astype(np.float32)
    labels = (rng.uniform(size=scores.shape) < 0.3 + 0.4 * scores).astype(
        np.float32
    )
    labels[-4:] = [1.0, 0.0, 1.0, 0.0]
    weights = rng.uniform(0.1, 2.0, size=scores.shape).astype(np.float32)
    expected = reference_auc(labels, scores, weights, curve)
    assert _auc(labels, scores, weights, curve) == pytest.approx(
        expected, rel=1e-4
    )


@pytest.mark.parametrize("curve", ["ROC", "PR"])
def test_scores_zero_and_one_at_the_end_thresholds(curve):
    """p = 0 is above t_0 = -eps only; p = 1 is above all but t_199 = 1+eps,
    so a 0-scored positive and a 1-scored negative still move the curve."""
    labels = np.array([1.0, 0.0, 1.0, 0.0, 1.0], np.float32)
    scores = np.array([0.0, 1.0, 1.0, 0.0, 0.6], np.float32)
    weights = np.array([1.0, 2.0, 0.5, 1.5, 3.0], np.float32)
    tp, fp, _, _ = _confusion(labels, scores, weights)
    assert tp[0] == pytest.approx(4.5) and fp[0] == pytest.approx(3.5)
    assert tp[1] == pytest.approx(3.5) and fp[1] == pytest.approx(2.0)
    assert tp[198] == pytest.approx(0.5) and fp[198] == pytest.approx(2.0)
    assert tp[199] == 0.0 and fp[199] == 0.0
    assert _auc(labels, scores, weights, curve) == pytest.approx(
        reference_auc(labels, scores, weights, curve), rel=1e-5
    )


@pytest.mark.parametrize("curve", ["ROC", "PR"])
@pytest.mark.parametrize("num_thresholds", [3, 10, 57])
def test_matches_numpy_reference_for_other_num_thresholds(
    curve, num_thresholds
):
    """The threshold grid follows num_thresholds."""
    labels, scores, weights = _random_data(4, size=300)
    expected = reference_auc(labels, scores, weights, curve, num_thresholds)
    assert _auc(
        labels, scores, weights, curve, num_thresholds=num_thresholds
    ) == pytest.approx(expected, rel=1e-4)


# --- (b) the worked example of metrics.md §6.1 -------------------------------


@pytest.mark.parametrize(
    "curve, expected", [("ROC", 0.4545454), ("PR", 0.4010627)]
)
def test_spec_worked_example(curve, expected):
    """Logits [[45],[-41],[44]] through a sigmoid, labels [1,1,0], weights
    [1,.1,1.5]: auc 0.4545454, auc_precision_recall 0.4010627."""
    logits = np.array([[45.0], [-41.0], [44.0]], np.float32)
    scores = keras.ops.sigmoid(logits)
    labels = np.array([[1.0], [1.0], [0.0]], np.float32)
    weights = np.array([[1.0], [0.1], [1.5]], np.float32)
    assert _auc(labels, scores, weights, curve) == pytest.approx(
        expected, rel=1e-5
    )
    assert reference_auc(
        labels, np.asarray(scores), weights, curve
    ) == pytest.approx(expected, rel=1e-5)


# --- (c) degenerate cases ----------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1])
def test_roc_auc_is_zero_when_all_labels_are_positive(seed):
    """Every fpr is 0, so the trapezoids have zero width: 0.0, not 0.5."""
    rng = np.random.default_rng(seed)
    scores = rng.uniform(size=(20, 1)).astype(np.float32)
    assert _auc(np.ones((20, 1), np.float32), scores) == 0.0
    assert _auc(
        np.ones((20, 1), np.float32), scores,
        rng.uniform(0.5, 2.0, size=(20, 1)).astype(np.float32),
    ) == 0.0


def test_pr_auc_is_one_when_positives_are_confidently_positive():
    """metrics.md §6: confident positive predictions of all-positive labels
    give PR-AUC 1.0."""
    labels = np.array([[1.0], [1.0], [1.0]], np.float32)
    scores = np.array([[1.0], [1.0], [1.0]], np.float32)
    assert _auc(labels, scores, curve="PR") == pytest.approx(1.0, rel=1e-6)


@pytest.mark.parametrize("curve", ["ROC", "PR"])
def test_zero_before_any_update_and_after_reset(curve):
    """No data: an area of 0 (never NaN); reset_state forgets the data."""
    metric = AUC(curve=curve)
    assert float(metric.result()) == 0.0
    labels, scores, weights = _random_data(5, size=50)
    metric.update_state(labels, scores, weights)
    assert float(metric.result()) > 0.0
    metric.reset_state()
    assert float(metric.result()) == 0.0


# --- (d) against sklearn -----------------------------------------------------


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_roc_close_to_sklearn_on_well_spread_scores(seed, weighted):
    """With uniformly spread scores the 200-bucket approximation is within
    2e-3 of the exact (weighted) ROC AUC."""
    rng = np.random.default_rng(seed)
    size = 4000
    scores = rng.uniform(size=size).astype(np.float32)
    labels = (rng.uniform(size=size) < 0.2 + 0.6 * scores).astype(np.float32)
    weights = (
        rng.uniform(0.1, 2.0, size=size).astype(np.float32)
        if weighted else None
    )
    expected = roc_auc_score(labels, scores, sample_weight=weights)
    assert 0.6 < expected < 0.9
    assert _auc(labels, scores, weights) == pytest.approx(expected, abs=2e-3)


# --- (e) streaming -----------------------------------------------------------


@pytest.mark.parametrize("curve", ["ROC", "PR"])
def test_streaming_equals_one_batch(curve):
    """Histograms accumulate: uneven batches give the one-batch area."""
    labels, scores, weights = _random_data(6, size=301)
    whole = _auc(labels, scores, weights, curve)
    metric = AUC(curve=curve)
    for start, stop in [(0, 1), (1, 50), (50, 51), (51, 200), (200, 301)]:
        metric.update_state(
            labels[start:stop], scores[start:stop], weights[start:stop]
        )
    assert float(metric.result()) == pytest.approx(whole, rel=1e-5)
    last = _auc(labels[200:], scores[200:], weights[200:], curve)
    assert abs(last - whole) > 1e-4  # A metric that forgot would differ.


# --- (f) clipping ------------------------------------------------------------


@pytest.mark.parametrize("curve", ["ROC", "PR"])
def test_scores_outside_unit_interval_are_clipped(curve):
    """Scores below 0 count as 0, above 1 as 1 (no out-of-range bucket)."""
    rng = np.random.default_rng(7)
    size = 200
    labels = (rng.uniform(size=(size, 1)) < 0.5).astype(np.float32)
    scores = rng.uniform(-0.5, 1.5, size=(size, 1)).astype(np.float32)
    weights = rng.uniform(0.1, 2.0, size=(size, 1)).astype(np.float32)
    assert np.mean(scores < 0) > 0.1 and np.mean(scores > 1) > 0.1
    clipped = np.clip(scores, 0.0, 1.0)
    expected = reference_auc(labels, clipped, weights, curve)
    assert _auc(labels, scores, weights, curve) == pytest.approx(
        expected, rel=1e-4
    )
    assert _auc(labels, scores, weights, curve) == pytest.approx(
        _auc(labels, clipped, weights, curve), rel=1e-6
    )


# --- label and weight handling -----------------------------------------------


@pytest.mark.parametrize("curve", ["ROC", "PR"])
def test_non_zero_soft_labels_are_positive(curve):
    """Labels are positive iff non-zero (0.4 is positive)."""
    labels, scores, weights = _random_data(8, size=200)
    soft = labels * np.float32(0.4)
    assert _auc(soft, scores, weights, curve) == pytest.approx(
        reference_auc(labels, scores, weights, curve), rel=1e-4
    )


@pytest.mark.parametrize("curve", ["ROC", "PR"])
def test_b_weights_apply_to_b1_scores(curve):
    """[B] weights weigh [B,1] scores example by example."""
    labels, scores, weights = _random_data(9, size=100)
    assert _auc(labels, scores, weights[:, 0], curve) == pytest.approx(
        reference_auc(labels, scores, weights, curve), rel=1e-4
    )


# --- (g) validation ----------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"curve": "XYZ"},
        {"curve": None},
        {"num_thresholds": 1},
        {"num_thresholds": 0},
        {"num_thresholds": -5},
    ],
    ids=["curve_XYZ", "curve_None", "n1", "n0", "n_negative"],
)
def test_invalid_arguments_raise_value_error(kwargs):
    """An unknown curve or fewer than two thresholds is a ValueError."""
    with pytest.raises(ValueError):
        AUC(**kwargs)


def test_num_thresholds_two_is_accepted():
    """The smallest valid grid (-eps, 1+eps) builds and computes."""
    labels, scores, weights = _random_data(10, size=50)
    assert _auc(labels, scores, weights, num_thresholds=2) == pytest.approx(
        reference_auc(labels, scores, weights, "ROC", 2), abs=1e-6
    )
