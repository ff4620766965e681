"""Every head round-trips through JSON with Keras' serialization and then
computes what the original computes."""

import json

import keras
import numpy as np
import pytest

import keras_heads as kh
from tests import backends


@keras.saving.register_keras_serializable(package="keras_heads_tests")
def mean_abs_error(labels, logits):
    error = keras.ops.abs(keras.ops.cast(labels, "float32") - logits)
    return keras.ops.mean(error, axis=-1, keepdims=True)


@keras.saving.register_keras_serializable(package="keras_heads_tests")
def double(x):
    return 2.0 * x


HEADS = {
    "binary": lambda: kh.BinaryClassHead(
        weight_column=kh.numeric_column("w", normalizer_fn=double),
        thresholds=[0.3, 0.6], label_vocabulary=["no", "yes"],
        loss_reduction=kh.Reduction.SUM, name="spam",
    ),
    "multi_class": lambda: kh.MultiClassHead(
        3, weight_column="w", label_vocabulary=["a", "b", "c"], name="kind"
    ),
    "multi_label": lambda: kh.MultiLabelHead(
        3, thresholds=[0.4], classes_for_class_based_metrics=[0, 2],
        loss_fn=mean_abs_error,
    ),
    "regression": lambda: kh.RegressionHead(
        label_dimension=2, inverse_link_fn=double, weight_column="w",
        loss_reduction=kh.Reduction.SUM,
    ),
    "poisson": lambda: kh.PoissonRegressionHead(compute_full_loss=False),
    "logistic": lambda: kh.LogisticRegressionHead(name="rate"),
    "multi_head": lambda: kh.MultiHead(
        [kh.MultiClassHead(3, name="kind"), kh.RegressionHead(name="size")],
        head_weights=[1.0, 0.5],
    ),
    "sequential": lambda: kh.SequentialHeadWrapper(
        kh.BinaryClassHead(weight_column="w"), "mask", feature_columns=["w"]
    ),
}


def _round_trip(head):
    text = json.dumps(keras.saving.serialize_keras_object(head))
    return keras.saving.deserialize_keras_object(json.loads(text))


def _inputs(name, head):
    """`(features, logits, labels)` for one small batch."""
    rng = np.random.default_rng(0)
    w = rng.uniform(0.5, 2.0, size=(4, 1)).astype("float32")
    if name == "multi_head":
        logits = rng.normal(size=(4, 4)).astype("float32")
        labels = {"kind": np.array([[0], [2], [1], [2]]),
                  "size": rng.normal(size=(4, 1)).astype("float32")}
        return {"w": w}, logits, labels
    if name == "sequential":
        mask = np.array([[1, 1, 0], [1, 0, 0]], "int32")
        logits = rng.normal(size=(2, 3, 1)).astype("float32")
        labels = np.array([[[1], [0], [0]], [[1], [0], [0]]], "float32")
        return {"mask": mask, "w": rng.uniform(size=(2, 3)).astype(
            "float32")}, logits, labels
    logits = rng.normal(size=(4, head.logits_dimension)).astype("float32")
    labels = {
        "binary": np.array([["yes"], ["no"], ["no"], ["yes"]]),
        "multi_class": np.array([["a"], ["c"], ["b"], ["c"]]),
        "multi_label": np.array([[1, 0, 1], [0, 0, 1], [1, 1, 0], [0, 0, 0]]),
        "regression": rng.normal(size=(4, 2)).astype("float32"),
        "poisson": np.array([[0.0], [2.0], [1.0], [4.0]], "float32"),
        "logistic": rng.uniform(size=(4, 1)).astype("float32"),
    }[name]
    return {"w": w}, logits, labels


@pytest.mark.parametrize("name", sorted(HEADS))
def test_round_trip_keeps_the_config(name):
    head = HEADS[name]()
    restored = _round_trip(head)
    assert type(restored) is type(head)
    assert restored.get_config() == head.get_config()
    assert restored is not head


@pytest.mark.parametrize("name", sorted(HEADS))
def test_round_trip_computes_the_same_loss_predictions_and_metrics(name):
    head = HEADS[name]()
    restored = _round_trip(head)
    features, logits, labels = _inputs(name, head)

    def everything(h):
        spec = h.create_estimator_spec(
            features=features, mode="eval", logits=logits, labels=labels
        )
        values = {("loss",): spec.loss}
        values.update({("prediction", str(k)): v
                       for k, v in spec.predictions.items()})
        values.update({("metric", k): m.result()
                       for k, m in spec.eval_metric_ops.items()})
        return values

    want, got = everything(head), everything(restored)
    assert sorted(got) == sorted(want)
    for key, value in want.items():
        if kh.backend.is_string(value):
            assert (kh.backend.string_values(got[key]).tolist()
                    == kh.backend.string_values(value).tolist()), key
        else:
            np.testing.assert_allclose(
                backends.numpy(got[key]), backends.numpy(value), rtol=1e-6,
                err_msg=str(key),
            )


def test_config_is_plain_json_with_the_constructor_arguments():
    config = HEADS["binary"]().get_config()
    assert json.loads(json.dumps(config)) == config
    assert config["thresholds"] == [0.3, 0.6]
    assert config["label_vocabulary"] == ["no", "yes"]
    assert config["loss_reduction"] == "sum"
    assert config["weight_column"]["__numeric_column__"]["key"] == "w"


def test_unregistered_functions_fail_to_load_with_keras_error():
    head = kh.RegressionHead(inverse_link_fn=lambda x: x + 1.0)
    with pytest.warns(UserWarning, match="lambda"):
        config = keras.saving.serialize_keras_object(head)
    with pytest.raises(Exception, match="lambda|unsafe|safe_mode"):
        keras.saving.deserialize_keras_object(json.loads(json.dumps(config)))


# --- numeric weight columns ---------------------------------------------------


def _column(kind, normalizer_fn=None):
    """A numeric weight column `w`: keras-heads' own, or TensorFlow's
    (a namedtuple, so once serialized as a plain list)."""
    if kind == "keras_heads":
        return kh.numeric_column("w", normalizer_fn=normalizer_fn)
    tf = pytest.importorskip("tensorflow")
    return tf.feature_column.numeric_column(
        "w", default_value=1.0, dtype=tf.float32, normalizer_fn=normalizer_fn
    )


def _weighted_heads(kind):
    """`{name: (head, network outputs, labels)}`, each head weighted by a
    numeric column `w` doubled by its normalizer."""
    labels = np.array([[1], [0], [1], [0]])
    values = np.array([[0.5], [1.5], [-2.0], [3.0]], "float32")
    return {
        "single": (kh.BinaryClassHead(weight_column=_column(kind, double)),
                   1, labels),
        "multi_head": (
            kh.MultiHead([
                kh.BinaryClassHead(weight_column=_column(kind, double),
                                   name="click"),
                kh.RegressionHead(weight_column=_column(kind), name="dwell"),
            ], head_weights=[1.0, 0.5]),
            2, {"click": labels, "dwell": values},
        ),
    }


WEIGHTS = {"w": np.array([[1.0], [2.0], [0.5], [4.0]], "float32")}


@pytest.mark.parametrize("kind", ["keras_heads", "tensorflow"])
@pytest.mark.parametrize("name", ["single", "multi_head"])
def test_numeric_weight_column_round_trips_to_the_same_loss(kind, name):
    head, outputs, labels = _weighted_heads(kind)[name]
    restored = _round_trip(head)
    logits = np.random.default_rng(1).normal(size=(4, outputs)).astype(
        "float32"
    )
    for sub_head in getattr(restored, "heads", [restored]):
        column = sub_head._weight_column
        assert isinstance(column, kh.NumericColumn), type(column)
        assert column.key == "w"
    want = backends.numpy(head.loss(labels, logits, features=WEIGHTS))
    got = backends.numpy(restored.loss(labels, logits, features=WEIGHTS))
    np.testing.assert_allclose(got, want, rtol=1e-6)
    # The weights count: the same head without them gives another loss.
    unweighted = backends.numpy(head.loss(
        labels, logits, features={"w": np.ones((4, 1), "float32")}
    ))
    assert abs(float(unweighted) - float(want)) > 1e-3
    assert restored.get_config() == head.get_config()


def test_tensorflow_numeric_column_config_holds_its_fields():
    head = kh.BinaryClassHead(weight_column=_column("tensorflow", double))
    config = head.get_config()
    assert json.loads(json.dumps(config)) == config
    column = config["weight_column"]["__numeric_column__"]
    assert column["key"] == "w"
    assert column["dtype"] == "float32"
    assert column["default_value"] == [1.0]
    assert column["normalizer_fn"]["config"] == "keras_heads_tests>double"


@pytest.mark.parametrize("kind", ["keras_heads", "tensorflow"])
@pytest.mark.parametrize("name", ["single", "multi_head"])
def test_numeric_weight_column_survives_a_keras_file(tmp_path, kind, name):
    """A `HeadModel` saved to a `.keras` file and loaded evaluates to the
    same loss, weighted as before."""
    head, outputs, labels = _weighted_heads(kind)[name]
    keras.utils.set_random_seed(0)
    inputs = keras.Input((2,), name="x")
    network = keras.Model({"x": inputs}, keras.layers.Dense(outputs)(inputs))
    model = kh.HeadModel(network, head)
    model.compile(optimizer="sgd")
    features = dict(WEIGHTS, x=np.random.default_rng(2).normal(
        size=(4, 2)).astype("float32"))
    path = str(tmp_path / "model.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    evaluate = dict(verbose=0, return_dict=True)
    want = model.evaluate(features, labels, **evaluate)["loss"]
    got = restored.evaluate(features, labels, **evaluate)["loss"]
    np.testing.assert_allclose(got, want, rtol=1e-6)
    # One batch: the head's weighted loss of the network's logits.
    by_hand = head.loss(labels, model(features), features=features)
    np.testing.assert_allclose(want, backends.numpy(by_hand), rtol=1e-5)


def test_lambda_normalizer_warns_at_save_and_loads_only_when_unsafe():
    """Keras' rule for any lambda: a warning when saved; safe mode refuses
    to load it; `safe_mode=False` loads it."""
    head = kh.BinaryClassHead(
        weight_column=kh.numeric_column("w", normalizer_fn=lambda x: x * 3.0)
    )
    with pytest.warns(UserWarning, match="lambda"):
        config = json.loads(json.dumps(
            keras.saving.serialize_keras_object(head)
        ))
    with pytest.raises(ValueError, match="lambda"):
        keras.saving.deserialize_keras_object(config)
    restored = keras.saving.deserialize_keras_object(config, safe_mode=False)
    labels, logits = np.array([[1], [0], [1], [0]]), np.ones((4, 1), "float32")
    np.testing.assert_allclose(
        backends.numpy(restored.loss(labels, logits, features=WEIGHTS)),
        backends.numpy(head.loss(labels, logits, features=WEIGHTS)),
        rtol=1e-6,
    )


def _unregistered(x):
    return x * 3.0


def test_unregistered_normalizer_fails_to_load_naming_it():
    head = kh.BinaryClassHead(
        weight_column=kh.numeric_column("w", normalizer_fn=_unregistered)
    )
    config = json.loads(json.dumps(keras.saving.serialize_keras_object(head)))
    with pytest.raises(TypeError, match="Could not locate function "
                                        "'_unregistered'"):
        keras.saving.deserialize_keras_object(config)
