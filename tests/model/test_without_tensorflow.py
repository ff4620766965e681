"""An install without TensorFlow (`keras-heads[jax]`, `keras-heads[torch]`):
everything but the SavedModel runs, and `HeadModel.export` says what to
install instead of failing on a bare `import tensorflow`.

TensorFlow is made absent by `sys.modules["tensorflow"] = None`, which makes
every `import tensorflow` fail as it does where the package is missing: in a
fresh process for a whole model, in this one (restored after) for the
function that imports it.
"""

import builtins
import json
import os
import subprocess
import sys

import pytest

from keras_heads import backend
from tests import backends

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

# Trains, predicts and exports a HeadModel with TensorFlow absent; prints
# what export raised as JSON.
_WITHOUT_TENSORFLOW = """
import json, sys
sys.modules["tensorflow"] = None

import keras
import numpy as np
import keras_heads

inputs = keras.Input((2,), name="x")
network = keras.Model({"x": inputs}, keras.layers.Dense(3)(inputs))
model = keras_heads.HeadModel(
    network, keras_heads.MultiClassHead(3, label_vocabulary=["a", "b", "c"]))
model.compile(optimizer="sgd")
features = {"x": np.random.default_rng(0).normal(size=(8, 2)).astype("float32")}
labels = np.array(["a", "b", "c", "a", "b", "c", "a", "b"])[:, None]
model.fit(features, labels, batch_size=4, verbose=0)
classes = model.predict(features, verbose=0)["classes"]
try:
    model.export(sys.argv[1], verbose=False)
    error = None
except Exception as e:
    error = {"types": [t.__name__ for t in type(e).__mro__],
             "name": getattr(e, "name", None), "message": str(e)}
print(json.dumps({
    "backend": keras.backend.backend(),
    "classes": [c.decode() for c in classes[:, 0]],
    "tensorflow_loaded": sys.modules.get("tensorflow") is not None,
    "error": error,
}))
"""


def _run_without_tensorflow(tmp_path):
    env = dict(os.environ, KERAS_BACKEND=backends.BACKEND,
               CUDA_VISIBLE_DEVICES="", JAX_PLATFORMS="cpu",
               PYTHONPATH=os.pathsep.join(
                   p for p in (ROOT, os.environ.get("PYTHONPATH")) if p))
    path = tmp_path / "saved_model"
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_TENSORFLOW, str(path)], env=env,
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["backend"] == backends.BACKEND
    assert not result["tensorflow_loaded"]
    assert not path.exists()
    return result


@backends.only_on("jax", why="the one backend that exports a SavedModel "
                  "and runs without TensorFlow")
def test_export_without_tensorflow_says_what_to_install(tmp_path):
    result = _run_without_tensorflow(tmp_path)
    assert all(c in {"a", "b", "c"} for c in result["classes"])
    error = result["error"]
    assert error is not None, "export succeeded without TensorFlow"
    assert "ModuleNotFoundError" in error["types"]
    assert error["types"][0] == "TensorFlowNotInstalledError"
    assert error["name"] == "tensorflow"
    message = error["message"]
    assert "HeadModel.export(format='tf_saved_model') (a SavedModel) " \
        "needs TensorFlow, which is not installed" in message, message
    assert "`pip install keras-heads[tensorflow]`" in message, message
    assert "the jax backend" in message, message


@backends.only_on("torch", why="the backend that exports no SavedModel")
def test_torch_export_says_it_needs_another_backend_not_tensorflow(tmp_path):
    # Installing TensorFlow would not help: the error says what would.
    result = _run_without_tensorflow(tmp_path)
    assert all(c in {"a", "b", "c"} for c in result["classes"])
    error = result["error"]
    assert error is not None, "export succeeded on torch"
    assert error["types"][0] == "ValueError"
    assert "works on the tensorflow and jax backends" in error["message"]


def test_require_tensorflow_names_the_purpose_and_the_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow", None)
    with pytest.raises(ModuleNotFoundError) as raised:
        backend.require_tensorflow("Writing a thing")
    assert isinstance(raised.value, backend.TensorFlowNotInstalledError)
    assert raised.value.name == "tensorflow"
    message = str(raised.value)
    assert message.startswith("Writing a thing needs TensorFlow, which is "
                              "not installed"), message
    assert "pip install keras-heads[tensorflow]" in message
    assert "pip install tensorflow" in message


def test_a_broken_tensorflow_install_keeps_its_own_error(monkeypatch):
    # TensorFlow is there, but a module it imports is not: that error, not
    # "install TensorFlow", says what is wrong.
    real_import = builtins.__import__

    def failing_import(name, *args, **kwargs):
        if name == "tensorflow":
            raise ModuleNotFoundError("No module named 'tensorflow.lite'",
                                      name="tensorflow.lite")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", failing_import)
    with pytest.raises(ModuleNotFoundError) as raised:
        backend.require_tensorflow("Writing a thing")
    assert not isinstance(raised.value, backend.TensorFlowNotInstalledError)
    assert raised.value.name == "tensorflow.lite"


@backends.only_on("tensorflow", "jax", why="SavedModel export")
def test_require_tensorflow_returns_the_module():
    import tensorflow as tf

    assert backend.require_tensorflow("Writing a thing") is tf
