"""A `HeadModel` as a SavedModel with the head's serving signatures.

One path serves TensorFlow and JAX. The network and the head's numeric
predictions are exported through Keras' `ExportArchive` (which converts JAX
with jax2tf); class names are then added in TensorFlow, which holds strings
on every backend; and each signature picks its outputs from the result.

Which prediction feeds which signature output is read once from the head's
own PREDICT spec, computed eagerly on dummy logits: the signature layout is
the head's, not a copy of it.
"""

import keras
import numpy as np

from keras_heads import backend
from keras_heads.keys import ModeKeys
from keras_heads.keys import PredictionKeys
from keras_heads.spec import RegressionOutput

# The endpoint that computes the numeric predictions; an implementation
# detail, so it is not written out as a signature of its own.
_NUMERIC_ENDPOINT = "_numeric_predictions"


def export_saved_model(model, filepath, input_signature=None, verbose=True,
                       **kwargs):
    """Writes `model` (a `HeadModel`) as a SavedModel; see
    `HeadModel.export`."""
    if backend.name() not in ("tensorflow", "jax"):
        raise ValueError(
            "HeadModel.export(format='tf_saved_model') works on the "
            "tensorflow and jax backends; Keras cannot trace a "
            f"{backend.name()} model into a SavedModel without torch_xla. "
            "Export from one of those backends (the weights load across "
            "backends from a .keras file)."
        )
    tf = backend.require_tensorflow(
        "HeadModel.export(format='tf_saved_model') (a SavedModel)"
    )

    specs = _tensor_specs(input_signature or _input_signature(model))
    layout = _Layout(model.head)
    archive = keras.export.ExportArchive()
    numeric = archive.track_and_add_endpoint(
        _NUMERIC_ENDPOINT,
        _NumericPredictions(model, layout.numeric_keys),
        input_signature=[specs],
        **kwargs,
    )
    archive._endpoint_names.remove(_NUMERIC_ENDPOINT)

    def predictions(features):
        values = dict(numeric(features))
        values.update(layout.strings(values))
        return values

    for name, outputs in layout.signatures.items():
        archive.add_endpoint(
            name,
            tf.function(_serving_fn(predictions, outputs),
                        input_signature=[specs]),
        )
    archive.write_out(filepath, verbose=verbose)


def _serving_fn(predictions, outputs):
    def serve(features):
        values = predictions(features)
        return {output: values[key] for output, key in outputs.items()}

    return serve


class _NumericPredictions(keras.layers.Layer):
    """The network and the head's numeric predictions, keyed flat."""

    def __init__(self, model, keys):
        super().__init__(name="numeric_predictions")
        self.model = model
        self._keys = keys
        self.built = model.built

    def call(self, features):
        # Deferred: reading only the numeric keys builds no strings, which
        # a jax2tf-converted function could not hold.
        predictions = self.model.head._deferred_predictions(self.model(features))
        flat = {_flat_key(k): k for k in predictions}
        return {key: predictions[flat[key]] for key in self._keys}


class _Layout:
    """What each signature returns, and how to build the string predictions.

    `signatures` is `{signature name: {output name: flat prediction key}}`;
    the flat key of a `MultiHead` prediction `(head, key)` is `head/key`.
    """

    def __init__(self, head):
        logits = np.zeros((2, head.logits_dimension), "float32")
        spec = head.create_estimator_spec(
            features={}, mode=ModeKeys.PREDICT, logits=logits
        )
        flat = {_flat_key(k): v for k, v in spec.predictions.items()}
        self.string_keys = [k for k, v in flat.items() if backend.is_string(v)]
        self.numeric_keys = [k for k in flat if k not in self.string_keys]
        self._names = {k: _class_names(head, k) for k in self.string_keys}
        key_of = {id(value): key for key, value in flat.items()}
        self.signatures = {
            name: {
                output: key_of[id(value)]
                for output, value in _signature_outputs(export_output).items()
            }
            for name, export_output in spec.export_outputs.items()
        }

    def strings(self, values):
        """The string predictions, in TensorFlow, from the numeric ones:
        a class's name where the head predicts class ids, else every name."""
        import tensorflow as tf

        out = {}
        for key, names in self._names.items():
            prefix, _, base = key.rpartition("/")
            ids_key = _join(prefix, PredictionKeys.CLASS_IDS)
            names = tf.constant(names)
            if base == PredictionKeys.CLASSES and ids_key in values:
                out[key] = tf.gather(names, values[ids_key])
            else:
                rows = tf.shape(next(iter(values.values())))[0]
                out[key] = tf.tile(names[tf.newaxis], tf.stack([rows, 1]))
        return out


def _class_names(head, flat_key):
    prefix, _, _ = flat_key.rpartition("/")
    for part in prefix.split("/") if prefix else ():
        head = next(h for h in head._heads if h.name == part)
    head = getattr(head, "_static_head", head)
    return list(head._class_names)


def _signature_outputs(export_output):
    # TF Serving's regress API names its one output `outputs`.
    if isinstance(export_output, RegressionOutput):
        return {"outputs": export_output.value}
    return export_output.outputs


def _flat_key(key):
    return "/".join(key) if isinstance(key, tuple) else key


def _join(prefix, key):
    return f"{prefix}/{key}" if prefix else key


def _input_signature(model):
    """A functional network's inputs, keyed as `HeadModel` picks them from
    the features: by the network's dict keys, else by its tensors' names.
    A Sequential network takes the features whole: its one input is served
    as `features`."""
    try:
        inputs = model.network.inputs
    except (AttributeError, ValueError):
        inputs = None
    if not inputs:
        raise ValueError(
            "HeadModel.export needs input_signature= when the network is not "
            "a functional model: give the features' specs, e.g. "
            '{"x": keras.InputSpec(shape=(None, 4), dtype="float32")}.'
        )
    try:
        structure = model.network.input
    except (AttributeError, ValueError):  # A Sequential's, never called.
        structure = None
    if isinstance(structure, dict):
        return dict(structure)
    if structure is None and len(inputs) == 1:
        return inputs[0]
    return {tensor.name: tensor for tensor in inputs}


def _tensor_specs(signature):
    """`tf.TensorSpec`s named after their dict keys, batch size free."""
    import tensorflow as tf

    def spec(value, name=None):
        if isinstance(value, tf.TensorSpec):
            return tf.TensorSpec(value.shape, value.dtype, name or value.name)
        shape = (None,) + tuple(value.shape)[1:]
        return tf.TensorSpec(shape, value.dtype, name)

    if isinstance(signature, dict):
        return {name: spec(value, name) for name, value in signature.items()}
    return spec(signature, "features")
