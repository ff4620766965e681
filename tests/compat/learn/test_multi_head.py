"""`multi_head` (spec B.5): validation, logits routing, merged losses,
metrics, predictions and output alternatives per mode."""

import numpy as np
import pytest

import keras_heads
from keras_heads.compat import learn
from keras_heads.compat.learn import ModeKeys
from tests import backends
from tests.backends import numpy

TRAIN, EVAL, INFER = ModeKeys.TRAIN, ModeKeys.EVAL, ModeKeys.INFER
LOGITS = np.array([[2.0, 1.0], [-1.0, 3.0]], "float32")  # click | dwell
LABELS = {"click": np.array([[1], [0]]),
          "dwell": np.array([[2.0], [3.0]], "float32")}


def _heads():
    return [
        learn.multi_class_head(n_classes=2, label_name="click",
                               head_name="click"),
        learn.regression_head(label_name="dwell", head_name="dwell"),
        learn.loss_only_head(lambda: 0.25, head_name="reg"),
    ]


def _head(loss_weights=(1.0, 0.5, 2.0)):
    return learn.multi_head(_heads(), loss_weights=loss_weights)


def _ops(head, mode, logits=LOGITS, labels=LABELS,
         train_op_fn=learn.no_op_train_fn, **kwargs):
    return head.create_model_fn_ops(
        features={}, mode=mode, labels=labels, train_op_fn=train_op_fn,
        logits=logits, **kwargs)


def _head_losses():
    click, dwell, reg = _heads()
    return [
        float(numpy(_ops(click, EVAL, logits=LOGITS[:, :1]).loss)),
        float(numpy(_ops(dwell, EVAL, logits=LOGITS[:, 1:]).loss)),
        0.25,
    ]


# --- validation --------------------------------------------------------------


def test_loss_weights_must_match_the_heads():
    with pytest.raises(ValueError,
                       match="heads and loss_weights must have same size"):
        learn.multi_head(_heads(), loss_weights=[1.0, 2.0])


def test_every_head_needs_a_name():
    with pytest.raises(ValueError,
                       match="Members of MultiHead must have names"):
        learn.multi_head([learn.regression_head(head_name="a"),
                          learn.regression_head()])
    with pytest.raises(ValueError, match="Must specify heads"):
        learn.multi_head([])


def test_logits_dimension_is_the_sum():
    assert _head().logits_dimension == 2
    assert isinstance(_head(), learn.Head)


def test_invalid_mode_and_train_op_fn():
    with pytest.raises(ValueError, match="mode=infer2 unrecognized"):
        _ops(_head(), "infer2")
    with pytest.raises(ValueError,
                       match="train_op_fn can not be None in TRAIN mode"):
        _ops(_head(), TRAIN, train_op_fn=None)


# --- logits ------------------------------------------------------------------


def test_dict_and_split_logits_agree():
    split = _ops(_head(), EVAL)
    by_name = _ops(_head(), EVAL, logits={"click": LOGITS[:, :1],
                                          "dwell": LOGITS[:, 1:]})
    assert float(numpy(split.loss)) == float(numpy(by_name.loss))
    with pytest.raises(ValueError,
                       match=r"no entry for head\(s\) \['dwell'\]"):
        _ops(_head(), EVAL, logits={"click": LOGITS[:, :1]})


def test_split_logits_must_be_two_dimensional_and_add_up():
    with pytest.raises(ValueError, match="Could not split logits"):
        _ops(_head(), EVAL, logits=np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match="logits must have rank 2"):
        _ops(_head(), EVAL, logits=np.zeros((2, 1, 2), "float32"))


def test_logits_input_builds_one_layer_per_head():
    head = _head()
    hidden = np.ones((2, 4), "float32")
    _ops(head, INFER, logits=None, logits_input=hidden)
    shapes = [tuple(v.shape) for v in head.trainable_variables]
    assert shapes == [(4, 1), (1,), (4, 1), (1,)]
    with pytest.raises(ValueError, match="Both logits and logits_input"):
        _ops(head, INFER, logits_input=hidden)
    with pytest.raises(ValueError, match="Neither logits nor logits_input"):
        _ops(head, INFER, logits=None)


# --- modes -------------------------------------------------------------------


def test_train_merges_losses_metrics_and_train_ops():
    calls = []

    def train_op_fn(loss):
        calls.append(float(numpy(loss)))
        return "train"

    model_fn_ops = _ops(_head(), TRAIN, train_op_fn=train_op_fn)
    click, dwell, reg = _head_losses()
    expected = click + 0.5 * dwell + 2.0 * reg
    np.testing.assert_allclose(float(numpy(model_fn_ops.loss)), expected,
                               rtol=1e-6)
    np.testing.assert_allclose(calls, [expected], rtol=1e-6)
    # The heads' train ops are no-ops: only train_op_fn's is left.
    assert model_fn_ops.train_op == "train"
    assert model_fn_ops.predictions is None
    assert "auc/click" in model_fn_ops.eval_metric_ops
    assert "loss/dwell" in model_fn_ops.eval_metric_ops
    assert sorted(model_fn_ops.summaries) == ["loss/click", "loss/dwell",
                                              "loss/reg"]


def test_loss_is_a_plain_sum_without_weights():
    model_fn_ops = _ops(_head(loss_weights=None), EVAL)
    np.testing.assert_allclose(float(numpy(model_fn_ops.loss)),
                               sum(_head_losses()), rtol=1e-6)


def test_eval_predictions_and_metrics():
    model_fn_ops = _ops(_head(), EVAL)
    assert list(model_fn_ops.predictions) == [
        ("click", "logits"), ("click", "logistic"), ("click", "probabilities"),
        ("click", "classes"), ("dwell", "scores")]
    np.testing.assert_array_equal(
        numpy(model_fn_ops.predictions[("dwell", "scores")]), [1.0, 3.0])
    metrics = model_fn_ops.eval_metric_ops
    assert sorted(metrics) == sorted(
        [f"{key}/click" for key in (
            "loss", "accuracy", "labels/prediction_mean",
            "labels/actual_label_mean", "accuracy/baseline_label_mean", "auc",
            "auc_precision_recall", "accuracy/threshold_0.500000_mean",
            "precision/positive_threshold_0.500000_mean",
            "recall/positive_threshold_0.500000_mean")] + ["loss/dwell"])
    assert float(numpy(metrics["accuracy/click"].result())) == 1.0


def test_infer_predictions_and_output_alternatives():
    model_fn_ops = _ops(_head(), INFER, labels=None)
    assert sorted({name for name, _ in model_fn_ops.predictions}) == [
        "click", "dwell"]
    assert sorted(model_fn_ops.output_alternatives) == ["click", "dwell"]
    assert model_fn_ops.loss is None
    spec = model_fn_ops.estimator_spec(
        default_serving_output_alternative_key="dwell")
    assert sorted(spec.export_outputs) == ["click", "dwell",
                                           "serving_default"]
    assert isinstance(spec.export_outputs["click"],
                      keras_heads.ClassificationOutput)
    assert spec.export_outputs["serving_default"] is (
        spec.export_outputs["dwell"])
    assert spec.mode == keras_heads.ModeKeys.PREDICT
    with pytest.raises(ValueError,
                       match="default_serving_output_alternative_key"):
        model_fn_ops.estimator_spec()


def test_every_head_reads_its_own_labels_from_the_full_dict():
    labels = dict(LABELS, other=np.zeros((2, 1)))
    model_fn_ops = _ops(_head(), EVAL, labels=labels)
    np.testing.assert_allclose(
        float(numpy(model_fn_ops.loss)),
        float(numpy(_ops(_head(), EVAL).loss)), rtol=1e-6)
    with pytest.raises(ValueError, match="label_name='dwell'"):
        _ops(_head(), EVAL, labels={"click": LABELS["click"]})


def test_train_metrics_stay_unbuilt_until_read():
    model_fn_ops = _ops(_head(), TRAIN)
    metrics = model_fn_ops.eval_metric_ops
    assert "deferred=" in repr(metrics) and "auc/click" in repr(metrics)
    assert float(numpy(metrics["accuracy/click"].result())) == 1.0


@backends.parametrize_compilers
def test_a_multi_head_train_step_compiles(compile_fn):
    head = _head()
    labels = {"click": LABELS["click"].astype("float32"),
              "dwell": LABELS["dwell"]}

    def step(labels, logits):
        return _ops(head, TRAIN, logits=logits, labels=labels).loss

    np.testing.assert_allclose(float(numpy(compile_fn(step)(labels, LOGITS))),
                               float(numpy(step(labels, LOGITS))), rtol=1e-6)
