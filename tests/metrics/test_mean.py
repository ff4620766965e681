"""Pins the weighted-mean family: Mean, Accuracy and AccuracyBaseline
(metrics.md §2-§4, §7)."""

import numpy as np
import pytest

from keras_heads.metrics import Accuracy
from keras_heads.metrics import AccuracyBaseline
from keras_heads.metrics import Mean


def _value(metric):
    return float(metric.result())


def _weighted_mean(values, weights):
    values = np.asarray(values, np.float64)
    weights = np.broadcast_to(np.asarray(weights, np.float64), values.shape)
    return float(np.sum(values * weights) / np.sum(weights))


# --- Mean --------------------------------------------------------------------


def test_mean_streams_batches_of_different_shapes():
    """Every element counts with its broadcast weight, whatever the batch shape:
    streaming equals one NumPy weighted mean over the concatenation."""
    rng = np.random.default_rng(0)
    batches = []
    # [B, 1] values with [B, 1] weights.
    batches.append((rng.normal(size=(5, 1)), rng.uniform(0.1, 2.0, (5, 1))))
    # [B, 3] values with per-example [B, 1] weights (broadcast along axis 1).
    batches.append((rng.normal(size=(4, 3)), rng.uniform(0.1, 2.0, (4, 1))))
    # [B, 2] values with per-element [B, 2] weights.
    batches.append((rng.normal(size=(3, 2)), rng.uniform(0.1, 2.0, (3, 2))))
    # [D0, D1, 1] values with [D0, D1, 1] weights.
    batches.append(
        (rng.normal(size=(2, 3, 1)), rng.uniform(0.1, 2.0, (2, 3, 1)))
    )
    # [B] values with a scalar weight.
    batches.append((rng.normal(size=(7,)), 0.3))

    metric = Mean()
    flat_values, flat_weights = [], []
    for values, weights in batches:
        values = values.astype(np.float32)
        weights = np.asarray(weights, np.float32)
        metric.update_state(values, sample_weight=weights)
        flat_values.append(values.ravel())
        flat_weights.append(np.broadcast_to(weights, values.shape).ravel())
    expected = _weighted_mean(
        np.concatenate(flat_values), np.concatenate(flat_weights)
    )
    # A per-row mean (keras.metrics.Mean) would differ from this.
    assert _value(metric) == pytest.approx(expected, rel=1e-5)


def test_mean_without_weights_is_the_mean_of_all_elements():
    """With no weight each element counts once, across differently sized
    batches (not a mean of batch means)."""
    first = np.array([[1.0], [2.0], [3.0], [4.0]], np.float32)
    second = np.array([[10.0, 20.0]], np.float32)
    metric = Mean()
    metric.update_state(first)
    metric.update_state(second)
    expected = np.mean(np.concatenate([first.ravel(), second.ravel()]))
    assert _value(metric) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(
    "values_shape, weights_shape",
    [((4,), (4, 1)), ((4, 1), (4,))],
    ids=["B_values_B1_weights", "B1_values_B_weights"],
)
def test_mean_reconciles_ranks_of_b_and_b1(values_shape, weights_shape):
    """[B] values with [B,1] weights and [B,1] values with [B] weights pair each
    example with its own weight (no [B,B] outer broadcast)."""
    values = np.array([1.0, 2.0, 3.0, 4.0], np.float32)
    weights = np.array([4.0, 0.0, 1.0, 0.5], np.float32)
    metric = Mean()
    metric.update_state(
        values.reshape(values_shape),
        sample_weight=weights.reshape(weights_shape),
    )
    assert _value(metric) == pytest.approx(
        _weighted_mean(values, weights), rel=1e-6
    )


def test_mean_scalar_value_counts_once():
    """A scalar value (e.g. a regularization loss) is one element."""
    metric = Mean()
    metric.update_state(2.0)
    metric.update_state(np.array([4.0, 6.0], np.float32))
    assert _value(metric) == pytest.approx(np.mean([2.0, 4.0, 6.0]), rel=1e-6)
    other = Mean()
    other.update_state(1.0)
    other.update_state(5.0, sample_weight=3.0)
    assert _value(other) == pytest.approx((1.0 + 15.0) / 4.0, rel=1e-6)


def test_mean_is_zero_before_any_update_and_after_reset():
    """The result is 0 (not NaN) when nothing was seen, and reset_state
    forgets everything seen."""
    metric = Mean()
    assert _value(metric) == 0.0
    metric.update_state([[3.0], [5.0]], sample_weight=[[1.0], [2.0]])
    assert _value(metric) == pytest.approx(13.0 / 3.0, rel=1e-6)
    metric.reset_state()
    assert _value(metric) == 0.0
    metric.update_state([[7.0]])
    assert _value(metric) == pytest.approx(7.0)


def test_mean_keeps_its_sums_in_one_variable():
    """One state tensor per mean (a compiled step pays per tensor it
    carries), read back as the weighted total and the weight sum."""
    metric = Mean()
    metric.add_sums(6.0, 2)
    metric.update_state([[1.0], [3.0]], sample_weight=[[1.0], [3.0]])
    assert len(metric.variables) == 1
    assert float(metric.total) == pytest.approx(16.0)
    assert float(metric.count) == pytest.approx(6.0)
    assert _value(metric) == pytest.approx(16.0 / 6.0)


def test_mean_with_zero_total_weight_is_zero():
    """All-zero weights give a zero denominator, hence 0."""
    metric = Mean()
    metric.update_state([[3.0], [5.0]], sample_weight=[[0.0], [0.0]])
    assert _value(metric) == 0.0


# --- Accuracy ----------------------------------------------------------------


def test_accuracy_compares_floats_exactly():
    """A soft label never equals a class id: 0.8 vs class 1 is wrong, while
    1.0 vs 1 and 0.0 vs 0 are right (weighted)."""
    labels = np.array([[0.8], [1.0], [0.0], [0.2]], np.float32)
    class_ids = np.array([[1], [1], [0], [0]], np.int64)
    weights = np.array([[1.0], [2.0], [3.0], [4.0]], np.float32)
    matches = (labels == class_ids.astype(np.float32)).astype(np.float64)
    assert matches.tolist() == [[0.0], [1.0], [1.0], [0.0]]
    metric = Accuracy()
    metric.update_state(labels, class_ids, weights)
    assert _value(metric) == pytest.approx(
        _weighted_mean(matches, weights), rel=1e-6
    )


def test_accuracy_streams_and_counts_every_element():
    """Accuracy is the weighted mean of matches over all batches."""
    rng = np.random.default_rng(1)
    metric = Accuracy()
    all_matches, all_weights = [], []
    for size in (3, 8, 5):
        labels = rng.integers(0, 3, size=(size, 1))
        preds = rng.integers(0, 3, size=(size, 1))
        weights = rng.uniform(0.0, 2.0, size=(size, 1)).astype(np.float32)
        metric.update_state(labels, preds, weights)
        all_matches.append((labels == preds).ravel())
        all_weights.append(weights.ravel())
    assert _value(metric) == pytest.approx(
        _weighted_mean(
            np.concatenate(all_matches), np.concatenate(all_weights)
        ),
        rel=1e-5,
    )


def test_accuracy_reconciles_b_labels_with_b1_predictions():
    """metrics.md §3: a trailing size-1 axis is squeezed when ranks differ by
    one, so [B] labels against [B,1] predictions compare example by example."""
    labels = np.array([1.0, 0.0, 1.0, 1.0], np.float32)
    preds = np.array([[1.0], [1.0], [1.0], [0.0]], np.float32)
    expected = np.mean(labels == preds[:, 0])
    metric = Accuracy()
    metric.update_state(labels, preds)
    # Without the squeeze, [4] vs [4, 1] broadcasts to a [4, 4] comparison.
    assert _value(metric) == pytest.approx(expected)


# --- AccuracyBaseline --------------------------------------------------------


def test_accuracy_baseline_spec_example():
    """metrics.md §7: labels [1,1,0], weights [1,.1,1.5] -> 1 - 1.1/2.6."""
    metric = AccuracyBaseline()
    metric.update_state(
        np.array([[1.0], [1.0], [0.0]], np.float32),
        np.array([[1.0], [0.1], [1.5]], np.float32),
    )
    mean = 1.1 / 2.6
    assert _value(metric) == pytest.approx(max(mean, 1.0 - mean), rel=1e-6)
    assert _value(metric) == pytest.approx(0.5769231, rel=1e-6)


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_accuracy_baseline_is_max_of_cumulative_label_mean(seed):
    """max(m, 1 - m) of the weighted label mean over all batches seen."""
    rng = np.random.default_rng(seed)
    p_positive = rng.uniform(0.1, 0.9)
    labels = (rng.uniform(size=(40, 1)) < p_positive).astype(np.float32)
    weights = rng.uniform(0.1, 2.0, size=(40, 1)).astype(np.float32)
    metric = AccuracyBaseline()
    for start in range(0, 40, 13):
        metric.update_state(labels[start:start + 13], weights[start:start + 13])
    mean = _weighted_mean(labels, weights)
    assert _value(metric) == pytest.approx(max(mean, 1.0 - mean), rel=1e-5)


def test_accuracy_baseline_majority_flips_with_the_cumulative_mean():
    """The value follows the cumulative mean, not the last batch: a positive
    majority that becomes a negative one is reported as such."""
    metric = AccuracyBaseline()
    metric.update_state(np.array([[1.0], [1.0], [1.0], [0.0]], np.float32))
    assert _value(metric) == pytest.approx(0.75)
    metric.update_state(np.array([[0.0]] * 4, np.float32))
    assert _value(metric) == pytest.approx(5.0 / 8.0)


def test_accuracy_baseline_is_zero_when_nothing_seen():
    """Before any update, after reset, and with zero total weight: 0 (not the
    max(0, 1 - 0) = 1 a naive formula gives)."""
    metric = AccuracyBaseline()
    assert _value(metric) == 0.0
    metric.update_state(np.array([[1.0], [0.0]], np.float32))
    assert _value(metric) == pytest.approx(0.5)
    metric.reset_state()
    assert _value(metric) == 0.0
    metric.update_state(
        np.array([[1.0], [0.0]], np.float32),
        np.array([[0.0], [0.0]], np.float32),
    )
    assert _value(metric) == 0.0
