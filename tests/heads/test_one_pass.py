"""EVAL mode in one pass: a compiled step that calls `loss` and
`update_metrics` with `mode=EVAL` on a multi-label batch computes the loss
in the pass that makes the metrics' histogram (block by block on a large
batch), which XLA runs once for both, and gives the values of the plain
(two-pass) path."""

import numpy as np
import pytest

import keras_heads as kh
from keras_heads import ModeKeys
from tests import backends

# (examples, classes): 2^20 scores fill two blocks of the histogram; 1,024
# scores, one.
LARGE, SMALL = (256, 4096), (64, 16)
parametrize_sizes = pytest.mark.parametrize(
    "size", [LARGE, SMALL], ids=["two blocks", "one block"]
)


def _batch(size=LARGE, bad_label=False, seed=0):
    rng = np.random.default_rng(seed)
    logits = (3.0 * rng.normal(size=size)).astype("float32")
    labels = (rng.random(size) < 0.2).astype("int32")
    if bad_label:
        labels[7, 11] = 2
    features = {"w": rng.uniform(0.5, 2.0, (size[0], 1)).astype("float32")}
    return features, logits, labels


def _head(size=LARGE, **kwargs):
    return kh.MultiLabelHead(
        size[1], weight_column="w", thresholds=[0.3, 0.7],
        classes_for_class_based_metrics=[5], **kwargs,
    )


def _evaluation_step(head, eval_metrics, compile_fn, mode):
    def step(state, features, logits, labels):
        loss = head.loss(labels, logits, features, mode=mode)
        state = head.stateless_update_metrics(
            state, eval_metrics, features, logits, labels, mode=mode
        )
        return state, loss

    return compile_fn(step)


def _evaluate(head, compile_fn, mode, batch):
    eval_metrics = head.metrics()
    step = _evaluation_step(head, eval_metrics, compile_fn, mode)
    state, loss = step(head.metric_variables(eval_metrics), *batch)
    results = head.stateless_metric_results(state, eval_metrics)
    return backends.numpy(loss), backends.numpy(results)


@backends.parametrize_compilers
@parametrize_sizes
@pytest.mark.parametrize(
    "reduction", [kh.Reduction.SUM_OVER_BATCH_SIZE, kh.Reduction.SUM]
)
def test_one_pass_gives_the_plain_values(compile_fn, size, reduction):
    head = _head(size, loss_reduction=reduction)
    batch = _batch(size)
    plain_loss, plain = _evaluate(head, compile_fn, None, batch)
    loss, results = _evaluate(head, compile_fn, ModeKeys.EVAL, batch)

    np.testing.assert_allclose(loss, plain_loss, rtol=1e-5)
    assert sorted(results) == sorted(plain)
    for key in plain:
        np.testing.assert_allclose(results[key], plain[key], rtol=1e-5,
                                   atol=1e-6, err_msg=key)
    # Against the loss's definition, in float64.
    features, logits, labels = (np.asarray(x, "float64") if not
                                isinstance(x, dict) else x for x in batch)
    elementwise = (np.maximum(logits, 0) - logits * labels
                   + np.log1p(np.exp(-np.abs(logits))))
    weighted = features["w"][:, 0] * elementwise.mean(axis=-1)
    expected = weighted.sum()
    if reduction != kh.Reduction.SUM:
        expected /= size[0]
    np.testing.assert_allclose(loss, expected, rtol=1e-5)


@backends.parametrize_compilers
@parametrize_sizes
def test_one_pass_keeps_a_bad_label_visible(compile_fn, size):
    """A label outside [0, 1] makes the loss and its mean NaN, as in the
    plain path."""
    loss, results = _evaluate(
        _head(size), compile_fn, ModeKeys.EVAL, _batch(size, bad_label=True)
    )
    assert np.isnan(loss)
    assert np.isnan(results["average_loss"])


def _compiled_loops(head, batch):
    """The `while` loops in the optimized XLA program of one EVAL step: one,
    the histogram's, where `loss` and `update_metrics` share it; two where
    they do not."""
    eval_metrics = head.metrics()
    if backends.BACKEND == "jax":
        import jax

        step = _evaluation_step(head, eval_metrics, jax.jit, ModeKeys.EVAL)
        state = head.metric_variables(eval_metrics)
        text = step.lower(state, *batch).compile().as_text()
    else:
        import tensorflow as tf

        @tf.function(jit_compile=True)
        def step(features, logits, labels):
            loss = head.loss(labels, logits, features, mode=ModeKeys.EVAL)
            head.update_metrics(eval_metrics, features, logits, labels,
                                mode=ModeKeys.EVAL)
            return loss

        text = step.experimental_get_compiler_ir(*batch)(stage="optimized_hlo")
    return text.count(" while(")


def _multi_head_batch():
    features, logits, labels = _batch()
    return (features, {"tags": logits, "spam": logits[:, :1]},
            {"tags": labels, "spam": labels[:, :1]})


@backends.only_on("tensorflow", "jax", why="the one pass is XLA's merge of "
                  "two identical loops; PyTorch makes no such merge")
def test_loss_and_metrics_share_one_loop():
    assert _compiled_loops(_head(), _batch()) == 1
    multi_head = kh.MultiHead(
        [_head(name="tags"), kh.BinaryClassHead(name="spam")]
    )
    assert _compiled_loops(multi_head, _multi_head_batch()) == 1
