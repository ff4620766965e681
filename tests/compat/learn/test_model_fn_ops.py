"""`ModeKeys`, `ModelFnOps` (validation, spec B.1) and its conversion to a
`keras_heads.EstimatorSpec`; `no_op_train_fn`."""

import numpy as np
import pytest

import keras_heads
from keras_heads.compat import learn
from keras_heads.compat.learn import ModeKeys
from keras_heads.compat.learn import ModelFnOps
from keras_heads.compat.learn import ProblemType
from keras_heads.heads.train_op import NO_OP
from tests.backends import numpy
from tests.backends import only_on

SCORES = np.array([0.5, 2.0], "float32")


class _Hook:
    def begin(self):
        pass

    def before_run(self, run_context):
        pass

    def after_run(self, run_context, run_values):
        pass

    def end(self, session):
        pass


def test_mode_keys():
    assert (ModeKeys.TRAIN, ModeKeys.EVAL, ModeKeys.INFER) == (
        "train", "eval", "infer")
    assert ModeKeys.INFER == keras_heads.ModeKeys.PREDICT
    for mode in (ModeKeys.TRAIN, ModeKeys.EVAL, ModeKeys.INFER):
        ModeKeys.validate(mode)
    for mode in ("predict", None, 1):
        with pytest.raises(ValueError, match="Invalid mode"):
            ModeKeys.validate(mode)


def test_problem_types():
    assert (ProblemType.UNSPECIFIED, ProblemType.CLASSIFICATION,
            ProblemType.LINEAR_REGRESSION,
            ProblemType.LOGISTIC_REGRESSION) == (0, 1, 2, 3)


# --- validation --------------------------------------------------------------


def test_mode_is_validated_first():
    with pytest.raises(ValueError, match="Invalid mode"):
        ModelFnOps(mode="predict")


def test_train_op_is_checked_before_loss():
    with pytest.raises(ValueError, match="Missing train_op"):
        ModelFnOps(mode=ModeKeys.TRAIN)


@pytest.mark.parametrize("mode", [ModeKeys.TRAIN, ModeKeys.EVAL])
def test_loss_is_required_in_train_and_eval(mode):
    with pytest.raises(ValueError, match="Missing loss"):
        ModelFnOps(mode=mode, train_op=NO_OP, predictions={"s": SCORES})


@pytest.mark.parametrize("mode", [ModeKeys.INFER, ModeKeys.EVAL])
def test_predictions_are_required_in_infer_and_eval(mode):
    with pytest.raises(ValueError, match="Missing predictions"):
        ModelFnOps(mode=mode, loss=1.0)


def test_loss_must_have_one_element():
    model_fn_ops = ModelFnOps(mode=ModeKeys.EVAL, loss=np.array([[2.0]]),
                              predictions={})
    assert tuple(model_fn_ops.loss.shape) == ()
    assert float(numpy(model_fn_ops.loss)) == 2.0
    with pytest.raises(ValueError, match="Loss must be scalar"):
        ModelFnOps(mode=ModeKeys.EVAL, loss=np.array([1.0, 2.0]),
                   predictions={})


def test_defaults():
    model_fn_ops = ModelFnOps(mode=ModeKeys.INFER, predictions={"s": SCORES})
    assert model_fn_ops.eval_metric_ops == {}
    assert model_fn_ops.training_hooks == []
    assert model_fn_ops.training_chief_hooks == []
    assert model_fn_ops.summaries == {}
    assert model_fn_ops.loss is None and model_fn_ops.train_op is None
    assert model_fn_ops.output_alternatives is None
    assert ModelFnOps._fields[-2:] == ("mode", "summaries")


def test_eval_metric_ops_must_be_a_dict():
    with pytest.raises(ValueError, match="eval_metric_ops must be a dict"):
        ModelFnOps(mode=ModeKeys.INFER, predictions={}, eval_metric_ops=[1])


def test_hooks_must_be_session_run_hooks():
    hook = _Hook()
    model_fn_ops = ModelFnOps(mode=ModeKeys.INFER, predictions={},
                              training_hooks=[hook],
                              training_chief_hooks=(hook,))
    assert model_fn_ops.training_chief_hooks == [hook]
    for field in ("training_hooks", "training_chief_hooks"):
        with pytest.raises(TypeError, match="must be SessionRunHook"):
            ModelFnOps(mode=ModeKeys.INFER, predictions={}, **{field: [1]})


def test_tensorflow_session_run_hooks_are_accepted():
    import tensorflow as tf

    hook = tf.compat.v1.train.SessionRunHook()
    ModelFnOps(mode=ModeKeys.INFER, predictions={}, training_hooks=[hook])


def test_replace_validates_again():
    model_fn_ops = ModelFnOps(mode=ModeKeys.EVAL, loss=1.0, predictions={})
    assert model_fn_ops._replace(training_hooks=[_Hook()]).mode == "eval"
    with pytest.raises(ValueError, match="Missing loss"):
        model_fn_ops._replace(loss=None)


def test_no_op_train_fn_ignores_the_loss():
    assert learn.no_op_train_fn(3.0) is NO_OP


@only_on("tensorflow", why="a tf.no_op inside a tf.function's graph")
def test_no_op_train_fn_is_a_tf_no_op_in_a_graph():
    import tensorflow as tf

    @tf.function
    def build():
        op = learn.no_op_train_fn(tf.constant(1.0))
        assert isinstance(op, tf.Operation) and op.type == "NoOp"
        return tf.constant(0)

    build()


# --- estimator_spec ----------------------------------------------------------


def _spec(mode=ModeKeys.INFER, alternatives=None, key=None, **kwargs):
    fields = dict(predictions={"scores": SCORES}, loss=1.0, train_op=NO_OP)
    fields.update(kwargs)
    return ModelFnOps(mode=mode, output_alternatives=alternatives,
                      **fields).estimator_spec(key)


@pytest.mark.parametrize("mode, core_mode", [
    (ModeKeys.TRAIN, "train"), (ModeKeys.EVAL, "eval"),
    (ModeKeys.INFER, keras_heads.ModeKeys.PREDICT)])
def test_estimator_spec_mode(mode, core_mode):
    spec = _spec(mode)
    assert isinstance(spec, keras_heads.EstimatorSpec)
    assert spec.mode == core_mode


def test_estimator_spec_carries_the_fields():
    hook = _Hook()
    spec = _spec(ModeKeys.TRAIN, training_hooks=[hook],
                 summaries={"loss": 1.0}, scaffold="scaffold")
    assert spec.training_hooks == (hook,)
    assert spec.summaries == {"loss": 1.0}
    assert spec.scaffold == "scaffold"
    assert spec.train_op is NO_OP
    assert float(numpy(spec.loss)) == 1.0


def test_estimator_spec_drops_the_loss_metric():
    metrics = {"loss": "m1", "loss/head": "m2", "accuracy": "m3"}
    spec = _spec(ModeKeys.EVAL, eval_metric_ops=metrics)
    assert spec.eval_metric_ops == {"loss/head": "m2", "accuracy": "m3"}
    # TRAIN: an Estimator reads no eval metrics.
    assert _spec(ModeKeys.TRAIN, eval_metric_ops=metrics).eval_metric_ops == {}


def test_regression_alternative_uses_scores_or_probabilities():
    spec = _spec(alternatives={
        "head": (ProblemType.LINEAR_REGRESSION, {"scores": SCORES})})
    output = spec.export_outputs["head"]
    assert isinstance(output, keras_heads.RegressionOutput)
    np.testing.assert_array_equal(numpy(output.value), SCORES)
    assert spec.export_outputs["serving_default"] is output
    spec = _spec(alternatives={
        "head": (ProblemType.LINEAR_REGRESSION, {"probabilities": SCORES})})
    np.testing.assert_array_equal(
        numpy(spec.export_outputs["head"].value), SCORES)
    with pytest.raises(ValueError, match="neither 'scores' nor"):
        _spec(alternatives={
            "head": (ProblemType.LINEAR_REGRESSION, {"logits": SCORES})})


@pytest.mark.parametrize("problem_type", [ProblemType.CLASSIFICATION,
                                          ProblemType.LOGISTIC_REGRESSION])
def test_classification_alternatives_keep_only_string_classes(problem_type):
    classes = keras_heads.backend.convert_strings([[b"0", b"1"]] * 2)
    probabilities = np.array([[0.3, 0.7], [0.6, 0.4]], "float32")
    spec = _spec(alternatives={"head": (problem_type, {
        "probabilities": probabilities, "classes": classes})})
    output = spec.export_outputs["head"]
    assert isinstance(output, keras_heads.ClassificationOutput)
    np.testing.assert_array_equal(numpy(output.scores), probabilities)
    assert output.classes is classes
    spec = _spec(alternatives={"head": (problem_type, {
        "probabilities": probabilities, "classes": np.array([1, 0])})})
    assert spec.export_outputs["head"].classes is None
    with pytest.raises(ValueError, match="cannot become a "
                                         "ClassificationOutput"):
        _spec(alternatives={"head": (problem_type, {
            "logits": SCORES, "classes": np.array([1, 0])})})


def test_unspecified_alternative_is_a_predict_output():
    spec = _spec(alternatives={
        "head": (ProblemType.UNSPECIFIED, {"scores": SCORES})})
    output = spec.export_outputs["head"]
    assert isinstance(output, keras_heads.PredictOutput)
    assert list(output.outputs) == ["scores"]


def test_unknown_problem_type_is_rejected():
    with pytest.raises(ValueError, match="Unknown problem_type=7"):
        _spec(alternatives={"head": (7, {"scores": SCORES})})


def test_several_alternatives_need_a_default_key():
    alternatives = {
        "a": (ProblemType.LINEAR_REGRESSION, {"scores": SCORES}),
        "b": (ProblemType.UNSPECIFIED, {"scores": SCORES}),
    }
    spec = _spec(alternatives=alternatives, key="b")
    assert sorted(spec.export_outputs) == ["a", "b", "serving_default"]
    assert isinstance(spec.export_outputs["serving_default"],
                      keras_heads.PredictOutput)
    with pytest.raises(ValueError,
                       match="default_serving_output_alternative_key"):
        _spec(alternatives=alternatives)
    with pytest.raises(ValueError, match="Given: 'c'"):
        _spec(alternatives=alternatives, key="c")


def test_an_alternative_keyed_serving_default_needs_no_key():
    alternatives = {
        "serving_default": (ProblemType.LINEAR_REGRESSION, {"scores": SCORES}),
        "b": (ProblemType.UNSPECIFIED, {"scores": SCORES}),
    }
    spec = _spec(alternatives=alternatives)
    assert sorted(spec.export_outputs) == ["b", "serving_default"]
    assert isinstance(spec.export_outputs["serving_default"],
                      keras_heads.RegressionOutput)


def test_no_alternatives_export_the_predictions_in_predict_mode():
    spec = _spec()
    assert list(spec.export_outputs) == ["serving_default"]
    assert isinstance(spec.export_outputs["serving_default"],
                      keras_heads.PredictOutput)
    assert _spec(ModeKeys.EVAL).export_outputs is None
