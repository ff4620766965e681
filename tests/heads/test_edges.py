"""Defined behaviour at the edges, the same on every backend and compiler.

* NaN logits: a batch holding one makes every metric of its head NaN,
  eager and compiled, over later batches too until reset; the other heads
  of a `MultiHead` keep their values. Infinite logits are ordinary scores.
* Class ids follow NumPy's argmax: the first maximum, NaN above every number,
  `-0.0` equal to `0.0`. A binary head predicts class 1 iff `logits > 0`.
* Empty batches: the loss is 0 for every reduction, the metrics are as if
  the batch had not been fed, and predictions are empty arrays of the usual
  trailing shapes and dtypes.
"""

import collections

import numpy as np
import pytest
from keras import ops

import keras_heads as kh
from keras_heads import ModeKeys
from keras_heads.backend import string_values
from keras_heads.heads.classes import first_argmax
from tests import backends

RUNNERS = {"eager": lambda fn: fn, **backends.COMPILERS}
parametrize_runners = pytest.mark.parametrize(
    "run", list(RUNNERS.values()), ids=list(RUNNERS)
)
parametrize_compilers = backends.parametrize_compilers

REDUCTIONS = [kh.Reduction.SUM, kh.Reduction.SUM_OVER_BATCH_SIZE,
              kh.Reduction.AUTO]


class _Stream:
    """Batches through `stateless_update_metrics` run by `run` (eager or
    compiled), as an evaluation loop streams them."""

    def __init__(self, head, run, mode=None):
        self.head = head
        self.eval_metrics = head.metrics()
        self.state = head.metric_variables(self.eval_metrics)
        self._step = run(
            lambda state, features, logits, labels: (
                head.stateless_update_metrics(
                    state, self.eval_metrics, features, logits, labels,
                    mode=mode,
                )
            )
        )

    def update(self, features, logits, labels):
        self.state = self._step(self.state, features, logits, labels)
        return self

    def results(self):
        return backends.numpy(
            self.head.stateless_metric_results(self.state, self.eval_metrics)
        )


def _eager_results(head, *batches):
    eval_metrics = head.metrics()
    for features, logits, labels in batches:
        head.update_metrics(eval_metrics, features, logits, labels)
    return {k: backends.numpy(m.result()) for k, m in eval_metrics.items()}


def _assert_same(got, want, keys=None):
    keys = sorted(want) if keys is None else keys
    for key in keys:
        np.testing.assert_allclose(got[key], want[key], rtol=1e-5, atol=1e-7,
                                   err_msg=key)


# --- the heads ---------------------------------------------------------------

# head(): a fresh head; batch(rng, n): `(features, logits, labels)` of n
# examples; nan_at: where `_with_nan` puts the NaN logit; unaffected(key):
# whether a metric belongs to another head than that logit's, and keeps its
# value.
Case = collections.namedtuple(
    "Case", ["head", "batch", "nan_at", "unaffected"]
)


def _weights(rng, n):
    return {"w": rng.uniform(0.5, 2.0, (n, 1)).astype("float32")}


def _logits(rng, n, d):
    return (2.0 * rng.normal(size=(n, d))).astype("float32")


def _none(key):
    return False


CASES = {
    "binary": Case(
        lambda: kh.BinaryClassHead(weight_column="w", thresholds=[0.3, 0.7]),
        lambda rng, n: (_weights(rng, n), _logits(rng, n, 1),
                        rng.integers(0, 2, (n, 1)).astype("int64")),
        (2, 0), _none,
    ),
    "multi_class": Case(
        lambda: kh.MultiClassHead(3, weight_column="w"),
        lambda rng, n: (_weights(rng, n), _logits(rng, n, 3),
                        rng.integers(0, 3, (n, 1)).astype("int64")),
        (2, 1), _none,
    ),
    "multi_label": Case(
        lambda: kh.MultiLabelHead(
            3, weight_column="w", thresholds=[0.5],
            classes_for_class_based_metrics=[0, 2],
        ),
        lambda rng, n: (_weights(rng, n), _logits(rng, n, 3),
                        rng.integers(0, 2, (n, 3)).astype("int64")),
        (2, 0), _none,
    ),
    "regression": Case(
        lambda: kh.RegressionHead(label_dimension=2, weight_column="w"),
        lambda rng, n: (_weights(rng, n), _logits(rng, n, 2),
                        rng.normal(size=(n, 2)).astype("float32")),
        (2, 1), _none,
    ),
    "poisson": Case(
        lambda: kh.PoissonRegressionHead(weight_column="w"),
        lambda rng, n: (_weights(rng, n), _logits(rng, n, 1),
                        rng.integers(0, 5, (n, 1)).astype("float32")),
        (2, 0), _none,
    ),
    "logistic": Case(
        lambda: kh.LogisticRegressionHead(weight_column="w"),
        lambda rng, n: (_weights(rng, n), _logits(rng, n, 1),
                        rng.uniform(size=(n, 1)).astype("float32")),
        (2, 0), _none,
    ),
    # The NaN is in head "a"'s logit (column 0): head "b" is untouched.
    "multi_head": Case(
        lambda: kh.MultiHead([
            kh.BinaryClassHead(weight_column="w", name="a"),
            kh.MultiClassHead(3, weight_column="w", name="b"),
        ]),
        lambda rng, n: (_weights(rng, n), _logits(rng, n, 4), {
            "a": rng.integers(0, 2, (n, 1)).astype("int64"),
            "b": rng.integers(0, 3, (n, 1)).astype("int64"),
        }),
        (2, 0), lambda key: key.endswith("/b"),
    ),
}
parametrize_cases = pytest.mark.parametrize("case_name", sorted(CASES))


def _batch(case, n=6, seed=0):
    return case.batch(np.random.default_rng(seed), n)


def _with_nan(case, batch, value=np.nan):
    features, logits, labels = batch
    logits = logits.copy()
    logits[case.nan_at] = value
    return features, logits, labels


# --- NaN logits --------------------------------------------------------------


@parametrize_runners
@parametrize_cases
def test_a_nan_logit_makes_every_metric_of_its_head_nan(case_name, run):
    case = CASES[case_name]
    clean = _batch(case)
    got = _Stream(case.head(), run).update(*_with_nan(case, clean)).results()
    # The NaN logit replaced by a number: what the unaffected metrics see.
    want = _eager_results(case.head(), _with_nan(case, clean, 0.5))

    assert sorted(got) == sorted(want)
    affected = [key for key in got if not case.unaffected(key)]
    unaffected = [key for key in got if case.unaffected(key)]
    assert affected and all(np.isnan(got[key]) for key in affected), got
    _assert_same(got, want, unaffected)
    assert not any(np.isnan(want[key]) for key in want)


@parametrize_runners
@parametrize_cases
def test_nan_metrics_stay_nan_until_reset(case_name, run):
    case = CASES[case_name]
    bad = _with_nan(case, _batch(case, seed=1))
    good = _batch(case, n=4, seed=2)
    head = case.head()
    stream = _Stream(head, run).update(*bad).update(*good)
    streamed = stream.results()
    assert all(np.isnan(streamed[key]) == (not case.unaffected(key))
               for key in streamed), streamed

    # Reset: fresh state, then the good batch alone.
    stream.state = head.metric_variables(stream.eval_metrics)
    _assert_same(stream.update(*good).results(),
                 _eager_results(case.head(), good))


@backends.only_on("tensorflow", "torch", why="jax.jit cannot mutate metric "
                  "variables; the stateless API is tested above")
@parametrize_compilers
@parametrize_cases
def test_compiled_stateful_updates_report_nan_and_reset(case_name, compile_fn):
    case = CASES[case_name]
    head = case.head()
    eval_metrics = head.metrics()
    head._complete_metrics(eval_metrics)
    update = compile_fn(
        lambda features, logits, labels: head.update_metrics(
            eval_metrics, features, logits, labels
        ) and None
    )
    update(*_with_nan(case, _batch(case)))
    update(*_batch(case, seed=3))
    results = {k: backends.numpy(m.result()) for k, m in eval_metrics.items()}
    assert all(np.isnan(results[key]) == (not case.unaffected(key))
               for key in results), results

    for metric in eval_metrics.values():
        metric.reset_state()
    update(*_batch(case, seed=3))
    results = {k: backends.numpy(m.result()) for k, m in eval_metrics.items()}
    _assert_same(results, _eager_results(case.head(), _batch(case, seed=3)))


@parametrize_runners
@pytest.mark.parametrize("case_name", ["binary", "multi_class", "regression"])
def test_a_zero_weight_does_not_spare_a_nan_logit(case_name, run):
    case = CASES[case_name]
    features, logits, labels = _with_nan(case, _batch(case))
    features = {"w": features["w"].copy()}
    features["w"][case.nan_at[0]] = 0.0
    results = _Stream(case.head(), run).update(features, logits, labels)
    assert all(np.isnan(v) for v in results.results().values())


def _zero_loss(labels, logits):
    """A loss that never reads the logits, so is never NaN."""
    return ops.zeros_like(ops.cast(labels, "float32"))[..., :1]


@parametrize_runners
@pytest.mark.parametrize("make_head", [
    lambda: kh.MultiClassHead(3, loss_fn=_zero_loss),
    lambda: kh.RegressionHead(loss_fn=_zero_loss),
], ids=["multi_class", "regression"])
def test_a_custom_loss_that_ignores_a_nan_logit_still_gets_nan_metrics(
        make_head, run):
    head = make_head()
    rng = np.random.default_rng(6)
    logits = _logits(rng, 5, head.logits_dimension)
    labels = (rng.integers(0, 3, (5, 1)) if head.logits_dimension == 3
              else rng.normal(size=(5, 1)).astype("float32"))
    clean = _Stream(head, run).update({}, logits, labels).results()
    assert not any(np.isnan(v) for v in clean.values())
    logits[4, 0] = np.nan
    poisoned = _Stream(head, run).update({}, logits, labels).results()
    assert float(backends.numpy(head.loss(labels, logits))) == 0.0
    assert all(np.isnan(v) for v in poisoned.values()), poisoned


@pytest.mark.parametrize("factory", [
    "binary_classification_head", "multi_class_head", "regression_head",
    "multi_label_head",
])
def test_v1_heads_follow_the_same_rule(factory):
    from keras_heads.compat import v1

    n = {"multi_class_head": 3, "multi_label_head": 3}.get(factory)
    head = getattr(v1, factory)(*([n] if n else []))
    rng = np.random.default_rng(8)
    logits = _logits(rng, 4, head.logits_dimension)
    labels = {
        "binary_classification_head": rng.integers(0, 2, (4, 1)),
        "multi_class_head": rng.integers(0, 3, (4, 1)),
        "regression_head": rng.normal(size=(4, 1)).astype("float32"),
        "multi_label_head": rng.integers(0, 2, (4, 3)),
    }[factory]

    def metrics(logits):
        spec = head.create_estimator_spec({}, ModeKeys.EVAL, logits, labels)
        return {k: backends.numpy(m.result())
                for k, m in spec.eval_metric_ops.items()}

    assert not any(np.isnan(v).any() for v in metrics(logits).values())
    logits[1, 0] = np.nan
    assert all(np.isnan(v).all() for v in metrics(logits).values())


def _sequence_batch(nan_step):
    """A binary batch of 2 sequences of 3 steps (4 real), with a NaN logit
    at `nan_step`."""
    rng = np.random.default_rng(5)
    mask = np.array([[1, 1, 0], [1, 1, 0]])
    logits = _logits(rng, 6, 1).reshape(2, 3, 1)
    logits[nan_step] = np.nan
    labels = rng.integers(0, 2, (2, 3)).astype("int64")
    return {"mask": mask}, logits, labels


@pytest.mark.parametrize("run", [
    RUNNERS["eager"],
    *[pytest.param(fn, marks=backends.only_on(
        "tensorflow", "torch", why="jax.jit cannot flatten by a mask"))
      for fn in backends.COMPILERS.values()],
], ids=["eager", *backends.COMPILERS])
def test_sequential_steps_report_nan_only_when_real(run):
    head = kh.SequentialHeadWrapper(kh.BinaryClassHead(), "mask")
    real = _Stream(head, run).update(*_sequence_batch((1, 0, 0))).results()
    assert all(np.isnan(value) for value in real.values()), real

    padded = _Stream(head, run).update(*_sequence_batch((1, 2, 0))).results()
    features, logits, labels = _sequence_batch((1, 2, 0))
    logits[1, 2, 0] = 0.0
    _assert_same(padded, _eager_results(head, (features, logits, labels)))


ONE_PASS_SIZES = {"one block": (64, 16), "two blocks": (256, 4096)}


@parametrize_compilers
@pytest.mark.parametrize("size", list(ONE_PASS_SIZES.values()),
                         ids=list(ONE_PASS_SIZES))
def test_one_pass_evaluation_reports_nan_and_no_more(compile_fn, size):
    """The multi-label EVAL step in one pass: a NaN logit makes the loss and
    every pooled metric NaN, and infinite logits, whose loss is NaN where
    the label agrees (`inf - inf`, as in the reference), do not."""
    head = kh.MultiLabelHead(size[1], thresholds=[0.5],
                             classes_for_class_based_metrics=[3])
    rng = np.random.default_rng(7)
    logits = _logits(rng, size[0], size[1])
    labels = rng.integers(0, 2, size).astype("int64")

    def evaluate(logits):
        eval_metrics = head.metrics()

        def step(state, logits, labels):
            loss = head.loss(labels, logits, mode=ModeKeys.EVAL)
            state = head.stateless_update_metrics(
                state, eval_metrics, {}, logits, labels, mode=ModeKeys.EVAL
            )
            return state, loss

        state, loss = compile_fn(step)(
            head.metric_variables(eval_metrics), logits, labels
        )
        return backends.numpy(loss), backends.numpy(
            head.stateless_metric_results(state, eval_metrics)
        )

    with_nan = logits.copy()
    with_nan[5, 7] = np.nan
    loss, results = evaluate(with_nan)
    assert np.isnan(loss)
    assert all(np.isnan(results[key]) == (not key.endswith("/3"))
               for key in results), results

    # Infinities of both signs on agreeing and disagreeing labels.
    infinite = logits.copy()
    infinite[:4, 0] = [np.inf, -np.inf, np.inf, -np.inf]
    labels[:4, 0] = [1, 0, 0, 1]
    saturated = np.where(np.isinf(infinite), np.sign(infinite) * 60.0,
                         infinite).astype("float32")
    loss, results = evaluate(infinite)
    _, want = evaluate(saturated)
    assert np.isnan(loss)
    _assert_same(results, want,
                 [key for key in want if key != "average_loss"])


@parametrize_runners
@pytest.mark.parametrize("case_name", ["binary", "multi_class", "multi_label"])
def test_infinite_logits_are_scores_like_any_other(case_name, run):
    """±inf logits give the metrics of logits so large that their sigmoid or
    softmax saturates: no metric but the loss's mean turns NaN or inf."""
    case = CASES[case_name]
    features, logits, labels = _batch(case, n=8, seed=4)
    infinite = logits.copy()
    infinite[0, 0], infinite[1, -1] = np.inf, -np.inf
    saturated = np.where(np.isinf(infinite), np.sign(infinite) * 60.0,
                         infinite).astype("float32")
    got = _Stream(case.head(), run).update(features, infinite, labels)
    want = _eager_results(case.head(), (features, saturated, labels))
    results = got.results()
    _assert_same(results, want, [k for k in want if k != "average_loss"])
    assert all(np.isfinite(results[k]) for k in want if k != "average_loss")


# --- class ids ---------------------------------------------------------------

SPECIAL_ROWS = np.array([
    [np.nan, 0.0, 0.0],      # NumPy: the first NaN
    [0.0, np.nan, 5.0],
    [1.0, np.nan, np.nan],
    [np.inf, np.nan, 0.0],   # NaN above +inf
    [np.inf, 0.0, np.inf],   # the first +inf
    [-np.inf, -np.inf, -np.inf],
    [-0.0, 0.0, -1.0],       # signed zeros tie
    [2.0, 3.0, 3.0],
], "float32")


def _numpy_softmax(logits):
    """The documented softmax: shifted by the row maximum, the maximum
    itself to 0."""
    with np.errstate(invalid="ignore"):
        top = logits.max(axis=-1, keepdims=True)
        shifted = np.where(logits == top, 0.0, logits - top)
        e = np.exp(shifted)
        return e / e.sum(axis=-1, keepdims=True)


@parametrize_runners
def test_first_argmax_is_numpys_argmax(run):
    rng = np.random.default_rng(11)
    random = rng.choice(
        np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0], "float32"),
        size=(64, 4),
    )
    scores = np.concatenate([SPECIAL_ROWS[:, :3], random[:, :3]])
    got = backends.numpy(run(first_argmax)(scores))
    np.testing.assert_array_equal(got, np.argmax(scores, axis=-1))


@parametrize_runners
def test_multi_class_predictions_of_special_rows(run):
    head = kh.MultiClassHead(3)
    keys = ["probabilities", "class_ids"]
    got = run(lambda logits: head.predictions(logits, keys=keys))(SPECIAL_ROWS)
    np.testing.assert_array_equal(
        backends.numpy(got["class_ids"])[:, 0], np.argmax(SPECIAL_ROWS, -1)
    )
    probabilities = backends.numpy(got["probabilities"])
    np.testing.assert_allclose(probabilities, _numpy_softmax(SPECIAL_ROWS),
                               rtol=1e-6)
    # A row holding a NaN is all NaN; the others are distributions.
    has_nan = np.isnan(SPECIAL_ROWS).any(axis=-1)
    assert np.isnan(probabilities[has_nan]).all()
    np.testing.assert_allclose(probabilities[~has_nan].sum(-1), 1.0, rtol=1e-6)


BINARY_LOGITS = np.array(
    [[np.nan], [np.inf], [-np.inf], [0.0], [-0.0], [2.0], [-3.0], [1e-3]],
    "float32",
)


@parametrize_runners
def test_binary_class_ids_are_logits_above_zero(run):
    head = kh.BinaryClassHead()
    keys = ["logistic", "probabilities", "class_ids"]
    got = backends.numpy(
        run(lambda logits: head.predictions(logits, keys=keys))(BINARY_LOGITS)
    )
    x = BINARY_LOGITS.astype("float64")
    with np.errstate(over="ignore"):
        logistic = 1.0 / (1.0 + np.exp(-x))
    np.testing.assert_array_equal(got["class_ids"], (x > 0).astype("int64"))
    np.testing.assert_allclose(got["logistic"], logistic, rtol=1e-6)
    np.testing.assert_allclose(
        got["probabilities"], np.concatenate([1 - logistic, logistic], -1),
        rtol=1e-6, atol=1e-7,
    )
    # The class is the first maximum of the probabilities (NaN: class 0).
    np.testing.assert_array_equal(
        got["class_ids"][:, 0], np.argmax(got["probabilities"], axis=-1)
    )


def test_class_names_follow_the_class_ids_of_nan_rows():
    binary = kh.BinaryClassHead(label_vocabulary=["no", "yes"])
    names = string_values(binary.predictions(BINARY_LOGITS)["classes"])
    assert names[:, 0].tolist() == [b"no", b"yes", b"no", b"no", b"no",
                                    b"yes", b"no", b"yes"]
    multi = kh.MultiClassHead(3, label_vocabulary=["a", "b", "c"])
    names = string_values(multi.predictions(SPECIAL_ROWS)["classes"])
    expected = np.array([b"a", b"b", b"c"])[np.argmax(SPECIAL_ROWS, -1)]
    assert names[:, 0].tolist() == expected.tolist()


# --- empty batches -----------------------------------------------------------

# head(reduction): a head; batch(n): `(features, logits, labels)` of n
# examples; labels: "numbers", "strings" (which XLA does not compile, and
# which stay on the host off TensorFlow) or "sparse" (a SparseTensorValue,
# which only eager code takes everywhere).
EmptyCase = collections.namedtuple("EmptyCase", ["head", "batch", "labels"])

VOCABULARY = ["a", "b", "c"]


def _dense_batch(dimension, labels):
    def batch(n, seed=0):
        rng = np.random.default_rng(seed)
        return _weights(rng, n), _logits(rng, n, dimension), labels(rng, n)
    return batch


def _sparse_names(rng, n):
    """Sparse class names, 0 to 2 per example (an empty set for n = 0)."""
    indices, names = [], []
    for row in range(n):
        for slot, name in enumerate(sorted(rng.choice(
                VOCABULARY, rng.integers(0, 3), replace=False))):
            indices.append([row, slot])
            names.append(name)
    return kh.SparseTensorValue(
        np.array(indices, "int64").reshape(-1, 2),
        np.array(names, dtype=object), [n, 2],
    )


def _sparse_ids(rng, n):
    multi_hot = rng.integers(0, 2, (n, 3))
    indices = np.argwhere(multi_hot)
    return kh.SparseTensorValue(
        indices.astype("int64"), indices[:, 1].astype("int64"), [n, 3]
    )


EMPTY_CASES = {
    "binary": EmptyCase(
        lambda r: kh.BinaryClassHead(weight_column="w", thresholds=[0.5],
                                     loss_reduction=r),
        _dense_batch(1, lambda rng, n: rng.integers(0, 2, (n, 1))), "numbers",
    ),
    "binary_vocabulary": EmptyCase(
        lambda r: kh.BinaryClassHead(weight_column="w",
                                     label_vocabulary=["no", "yes"],
                                     loss_reduction=r),
        _dense_batch(1, lambda rng, n: np.array(
            ["no", "yes"], dtype=object)[rng.integers(0, 2, (n, 1))]),
        "strings",
    ),
    "multi_class": EmptyCase(
        lambda r: kh.MultiClassHead(3, weight_column="w", loss_reduction=r),
        _dense_batch(3, lambda rng, n: rng.integers(0, 3, (n, 1))), "numbers",
    ),
    "multi_class_vocabulary": EmptyCase(
        lambda r: kh.MultiClassHead(3, weight_column="w",
                                    label_vocabulary=VOCABULARY,
                                    loss_reduction=r),
        _dense_batch(3, lambda rng, n: np.array(VOCABULARY)[
            rng.integers(0, 3, (n,))]),
        "strings",
    ),
    "multi_label_dense": EmptyCase(
        lambda r: kh.MultiLabelHead(3, weight_column="w", thresholds=[0.5],
                                    classes_for_class_based_metrics=[1],
                                    loss_reduction=r),
        _dense_batch(3, lambda rng, n: rng.integers(0, 2, (n, 3))), "numbers",
    ),
    "multi_label_int8": EmptyCase(
        lambda r: kh.MultiLabelHead(3, loss_reduction=r),
        _dense_batch(3, lambda rng, n: rng.integers(0, 2, (n, 3)).astype(
            "int8")), "numbers",
    ),
    "multi_label_sparse_ids": EmptyCase(
        lambda r: kh.MultiLabelHead(3, weight_column="w", loss_reduction=r),
        _dense_batch(3, _sparse_ids), "sparse",
    ),
    "multi_label_sparse_names": EmptyCase(
        lambda r: kh.MultiLabelHead(3, weight_column="w",
                                    label_vocabulary=VOCABULARY,
                                    loss_reduction=r),
        _dense_batch(3, _sparse_names), "sparse",
    ),
    "regression": EmptyCase(
        lambda r: kh.RegressionHead(2, weight_column="w", loss_reduction=r),
        _dense_batch(2, lambda rng, n: rng.normal(size=(n, 2))), "numbers",
    ),
    "poisson": EmptyCase(
        lambda r: kh.PoissonRegressionHead(weight_column="w",
                                           loss_reduction=r),
        _dense_batch(1, lambda rng, n: rng.integers(0, 4, (n, 1))), "numbers",
    ),
    "logistic": EmptyCase(
        lambda r: kh.LogisticRegressionHead(weight_column="w",
                                            loss_reduction=r),
        _dense_batch(1, lambda rng, n: rng.uniform(size=(n, 1))), "numbers",
    ),
    "multi_head": EmptyCase(
        lambda r: kh.MultiHead([
            kh.MultiClassHead(3, weight_column="w", name="c",
                              loss_reduction=r),
            kh.RegressionHead(weight_column="w", name="r", loss_reduction=r),
        ], head_weights=[1.0, 0.5]),
        lambda n, seed=0: (
            _weights(np.random.default_rng(seed), n),
            _logits(np.random.default_rng(seed), n, 4),
            {"c": np.random.default_rng(seed).integers(0, 3, (n, 1)),
             "r": np.random.default_rng(seed).normal(size=(n, 1))},
        ),
        "numbers",
    ),
}
parametrize_empty = pytest.mark.parametrize("case_name", sorted(EMPTY_CASES))


def _empty_runners(case):
    if case.labels == "numbers":
        return list(RUNNERS.values())
    if case.labels == "strings" and backends.BACKEND == "tensorflow":
        return [RUNNERS["eager"], backends.COMPILERS["tf.function"]]
    return [RUNNERS["eager"]]


def _labels_for_sparse_empty_set(case_name, case):
    """A batch of examples whose sparse label set is empty (no entries)."""
    features, logits, labels = case.batch(4)
    if case_name == "multi_label_sparse_names":
        labels = kh.SparseTensorValue(np.zeros((0, 2), "int64"),
                                      np.array([], dtype=object), [4, 2])
    else:
        labels = kh.SparseTensorValue(np.zeros((0, 2), "int64"),
                                      np.array([], "int64"), [4, 3])
    return features, logits, labels


@parametrize_empty
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_the_loss_of_no_examples_is_zero(case_name, reduction):
    case = EMPTY_CASES[case_name]
    head = case.head(reduction)
    features, logits, labels = case.batch(0)
    for run in _empty_runners(case):
        loss = run(lambda f, x, y: head.loss(y, x, f))(features, logits, labels)
        assert backends.numpy(loss).shape == ()
        assert float(backends.numpy(loss)) == 0.0
        regularized = head.loss(labels, logits, features,
                                regularization_losses=[0.25])
        assert float(backends.numpy(regularized)) == 0.25


@parametrize_empty
def test_metrics_ignore_a_batch_of_no_examples(case_name):
    case = EMPTY_CASES[case_name]
    head = case.head(kh.Reduction.SUM_OVER_BATCH_SIZE)
    empty, real = case.batch(0), case.batch(5, seed=1)
    want = _eager_results(head, real)
    for run in _empty_runners(case):
        stream = _Stream(head, run)
        untouched = stream.update(*empty).results()
        assert all(float(v) == 0.0 for v in untouched.values()), untouched
        _assert_same(stream.update(*real).results(), want)


@pytest.mark.parametrize(
    "case_name", ["multi_label_sparse_ids", "multi_label_sparse_names"]
)
def test_an_empty_sparse_label_set_means_no_positive_label(case_name):
    case = EMPTY_CASES[case_name]
    head = case.head(kh.Reduction.SUM)
    features, logits, labels = _labels_for_sparse_empty_set(case_name, case)
    dense = np.zeros((4, 3), "int64")
    np.testing.assert_allclose(
        backends.numpy(head.loss(labels, logits, features)),
        backends.numpy(head.loss(dense, logits, features)), rtol=1e-6,
    )
    _assert_same(_eager_results(head, (features, logits, labels)),
                 _eager_results(head, (features, logits, dense)))


def _dtype(value):
    if backends.BACKEND != "tensorflow" and isinstance(value, np.ndarray) \
            and value.dtype == object:
        return "string"
    import keras

    if backends.BACKEND == "tensorflow" and value.dtype.name == "string":
        return "string"
    return keras.backend.standardize_dtype(value.dtype)


@parametrize_empty
def test_predictions_of_no_examples_are_empty(case_name):
    case = EMPTY_CASES[case_name]
    head = case.head(kh.Reduction.SUM)
    _, empty_logits, _ = case.batch(0)
    _, one_logit, _ = case.batch(1)
    empty, one = head.predictions(empty_logits), head.predictions(one_logit)
    assert list(empty) == list(one)
    for key in one:
        assert tuple(empty[key].shape) == (0,) + tuple(one[key].shape[1:]), key
        assert _dtype(empty[key]) == _dtype(one[key]), key
    for key in ("class_ids", "probabilities", "logistic", "predictions"):
        matching = [k for k in one if k == key or k[-1:] == (key,)]
        for k in matching:
            expected = {"class_ids": backends.backend_dtype("int64")}.get(
                key, "float32")
            assert _dtype(empty[k]) == expected, k


@pytest.mark.parametrize("static", ["multi_class", "binary_vocabulary"])
def test_an_all_padding_sequence_batch_is_empty(static):
    heads = {
        "multi_class": (kh.MultiClassHead(3, weight_column="w"),
                        lambda rng: rng.integers(0, 3, (2, 3))),
        "binary_vocabulary": (
            kh.BinaryClassHead(weight_column="w",
                               label_vocabulary=["no", "yes"]),
            lambda rng: np.array(["no", "yes"], dtype=object)[
                rng.integers(0, 2, (2, 3))]),
    }
    static_head, labels = heads[static]
    head = kh.SequentialHeadWrapper(static_head, "mask", "w")
    rng = np.random.default_rng(9)

    def batch(mask):
        return ({"mask": np.array(mask), "w": rng.uniform(
                    0.5, 2.0, (2, 3)).astype("float32")},
                _logits(rng, 6, static_head.logits_dimension).reshape(2, 3, -1),
                labels(rng))

    padding = batch([[0, 0, 0], [0, 0, 0]])
    real = batch([[1, 1, 0], [1, 0, 0]])
    kind = "strings" if static == "binary_vocabulary" else "numbers"
    for run in _empty_runners(EmptyCase(None, None, kind)):
        if run is backends.COMPILERS.get("jax.jit"):
            continue  # jax.jit cannot flatten by a mask (a dynamic shape)
        loss = run(lambda f, x, y: head.loss(logits=x, labels=y, features=f))
        assert float(backends.numpy(loss(*padding))) == 0.0
        stream = _Stream(head, run)
        assert all(float(v) == 0.0
                   for v in stream.update(*padding).results().values())
        _assert_same(stream.update(*real).results(),
                     _eager_results(head, real))


@pytest.mark.parametrize("static", ["multi_class", "binary_vocabulary"])
def test_all_padding_with_sparse_labels_of_no_entries(static):
    """Sparse sequence labels hold the real steps only: none here."""
    if static == "multi_class":
        head = kh.SequentialHeadWrapper(kh.MultiClassHead(3), "mask")
        values = np.zeros((0,), "int64")
    else:
        head = kh.SequentialHeadWrapper(
            kh.BinaryClassHead(label_vocabulary=["no", "yes"]), "mask"
        )
        values = np.array([], dtype=object)
    labels = kh.SparseTensorValue(np.zeros((0, 2), "int64"), values, [2, 3])
    features = {"mask": np.zeros((2, 3), "int32")}
    logits = np.ones((2, 3, head.logits_dimension), "float32")
    loss = head.loss(logits=logits, labels=labels, features=features)
    assert float(backends.numpy(loss)) == 0.0
    results = _eager_results(head, (features, logits, labels))
    assert results and all(float(v) == 0.0 for v in results.values())
