"""The v1 single heads: `create_loss`, `create_estimator_spec`, the worked
examples of the spec, agreement with the v2 heads and the documented
differences."""

import keras
import numpy as np
import pytest

import keras_heads
from keras_heads.compat import v1
from keras_heads.compat.v1.heads import Head
from keras_heads.heads.train_op import NO_OP
from tests import backends
from tests.backends import numpy

SUM = v1.Reduction.SUM


def _results(eval_metrics):
    return {k: float(numpy(m.result())) for k, m in eval_metrics.items()}


def _spec(head, mode, logits, labels=None, features=None, **kwargs):
    if mode == "train":
        kwargs.setdefault("train_op_fn", lambda loss: None)
    return head.create_estimator_spec(
        features=features if features is not None else {}, mode=mode,
        logits=np.asarray(logits, "float32"),
        labels=None if labels is None else np.asarray(labels), **kwargs,
    )


# --- worked examples (spec A.6) ----------------------------------------------


def test_binary_sum_loss_and_summaries():
    head = v1._binary_logistic_head_with_sigmoid_cross_entropy_loss()
    received = []
    spec = _spec(head, "train", [[45.0], [-41.0]], [[1], [1]],
                 train_op_fn=lambda loss: received.append(loss) or "op")
    assert float(numpy(spec.loss)) == pytest.approx(41.0)
    assert float(numpy(received[0])) == pytest.approx(41.0)
    assert spec.train_op == "op"
    assert {k: float(numpy(v)) for k, v in spec.summaries.items()} == (
        pytest.approx({"loss": 41.0, "average_loss": 20.5})
    )


WEIGHTED = dict(
    logits=[[45.0], [-41.0], [44.0]], labels=[[1], [1], [0]],
    features={"w": np.array([1.0, 0.1, 1.5], "float32")},
)


def test_binary_weighted_sum_example():
    head = v1._binary_logistic_head_with_sigmoid_cross_entropy_loss(
        weight_column="w"
    )
    spec = _spec(head, "eval", **WEIGHTED)
    assert float(numpy(spec.loss)) == pytest.approx(70.1)
    assert _results(spec.eval_metric_ops) == pytest.approx({
        "average_loss": 26.9615385,
        "accuracy": 0.3846154,
        "precision": 0.4,
        "recall": 0.9090909,
        "prediction/mean": 0.9615385,
        "label/mean": 0.4230769,
        "accuracy_baseline": 0.5769231,
        "auc": 0.4545456,
        "auc_precision_recall": 0.6737757,
    }, abs=1e-6)
    train = _spec(head, "train", **WEIGHTED)
    summaries = {k: float(numpy(v)) for k, v in train.summaries.items()}
    assert summaries == pytest.approx(
        {"loss": 70.1, "average_loss": 70.1 / 2.6}
    )
    # v2 interpolates the PR curve: 0.4010627 on the same data.
    v2 = keras_heads.BinaryClassHead(weight_column="w")
    v2_metrics = v2.metrics()
    v2.update_metrics(v2_metrics, WEIGHTED["features"],
                      np.asarray(WEIGHTED["logits"], "float32"),
                      np.asarray(WEIGHTED["labels"]))
    assert _results(v2_metrics)["auc_precision_recall"] == pytest.approx(
        0.4010627, abs=1e-6
    )


def test_binary_3d_example_v1_auc():
    """binary_class_head.md §5: logits [2, 2, 1], weights
    [[1, 1.5], [2, 2.5]]."""
    logits = [[[10.0], [-10.0]], [[12.0], [-12.0]]]
    labels = [[[0], [0]], [[1], [1]]]
    features = {"w": np.array([[1.0, 1.5], [2.0, 2.5]], "float32")}
    spec = _spec(v1.binary_classification_head(weight_column="w"), "eval",
                 logits, labels, features)
    results = _results(spec.eval_metric_ops)
    assert float(numpy(spec.loss)) == pytest.approx(10.0, abs=1e-4)
    assert results["auc"] == pytest.approx(0.5222221, abs=2e-7)
    assert results["auc_precision_recall"] == pytest.approx(0.7341269,
                                                            abs=2e-7)
    assert results["average_loss"] == pytest.approx(40 / 7, abs=1e-4)
    v2 = keras_heads.BinaryClassHead(weight_column="w")
    v2_metrics = v2.update_metrics(v2.metrics(), features,
                                   np.asarray(logits, "float32"),
                                   np.asarray(labels))
    assert _results(v2_metrics)["auc_precision_recall"] == pytest.approx(
        0.6582286, abs=1e-6
    )


@pytest.mark.parametrize("weighted", [False, True])
def test_multi_label_examples(weighted):
    if weighted:
        logits, features = [[-10.0, 10.0], [-15.0, 10.0]], {
            "w": np.array([[1.0], [2.0]], "float32")}
        auc, auc_pr, v2_auc_pr, loss = 0.2, 0.7833332, 0.7280372, 12.5
    else:
        logits, features = [[-1.0, 1.0], [-1.5, 1.5]], {}
        auc, auc_pr, v2_auc_pr, loss = 0.3333332, 0.7638887, 0.7689509, (
            1.1323375)
    labels = [[1, 0], [1, 1]]
    head = v1.multi_label_head(2, weight_column="w" if weighted else None)
    spec = _spec(head, "eval", logits, labels, features)
    results = _results(spec.eval_metric_ops)
    assert results["auc"] == pytest.approx(auc, abs=2e-7)
    assert results["auc_precision_recall"] == pytest.approx(auc_pr, abs=2e-7)
    v2 = keras_heads.MultiLabelHead(2, weight_column="w" if weighted else None)
    v2_loss = v2.loss(np.asarray(labels), np.asarray(logits, "float32"),
                      features)
    assert float(numpy(spec.loss)) == pytest.approx(loss, rel=1e-5)
    assert float(numpy(spec.loss)) == float(numpy(v2_loss))
    v2_metrics = v2.update_metrics(v2.metrics(), features,
                                   np.asarray(logits, "float32"),
                                   np.asarray(labels))
    assert _results(v2_metrics)["auc_precision_recall"] == pytest.approx(
        v2_auc_pr, abs=1e-6
    )


# --- agreement with the v2 heads ---------------------------------------------

RNG = np.random.default_rng(7)
BATCH = 16


def _weights():
    return RNG.uniform(0.0, 2.0, size=(BATCH, 1)).astype("float32")


def _case(family):
    """`(v1 head, v2 head, logits, labels, features)` on random data."""
    w = {"w": _weights()}
    if family == "binary":
        return (
            v1.binary_classification_head("w", [0.3, 0.7], ["no", "yes"]),
            keras_heads.BinaryClassHead("w", [0.3, 0.7], ["no", "yes"]),
            RNG.normal(size=(BATCH, 1)),
            np.where(RNG.uniform(size=(BATCH, 1)) > 0.5, "yes", "no"), w,
        )
    if family == "multi_class":
        vocabulary = ["a", "b", "c", "d"]
        return (
            v1.multi_class_head(4, "w", vocabulary, name="mc"),
            keras_heads.MultiClassHead(4, "w", vocabulary, name="mc"),
            RNG.normal(size=(BATCH, 4)),
            np.array(vocabulary)[RNG.integers(0, 4, size=(BATCH, 1))], w,
        )
    if family == "multi_label":
        kwargs = dict(weight_column="w", thresholds=[0.4],
                      label_vocabulary=["x", "y", "z"],
                      classes_for_class_based_metrics=["z", "x"])
        return (
            v1.multi_label_head(3, **kwargs),
            keras_heads.MultiLabelHead(3, **kwargs),
            RNG.normal(size=(BATCH, 3)),
            RNG.integers(0, 2, size=(BATCH, 3)), w,
        )
    if family == "regression":
        return (
            v1.regression_head("w", 2, inverse_link_fn=keras.ops.tanh),
            keras_heads.RegressionHead(2, "w", inverse_link_fn=keras.ops.tanh),
            RNG.normal(size=(BATCH, 2)), RNG.normal(size=(BATCH, 2)),
            {"w": RNG.uniform(size=(BATCH, 2)).astype("float32")},
        )
    if family == "poisson":
        return (
            v1.poisson_regression_head("w"),
            keras_heads.PoissonRegressionHead(weight_column="w"),
            RNG.normal(size=(BATCH, 1)),
            RNG.integers(0, 5, size=(BATCH, 1)).astype("float32"), w,
        )
    assert family == "logistic"
    return (
        v1.logistic_regression_head("w"),
        keras_heads.LogisticRegressionHead("w"),
        RNG.normal(size=(BATCH, 1)),
        RNG.uniform(size=(BATCH, 1)).astype("float32"), w,
    )


FAMILIES = ["binary", "multi_class", "multi_label", "regression", "poisson",
            "logistic"]


def _close(a, b):
    a, b = np.asarray(numpy(a)), np.asarray(numpy(b))
    if a.dtype.kind in "SOU":
        np.testing.assert_array_equal(a, b)
    else:
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("family", FAMILIES)
def test_loss_and_predictions_agree_with_v2(family):
    head, v2, logits, labels, features = _case(family)
    logits = logits.astype("float32")
    loss_spec = head.create_loss(features=features, mode="train",
                                 logits=logits, labels=labels)
    batch = v2._batch(features, logits, labels)
    _close(loss_spec.unreduced_loss, batch.unweighted_loss)
    _close(loss_spec.weights, batch.weights)
    _close(loss_spec.processed_labels, batch.labels)
    _close(loss_spec.training_loss, v2.loss(labels, logits, features))
    predictions = _spec(head, "infer", logits).predictions
    v2_predictions = v2.predictions(logits)
    if family == "multi_label":  # v1 has no `classes`
        assert sorted(predictions) == ["logits", "probabilities"]
    else:
        assert list(predictions) == list(v2_predictions)
    for key, value in predictions.items():
        _close(value, v2_predictions[key])


@pytest.mark.parametrize("family", FAMILIES)
def test_metrics_have_v2_keys_and_agree_where_v1_semantics_do(family):
    head, v2, logits, labels, features = _case(family)
    logits = logits.astype("float32")
    spec = _spec(head, "eval", logits, labels, features)
    v2_metrics = v2.update_metrics(v2.metrics(), features, logits, labels)
    assert list(spec.eval_metric_ops) == list(v2_metrics)
    assert all(isinstance(m, keras.metrics.Metric)
               for m in spec.eval_metric_ops.values())
    results, v2_results = _results(spec.eval_metric_ops), _results(v2_metrics)
    for key, value in results.items():
        if key.startswith("auc"):  # trapezoid rule: see the examples above
            continue
        # Random scores never equal a threshold: `p >= t` and `p > t` agree.
        assert value == pytest.approx(v2_results[key], rel=1e-5), key


def test_v1_roc_auc_stays_close_to_v2_on_random_data():
    head, v2, logits, labels, features = _case("binary")
    logits = logits.astype("float32")
    results = _results(_spec(head, "eval", logits, labels,
                             features).eval_metric_ops)
    v2_results = _results(v2.update_metrics(v2.metrics(), features, logits,
                                            labels))
    assert results["auc"] == pytest.approx(v2_results["auc"], abs=1e-3)


# --- the documented differences ----------------------------------------------


def test_threshold_accuracy_counts_a_score_equal_to_the_threshold():
    head = v1.binary_classification_head(thresholds=[0.5])
    v2 = keras_heads.BinaryClassHead(thresholds=[0.5])
    logits, labels = np.zeros((1, 1), "float32"), np.ones((1, 1))  # p = 0.5
    results = _results(_spec(head, "eval", logits, labels).eval_metric_ops)
    v2_results = _results(v2.update_metrics(v2.metrics(), {}, logits, labels))
    assert results["accuracy/positive_threshold_0.5"] == 1.0
    assert v2_results["accuracy/positive_threshold_0.5"] == 0.0
    # Precision and recall still need p > t.
    assert results["recall/positive_threshold_0.5"] == 0.0


def test_multi_label_threshold_accuracy_is_non_strict_too():
    head = v1.multi_label_head(2, thresholds=[0.5])
    results = _results(_spec(head, "eval", [[0.0, -1.0]], [[1, 0]])
                       .eval_metric_ops)
    assert results["accuracy/positive_threshold_0.5"] == 1.0
    assert results["precision/positive_threshold_0.5"] == 0.0


def test_precision_and_recall_cast_labels_to_bool():
    spec = _spec(v1.binary_classification_head(), "eval",
                 [[1.0], [1.0], [-1.0]], [[0.4], [0.0], [1.0]])
    results = _results(spec.eval_metric_ops)
    assert results["precision"] == 0.5  # the soft label 0.4 is positive
    assert results["recall"] == 0.5
    assert results["accuracy"] == 0.0  # but never equals a class id


@pytest.mark.parametrize("regularization", [None, []])
def test_no_regularization_without_losses(regularization):
    head = v1.binary_classification_head(loss_reduction=SUM, name="b")
    args = ([[45.0], [-41.0]], [[1], [1]])
    train = _spec(head, "train", *args,
                  regularization_losses=regularization)
    evaluation = _spec(head, "eval", *args,
                       regularization_losses=regularization)
    assert float(numpy(train.loss)) == pytest.approx(41.0)
    assert sorted(train.summaries) == ["average_loss/b", "loss/b"]
    assert "regularization_loss/b" not in evaluation.eval_metric_ops


def test_regularization():
    head = v1.binary_classification_head(loss_reduction=SUM, name="b")
    args = ([[45.0], [-41.0]], [[1], [1]])
    train = _spec(head, "train", *args, regularization_losses=[1.5, 0.5])
    assert {k: float(numpy(v)) for k, v in train.summaries.items()} == (
        pytest.approx({"loss/b": 43.0, "regularization_loss/b": 2.0,
                       "average_loss/b": 20.5})
    )
    evaluation = _spec(head, "eval", *args, regularization_losses=[1.5, 0.5])
    assert float(numpy(evaluation.loss)) == pytest.approx(43.0)
    results = _results(evaluation.eval_metric_ops)
    assert results["regularization_loss/b"] == 2.0
    assert results["average_loss/b"] == pytest.approx(20.5)
    loss_spec = head.create_loss(features={}, mode="train",
                                 logits=np.asarray(args[0], "float32"),
                                 labels=np.asarray(args[1]))
    assert float(numpy(loss_spec.training_loss)) == pytest.approx(41.0)


def test_average_loss_summary_only_for_sum():
    for reduction in (v1.Reduction.SUM_OVER_BATCH_SIZE, v1.Reduction.MEAN,
                      v1.Reduction.SUM_BY_NONZERO_WEIGHTS):
        head = v1.regression_head(loss_reduction=reduction, name="r")
        spec = _spec(head, "train", [[1.0], [3.0]], [[0.0], [0.0]])
        assert list(spec.summaries) == ["loss/r"]


@pytest.mark.parametrize("reduction, expected", [
    (v1.Reduction.SUM, 70.1),
    (v1.Reduction.SUM_OVER_BATCH_SIZE, 70.1 / 3),
    (v1.Reduction.MEAN, 70.1 / 2.6),
    (v1.Reduction.SUM_BY_NONZERO_WEIGHTS, 70.1 / 3),
])
def test_head_reductions(reduction, expected):
    head = v1.binary_classification_head("w", loss_reduction=reduction)
    spec = _spec(head, "eval", **WEIGHTED)
    assert float(numpy(spec.loss)) == pytest.approx(expected, rel=1e-6)
    # average_loss is the weighted mean whatever the reduction.
    assert _results(spec.eval_metric_ops)["average_loss"] == pytest.approx(
        70.1 / 2.6
    )


# --- create_loss -------------------------------------------------------------


def test_loss_spec_fields():
    head = v1.binary_classification_head(label_vocabulary=["aang", "iroh"])
    spec = head.create_loss(features={}, mode="train",
                            logits=np.array([[45.0], [-41.0]], "float32"),
                            labels=np.array([["iroh"], ["iroh"]]))
    assert isinstance(spec, v1.LossSpec)
    assert spec.weights == 1.0
    np.testing.assert_allclose(numpy(spec.processed_labels), [[1.0], [1.0]])
    np.testing.assert_allclose(numpy(spec.unreduced_loss), [[0.0], [41.0]],
                               atol=1e-6)
    assert float(numpy(spec.training_loss)) == pytest.approx(20.5)


def test_loss_spec_weights_and_labels():
    head = v1.multi_class_head(3, weight_column="w",
                               label_vocabulary=["a", "b", "c"])
    spec = head.create_loss(
        features={"w": np.array([0.1], "float32")}, mode="eval",
        logits=np.array([[1.0, 0.0, 0.0]], "float32"),
        labels=np.array(["c"]),
    )
    np.testing.assert_allclose(numpy(spec.weights), [[0.1]])
    assert numpy(spec.processed_labels).tolist() == [[2]]
    assert float(numpy(spec.training_loss)) == pytest.approx(0.1551445)
    ml = v1.multi_label_head(2).create_loss(
        features={}, mode="train",
        logits=np.array([[-10.0, 10.0], [-15.0, 10.0]], "float32"),
        labels=keras_heads.SparseTensorValue(
            indices=[[0, 0], [1, 0], [1, 1]], values=[0, 0, 1],
            dense_shape=[2, 2]),
    )
    assert numpy(ml.processed_labels).tolist() == [[1, 0], [1, 1]]
    assert float(numpy(ml.training_loss)) == pytest.approx(8.75, abs=1e-4)


@backends.parametrize_compilers
def test_create_loss_compiles(compile_fn):
    head = v1.binary_classification_head("w", loss_reduction=SUM)

    @compile_fn
    def loss(logits, labels, weights):
        return head.create_loss(features={"w": weights}, mode="train",
                                logits=logits, labels=labels).training_loss

    value = loss(*(keras.ops.convert_to_tensor(np.asarray(x, "float32"))
                   for x in (WEIGHTED["logits"], WEIGHTED["labels"],
                             WEIGHTED["features"]["w"])))
    assert float(numpy(value)) == pytest.approx(70.1)


# --- labels ------------------------------------------------------------------


def test_label_range_errors_read_as_in_v1():
    binary = v1.binary_classification_head()
    with pytest.raises(ValueError, match="Labels must <= n_classes - 1"):
        binary.create_loss(features={}, mode="train",
                           logits=np.zeros((1, 1), "float32"),
                           labels=np.array([[2]]))
    with pytest.raises(ValueError, match="Labels must >= 0"):
        binary.create_loss(features={}, mode="train",
                           logits=np.zeros((1, 1), "float32"),
                           labels=np.array([[-1]]))
    multi = v1.multi_class_head(3)
    with pytest.raises(ValueError, match="Labels must <= n_classes - 1"):
        multi.create_loss(features={}, mode="train",
                          logits=np.zeros((1, 3), "float32"),
                          labels=np.array([[3]]))
    named = v1.multi_class_head(3, label_vocabulary=["a", "b", "c"])
    with pytest.raises(ValueError, match=r"Labels must >= 0.*\['z'\]"):
        named.create_loss(features={}, mode="train",
                          logits=np.zeros((1, 3), "float32"),
                          labels=np.array([["z"]]))
    with pytest.raises(ValueError, match="Labels dtype should be integer"):
        multi.create_loss(features={}, mode="train",
                          logits=np.zeros((1, 3), "float32"),
                          labels=np.array([[1.0]], "float32"))


def test_a_vocabulary_longer_than_n_classes():
    head = v1.multi_class_head(3, label_vocabulary=["a", "b", "c", "d"])
    logits = np.array([[0.0, 0.0, 9.0]], "float32")
    spec = head.create_loss(features={}, mode="train", logits=logits,
                            labels=np.array([["c"]]))
    assert numpy(spec.processed_labels).tolist() == [[2]]
    with pytest.raises(ValueError, match="Labels must <= n_classes - 1"):
        head.create_loss(features={}, mode="train", logits=logits,
                         labels=np.array([["d"]]))
    predictions = _spec(head, "infer", logits).predictions
    assert numpy(predictions["classes"]).tolist() == [[b"c"]]
    assert numpy(predictions["all_classes"]).tolist() == [
        [b"a", b"b", b"c", b"d"]]
    assert numpy(predictions["all_class_ids"]).tolist() == [[0, 1, 2]]


def test_a_vocabulary_shorter_than_n_classes():
    head = v1.multi_class_head(3, label_vocabulary=["a", "b"])
    logits = np.array([[0.0, 0.0, 9.0], [9.0, 0.0, 0.0]], "float32")
    spec = _spec(head, "infer", logits)
    assert numpy(spec.predictions["classes"]).tolist() == [[b"UNK"], [b"a"]]
    assert numpy(spec.predictions["all_classes"]).tolist() == [
        [b"a", b"b"], [b"a", b"b"]]


# --- create_estimator_spec ---------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_predict_spec_exports_as_v2(family):
    head, v2, logits, _, _ = _case(family)
    logits = logits.astype("float32")
    spec = _spec(head, "infer", logits)
    v2_spec = v2.create_estimator_spec(features={}, mode="infer",
                                       logits=logits)
    assert spec.mode == "infer" and spec.loss is None
    assert sorted(spec.export_outputs) == sorted(v2_spec.export_outputs)
    for key, output in spec.export_outputs.items():
        expected = v2_spec.export_outputs[key].outputs
        if key == "predict" and family == "multi_label":
            expected = {k: v for k, v in expected.items() if k != "classes"}
        assert sorted(output.outputs) == sorted(expected)
        for name, value in output.outputs.items():
            _close(value, expected[name])


def test_train_and_eval_specs_hold_every_prediction():
    head = v1.binary_classification_head()
    for mode in ("train", "eval"):
        spec = _spec(head, mode, [[1.0]], [[1]])
        assert list(spec.predictions) == [
            "logits", "logistic", "probabilities", "class_ids", "classes",
            "all_class_ids", "all_classes"]
        assert spec.mode == mode
    assert _spec(head, "train", [[1.0]], [[1]]).eval_metric_ops == {}


def test_an_unknown_mode_builds_a_train_spec():
    spec = _spec(v1.regression_head(), "tune", [[1.0]], [[0.0]],
                 train_op_fn=lambda loss: None)
    assert spec.mode == "train" and spec.train_op is NO_OP


def test_labels_are_required_in_train_and_eval():
    head = v1.multi_class_head(3)
    for mode in ("train", "eval"):
        with pytest.raises(ValueError, match="You must provide a labels"):
            _spec(head, mode, np.zeros((1, 3)))


def test_train_op_errors():
    head = v1.regression_head()
    with pytest.raises(ValueError, match="cannot both be None"):
        _spec(head, "train", [[1.0]], [[0.0]], train_op_fn=None)
    with pytest.raises(ValueError, match="cannot both be set"):
        _spec(head, "train", [[1.0]], [[0.0]], optimizer=object(),
              train_op_fn=lambda loss: None)
    # EVAL and PREDICT ignore both.
    _spec(head, "eval", [[1.0]], [[0.0]], optimizer=object(),
          train_op_fn=lambda loss: None)


def test_names_suffix_summaries_and_metrics():
    head = v1.multi_class_head(3, loss_reduction=SUM, name="kind")
    train = _spec(head, "train", [[1.0, 0.0, 0.0]], [[2]])
    assert sorted(train.summaries) == ["average_loss/kind", "loss/kind"]
    assert float(numpy(train.summaries["average_loss/kind"])) == (
        pytest.approx(1.5514446)
    )
    evaluation = _spec(head, "eval", [[1.0, 0.0, 0.0]], [[2]])
    assert sorted(evaluation.eval_metric_ops) == ["accuracy/kind",
                                                  "average_loss/kind"]


def test_the_interface():
    head = v1.multi_label_head(3, name="tags")
    assert isinstance(head, Head)
    assert (head.name, head.logits_dimension) == ("tags", 3)
    assert not hasattr(head, "loss") and not hasattr(head, "predictions")
    assert not hasattr(head, "metrics")
