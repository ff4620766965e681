"""Pins `HistogramTotals`, the one state that several histogram metrics read:
metrics that share it give exactly what each gives alone, move together,
and refuse totals that do not count what they read."""

import numpy as np
import pytest
from keras import ops

from keras_heads.metrics import AUC
from keras_heads.metrics import BinaryAccuracy
from keras_heads.metrics import HistogramTotals
from keras_heads.metrics import Precision
from keras_heads.metrics import Recall
from keras_heads.metrics import ScoreHistogram


def _batches(seed=0, count=3):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        labels = rng.choice([0.0, 1.0, 0.4], size=(40, 3)).astype("float32")
        scores = rng.random((40, 3)).astype("float32")
        weights = rng.uniform(0.1, 2.0, size=(40, 1)).astype("float32")
        yield labels, scores, weights


def _shared_and_alone(thresholds=(0.25, 0.5)):
    """`(shared, alone)`: the same metrics, reading one `HistogramTotals` or
    each its own."""
    totals = HistogramTotals(num_buckets=200, thresholds=thresholds)
    shared = {"auc": AUC(totals=totals),
              "auc_pr": AUC(curve="PR", totals=totals)}
    alone = {"auc": AUC(), "auc_pr": AUC(curve="PR")}
    for t in thresholds:
        for name, cls in (("accuracy", BinaryAccuracy),
                          ("precision", Precision), ("recall", Recall)):
            shared[f"{name}/{t}"] = cls(t, totals=totals)
            alone[f"{name}/{t}"] = cls(t)
    return totals, shared, alone


def _results(metrics):
    return {key: float(m.result()) for key, m in metrics.items()}


def test_shared_totals_give_each_metric_its_own_value():
    totals, shared, alone = _shared_and_alone()
    for labels, scores, weights in _batches():
        totals.update_state(labels, scores, weights)
        for metric in alone.values():
            metric.update_state(labels, scores, weights)
    expected = _results(alone)
    for key, value in _results(shared).items():
        assert value == pytest.approx(expected[key], rel=1e-6, abs=1e-7), key


def test_shared_metrics_hold_one_variable():
    totals, shared, _ = _shared_and_alone()
    for metric in shared.values():
        assert [id(v) for v in metric.variables] == [id(totals.counts)]


def test_feeding_or_resetting_one_metric_moves_all_that_share():
    totals, shared, _ = _shared_and_alone()
    labels, scores, weights = next(_batches())
    shared["precision/0.5"].update_state(labels, scores, weights)
    assert float(shared["recall/0.25"].result()) > 0.0
    assert float(shared["auc"].result()) > 0.0
    shared["auc_pr"].reset_state()
    assert float(ops.sum(totals.counts)) == 0.0
    assert _results(shared) == {key: 0.0 for key in shared}


def test_add_takes_a_histogram_of_the_same_layout():
    totals = HistogramTotals(num_buckets=10, thresholds=[0.5])
    labels, scores, weights = next(_batches())
    totals.add(ScoreHistogram(labels, scores, weights, num_buckets=10,
                              thresholds=[0.5]))
    np.testing.assert_allclose(
        ops.convert_to_numpy(totals.result()).sum(), weights.sum() * 3,
        rtol=1e-5,
    )
    with pytest.raises(ValueError, match=r"histogram: expected counts of "
                       r"shape \(10, 2, 1, 3\).*received \(10, 1, 1, 3\)"):
        totals.add(ScoreHistogram(labels, scores, weights, num_buckets=10))


def test_by_column_histograms_add_one_column():
    labels, scores, weights = next(_batches())
    totals = HistogramTotals(num_buckets=20)
    by_column = ScoreHistogram(labels, scores, weights, num_buckets=20,
                               by_column=True)
    totals.add(by_column, column=2)
    alone = ScoreHistogram(labels[:, 2:], scores[:, 2:], weights,
                           num_buckets=20)
    np.testing.assert_allclose(
        ops.convert_to_numpy(totals.auc_histogram()),
        ops.convert_to_numpy(alone.auc_histogram()), rtol=1e-6,
    )


def test_decisions_are_read_from_totals_that_count_them():
    labels, scores, weights = next(_batches())
    decisions = scores > 0.3
    totals = HistogramTotals(num_buckets=5, thresholds=[0.3], decisions=True)
    totals.add(totals.histogram(labels, scores, weights, decisions=decisions))
    # Deciding `p > 0.3` is the same rule as the threshold 0.3.
    for cls in (BinaryAccuracy, Precision, Recall):
        at_decisions = cls(threshold=None, totals=totals)
        at_threshold = cls(threshold=0.3, totals=totals)
        assert float(at_decisions.result()) == pytest.approx(
            float(at_threshold.result()), rel=1e-6
        )
    with pytest.raises(ValueError, match="decisions: these totals count a "
                       "decision per score.*Received none"):
        totals.histogram(labels, scores, weights)
    with pytest.raises(ValueError, match="made with decisions=False; "
                       "received a decisions tensor"):
        HistogramTotals(num_buckets=5).histogram(
            labels, scores, weights, decisions=decisions
        )


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Precision(threshold=None),
         "threshold: None reads the decisions of shared totals"),
        (lambda: Recall(threshold=None, totals=HistogramTotals()),
         "made with decisions=False"),
        (lambda: BinaryAccuracy(0.7, totals=HistogramTotals(thresholds=[0.5])),
         r"count threshold 0.7; received thresholds \[0.5\]"),
        (lambda: AUC(num_thresholds=50, totals=HistogramTotals(200)),
         r"totals: expected 50 buckets \(num_thresholds\); received totals "
         "of 200"),
    ],
    ids=["no_threshold_alone", "no_decisions", "threshold_not_counted",
         "buckets"],
)
def test_totals_that_do_not_count_what_a_metric_reads_are_refused(
    make, message
):
    with pytest.raises(ValueError, match=message):
        make()
