"""Serving inputs, and the SavedModel an `Estimator` exports.

TF1 serving input receivers held placeholders and the graph ops that turned
them into features. Without graphs, a receiver holds the *specs* of what a
client sends (`receiver_tensors`, `tf.TensorSpec`s) and a function that turns
those tensors into the features `model_fn` reads.
"""

import os
import shutil
import time

import numpy as np
import tensorflow as tf

from keras_heads.model.export import _signature_outputs


class ServingInputReceiver:
    """What a serving client sends, and the features `model_fn` gets from it.

    Args:
        features: A function from the dict of received tensors to the
            features (a dict of tensors, or one tensor), or None when the
            received tensors are the features themselves.
        receiver_tensors: A dict of `tf.TensorSpec` (or one spec, received
            as `"input"`), the serving signatures' inputs.

    Example:

    >>> import tensorflow as tf
    >>> receiver = ServingInputReceiver(
    ...     features=None,
    ...     receiver_tensors={"x": tf.TensorSpec([None, 2], tf.float32)})
    >>> receiver.features_from({"x": [[1.0, 2.0]]})
    {'x': [[1.0, 2.0]]}
    """

    def __init__(self, features, receiver_tensors):
        if isinstance(receiver_tensors, tf.TensorSpec):
            receiver_tensors = {"input": receiver_tensors}
        if not isinstance(receiver_tensors, dict) or not all(
            isinstance(v, tf.TensorSpec) for v in receiver_tensors.values()
        ):
            raise ValueError(
                "receiver_tensors must be a dict of tf.TensorSpec (the "
                "serving inputs); got "
                f"{receiver_tensors!r}."
            )
        if features is not None and not callable(features):
            raise ValueError(
                "features must be a function of the received tensors, or "
                f"None; got {type(features).__name__}."
            )
        self.features = features
        self.receiver_tensors = {
            name: tf.TensorSpec(spec.shape, spec.dtype, name)
            for name, spec in receiver_tensors.items()
        }

    def features_from(self, received):
        """The features for one request's `received` tensors."""
        return received if self.features is None else self.features(received)


def build_raw_serving_input_receiver_fn(features, default_batch_size=None):
    """A receiver function that serves `features` as they are.

    `features` is a dict of example values (arrays or tensors, whose batch
    size is ignored) or of `tf.TensorSpec`s.

    >>> import numpy as np
    >>> receiver = build_raw_serving_input_receiver_fn(
    ...     {"x": np.zeros([3, 2], "float32")})()
    >>> receiver.receiver_tensors["x"]
    TensorSpec(shape=(None, 2), dtype=tf.float32, name='x')
    """
    single = not isinstance(features, dict)
    examples = {"input": features} if single else dict(features)
    specs = {
        name: _spec(value, default_batch_size)
        for name, value in examples.items()
    }

    def receiver_fn():
        if single:
            return ServingInputReceiver(
                features=lambda received: received["input"],
                receiver_tensors=specs,
            )
        return ServingInputReceiver(features=None, receiver_tensors=specs)

    return receiver_fn


def build_parsing_serving_input_receiver_fn(feature_spec,
                                            default_batch_size=None):
    """A receiver function that parses serialized `tf.train.Example`s.

    Clients send a batch of serialized examples as `"examples"`;
    `feature_spec` maps feature names to `tf.io.FixedLenFeature` etc., as for
    `tf.io.parse_example`.

    >>> import tensorflow as tf
    >>> receiver = build_parsing_serving_input_receiver_fn(
    ...     {"x": tf.io.FixedLenFeature([2], tf.float32)})()
    >>> list(receiver.receiver_tensors)
    ['examples']
    """

    def receiver_fn():
        return ServingInputReceiver(
            features=lambda received: tf.io.parse_example(
                received["examples"], feature_spec
            ),
            receiver_tensors={
                "examples": tf.TensorSpec([default_batch_size], tf.string)
            },
        )

    return receiver_fn


def _spec(value, batch_size):
    if isinstance(value, tf.TensorSpec):
        return value
    value = value if tf.is_tensor(value) else np.asarray(value)
    dtype = tf.as_dtype(value.dtype)
    if dtype == tf.float64:
        dtype = tf.float32
    return tf.TensorSpec((batch_size,) + tuple(value.shape)[1:], dtype)


def signatures(predict_outputs, receiver):
    """`{key: concrete function}`, one serving signature per export output.

    `predict_outputs(features)` returns the PREDICT spec's export outputs;
    each becomes the signature of its key, with the receiver's tensors as
    inputs. Tracing them creates any variable `model_fn` has not made yet.
    """
    specs = receiver.receiver_tensors
    keys = []

    @tf.function
    def serve_all(received):
        outputs = predict_outputs(receiver.features_from(received))
        # A signature needs a name: an unnamed contrib.learn head keys its
        # one output by None, and is served as `serving_default`.
        outputs = {k: v for k, v in outputs.items() if isinstance(k, str)}
        keys[:] = list(outputs)
        return {key: _signature_outputs(out) for key, out in outputs.items()}

    serve_all.get_concrete_function(specs)

    def signature(key):
        return tf.function(
            lambda **received: serve_all(received)[key]
        ).get_concrete_function(**specs)

    return {key: signature(key) for key in keys}


def write_saved_model(export_dir_base, signatures, variables,
                      assets_extra=None):
    """Writes a SavedModel of `signatures` and `variables` into a new
    timestamped directory under `export_dir_base`; returns it, as bytes (as
    the reference did). `assets_extra` maps paths under `assets.extra/` to
    the files copied there."""
    module = tf.Module()
    module.served_variables = list(variables)
    export_dir = _fresh_dir(export_dir_base)
    temp_dir = export_dir + ".tmp"
    tf.saved_model.save(module, temp_dir, signatures=signatures)
    for destination, source in (assets_extra or {}).items():
        target = os.path.join(temp_dir, "assets.extra", destination)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(source, target)
    os.rename(temp_dir, export_dir)
    return export_dir.encode()


def _fresh_dir(base):
    os.makedirs(base, exist_ok=True)
    stamp = int(time.time())
    while os.path.exists(os.path.join(base, str(stamp))):
        stamp += 1
    return os.path.join(base, str(stamp))
