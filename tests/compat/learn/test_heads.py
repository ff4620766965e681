"""The single heads' factories (defaults, errors), `create_model_fn_ops`
(modes, labels, logits, train ops, predictions, output alternatives) and
compiled TRAIN steps (spec B.2, B.3, B.5)."""

import keras
import numpy as np
import pytest

import keras_heads
from keras_heads.compat import learn
from keras_heads.compat.learn import ModeKeys
from keras_heads.compat.learn import ProblemType
from keras_heads.heads.train_op import NO_OP
from tests import backends
from tests.backends import numpy

TRAIN, EVAL, INFER = ModeKeys.TRAIN, ModeKeys.EVAL, ModeKeys.INFER
LOGITS_3 = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 2.0]], "float32")
LOGITS_1 = np.array([[1.0], [-2.0]], "float32")


def _ops(head, mode=EVAL, labels=None, logits=None, features=None,
         train_op_fn=learn.no_op_train_fn, **kwargs):
    return head.create_model_fn_ops(
        features=features or {}, mode=mode, labels=labels,
        train_op_fn=train_op_fn, logits=logits, **kwargs)


def _strings(x):
    return np.asarray(numpy(x) if not isinstance(x, np.ndarray) else x)


# --- factories ---------------------------------------------------------------


def test_factory_defaults():
    regression = learn.regression_head()
    assert (regression.logits_dimension, regression.head_name,
            regression.label_name, regression.weight_column_name) == (
                1, None, None, None)
    assert regression.trainable_variables == []
    assert learn.regression_head(label_dimension=3).logits_dimension == 3
    assert learn.poisson_regression_head(head_name="p").head_name == "p"
    assert learn.multi_class_head(n_classes=2).logits_dimension == 1
    assert learn.multi_class_head(n_classes=4).logits_dimension == 4
    assert learn.binary_svm_head().logits_dimension == 1
    assert learn.multi_label_head(n_classes=5).logits_dimension == 5
    loss_only = learn.loss_only_head(lambda: 1.0)
    assert (loss_only.head_name, loss_only.logits_dimension) == (
        "loss_only_head", 0)
    assert isinstance(learn.multi_head([loss_only]), learn.Head)


@pytest.mark.parametrize("n_classes", [None, 0, 1, 2.5])
def test_multi_class_head_needs_two_classes(n_classes):
    with pytest.raises(ValueError,
                       match="n_classes must be > 1 for classification"):
        learn.multi_class_head(n_classes=n_classes)


def test_binary_head_rejects_per_class_options():
    with pytest.raises(ValueError,
                       match="metric_class_ids invalid for n_classes==2"):
        learn.multi_class_head(n_classes=2, metric_class_ids=[0])
    with pytest.raises(ValueError,
                       match="label_keys is not supported for n_classes=2"):
        learn.multi_class_head(n_classes=2, label_keys=["a", "b"])


@pytest.mark.parametrize("factory", [learn.multi_class_head,
                                     learn.multi_label_head])
@pytest.mark.parametrize("class_id", [-1, 3])
def test_metric_class_ids_must_be_class_ids(factory, class_id):
    with pytest.raises(ValueError, match=rf"Class ID {class_id} not in "
                                         r"\[0, 3\)"):
        factory(n_classes=3, metric_class_ids=[0, class_id])


def test_label_keys_must_have_one_name_per_class():
    with pytest.raises(ValueError,
                       match="Length of label_keys must equal n_classes"):
        learn.multi_class_head(n_classes=3, label_keys=["a", "b"])
    with pytest.raises(ValueError, match="label_keys must be a list"):
        learn.multi_class_head(n_classes=3, label_keys=[1, 2, 3])


@pytest.mark.parametrize("n_classes", [None, 1])
def test_multi_label_head_needs_two_classes(n_classes):
    with pytest.raises(ValueError,
                       match=r"n_classes must be > 1 for classification\."):
        learn.multi_label_head(n_classes=n_classes)


def test_invalid_label_dimension():
    with pytest.raises(ValueError, match="Invalid logits_dimension 0"):
        learn.regression_head(label_dimension=0)


# --- create_model_fn_ops: arguments ------------------------------------------


def test_invalid_mode():
    for head in (learn.regression_head(), learn.loss_only_head(lambda: 1.0)):
        with pytest.raises(ValueError, match="mode=predict unrecognized"):
            _ops(head, mode="predict", logits=LOGITS_1)


def test_exactly_one_of_logits_and_logits_input():
    head = learn.regression_head()
    with pytest.raises(ValueError,
                       match="Neither logits nor logits_input supplied"):
        _ops(head, mode=INFER)
    with pytest.raises(ValueError,
                       match="Both logits and logits_input supplied"):
        _ops(head, mode=INFER, logits=LOGITS_1, logits_input=LOGITS_3)


def test_logits_last_dimension_must_match():
    with pytest.raises(ValueError, match="Dimensions 3 and 2 are not "
                                         "compatible"):
        _ops(learn.regression_head(label_dimension=2), mode=INFER,
             logits=LOGITS_3)


def test_train_needs_train_op_fn():
    with pytest.raises(ValueError,
                       match="train_op_fn can not be None in TRAIN mode"):
        _ops(learn.regression_head(), mode=TRAIN, labels=[[1.0], [0.0]],
             logits=LOGITS_1, train_op_fn=None)


def test_missing_labels_surface_as_missing_train_op_or_loss():
    head = learn.multi_class_head(n_classes=3)
    with pytest.raises(ValueError, match="Missing train_op"):
        _ops(head, mode=TRAIN, logits=LOGITS_3)
    with pytest.raises(ValueError, match="Missing loss"):
        _ops(head, mode=EVAL, logits=LOGITS_3)


def test_infer_ignores_labels():
    model_fn_ops = _ops(learn.multi_class_head(n_classes=3), mode=INFER,
                        labels=np.array([[7.5], [-1.0]]), logits=LOGITS_3)
    assert model_fn_ops.loss is None and model_fn_ops.eval_metric_ops == {}


def test_labels_dict_is_read_at_label_name():
    head = learn.regression_head(label_name="y")
    labels = {"y": np.array([[0.0], [1.0]], "float32"), "z": "ignored"}
    model_fn_ops = _ops(head, labels=labels, logits=LOGITS_1)
    np.testing.assert_allclose(float(numpy(model_fn_ops.loss)), 5.0)
    with pytest.raises(ValueError, match="label_name='w' is not one of its "
                                         "keys"):
        _ops(learn.regression_head(label_name="w"), labels=labels,
             logits=LOGITS_1)


def test_sparse_labels_are_rejected_except_by_multi_label_heads():
    sparse = keras_heads.SparseTensorValue([[0, 0]], [1], [2, 1])
    for head in (learn.regression_head(), learn.binary_svm_head(),
                 learn.multi_class_head(n_classes=2),
                 learn.multi_class_head(n_classes=3)):
        logits = LOGITS_3 if head.logits_dimension == 3 else LOGITS_1
        with pytest.raises(ValueError, match="SparseTensor is not supported"):
            _ops(head, labels=sparse, logits=logits)


def test_multi_label_sparse_labels_become_multi_hot():
    head = learn.multi_label_head(n_classes=3)
    sparse = keras_heads.SparseTensorValue(
        indices=[[0, 0], [1, 0], [1, 1]], values=[0, 0, 2], dense_shape=[2, 2])
    dense = np.array([[1, 0, 0], [1, 0, 1]])
    from_sparse = _ops(head, labels=sparse, logits=LOGITS_3)
    from_dense = _ops(head, labels=dense, logits=LOGITS_3)
    np.testing.assert_allclose(float(numpy(from_sparse.loss)),
                               float(numpy(from_dense.loss)), rtol=1e-6)
    with pytest.raises(ValueError, match=r"labels must be an integer "
                                         r"SparseTensor with values in "
                                         r"\[0, 3\)"):
        _ops(head, labels=keras_heads.SparseTensorValue([[0, 0]], [3], [2, 1]),
             logits=LOGITS_3)


def test_multi_class_label_checks():
    head = learn.multi_class_head(n_classes=3)
    with pytest.raises(ValueError, match="Labels dtype should be integer"):
        _ops(head, labels=np.array([[1.0], [2.0]]), logits=LOGITS_3)
    with pytest.raises(ValueError, match=r"Labels must be <= 3 - 1"):
        _ops(head, labels=np.array([[1], [3]]), logits=LOGITS_3)
    with pytest.raises(ValueError, match=r"Labels must be >= 0"):
        _ops(head, labels=np.array([[1], [-1]]), logits=LOGITS_3)
    with pytest.raises(ValueError, match=r"should be either \[batch_size, 1\] "
                                         r"or \[batch_size\]"):
        _ops(head, labels=np.array([[1, 2], [2, 0]]), logits=LOGITS_3)


def test_label_keys_label_checks():
    head = learn.multi_class_head(n_classes=3, label_keys=["a", "b", "c"])
    with pytest.raises(ValueError, match="Labels dtype should be string"):
        _ops(head, labels=np.array([[1], [2]]), logits=LOGITS_3)
    with pytest.raises(ValueError, match=r"not in label_keys .*\['z'\]"):
        _ops(head, labels=np.array([["a"], ["z"]]), logits=LOGITS_3)


def test_label_shape_checks():
    with pytest.raises(ValueError, match="logits and labels must have the "
                                         "same shape"):
        _ops(learn.multi_class_head(n_classes=2), labels=np.ones((2, 2)),
             logits=LOGITS_1)
    with pytest.raises(ValueError, match="are incompatible"):
        _ops(learn.regression_head(), labels=np.ones((3, 1)), logits=LOGITS_1)
    with pytest.raises(ValueError, match=r"labels shape should be either "
                                         r"\[batch_size, 1\]"):
        _ops(learn.binary_svm_head(), labels=np.ones((2, 1, 1)),
             logits=LOGITS_1)
    with pytest.raises(ValueError, match="logits and labels must have the "
                                         "same shape"):
        _ops(learn.multi_label_head(n_classes=3), labels=np.ones((2, 2)),
             logits=LOGITS_3)


def test_scope_must_be_a_name():
    with pytest.raises(TypeError, match="scope must be a string"):
        _ops(learn.regression_head(), mode=INFER, logits=LOGITS_1, scope=3)


# --- TRAIN -------------------------------------------------------------------


def test_train_op_fn_gets_the_train_loss_and_gives_the_train_op():
    calls = []

    def train_op_fn(loss):
        calls.append(float(numpy(loss)))
        return "my_train_op"

    head = learn.regression_head(weight_column_name="w", head_name="r")
    model_fn_ops = _ops(
        head, mode=TRAIN, labels=np.array([[0.0], [1.0], [1.0]]),
        logits=np.array([[1.0], [1.0], [3.0]]), train_op_fn=train_op_fn,
        features={"w": np.array([2.0, 5.0, 0.0])})
    np.testing.assert_allclose(calls, [2 / 3], rtol=1e-6)
    assert model_fn_ops.train_op == "my_train_op"
    assert list(model_fn_ops.summaries) == ["loss/r"]
    np.testing.assert_allclose(float(numpy(model_fn_ops.summaries["loss/r"])),
                               2 / 7, rtol=1e-6)


def test_a_train_op_fn_returning_none_gives_no_op():
    model_fn_ops = _ops(learn.regression_head(), mode=TRAIN,
                        labels=np.array([[0.0], [1.0]]), logits=LOGITS_1,
                        train_op_fn=lambda loss: None)
    assert model_fn_ops.train_op is NO_OP


def test_train_metrics_are_built_when_read():
    model_fn_ops = _ops(learn.multi_class_head(n_classes=2), mode=TRAIN,
                        labels=np.array([[1], [0]]), logits=LOGITS_1)
    metrics = model_fn_ops.eval_metric_ops
    assert not isinstance(metrics, dict)
    assert "auc" in metrics and len(metrics) == 10
    assert float(numpy(metrics["accuracy"].result())) == 1.0


# --- predictions and output alternatives -------------------------------------


def test_regression_predictions():
    model_fn_ops = _ops(learn.regression_head(), mode=INFER, logits=LOGITS_1)
    assert list(model_fn_ops.predictions) == ["scores"]
    np.testing.assert_array_equal(numpy(model_fn_ops.predictions["scores"]),
                                  [1.0, -2.0])
    model_fn_ops = _ops(learn.regression_head(label_dimension=3), mode=INFER,
                        logits=LOGITS_3)
    assert tuple(model_fn_ops.predictions["scores"].shape) == (2, 3)
    linked = _ops(learn.regression_head(link_fn=keras.ops.square),
                  mode=INFER, logits=LOGITS_1)
    np.testing.assert_array_equal(numpy(linked.predictions["scores"]),
                                  [1.0, 4.0])
    poisson = _ops(learn.poisson_regression_head(), mode=INFER,
                   logits=LOGITS_1)
    np.testing.assert_allclose(numpy(poisson.predictions["scores"]),
                               np.exp([1.0, -2.0]), rtol=1e-6)


def test_regression_output_alternative():
    head = learn.regression_head(head_name="r")
    model_fn_ops = _ops(head, mode=INFER, logits=LOGITS_1)
    problem_type, tensors = model_fn_ops.output_alternatives["r"]
    assert problem_type == ProblemType.LINEAR_REGRESSION
    assert list(tensors) == ["scores"]
    spec = model_fn_ops.estimator_spec()
    assert isinstance(spec.export_outputs["r"], keras_heads.RegressionOutput)
    assert spec.export_outputs["serving_default"] is spec.export_outputs["r"]
    unnamed = _ops(learn.regression_head(), mode=INFER, logits=LOGITS_1)
    assert list(unnamed.output_alternatives) == [None]


def test_binary_predictions():
    model_fn_ops = _ops(learn.multi_class_head(n_classes=2), mode=INFER,
                        logits=LOGITS_1)
    predictions = numpy(dict(model_fn_ops.predictions))
    assert list(predictions) == ["logits", "logistic", "probabilities",
                                 "classes"]
    sigmoid = 1 / (1 + np.exp(-LOGITS_1))
    np.testing.assert_allclose(predictions["logistic"], sigmoid, rtol=1e-6)
    np.testing.assert_allclose(predictions["probabilities"],
                               np.concatenate([1 - sigmoid, sigmoid], -1),
                               rtol=1e-6)
    np.testing.assert_array_equal(predictions["classes"], [1, 0])
    assert str(predictions["classes"].dtype) == backends.backend_dtype("int64")


def test_binary_output_alternative_has_string_class_names():
    head = learn.multi_class_head(n_classes=2, head_name="b")
    model_fn_ops = _ops(head, mode=INFER, logits=LOGITS_1)
    problem_type, tensors = model_fn_ops.output_alternatives["b"]
    assert problem_type == ProblemType.LOGISTIC_REGRESSION
    assert sorted(tensors) == ["classes", "probabilities"]
    np.testing.assert_array_equal(_strings(tensors["classes"]),
                                  [[b"0", b"1"], [b"0", b"1"]])
    output = model_fn_ops.estimator_spec().export_outputs["b"]
    assert isinstance(output, keras_heads.ClassificationOutput)
    assert output.classes is not None


def test_multi_class_predictions_and_alternative():
    head = learn.multi_class_head(n_classes=3, head_name="m")
    model_fn_ops = _ops(head, mode=INFER, logits=LOGITS_3)
    predictions = numpy(dict(model_fn_ops.predictions))
    assert list(predictions) == ["logits", "probabilities", "classes"]
    np.testing.assert_array_equal(predictions["classes"], [0, 2])
    problem_type, tensors = model_fn_ops.output_alternatives["m"]
    assert problem_type == ProblemType.CLASSIFICATION
    np.testing.assert_array_equal(_strings(tensors["classes"]),
                                  [[b"0", b"1", b"2"]] * 2)


def test_multi_class_label_keys_name_the_classes():
    head = learn.multi_class_head(n_classes=3, label_keys=["a", "b", "c"])
    model_fn_ops = _ops(head, mode=INFER, logits=LOGITS_3)
    np.testing.assert_array_equal(
        _strings(model_fn_ops.predictions["classes"]), [b"a", b"c"])
    _, tensors = model_fn_ops.output_alternatives[None]
    np.testing.assert_array_equal(_strings(tensors["classes"]),
                                  [[b"a", b"b", b"c"]] * 2)
    # EVAL: class names are computed when read.
    evaluated = _ops(head, labels=np.array([["a"], ["b"]]), logits=LOGITS_3)
    assert "deferred=['classes']" in repr(evaluated.predictions)
    np.testing.assert_array_equal(
        _strings(evaluated.predictions["classes"]), [b"a", b"c"])


def test_svm_predictions_cannot_be_exported_as_classification():
    model_fn_ops = _ops(learn.binary_svm_head(), mode=INFER, logits=LOGITS_1)
    predictions = numpy(dict(model_fn_ops.predictions))
    assert list(predictions) == ["logits", "classes"]
    np.testing.assert_array_equal(predictions["classes"], [1, 0])
    problem_type, tensors = model_fn_ops.output_alternatives[None]
    assert problem_type == ProblemType.LOGISTIC_REGRESSION
    assert list(tensors) == ["logits", "classes"]
    with pytest.raises(ValueError, match="cannot become a "
                                         "ClassificationOutput"):
        model_fn_ops.estimator_spec()


def test_multi_label_predictions_and_alternative():
    model_fn_ops = _ops(learn.multi_label_head(n_classes=3), mode=INFER,
                        logits=LOGITS_3)
    predictions = numpy(dict(model_fn_ops.predictions))
    assert list(predictions) == ["logits", "probabilities", "classes"]
    np.testing.assert_array_equal(predictions["classes"],
                                  [[1, 0, 0], [0, 0, 1]])
    np.testing.assert_allclose(predictions["probabilities"],
                               1 / (1 + np.exp(-LOGITS_3)), rtol=1e-6)
    problem_type, tensors = model_fn_ops.output_alternatives[None]
    assert problem_type == ProblemType.CLASSIFICATION
    np.testing.assert_array_equal(_strings(tensors["classes"]),
                                  [[b"0", b"1", b"2"]] * 2)


def test_loss_only_head():
    head = learn.loss_only_head(
        lambda: [1.0, keras.ops.convert_to_tensor(2.0)], head_name="reg")
    model_fn_ops = _ops(head, mode=TRAIN, train_op_fn=lambda loss: "op")
    assert float(numpy(model_fn_ops.loss)) == 3.0
    assert model_fn_ops.train_op == "op"
    assert list(model_fn_ops.summaries) == ["loss/reg"]
    assert model_fn_ops.predictions == {}
    assert model_fn_ops.eval_metric_ops == {}
    assert model_fn_ops.output_alternatives is None
    inferred = _ops(head, mode=INFER)
    assert inferred.loss is None and inferred.predictions == {}
    with pytest.raises(ValueError, match="train_op_fn can not be None"):
        _ops(head, mode=TRAIN, train_op_fn=None)


# --- compiled ----------------------------------------------------------------


@backends.parametrize_compilers
@pytest.mark.parametrize("factory, labels, logits", [
    (lambda: learn.multi_class_head(n_classes=2, weight_column_name="w"),
     np.array([[1.0], [0.0]], "float32"), LOGITS_1),
    (lambda: learn.multi_class_head(n_classes=3, weight_column_name="w"),
     np.array([[0], [1]], "int32"), LOGITS_3),
    (lambda: learn.multi_label_head(n_classes=3, weight_column_name="w"),
     np.array([[1, 0, 0], [1, 1, 0]], "int32"), LOGITS_3),
    (lambda: learn.binary_svm_head(weight_column_name="w"),
     np.array([[1.0], [0.0]], "float32"), LOGITS_1),
], ids=["binary", "multi_class", "multi_label", "svm"])
def test_a_train_step_compiles(compile_fn, factory, labels, logits):
    head = factory()
    weights = np.array([1.0, 3.0], "float32")

    def step(labels, logits, weights):
        model_fn_ops = head.create_model_fn_ops(
            features={"w": weights}, mode=TRAIN, labels=labels,
            train_op_fn=learn.no_op_train_fn, logits=logits)
        return model_fn_ops.loss, model_fn_ops.summaries["loss"]

    eager = [float(numpy(x)) for x in step(labels, logits, weights)]
    compiled = [float(numpy(x))
                for x in compile_fn(step)(labels, logits, weights)]
    np.testing.assert_allclose(compiled, eager, rtol=1e-5)
