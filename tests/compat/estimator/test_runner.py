import os

import numpy as np
import pytest

from tests.backends import only_on

pytestmark = only_on(
    "tensorflow", why="the Estimator runner traces model_fn with tf.function"
)


def _estimator(model_fn, tmp_path, **kwargs):
    from keras_heads.compat.estimator import Estimator

    return Estimator(model_fn, model_dir=str(tmp_path / "model"), **kwargs)


def test_training_lowers_the_loss_and_writes_a_checkpoint(
        binary_model_fn, input_fn, tmp_path):
    estimator = _estimator(binary_model_fn, tmp_path)
    before = estimator.evaluate(input_fn())
    estimator.train(input_fn(repeat=True), steps=60)
    after = estimator.evaluate(input_fn())
    assert before["global_step"] == 0 and after["global_step"] == 60
    assert after["loss"] < 0.6 * before["loss"]
    assert after["accuracy"] > 0.9
    assert os.path.basename(estimator.latest_checkpoint()) == "model.ckpt-60"


def test_evaluate_returns_the_heads_metrics_the_loss_and_the_step(
        binary_model_fn, input_fn, tmp_path):
    estimator = _estimator(binary_model_fn, tmp_path)
    estimator.train(input_fn(repeat=True), steps=5)
    results = estimator.evaluate(input_fn(batch_size=64))
    assert sorted(results) == sorted([
        "accuracy", "accuracy_baseline", "auc", "auc_precision_recall",
        "average_loss", "global_step", "label/mean", "loss",
        "prediction/mean", "precision", "recall",
    ])
    # Four batches of 64 and a mean per example: the mean of batch means.
    assert results["loss"] == pytest.approx(results["average_loss"], rel=1e-5)
    # Evaluating again starts from fresh metrics.
    again = estimator.evaluate(input_fn(batch_size=64), steps=1)
    first = estimator.evaluate(input_fn(batch_size=64), steps=1)
    assert again["label/mean"] == first["label/mean"]


def test_a_new_estimator_restores_the_checkpoint(
        binary_model_fn, input_fn, tmp_path):
    trained = _estimator(binary_model_fn, tmp_path)
    trained.train(input_fn(repeat=True), steps=20)
    restored = _estimator(binary_model_fn, tmp_path)
    assert restored.evaluate(input_fn())["loss"] == pytest.approx(
        trained.evaluate(input_fn())["loss"])
    restored.train(input_fn(repeat=True), steps=5)
    assert restored.get_variable_value("global_step") == 25


def test_max_steps_counts_from_the_global_step(
        binary_model_fn, input_fn, tmp_path):
    estimator = _estimator(binary_model_fn, tmp_path)
    estimator.train(input_fn(repeat=True), max_steps=7)
    estimator.train(input_fn(repeat=True), max_steps=7)  # nothing left to do
    estimator.train(input_fn(repeat=True), max_steps=10)
    assert estimator.get_variable_value("global_step") == 10


def test_training_stops_when_the_data_runs_out(
        binary_model_fn, input_fn, tmp_path):
    estimator = _estimator(binary_model_fn, tmp_path)
    estimator.train(input_fn(batch_size=64), steps=100)  # 4 batches
    assert estimator.get_variable_value("global_step") == 4


def test_checkpoints_hold_the_model_and_optimizer_but_not_metric_state(
        binary_model_fn, input_fn, tmp_path):
    estimator = _estimator(binary_model_fn, tmp_path)
    estimator.evaluate(input_fn())
    estimator.train(input_fn(repeat=True), steps=2)
    names = estimator.get_variable_names()
    assert {"kernel", "bias", "kernel_1", "bias_1", "global_step",
            "iteration"} <= set(names)
    assert not {"total", "count", "true_positives"} & set(names)
    assert estimator.get_variable_value("kernel").shape == (4, 8)
    with pytest.raises(ValueError, match="'nope' is not in the checkpoint"):
        estimator.get_variable_value("nope")


def test_predict_yields_examples_or_batches(binary_model_fn, input_fn,
                                            tmp_path, data):
    estimator = _estimator(binary_model_fn, tmp_path)
    estimator.train(input_fn(repeat=True), steps=30)
    examples = list(estimator.predict(input_fn(batch_size=100, labels=False)))
    assert len(examples) == len(data[0])
    assert examples[0]["probabilities"].shape == (2,)
    batches = list(estimator.predict(
        input_fn(batch_size=100), predict_keys=["class_ids"],
        yield_single_examples=False))
    assert [b["class_ids"].shape for b in batches] == [(100, 1), (100, 1),
                                                        (56, 1)]
    class_ids = np.concatenate([b["class_ids"] for b in batches])
    np.testing.assert_array_equal(
        class_ids[:, 0], [e["class_ids"][0] for e in examples])
    assert np.mean(class_ids == data[1]) == pytest.approx(
        estimator.evaluate(input_fn())["accuracy"])
    with pytest.raises(ValueError, match=r"\['nope'\] are not in the "
                       "predictions"):
        next(estimator.predict(input_fn(), predict_keys=["nope"]))


def test_a_tf1_optimizer_advances_the_global_step_itself(input_fn, tmp_path):
    import keras
    import tensorflow as tf

    import keras_heads

    def model_fn(features, labels, mode):
        logits = keras.layers.Dense(1)(features["x"])

        def train_op_fn(loss):
            return tf.compat.v1.train.GradientDescentOptimizer(0.5).minimize(
                loss, global_step=tf.compat.v1.train.get_global_step())

        return keras_heads.BinaryClassHead().create_estimator_spec(
            features, mode, logits, labels, train_op_fn=train_op_fn)

    estimator = _estimator(model_fn, tmp_path)
    estimator.train(input_fn(repeat=True), steps=40)
    assert estimator.get_variable_value("global_step") == 40  # not 80
    assert estimator.evaluate(input_fn())["accuracy"] > 0.9


def test_model_fn_gets_params_and_config_when_it_declares_them(
        input_fn, tmp_path):
    import keras

    import keras_heads
    from keras_heads.compat.estimator import RunConfig

    seen = {}

    def model_fn(features, labels, mode, config, params):
        seen.update(params=params, model_dir=config.model_dir)
        logits = keras.layers.Dense(1)(features["x"])
        return keras_heads.BinaryClassHead().create_estimator_spec(
            features, mode, logits, labels, train_op_fn=lambda loss: None)

    estimator = _estimator(
        model_fn, tmp_path, params={"units": 3},
        config=RunConfig(save_summary_steps=1))
    estimator.train(input_fn(repeat=True), steps=1)
    assert seen == {"params": {"units": 3},
                    "model_dir": str(tmp_path / "model")}


def test_one_batch_input_fns_repeat_in_training_and_are_read_once_else(
        binary_model_fn, data, tmp_path):
    features, labels = data
    estimator = _estimator(binary_model_fn, tmp_path)

    def input_fn():
        return {"x": features[:32]}, labels[:32]

    estimator.train(input_fn, steps=3)
    assert estimator.get_variable_value("global_step") == 3
    assert len(list(estimator.predict(input_fn))) == 32
    with pytest.raises(ValueError, match="would never stop"):
        estimator.train(input_fn)


def test_bad_arguments_say_what_is_wrong(binary_model_fn, input_fn, tmp_path):
    from keras_heads.compat.estimator import Estimator

    with pytest.raises(ValueError, match="argument named `features`"):
        Estimator(lambda x, mode: None)
    with pytest.raises(ValueError, match="model_dir='a' and config.model_dir"):
        from keras_heads.compat.estimator import RunConfig

        Estimator(binary_model_fn, model_dir="a",
                  config=RunConfig(model_dir="b"))
    estimator = _estimator(binary_model_fn, tmp_path)
    with pytest.raises(ValueError, match="both steps and max_steps"):
        estimator.train(input_fn(), steps=1, max_steps=1)
    with pytest.raises(ValueError, match="steps > 0, given: 0"):
        estimator.train(input_fn(), steps=0)
    with pytest.raises(ValueError, match="TF1 session hooks"):
        estimator.train(input_fn(), steps=1, hooks=[object()])


def test_model_fn_must_return_a_spec_of_its_mode(input_fn, tmp_path):
    import keras_heads

    estimator = _estimator(lambda features, labels, mode: 42, tmp_path)
    with pytest.raises(ValueError, match="EstimatorSpec or a ModelFnOps; got "
                       "int"):
        estimator.evaluate(input_fn())

    def wrong_mode(features, labels, mode):
        return keras_heads.EstimatorSpec(
            mode="infer", predictions={"x": features["x"]})

    with pytest.raises(ValueError, match="mode='eval' but returned a spec of "
                       "mode='infer'"):
        _estimator(wrong_mode, tmp_path).evaluate(input_fn())


def test_training_summaries_are_written_to_model_dir(
        binary_model_fn, input_fn, tmp_path):
    from keras_heads.compat.estimator import RunConfig

    estimator = _estimator(binary_model_fn, tmp_path,
                           config=RunConfig(save_summary_steps=2))
    estimator.train(input_fn(repeat=True), steps=4)
    estimator.evaluate(input_fn())
    assert any(name.startswith("events")
               for name in os.listdir(tmp_path / "model"))
    assert any(name.startswith("events")
               for name in os.listdir(tmp_path / "model" / "eval"))


def test_model_fn_ops_run_and_their_output_alternatives_only_serve(
        input_fn, data, tmp_path):
    import keras
    import tensorflow as tf

    from keras_heads.compat import learn
    from keras_heads.compat.estimator import (
        build_raw_serving_input_receiver_fn,
    )

    def model_fn(features, labels, mode):
        # An SVM head's output alternative cannot be exported; it still
        # trains and evaluates, since only PREDICT uses alternatives.
        head = learn.binary_svm_head()
        logits = keras.layers.Dense(1)(features["x"])
        optimizer = tf.compat.v1.train.GradientDescentOptimizer(0.1)
        return head.create_model_fn_ops(
            features=features, labels=labels, mode=mode, logits=logits,
            train_op_fn=lambda loss: optimizer.minimize(loss))

    estimator = _estimator(model_fn, tmp_path)
    before = estimator.evaluate(input_fn())
    estimator.train(input_fn(repeat=True), steps=30)
    after = estimator.evaluate(input_fn())
    assert sorted(after) == ["accuracy", "global_step", "loss"]
    assert after["loss"] < before["loss"]

    def multi_model_fn(features, labels, mode):
        head = learn.multi_head([
            learn.multi_class_head(n_classes=3, label_name="kind",
                                   head_name="kind"),
            learn.regression_head(label_name="size", head_name="size"),
        ])
        logits = keras.layers.Dense(head.logits_dimension)(features["x"])
        return head.create_model_fn_ops(
            features=features, labels=labels, mode=mode, logits=logits,
            train_op_fn=learn.no_op_train_fn)

    multi = _estimator(multi_model_fn, tmp_path / "multi")
    multi.train(lambda: ({"x": data[0]},
                         {"kind": data[1], "size": data[0][:, :1]}),
                steps=1)
    path = multi.export_saved_model(
        str(tmp_path / "export"),
        build_raw_serving_input_receiver_fn({"x": data[0]}))
    served = tf.saved_model.load(path.decode())
    assert sorted(served.signatures) == ["kind", "serving_default", "size"]
    default = served.signatures["serving_default"](x=tf.constant(data[0][:2]))
    kind = served.signatures["kind"](x=tf.constant(data[0][:2]))
    np.testing.assert_array_equal(default["scores"], kind["scores"])


def test_tf1_metric_pairs_are_refused_with_what_to_do_instead(
        input_fn, tmp_path):
    import keras
    import tensorflow as tf

    import keras_heads

    def model_fn(features, labels, mode):
        logits = keras.layers.Dense(1)(features["x"])
        spec = keras_heads.BinaryClassHead().create_estimator_spec(
            features, mode, logits, labels, train_op_fn=lambda loss: None)
        if mode != "eval":
            return spec
        pair = (tf.reduce_mean(logits), tf.no_op())
        return spec._replace(eval_metric_ops={"mean_logit": pair})

    with pytest.raises(ValueError, match=r"eval_metric_ops\['mean_logit'\] is "
                       "a tuple.*keras.metrics.Mean"):
        _estimator(model_fn, tmp_path).evaluate(input_fn())


def test_warm_start_takes_the_variables_but_not_the_step(
        binary_model_fn, input_fn, tmp_path):
    from keras_heads.compat.estimator import Estimator

    trained = _estimator(binary_model_fn, tmp_path)
    trained.train(input_fn(repeat=True), steps=20)
    warm = Estimator(binary_model_fn, model_dir=str(tmp_path / "warm"),
                     params={"learning_rate": 0.0},
                     warm_start_from=trained.model_dir)
    warm.train(input_fn(repeat=True), steps=1)
    assert warm.get_variable_value("global_step") == 1
    np.testing.assert_allclose(warm.get_variable_value("kernel"),
                               trained.get_variable_value("kernel"))
