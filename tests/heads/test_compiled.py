"""The heads inside `tf.function(jit_compile=True)` agree with eager execution.

Everything numeric a head computes (the loss, the numeric predictions and the
streaming metric updates) must compile with XLA and give the eager values.
Metric objects are created by `head.metrics()` outside the compiled function,
as a training loop does.
"""

import collections

import numpy as np
import pytest
import tensorflow as tf

import keras_heads as kh

LOSS_TOLERANCE = dict(rtol=1e-5)
METRIC_TOLERANCE = dict(rtol=1e-4)

CLASS_KEYS = ["logits", "probabilities", "class_ids", "all_class_ids"]

# make_head() -> head; labels(rng, n) -> [n, label_dim] labels; keys: the
# prediction keys to request (None: regression heads take no `keys`).
Case = collections.namedtuple("Case", ["make_head", "labels", "keys"])

CASES = {
    "binary": Case(
        lambda: kh.BinaryClassHead(weight_column="w", thresholds=[0.3, 0.7]),
        lambda rng, n: rng.integers(0, 2, (n, 1)).astype("float32"),
        CLASS_KEYS + ["logistic"],
    ),
    "multi_class": Case(
        lambda: kh.MultiClassHead(3, weight_column="w"),
        lambda rng, n: rng.integers(0, 3, (n, 1)).astype("int64"),
        CLASS_KEYS,
    ),
    "regression": Case(
        lambda: kh.RegressionHead(label_dimension=2, weight_column="w"),
        lambda rng, n: rng.normal(size=(n, 2)).astype("float32"),
        None,
    ),
    "poisson": Case(
        # Counts above 1 exercise the Stirling term of the full loss.
        lambda: kh.PoissonRegressionHead(weight_column="w"),
        lambda rng, n: rng.integers(0, 6, (n, 1)).astype("float32"),
        None,
    ),
    "logistic": Case(
        lambda: kh.LogisticRegressionHead(weight_column="w"),
        lambda rng, n: rng.uniform(size=(n, 1)).astype("float32"),
        None,
    ),
}

parametrize_cases = pytest.mark.parametrize("case_name", sorted(CASES))


def _batch(case, head, size, seed):
    """`(features, logits, labels)` of `size` examples with example weights."""
    rng = np.random.default_rng(seed)
    logits = 2.0 * rng.normal(size=(size, head.logits_dimension))
    weights = rng.uniform(0.5, 2.0, size=(size, 1))
    features = {"w": weights.astype("float32")}
    return features, logits.astype("float32"), case.labels(rng, size)


def _predictions(case, head, logits):
    if case.keys is None:
        return head.predictions(logits)
    return head.predictions(logits, keys=case.keys)


def _results(eval_metrics):
    return {key: m.result().numpy() for key, m in eval_metrics.items()}


def _assert_same_results(compiled, eager):
    assert sorted(compiled) == sorted(eager)
    for key in eager:
        np.testing.assert_allclose(
            compiled[key], eager[key], err_msg=key, **METRIC_TOLERANCE
        )


@parametrize_cases
def test_compiled_loss_matches_eager(case_name):
    """`loss` with example weights compiles and equals the eager loss."""
    case = CASES[case_name]
    head = case.make_head()
    features, logits, labels = _batch(case, head, 5, seed=0)

    @tf.function(jit_compile=True)
    def compiled_loss(features, logits, labels):
        return head.loss(labels=labels, logits=logits, features=features)

    eager = head.loss(labels=labels, logits=logits, features=features)
    compiled = compiled_loss(features, logits, labels)
    assert compiled.shape == ()
    np.testing.assert_allclose(compiled, eager, **LOSS_TOLERANCE)


@parametrize_cases
def test_compiled_predictions_match_eager(case_name):
    """Every numeric prediction compiles and equals its eager value."""
    case = CASES[case_name]
    head = case.make_head()
    _, logits, _ = _batch(case, head, 5, seed=1)

    compiled_predictions = tf.function(
        lambda logits: _predictions(case, head, logits), jit_compile=True
    )

    eager = _predictions(case, head, logits)
    compiled = compiled_predictions(logits)
    if case.keys is not None:
        assert sorted(eager) == sorted(case.keys)
    assert all(value.dtype != tf.string for value in eager.values())
    assert sorted(compiled) == sorted(eager)
    for key in eager:
        assert compiled[key].dtype == eager[key].dtype, key
        np.testing.assert_allclose(
            compiled[key], eager[key], err_msg=key, **LOSS_TOLERANCE
        )


def _compiled_update(head, eval_metrics):
    @tf.function(jit_compile=True)
    def update(features, logits, labels):
        head.update_metrics(eval_metrics, features, logits, labels)

    return update


@parametrize_cases
def test_compiled_update_metrics_matches_eager(case_name):
    """One compiled `update_metrics` leaves every metric as an eager one."""
    case = CASES[case_name]
    head = case.make_head()
    features, logits, labels = _batch(case, head, 6, seed=2)

    eager_metrics = head.metrics()
    head.update_metrics(eager_metrics, features, logits, labels)
    compiled_metrics = head.metrics()
    _compiled_update(head, compiled_metrics)(features, logits, labels)

    _assert_same_results(_results(compiled_metrics), _results(eager_metrics))


@parametrize_cases
def test_compiled_streaming_matches_eager(case_name):
    """Two batches (of different sizes) through the compiled update stream
    into the same metric values as two eager updates."""
    case = CASES[case_name]
    head = case.make_head()
    batches = [_batch(case, head, 6, seed=3), _batch(case, head, 4, seed=4)]

    eager_metrics = head.metrics()
    compiled_metrics = head.metrics()
    update = _compiled_update(head, compiled_metrics)
    for features, logits, labels in batches:
        head.update_metrics(eager_metrics, features, logits, labels)
        update(features, logits, labels)

    eager = _results(eager_metrics)
    _assert_same_results(_results(compiled_metrics), eager)
    # The stream really accumulated: the first batch alone differs.
    first_only = head.metrics()
    head.update_metrics(first_only, *batches[0])
    assert not np.isclose(
        _results(first_only)["average_loss"], eager["average_loss"]
    )


OUT_OF_RANGE = {
    "binary_label_2": (
        lambda: kh.BinaryClassHead(),
        np.zeros((3, 1), "float32"),
        np.array([[1.0], [2.0], [0.0]], "float32"),
    ),
    "multi_class_id_7": (
        lambda: kh.MultiClassHead(3),
        np.zeros((3, 3), "float32"),
        np.array([[0], [7], [2]], "int64"),
    ),
    "logistic_label_1.5": (
        lambda: kh.LogisticRegressionHead(),
        np.zeros((3, 1), "float32"),
        np.array([[0.5], [1.5], [0.0]], "float32"),
    ),
}


@pytest.mark.parametrize("jit_compile", [False, True])
@pytest.mark.parametrize("name", sorted(OUT_OF_RANGE))
def test_out_of_range_label_gives_nan_loss_when_traced(name, jit_compile):
    """Traced-mode behaviour: label values are unknown while tracing, so the
    range check cannot raise; an out-of-range label must turn the loss into
    NaN instead of a silently wrong finite value. (Eagerly, the same call
    raises `ValueError`.)"""
    make_head, logits, labels = OUT_OF_RANGE[name]
    head = make_head()

    @tf.function(jit_compile=jit_compile)
    def traced_loss(logits, labels):
        return head.loss(labels=labels, logits=logits)

    assert np.isnan(traced_loss(logits, labels).numpy())
    with pytest.raises(ValueError, match="Labels must be"):
        head.loss(labels=labels, logits=logits)
