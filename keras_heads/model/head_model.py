"""`HeadModel`: a network and a head, trained and served as one Keras model."""

import collections.abc
import contextlib

import keras
import numpy as np
from keras import ops

from keras_heads import backend
from keras_heads.heads import config as config_lib
from keras_heads.heads.base import Head
from keras_heads.heads.multi_head import MultiHead
from keras_heads.keys import ModeKeys
from keras_heads.model import distributed
from keras_heads.model import export as export_lib
from keras_heads.model import monitoring
from keras_heads.model.labels import LabelPreparation
from keras_heads.model.labels import label_id_head
from keras_heads.ops.reduction import reduce_terms


@config_lib.register
class HeadModel(keras.Model):
    """A network whose output is logits, topped by a head.

    The head owns the objective: `fit` minimizes its loss (plus the network's
    regularization losses), `evaluate` reports its metrics under the head's
    keys (`auc`, `auc/head1`, `loss/head2`, ...), `predict` returns its
    prediction dict (class names included) and `export` writes its serving
    signatures. Example weights are read from the features, as the head's
    `weight_column` says; `sample_weight` and `class_weight` are not taken.

    Args:
      network: a Keras layer or model mapping features (a tensor, or a dict)
        to logits: a tensor (or a one-entry dict of it), or for a
        `MultiHead` a dict keyed by head name or one tensor holding every
        head's logits. A functional network with dict inputs receives only
        its own inputs from the features.
      head: a `keras_heads.Head`.
      **kwargs: passed to `keras.Model` (`name`, ...).

    Example:

    >>> inputs = keras.Input((2,), name="x")
    >>> network = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    >>> model = keras_heads.HeadModel(network, keras_heads.BinaryClassHead())
    >>> model.compile(optimizer="sgd")
    >>> features = {"x": np.array([[1.0, 0.0], [0.0, 1.0]])}
    >>> logs = model.evaluate(features, np.array([[1], [0]]), verbose=0,
    ...                       return_dict=True)
    >>> sorted(logs)[:3]
    ['accuracy', 'accuracy_baseline', 'auc']
    >>> sorted(model.predict(features, verbose=0))[:3]
    ['all_class_ids', 'all_classes', 'class_ids']
    """

    def __init__(self, network, head, **kwargs):
        if not isinstance(network, keras.layers.Layer):
            raise TypeError(
                "network must be a Keras layer or model (keras.layers.Layer) "
                "mapping the features to logits. Given: "
                f"{type(network).__name__} {network!r:.80}"
            )
        if not isinstance(head, Head):
            raise TypeError(
                "head must be a keras_heads.Head instance, such as "
                "keras_heads.BinaryClassHead(). Given: "
                f"{type(head).__name__} {head!r:.80}"
            )
        super().__init__(**kwargs)
        self.network = network
        self.head = head
        # A single head takes one logits tensor: `call` unwraps a network's
        # one-entry dict of logits for it.
        self._single_head = not isinstance(head, MultiHead)
        # Every batch's labels are prepared before the compiled step (class
        # names to ids, sparse to multi-hot, checked by the head), so the
        # step computes the loss and the metrics with the head's twin that
        # takes ids.
        self._labels = LabelPreparation(head)
        self._objective = label_id_head(head)
        head_metrics = self._objective.metrics()
        self._objective._complete_metrics(head_metrics)
        self.head_metrics = head_metrics
        # The mode of the step being traced (set by `compute_loss`).
        self._step_mode = None
        if getattr(network, "built", False):
            self.built = True

    # --- the forward pass --------------------------------------------------------

    def call(self, features, training=None):
        logits = self.network(self._network_inputs(features),
                              training=training)
        if not (self._single_head
                and isinstance(logits, collections.abc.Mapping)):
            return logits
        if len(logits) != 1:
            raise ValueError(
                f"A single head takes one logits tensor, but the network "
                f"returned a dict with keys {sorted(logits)}. Return one "
                "tensor (or a one-entry dict), or use a keras_heads.MultiHead "
                "whose heads are named after these keys."
            )
        return next(iter(logits.values()))

    def _network_inputs(self, features):
        """What the network takes from a features dict: for a functional
        network, its inputs picked by name (a dict, a list or one tensor, as
        the network was built); otherwise the whole dict."""
        structure = _input_structure(self.network)
        if structure is None or not isinstance(features, dict):
            return features
        if isinstance(structure, dict):
            names = list(structure)
        else:
            tensors = structure if isinstance(structure, (list, tuple)) else [
                structure
            ]
            names = [tensor.name for tensor in tensors]
        missing = [name for name in names if name not in features]
        if missing:
            raise ValueError(
                f"features is missing the network's inputs {missing}. "
                f"Expected keys {names}; got {sorted(features)}."
            )
        if isinstance(structure, dict):
            return {name: features[name] for name in names}
        if isinstance(structure, (list, tuple)):
            return [features[name] for name in names]
        return features[names[0]]

    # --- tf.distribute: two Keras 3.15 steps that fail on our data ------------

    def train_step(self, *args, **kwargs):
        return backend.reducible_step_logs(super().train_step(*args, **kwargs))

    def test_step(self, *args, **kwargs):
        return backend.reducible_step_logs(super().test_step(*args, **kwargs))

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras learns a distributed first batch's shapes by averaging it
        # over the replicas, which fails on strings (class names) and, under
        # MultiWorkerMirroredStrategy, on any batch. One replica's batch has
        # the same shapes.
        if iterator is not None and backend.is_tensorflow():
            for _, _, batches in iterator:
                data_batch = backend.one_replica(next(batches))
                break
            iterator = None
        return super()._maybe_symbolic_build(iterator=iterator,
                                             data_batch=data_batch)

    def _symbolic_build(self, iterator=None, data_batch=None):
        # JAX's fit() and evaluate() come here first with their batches:
        # a batch that keras.distribution cannot split is refused before
        # the first step, in terms of batch_size and examples.
        if iterator is not None:
            distributed.check_batches_split(iterator)
        return super()._symbolic_build(iterator=iterator,
                                       data_batch=data_batch)

    # --- training --------------------------------------------------------------

    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None,
                **kwargs):
        """`keras.Model.compile` without `loss`: the head is the loss.

        `metrics` may add Keras metrics, which receive `(labels, logits)`.
        """
        if loss is not None or loss_weights is not None:
            raise ValueError(
                "A HeadModel's loss is its head's: call compile() without "
                f"loss and loss_weights. Got loss={loss!r}, "
                f"loss_weights={loss_weights!r}."
            )
        super().compile(optimizer=optimizer, **kwargs)
        # Keras' `loss` tracker is off on uneven tf.distribute batches.
        distributed.install_loss_tracker(self)

    def compile_from_config(self, config):
        """Compiles a loaded model as it was saved.

        Keras skips this for a model whose `compile` is overridden, yet marks
        it compiled: a loaded model would have no loss tracker and no
        optimizer state.
        """
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None,
                     training=True):
        """The head's loss plus the network's regularization losses.

        Under `tf.distribute`, each replica divides its weighted loss sum by
        the denominator summed over all replicas (the global batch's), so the
        summed gradients and the reported loss equal one device's, for every
        `loss_reduction` (the logged `loss` also on an uneven last batch:
        see `keras_heads.model.distributed.LossTracker`).
        """
        _reject_sample_weight(sample_weight)
        # Keras' steps compute the loss, then the metrics of the same batch:
        # in an evaluation step both get EVAL, so that a compiled step
        # makes one pass for them (see `SingleHead.update_metrics`).
        self._step_mode = None if training else ModeKeys.EVAL
        loss = reduce_terms(
            self._objective._loss_terms(
                y, y_pred, _features(x), self._step_mode
            )
        )
        for extra in self.losses:
            loss = loss + self._aggregate_additional_loss(extra)
        return loss

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        self._objective.update_metrics(
            self.head_metrics, _features(x), y_pred, y, mode=self._step_mode
        )
        if self._compile_metrics is not None:
            self._compile_metrics.update_state(y, y_pred)
        return self.get_metrics_result()

    @property
    def metrics(self):
        """Keras' metrics (the head's among them), then the direction of
        each head metric key, where `EarlyStopping`, `ModelCheckpoint` and
        `ReduceLROnPlateau` look for it with `mode="auto"` (see
        `keras_heads.model.monitoring`). The directions hold no state and
        give no results."""
        metrics = super().metrics
        if getattr(self, "head_metrics", None) is None:  # in __init__
            return metrics
        return metrics + [monitoring.metric_directions(self)]

    def get_metrics_result(self):
        """`{"loss": ..., <head metric key>: ..., <compiled metric>: ...}`."""
        keys = {id(metric): key for key, metric in self.head_metrics.items()}
        results = {}
        for metric in self.metrics:
            result = metric.result()
            if isinstance(result, dict):
                results.update(result)
            else:
                results[keys.get(id(metric), metric.name)] = result
        return results

    def label_ids(self, labels, features=None):
        """`labels` as the compiled step takes them, on every backend.

        Class names become class ids, sparse multi-label labels dense
        multi-hot rows, and every label is checked by the head. `fit`,
        `evaluate` and the `*_on_batch` methods do this themselves for every
        kind of data; it is public for custom loops. `features` is needed
        only for a `SequentialHeadWrapper` (its mask).
        """
        return self._labels.arrays(labels, features)

    def fit(self, x=None, y=None, *args, validation_data=None, **kwargs):
        _reject_weight_arguments(kwargs)
        with self._failing_cleanly():
            return super().fit(
                *self._prepared(x, y), *args,
                validation_data=self._prepared_validation(validation_data),
                **kwargs,
            )

    def evaluate(self, x=None, y=None, *args, **kwargs):
        _reject_weight_arguments(kwargs)
        if kwargs.get("_use_cached_eval_dataset"):
            # `fit`'s validation: its data, prepared by `fit`, is cached.
            return super().evaluate(x, y, *args, **kwargs)
        with self._failing_cleanly():
            return super().evaluate(*self._prepared(x, y), *args, **kwargs)

    def train_on_batch(self, x, y=None, *args, **kwargs):
        _reject_weight_arguments(kwargs)
        return super().train_on_batch(x, self.label_ids(y, x), *args,
                                      **kwargs)

    def test_on_batch(self, x, y=None, *args, **kwargs):
        _reject_weight_arguments(kwargs)
        return super().test_on_batch(x, self.label_ids(y, x), *args, **kwargs)

    @contextlib.contextmanager
    def _failing_cleanly(self):
        """Lets an error out of `fit` / `evaluate` as it was raised (a label
        error as the head's, not as `tf.data`'s wrapper of it), with the
        model's variables as the last completed step left them."""
        try:
            with self._labels.raising_label_errors():
                yield
        except BaseException:
            if backend.name() == "jax":
                self.jax_state_sync()
            raise

    def _get_jax_state(self, trainable_variables=False,
                       non_trainable_variables=False,
                       optimizer_variables=False, metrics_variables=False,
                       purge_model_variables=False):
        # Keras' JAX loops take the variables' values out of the variables
        # for the duration of a loop, and put back those of the last step at
        # its end; a loop that raises before its first step would leave
        # them empty. Kept here, `jax_state_sync` can always put them back.
        state = super()._get_jax_state(
            trainable_variables, non_trainable_variables, optimizer_variables,
            metrics_variables, purge_model_variables,
        )
        if purge_model_variables:
            wanted = {
                "trainable_variables": trainable_variables,
                "non_trainable_variables": non_trainable_variables,
                "optimizer_variables": optimizer_variables,
                "metrics_variables": metrics_variables,
            }
            self._jax_state = dict(
                zip([key for key, on in wanted.items() if on], state)
            )
        return state

    def _prepared(self, x, y):
        """`(x, y)` with the labels prepared: in-memory labels at once,
        those of a dataset or generator batch by batch."""
        if y is not None:
            return x, self.label_ids(y, x)
        return self._labels.data(x), None

    def _prepared_validation(self, data):
        if data is None:
            return None
        if isinstance(data, tuple):
            if len(data) == 3 and data[2] is not None:
                _reject_weight_arguments({"sample_weight": data[2]})
            if len(data) in (2, 3):
                return self._prepared(data[0], data[1])
        return self._labels.data(data)

    # --- predictions -----------------------------------------------------------

    def predict(self, x, *args, **kwargs):
        """The head's predictions as NumPy arrays (strings as `bytes`).

        Batches run through the compiled network; the head then turns all the
        logits into predictions at once, on the host, where class names can
        be built on every backend.
        """
        return self.predictions(super().predict(x, *args, **kwargs))

    def predict_on_batch(self, x):
        return self.predictions(super().predict_on_batch(x))

    def predictions(self, logits):
        """The head's predictions of `logits`, as NumPy arrays."""
        return {
            key: _to_numpy(value)
            for key, value in self.head.predictions(logits).items()
        }

    # --- serving ---------------------------------------------------------------

    def export(self, filepath, format="tf_saved_model", verbose=True,
               input_signature=None, **kwargs):
        """Writes a SavedModel with the head's serving signatures.

        The signatures are those of the head's PREDICT spec, under the
        reference's names: `serving_default`, `classification`,
        `regression`, `predict`, and for a `MultiHead` also `<head>` and
        `<head>/<signature>` per head. Each takes the network's input
        features by name (a Sequential network's one input as `features`).
        Supported on TensorFlow and JAX (through jax2tf); any other `format`
        exports the network's logits, as `keras.Model.export` does.

        Args:
          filepath: where to write the SavedModel.
          input_signature: the features' specs (`keras.InputSpec` or
            `tf.TensorSpec`; a dict for named inputs). Derived from a
            functional network's inputs when left out.
        """
        if format != "tf_saved_model":
            return super().export(filepath, format=format, verbose=verbose,
                                  input_signature=input_signature, **kwargs)
        return export_lib.export_saved_model(
            self, filepath, input_signature=input_signature, verbose=verbose,
            **kwargs,
        )

    # --- serialization -----------------------------------------------------------

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "network": keras.saving.serialize_keras_object(self.network),
            "head": keras.saving.serialize_keras_object(self.head),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        network = keras.saving.deserialize_keras_object(config.pop("network"))
        head = keras.saving.deserialize_keras_object(config.pop("head"))
        return cls(network, head, **config)


def _features(x):
    return x if isinstance(x, dict) else None


def _input_structure(network):
    """A functional network's input structure, else None."""
    try:
        return network.input
    except (AttributeError, ValueError):
        return None


def _to_numpy(value):
    value = np.asarray(ops.convert_to_numpy(value))
    return value.astype(object) if value.dtype.kind in "SU" else value


def _reject_sample_weight(sample_weight):
    if sample_weight is not None:
        raise ValueError(
            "A HeadModel reads example weights from the features, under the "
            "head's weight_column; it does not take sample weights. Got "
            "sample_weight with the data: put the weights in the features "
            "dict and name their key as the head's weight_column."
        )


def _reject_weight_arguments(kwargs):
    for argument in ("sample_weight", "class_weight"):
        if kwargs.get(argument) is not None:
            raise ValueError(
                f"A HeadModel does not take {argument}=: example weights are "
                "read from the features, under the head's weight_column. "
                f"Got {argument}={type(kwargs[argument]).__name__}."
            )
