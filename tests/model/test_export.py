"""`HeadModel.export`: a SavedModel with the head's serving signatures that
a fresh TensorFlow process loads and runs to the same predictions as
`HeadModel.predict`."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import keras_heads as kh
from tests import backends

N = 32

exports = backends.only_on(
    "tensorflow", "jax",
    why="Keras traces a PyTorch model into a SavedModel only with torch_xla",
)

# Runs in a fresh process, with TensorFlow and NumPy only: every signature of
# the SavedModel called on the features, outputs saved as `<sig>::<output>`.
_SERVE = """
import sys
import numpy as np
import tensorflow as tf

path, inputs, out = sys.argv[1:]
features = {k: tf.constant(v) for k, v in np.load(inputs).items()}
loaded = tf.saved_model.load(path)
results = {}
for name, signature in loaded.signatures.items():
    for key, value in signature(**features).items():
        value = value.numpy()
        results[name + "::" + key] = (
            value.astype("S") if value.dtype == object else value)
np.savez(out, **results)
"""


def _env():
    return dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="2")


def _served(path, features, tmp_path):
    """`{signature: {output: array}}` from the SavedModel, loaded anew."""
    inputs, out = tmp_path / "inputs.npz", tmp_path / "served.npz"
    np.savez(inputs, **features)
    subprocess.run(
        [sys.executable, "-c", _SERVE, path, str(inputs), str(out)],
        env=_env(), check=True, capture_output=True, timeout=120,
    )
    served = {}
    with np.load(out) as arrays:
        for key in arrays.files:
            name, output = key.split("::")
            served.setdefault(name, {})[output] = arrays[key]
    return served


def _saved_model_cli(path):
    """`saved_model_cli show --all`, started: `.communicate()` its listing."""
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    return subprocess.Popen(
        [cli, "show", "--all", "--dir", path], env=_env(), text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def _data():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(N, 4)).astype("float32")
    return x, x @ rng.normal(size=(4, 3)).astype("float32")


def _functional(outputs):
    inputs = keras.Input((4,), name="x")
    if isinstance(outputs, dict):
        logits = {name: keras.layers.Dense(units, name=name)(inputs)
                  for name, units in outputs.items()}
    else:
        logits = keras.layers.Dense(outputs)(inputs)
    return keras.Model({"x": inputs}, logits)


def _trained(network, head, features, labels):
    model = kh.HeadModel(network, head)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.05))
    model.fit(features, labels, batch_size=8, epochs=2, verbose=0)
    return model


def _case(family):
    """`(model, features, {signature: {output: prediction key}})`: the
    reference's layout, written out by hand."""
    keras.utils.set_random_seed(0)
    x, score = _data()
    features = {"x": x}
    if family == "binary":
        head = kh.BinaryClassHead(label_vocabulary=["no", "yes"])
        labels = np.where(score[:, :1] > 0, "yes", "no")
        model = _trained(_functional(1), head, features, labels)
        classification = {"classes": "all_classes", "scores": "probabilities"}
        layout = {
            "serving_default": classification,
            "classification": classification,
            "regression": {"outputs": "logistic"},
            "predict": _identity(model, features),
        }
        return model, features, layout
    if family == "regression":
        head = kh.RegressionHead(label_dimension=2)
        model = _trained(_functional(2), head, features, score[:, :2])
        regression = {"outputs": "predictions"}
        layout = {
            "serving_default": regression,
            "regression": regression,
            "predict": _identity(model, features),
        }
        return model, features, layout
    assert family == "multi_head"
    head = kh.MultiHead([
        kh.MultiClassHead(3, name="kind", label_vocabulary=["a", "b", "c"]),
        kh.RegressionHead(name="size"),
    ])
    labels = {"kind": np.array(["a", "b", "c"])[score.argmax(1)][:, None],
              "size": score[:, :1]}
    model = _trained(_functional({"kind": 3, "size": 1}), head, features,
                     labels)
    keys = _identity(model, features)  # `(head, key)`
    kind = {"classes": ("kind", "all_classes"),
            "scores": ("kind", "probabilities")}
    size = {"outputs": ("size", "predictions")}
    layout = {
        "serving_default": kind,  # the first head's
        "kind": kind,
        "kind/classification": kind,
        "kind/predict": {k[1]: k for k in keys.values() if k[0] == "kind"},
        "size": size,
        "size/regression": size,
        "size/predict": {k[1]: k for k in keys.values() if k[0] == "size"},
        "predict": {"/".join(k): k for k in keys.values()},
    }
    return model, features, layout


def _identity(model, features):
    return {key: key for key in model.predict(features, verbose=0)}


def _assert_serves(served, predictions, layout):
    assert sorted(served) == sorted(layout)
    for name, outputs in layout.items():
        assert sorted(served[name]) == sorted(outputs), name
        for output, key in outputs.items():
            got, want = served[name][output], predictions[key]
            where = f"{name}::{output}"
            if want.dtype == object:
                assert got.dtype.kind == "S", where
                np.testing.assert_array_equal(got, want.astype("S"), where)
            elif want.dtype.kind in "iu":
                assert got.dtype.kind in "iu", where
                np.testing.assert_array_equal(got, want, where)
            else:
                np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6,
                                           err_msg=where)


SIGNATURES = {
    "binary": {"serving_default", "classification", "regression", "predict"},
    "regression": {"serving_default", "regression", "predict"},
    "multi_head": {"serving_default", "predict", "kind", "kind/classification",
                   "kind/predict", "size", "size/regression", "size/predict"},
}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """`exported(family)`: `(model, features, layout, listing, served)`:
    each family trained, exported, listed by `saved_model_cli` and served
    once per module."""
    cache = {}

    def export(family):
        if family not in cache:
            model, features, layout = _case(family)
            tmp_path = tmp_path_factory.mktemp(family)
            path = str(tmp_path / "sm")
            model.export(path, verbose=False)
            cli = _saved_model_cli(path)  # Runs beside the serving process.
            served = _served(path, features, tmp_path)
            listing, errors = cli.communicate(timeout=120)
            assert cli.returncode == 0, errors
            cache[family] = model, features, layout, listing, served
        return cache[family]

    return export


@exports
@pytest.mark.parametrize("family", sorted(SIGNATURES))
def test_saved_model_has_the_head_signatures(family, exported):
    _, _, layout, listing, served = exported(family)
    assert set(layout) == SIGNATURES[family]
    assert set(served) == SIGNATURES[family]
    for name in SIGNATURES[family]:
        assert f"signature_def['{name}']" in listing, name
        assert f"signature_def['{name}']:\n" \
            "  The given SavedModel SignatureDef contains the following " \
            "input(s):\n    inputs['x'] tensor_info:" in listing, name


@exports
@pytest.mark.parametrize("family", sorted(SIGNATURES))
def test_fresh_process_serves_what_predict_returns(family, exported):
    model, features, layout, _, served = exported(family)
    _assert_serves(served, model.predict(features, verbose=0), layout)


@exports
def test_classification_signature_serves_every_class_name(exported):
    _, _, _, _, served = exported("multi_head")
    for name in ("serving_default", "kind", "kind/classification"):
        classes, scores = served[name]["classes"], served[name]["scores"]
        assert classes.shape == scores.shape == (N, 3)
        assert (classes == np.array([b"a", b"b", b"c"])).all(), name
        np.testing.assert_allclose(scores.sum(axis=1), 1.0, rtol=1e-5)
    assert served["size/regression"]["outputs"].shape == (N, 1)
    # The served class is the top-scoring name.
    top = served["kind/classification"]["scores"].argmax(axis=1)
    np.testing.assert_array_equal(
        served["kind/predict"]["classes"][:, 0],
        np.array([b"a", b"b", b"c"])[top],
    )
    _, _, _, _, served = exported("binary")
    assert (served["classification"]["classes"] == [b"no", b"yes"]).all()
    np.testing.assert_allclose(served["regression"]["outputs"][:, 0],
                               served["classification"]["scores"][:, 1],
                               rtol=1e-6)


class SubclassedNetwork(keras.Model):
    """A network that is not functional: export cannot read its inputs."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(1)

    def call(self, features):
        return self.dense(features["x"])


@exports
def test_subclassed_network_needs_an_input_signature(tmp_path):
    keras.utils.set_random_seed(0)
    x, score = _data()
    features, labels = {"x": x}, (score[:, :1] > 0).astype("float32")
    model = _trained(SubclassedNetwork(), kh.BinaryClassHead(), features,
                     labels)
    path = str(tmp_path / "sm")
    with pytest.raises(ValueError, match="input_signature"):
        model.export(path, verbose=False)
    assert not os.path.exists(path)

    model.export(path, verbose=False, input_signature={
        "x": keras.InputSpec(shape=(None, 4), dtype="float32")})
    served = _served(path, features, tmp_path)
    assert set(served) == SIGNATURES["binary"]
    predictions = model.predict(features, verbose=0)
    np.testing.assert_allclose(served["predict"]["logits"],
                               predictions["logits"], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(served["predict"]["classes"],
                                  predictions["classes"].astype("S"))


@exports
def test_functional_network_of_one_tensor_serves_it_by_name(tmp_path):
    keras.utils.set_random_seed(0)
    x, score = _data()
    inputs = keras.Input((4,), name="x")
    network = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    features = {"x": x, "w": np.ones((N, 1), "float32")}
    model = _trained(network, kh.RegressionHead(weight_column="w"), features,
                     score[:, :1])
    path = str(tmp_path / "sm")
    model.export(path, verbose=False)
    served = _served(path, {"x": x}, tmp_path)
    np.testing.assert_allclose(
        served["regression"]["outputs"],
        model.predict(features, verbose=0)["predictions"], rtol=1e-5,
        atol=1e-6)


@exports
def test_sequential_network_serves_its_input_as_features(tmp_path):
    keras.utils.set_random_seed(0)
    x, score = _data()
    network = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model = _trained(network, kh.RegressionHead(label_dimension=2), x,
                     score[:, :2])
    path = str(tmp_path / "sm")
    model.export(path, verbose=False)
    served = _served(path, {"features": x}, tmp_path)
    np.testing.assert_allclose(
        served["regression"]["outputs"],
        model.predict(x, verbose=0)["predictions"], rtol=1e-5, atol=1e-6)


@exports
def test_dict_inputs_are_served_under_the_network_keys(tmp_path):
    keras.utils.set_random_seed(0)
    x, score = _data()
    inputs = keras.Input((4,), name="raw_x")
    with pytest.warns(UserWarning, match="must match the names"):
        network = keras.Model({"x": inputs}, keras.layers.Dense(1)(inputs))
    model = _trained(network, kh.RegressionHead(), {"x": x}, score[:, :1])
    path = str(tmp_path / "sm")
    model.export(path, verbose=False)
    served = _served(path, {"x": x}, tmp_path)
    np.testing.assert_allclose(
        served["predict"]["predictions"],
        model.predict({"x": x}, verbose=0)["predictions"], rtol=1e-5,
        atol=1e-6)


@backends.only_on("torch", why="the other backends export")
def test_torch_export_says_which_backends_can(tmp_path):
    model, _, _ = _case("regression")
    with pytest.raises(ValueError, match="tensorflow and jax.*torch_xla"):
        model.export(str(tmp_path / "sm"), verbose=False)
