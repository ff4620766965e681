import os

import numpy as np
import pytest

from tests.backends import only_on

pytestmark = only_on(
    "tensorflow", why="the Estimator runner traces model_fn with tf.function"
)


@pytest.fixture
def trained(binary_model_fn, input_fn, tmp_path):
    from keras_heads.compat.estimator import Estimator

    estimator = Estimator(binary_model_fn, model_dir=str(tmp_path / "model"))
    estimator.train(input_fn(repeat=True), steps=10)
    return estimator


def test_the_export_serves_the_heads_signatures(trained, input_fn, data,
                                                tmp_path):
    import tensorflow as tf

    from keras_heads.compat.estimator import (
        build_raw_serving_input_receiver_fn,
    )

    extra = tmp_path / "vocab.txt"
    extra.write_text("a\nb\n")
    path = trained.export_saved_model(
        str(tmp_path / "export"),
        build_raw_serving_input_receiver_fn({"x": data[0]}),
        assets_extra={"vocab/vocab.txt": str(extra)},
    )
    assert isinstance(path, bytes)
    assert os.path.exists(os.path.join(path, b"assets.extra", b"vocab",
                                       b"vocab.txt"))
    served = tf.saved_model.load(path.decode())
    assert sorted(served.signatures) == [
        "classification", "predict", "regression", "serving_default"]
    x = data[0][:5]
    out = served.signatures["serving_default"](x=tf.constant(x))
    expected = next(trained.predict(
        lambda: ({"x": x}, None), yield_single_examples=False))
    np.testing.assert_allclose(out["scores"], expected["probabilities"],
                               rtol=1e-6)
    assert out["classes"].numpy()[0].tolist() == [b"0", b"1"]
    regression = served.signatures["regression"](x=tf.constant(x))
    np.testing.assert_allclose(regression["outputs"], expected["logistic"],
                               rtol=1e-6)


def test_a_parsing_receiver_serves_serialized_examples(trained, data,
                                                       tmp_path):
    import tensorflow as tf

    from keras_heads.compat.estimator import (
        build_parsing_serving_input_receiver_fn,
    )

    path = trained.export_saved_model(
        str(tmp_path / "export"),
        build_parsing_serving_input_receiver_fn(
            {"x": tf.io.FixedLenFeature([4], tf.float32)}),
    )
    x = data[0][:3]
    examples = [
        tf.train.Example(features=tf.train.Features(feature={
            "x": tf.train.Feature(float_list=tf.train.FloatList(value=row))
        })).SerializeToString()
        for row in x
    ]
    served = tf.saved_model.load(path.decode())
    out = served.signatures["predict"](examples=tf.constant(examples))
    expected = next(trained.predict(
        lambda: ({"x": x}, None), yield_single_examples=False))
    np.testing.assert_allclose(out["logits"], expected["logits"], rtol=1e-6)


def test_exporting_needs_a_trained_model(binary_model_fn, data, tmp_path):
    from keras_heads.compat.estimator import Estimator
    from keras_heads.compat.estimator import (
        build_raw_serving_input_receiver_fn,
    )

    estimator = Estimator(binary_model_fn, model_dir=str(tmp_path / "model"))
    with pytest.raises(ValueError, match="Couldn't find trained model"):
        estimator.export_saved_model(
            str(tmp_path / "export"),
            build_raw_serving_input_receiver_fn({"x": data[0]}))


def test_receivers_check_their_arguments():
    import tensorflow as tf

    from keras_heads.compat.estimator import ServingInputReceiver

    with pytest.raises(ValueError, match="dict of tf.TensorSpec"):
        ServingInputReceiver(None, {"x": np.zeros(3)})
    with pytest.raises(ValueError, match="function of the received tensors"):
        ServingInputReceiver({"x": 1}, tf.TensorSpec([None], tf.float32))
    receiver = ServingInputReceiver(None, tf.TensorSpec([None], tf.float32))
    assert list(receiver.receiver_tensors) == ["input"]
