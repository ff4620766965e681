"""The v1 multi_head: dict-keyed LossSpec, loss/<head> means in EVAL, the
merged TRAIN loss and summaries, v2's export merging."""

import numpy as np
import pytest

import keras_heads
from keras_heads.compat import v1
from keras_heads.compat.v1.heads import Head
from keras_heads.spec import Predictions
from tests.backends import numpy

LOGITS = {
    "head1": np.array([[-10.0, 10.0], [-15.0, 10.0]], "float32"),
    "head2": np.array([[20.0, -20.0, 20.0], [-30.0, 20.0, -20.0]],
                      "float32"),
}
LABELS = {
    "head1": np.array([[1, 0], [1, 1]]),
    "head2": np.array([[0, 1, 0], [1, 1, 0]]),
}
SPLIT = np.concatenate([LOGITS["head1"], LOGITS["head2"]], axis=-1)


def _heads(**kwargs):
    return [v1.multi_label_head(2, name="head1", **kwargs),
            v1.multi_label_head(3, name="head2", **kwargs)]


def _results(eval_metrics):
    return {k: float(numpy(m.result())) for k, m in eval_metrics.items()}


def test_name_and_logits_dimension():
    head = v1.multi_head(_heads())
    assert isinstance(head, Head)
    assert (head.name, head.logits_dimension) == ("head1_head2", 5)


@pytest.mark.parametrize("logits", [LOGITS, SPLIT], ids=["dict", "split"])
def test_create_loss_returns_dicts_by_head(logits):
    head = v1.multi_head(_heads(weight_column="w"), head_weights=[1.0, 2.0])
    features = {"w": np.array([[1.0], [2.0]], "float32")}
    spec = head.create_loss(features=features, mode="train", logits=logits,
                            labels=LABELS)
    assert isinstance(spec, v1.LossSpec)
    # head1: (1·10 + 2·7.5) / 2 = 12.5; head2: (1·20 + 2·10) / 2 = 20.
    assert float(numpy(spec.training_loss)) == pytest.approx(12.5 + 2 * 20.0,
                                                             abs=1e-3)
    assert sorted(spec.unreduced_loss) == ["head1", "head2"]
    np.testing.assert_allclose(numpy(spec.unreduced_loss["head2"]),
                               [[40.0], [20.0]], atol=1e-3)  # times 2
    np.testing.assert_allclose(numpy(spec.weights["head1"]), [[1.0], [2.0]])
    np.testing.assert_allclose(numpy(spec.weights["head2"]), [[2.0], [4.0]])
    assert numpy(spec.processed_labels["head2"]).tolist() == (
        LABELS["head2"].tolist()
    )


def test_create_loss_without_head_weights_keeps_scalar_weights():
    spec = v1.multi_head(_heads()).create_loss(
        features={}, mode="train", logits=LOGITS, labels=LABELS
    )
    assert float(numpy(spec.training_loss)) == pytest.approx(23.75, abs=1e-3)
    assert spec.weights == {"head1": 1.0, "head2": 1.0}


def test_missing_labels_or_logits_raise_key_error():
    head = v1.multi_head(_heads())
    with pytest.raises(KeyError, match="labels has missing values for "
                       r"head\(s\): \['head2'\]"):
        head.create_loss(features={}, mode="train", logits=LOGITS,
                         labels={"head1": LABELS["head1"]})
    with pytest.raises(KeyError, match="logits has missing values"):
        head.create_loss(features={}, mode="train",
                         logits={"head1": LOGITS["head1"]}, labels=LABELS)
    with pytest.raises(ValueError, match="labels must be a dict"):
        head.create_estimator_spec(features={}, mode="eval", logits=LOGITS,
                                   labels=LABELS["head1"])


def test_logits_that_do_not_split():
    head = v1.multi_head(_heads())
    with pytest.raises(ValueError, match="Could not split logits"):
        head.create_loss(features={}, mode="train",
                         logits=np.zeros((2, 6), "float32"), labels=LABELS)


def test_eval_spec():
    head = v1.multi_head(_heads(), head_weights=[1.0, 2.0])
    spec = head.create_estimator_spec(features={}, mode="eval",
                                      logits=SPLIT, labels=LABELS)
    assert float(numpy(spec.loss)) == pytest.approx(38.75, abs=1e-3)
    results = _results(spec.eval_metric_ops)
    assert list(results)[:1] == ["loss/head1"]
    assert sorted(results) == [
        "auc/head1", "auc/head2", "auc_precision_recall/head1",
        "auc_precision_recall/head2", "average_loss/head1",
        "average_loss/head2", "loss/head1", "loss/head2"]
    assert results["loss/head1"] == pytest.approx(8.75, abs=1e-3)
    assert results["loss/head2"] == pytest.approx(15.0, abs=1e-3)
    # Each head's own metrics are its v1 spec's.
    for name in ("head1", "head2"):
        own = head.heads[int(name[-1]) - 1].create_estimator_spec(
            features={}, mode="eval", logits=LOGITS[name],
            labels=LABELS[name])
        for key, value in _results(own.eval_metric_ops).items():
            assert results[key] == pytest.approx(value)
    assert set(spec.predictions) == {
        (h, k) for h in ("head1", "head2")
        for k in ("logits", "probabilities")}


def test_train_spec():
    received = []
    head = v1.multi_head(_heads(), head_weights=[1.0, 2.0])
    spec = head.create_estimator_spec(
        features={}, mode="train", logits=LOGITS, labels=LABELS,
        train_op_fn=lambda loss: received.append(loss) or "op",
    )
    assert float(numpy(received[0])) == pytest.approx(38.75, abs=1e-3)
    assert spec.train_op == "op" and spec.eval_metric_ops == {}
    assert {k: float(numpy(v)) for k, v in spec.summaries.items()} == (
        pytest.approx({"loss/head1": 8.75, "loss/head2": 15.0,
                       "loss": 38.75}, abs=1e-3)
    )
    assert isinstance(spec.predictions, Predictions)
    assert ("head2", "probabilities") in spec.predictions


def test_train_summaries_keep_the_heads_average_loss():
    head = v1.multi_head([
        v1._regression_head(name="a"), v1.regression_head(name="b")])
    spec = head.create_estimator_spec(
        features={}, mode="train", logits=np.array([[1.0, 3.0]], "float32"),
        labels={"a": np.zeros((1, 1), "float32"),
                "b": np.zeros((1, 1), "float32")},
        train_op_fn=lambda loss: None,
    )
    assert {k: float(numpy(v)) for k, v in spec.summaries.items()} == {
        "loss/a": 1.0, "average_loss/a": 1.0, "loss/b": 9.0, "loss": 10.0}


def test_train_op_errors():
    head = v1.multi_head(_heads())
    with pytest.raises(ValueError, match="cannot both be None"):
        head.create_estimator_spec(features={}, mode="train", logits=LOGITS,
                                   labels=LABELS)
    with pytest.raises(ValueError, match="cannot both be set"):
        head.create_estimator_spec(features={}, mode="train", logits=LOGITS,
                                   labels=LABELS, optimizer=object(),
                                   train_op_fn=lambda loss: None)


def test_no_regularization_losses_parameter():
    head = v1.multi_head(_heads())
    with pytest.raises(TypeError):
        head.create_estimator_spec(features={}, mode="eval", logits=LOGITS,
                                   labels=LABELS, regularization_losses=[1.0])


def test_an_unknown_mode():
    head = v1.multi_head(_heads())
    with pytest.raises(ValueError, match="mode=tune unrecognized"):
        head.create_estimator_spec(features={}, mode="tune", logits=LOGITS,
                                   labels=LABELS)


def test_predict_spec_merges_exports_as_v2():
    head = v1.multi_head([v1.multi_label_head(2, name="head1"),
                          v1.binary_classification_head(name="b"),
                          v1.regression_head(name="r")])
    logits = np.array([[-1.0, 1.0, 0.5, 3.0]], "float32")
    spec = head.create_estimator_spec(features={}, mode="infer",
                                      logits=logits)
    v2 = keras_heads.MultiHead([keras_heads.MultiLabelHead(2, name="head1"),
                                keras_heads.BinaryClassHead(name="b"),
                                keras_heads.RegressionHead(name="r")])
    v2_spec = v2.create_estimator_spec(features={}, mode="infer",
                                       logits=logits)
    assert sorted(spec.export_outputs) == sorted(v2_spec.export_outputs)
    assert spec.export_outputs["serving_default"] is (
        spec.export_outputs["head1"]
    )
    predict = spec.export_outputs["predict"].outputs
    # v1 multi-label heads predict no `classes`.
    assert sorted(predict) == sorted(
        k for k in v2_spec.export_outputs["predict"].outputs
        if k != "head1/classes")
    assert ("head1", "classes") not in spec.predictions
    assert ("b", "classes") in spec.predictions
    np.testing.assert_allclose(numpy(spec.predictions[("r", "predictions")]),
                               [[3.0]])


def test_a_custom_v1_head_joins():
    class Constant(Head):
        """A head whose loss is a constant."""

        name = "constant"
        logits_dimension = 1

        def create_loss(self, features, mode, logits, labels):
            return v1.LossSpec(3.0, [[3.0]], 1.0, labels)

        def create_estimator_spec(self, features, mode, logits, labels=None,
                                  optimizer=None, train_op_fn=None,
                                  regularization_losses=None):
            return keras_heads.EstimatorSpec(
                mode=mode, predictions={"logits": logits}, loss=3.0,
                train_op=train_op_fn(3.0) if mode == "train" else None)

    head = v1.multi_head([v1.regression_head(name="r"), Constant()],
                         head_weights=[1.0, 0.5])
    spec = head.create_estimator_spec(
        features={}, mode="eval", logits=np.array([[1.0, 0.0]], "float32"),
        labels={"r": np.zeros((1, 1), "float32"), "constant": None})
    assert float(numpy(spec.loss)) == pytest.approx(1.0 + 1.5)
    assert _results(spec.eval_metric_ops)["loss/constant"] == 3.0
