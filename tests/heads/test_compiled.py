"""Compiled heads agree with eager execution, on every backend.

Everything numeric a head computes (the loss, the numeric predictions and the
streaming metric updates) must compile with the backend's compiler
(`tf.function`, with and without XLA; `jax.jit`; `torch.compile`) and give
the eager values. Metric objects are created by `head.metrics()` outside the
compiled function, as a training loop does; inside it, metrics update either
statefully (where the backend allows) or through the stateless API.
"""

import collections

import numpy as np
import pytest

import keras_heads as kh
from keras_heads.backend import string_values
from tests import backends

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
parametrize_compilers = backends.parametrize_compilers


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
    return {key: backends.numpy(m.result()) for key, m in eval_metrics.items()}


def _assert_same_results(compiled, eager):
    assert sorted(compiled) == sorted(eager)
    for key in eager:
        np.testing.assert_allclose(
            backends.numpy(compiled[key]), eager[key], err_msg=key,
            **METRIC_TOLERANCE
        )


@parametrize_compilers
@parametrize_cases
def test_compiled_loss_matches_eager(case_name, compile_fn):
    """`loss` with example weights compiles and equals the eager loss."""
    case = CASES[case_name]
    head = case.make_head()
    features, logits, labels = _batch(case, head, 5, seed=0)

    @compile_fn
    def compiled_loss(features, logits, labels):
        return head.loss(labels=labels, logits=logits, features=features)

    eager = head.loss(labels=labels, logits=logits, features=features)
    compiled = backends.numpy(compiled_loss(features, logits, labels))
    assert compiled.shape == ()
    np.testing.assert_allclose(compiled, backends.numpy(eager),
                               **LOSS_TOLERANCE)


@parametrize_compilers
@parametrize_cases
def test_compiled_predictions_match_eager(case_name, compile_fn):
    """Every numeric prediction compiles and equals its eager value."""
    case = CASES[case_name]
    head = case.make_head()
    _, logits, _ = _batch(case, head, 5, seed=1)

    compiled_predictions = compile_fn(
        lambda logits: _predictions(case, head, logits)
    )

    eager = _predictions(case, head, logits)
    compiled = compiled_predictions(logits)
    if case.keys is not None:
        assert sorted(eager) == sorted(case.keys)
    assert sorted(compiled) == sorted(eager)
    for key in eager:
        assert compiled[key].dtype == eager[key].dtype, key
        np.testing.assert_allclose(
            backends.numpy(compiled[key]), backends.numpy(eager[key]),
            err_msg=key, **LOSS_TOLERANCE
        )


class _StatelessUpdate:
    """Streams batches through a compiled `stateless_update_metrics`."""

    def __init__(self, head, eval_metrics, compile_fn):
        self.head, self.eval_metrics = head, eval_metrics
        self.state = head.metric_variables(eval_metrics)
        self._step = compile_fn(
            lambda state, features, logits, labels: (
                head.stateless_update_metrics(
                    state, eval_metrics, features, logits, labels
                )
            )
        )

    def __call__(self, features, logits, labels):
        self.state = self._step(self.state, features, logits, labels)

    def results(self):
        return self.head.stateless_metric_results(
            self.state, self.eval_metrics
        )


@parametrize_compilers
@parametrize_cases
def test_compiled_stateless_streaming_matches_eager(case_name, compile_fn):
    """Two batches (of different sizes) through a compiled stateless update
    stream into the same metric values as two eager updates, and leave the
    metric objects themselves untouched."""
    case = CASES[case_name]
    head = case.make_head()
    batches = [_batch(case, head, 6, seed=3), _batch(case, head, 4, seed=4)]

    eager_metrics = head.metrics()
    compiled_metrics = head.metrics()
    update = _StatelessUpdate(head, compiled_metrics, compile_fn)
    for features, logits, labels in batches:
        head.update_metrics(eager_metrics, features, logits, labels)
        update(features, logits, labels)

    eager = _results(eager_metrics)
    _assert_same_results(update.results(), eager)
    untouched = _results(compiled_metrics)
    assert all(not np.any(value) for value in untouched.values()), untouched
    # The stream really accumulated: the first batch alone differs.
    first_only = head.metrics()
    head.update_metrics(first_only, *batches[0])
    assert not np.isclose(
        _results(first_only)["average_loss"], eager["average_loss"]
    )


@backends.only_on(
    "tensorflow", "torch", why="jax.jit cannot mutate metric variables: "
    "it needs the stateless API, tested above for every backend"
)
@parametrize_compilers
@parametrize_cases
def test_compiled_stateful_update_metrics_matches_eager(case_name, compile_fn):
    """A compiled stateful `update_metrics` streams like eager updates."""
    case = CASES[case_name]
    head = case.make_head()
    batches = [_batch(case, head, 6, seed=2), _batch(case, head, 4, seed=5)]

    eager_metrics = head.metrics()
    compiled_metrics = head.metrics()

    @compile_fn
    def update(features, logits, labels):
        head.update_metrics(compiled_metrics, features, logits, labels)

    for features, logits, labels in batches:
        head.update_metrics(eager_metrics, features, logits, labels)
        update(features, logits, labels)

    _assert_same_results(_results(compiled_metrics), _results(eager_metrics))


def test_stateless_update_rejects_state_of_other_metrics():
    head = kh.BinaryClassHead()
    eval_metrics = head.metrics()
    state = head.metric_variables(eval_metrics)
    with pytest.raises(ValueError, match=(
        rf"expected {len(state)}, received {len(state) - 1}"
    )):
        head.stateless_update_metrics(
            state[:-1], eval_metrics, {}, [[0.0]], [[1.0]]
        )


OUT_OF_RANGE = {
    "binary_label_2": (
        lambda: kh.BinaryClassHead(),
        np.zeros((3, 1), "float32"),
        np.array([[1.0], [2.0], [0.0]], "float32"),
    ),
    "binary_int64_label_2": (
        lambda: kh.BinaryClassHead(),
        np.zeros((3, 1), "float32"),
        np.array([[1], [2], [0]], "int64"),
    ),
    "binary_int8_label_-1": (
        lambda: kh.BinaryClassHead(),
        np.zeros((3, 1), "float32"),
        np.array([[1], [-1], [0]], "int8"),
    ),
    "multi_label_int32_label_2": (
        lambda: kh.MultiLabelHead(2),
        np.zeros((2, 2), "float32"),
        np.array([[1, 0], [2, 0]], "int32"),
    ),
    "multi_label_float_label_1.5": (
        lambda: kh.MultiLabelHead(2),
        np.zeros((2, 2), "float32"),
        np.array([[1.0, 0.0], [0.0, 1.5]], "float32"),
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


@parametrize_compilers
@pytest.mark.parametrize("name", sorted(OUT_OF_RANGE))
def test_out_of_range_label_gives_nan_loss_when_traced(name, compile_fn):
    """Traced-mode behaviour: label values are unknown while tracing, so the
    range check cannot raise; an out-of-range label must turn the loss into
    NaN instead of a silently wrong finite value. (Eagerly, the same call
    raises `ValueError`.)"""
    make_head, logits, labels = OUT_OF_RANGE[name]
    head = make_head()

    traced_loss = compile_fn(
        lambda logits, labels: head.loss(labels=labels, logits=logits)
    )

    assert np.isnan(backends.numpy(traced_loss(logits, labels)))
    with pytest.raises(ValueError, match="Labels must be|labels must be"):
        head.loss(labels=labels, logits=logits)


def _string_heads():
    vocabulary = ["low", "mid", "high"]
    return {
        "multi_class": (kh.MultiClassHead(3, label_vocabulary=vocabulary), 3),
        "binary": (kh.BinaryClassHead(label_vocabulary=["no", "yes"]), 1),
        "multi_label": (kh.MultiLabelHead(3, label_vocabulary=vocabulary), 3),
    }


# Strings cannot be compiled by XLA (TensorFlow's jit_compile or jax.jit):
# class names come from tf.function without XLA and from torch.compile.
STRING_COMPILERS = {
    name: compile_fn for name, compile_fn in backends.COMPILERS.items()
    if name in ("tf.function", "torch.compile")
}
parametrize_string_compilers = pytest.mark.parametrize(
    "compile_fn", list(STRING_COMPILERS.values()), ids=list(STRING_COMPILERS)
)
parametrize_string_heads = pytest.mark.parametrize(
    "name", ["multi_class", "binary", "multi_label"]
)


@backends.only_on(
    "tensorflow", "torch", why="jax.jit cannot return host strings; the "
    "clear error it raises instead is tested below"
)
@parametrize_string_compilers
@parametrize_string_heads
def test_compiled_predictions_include_class_names(name, compile_fn):
    head, dimension = _string_heads()[name]
    logits = np.random.default_rng(7).normal(size=(4, dimension))
    logits = logits.astype("float32")

    compiled = compile_fn(lambda logits: head.predictions(logits))(logits)
    eager = head.predictions(logits)

    assert sorted(compiled) == sorted(eager)
    for key in ("classes", "all_classes"):
        if key in eager:
            got = string_values(compiled[key])
            assert got.tolist() == string_values(eager[key]).tolist()


@backends.only_on("jax", why="the only compiler that cannot return strings")
@parametrize_string_heads
def test_class_names_inside_jax_jit_raise_a_clear_error(name):
    import jax

    head, dimension = _string_heads()[name]
    logits = np.zeros((2, dimension), "float32")
    with pytest.raises(ValueError, match="cannot return") as info:
        jax.jit(lambda logits: head.predictions(logits))(logits)
    assert "keys=['class_ids', 'probabilities']" in str(info.value)
    # Numeric keys compile, and the names come from an eager call.
    numeric = jax.jit(
        lambda logits: head.predictions(logits, keys=["probabilities"])
    )(logits)
    assert numeric["probabilities"].shape[0] == 2


@backends.only_on(
    "tensorflow", "torch", why="a jax.jit function cannot take string "
    "arguments (JAX arrays hold no strings): map names to ids before it"
)
@parametrize_string_compilers
@parametrize_string_heads
def test_compiled_loss_takes_class_name_labels(name, compile_fn):
    head, dimension = _string_heads()[name]
    rng = np.random.default_rng(8)
    logits = rng.normal(size=(4, dimension)).astype("float32")
    if name == "multi_label":  # sparse names: a SparseTensorValue
        labels = kh.SparseTensorValue(
            [[0, 0], [1, 0], [1, 1], [3, 0]], ["low", "mid", "high", "high"],
            [4, 2],
        )
    else:
        labels = np.array([["yes"], ["no"], ["yes"], ["yes"]])
        if name == "multi_class":
            labels = np.array([["low"], ["high"], ["mid"], ["high"]])

    if name == "multi_label":  # a namedtuple of host arrays: closed over
        compiled = compile_fn(
            lambda logits: head.loss(labels=labels, logits=logits)
        )(logits)
    else:
        compiled = compile_fn(
            lambda logits, labels: head.loss(labels=labels, logits=logits)
        )(logits, labels)
    eager = head.loss(labels=labels, logits=logits)
    np.testing.assert_allclose(
        backends.numpy(compiled), backends.numpy(eager), **LOSS_TOLERANCE
    )
