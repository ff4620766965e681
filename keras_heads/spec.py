"""`EstimatorSpec` and the export outputs that become serving signatures."""

import collections
import collections.abc

import keras
import numpy as np
from keras import ops

from keras_heads import backend
from keras_heads.keys import ModeKeys
from keras_heads.keys import SignatureKeys


def _is_value(x):
    return keras.ops.is_tensor(x) or isinstance(x, np.ndarray)


def _is_float(x):
    return _is_value(x) and keras.backend.is_float_dtype(x.dtype)


class Predictions(collections.abc.Mapping):
    """A prediction dict whose deferred values are computed on first read.

    Heads put their string predictions (`classes`, `all_classes`) here in
    TRAIN and EVAL specs: strings cannot be compiled (XLA, `jax.jit`) and a
    training or evaluation step rarely reads them, so they are built only
    if read. It is a read-only `Mapping`; `dict(predictions)` computes all.

    Example:

    >>> p = Predictions({"a": 1}, [(("b", "c"), lambda: {"b": 2, "c": 3})])
    >>> list(p), p["a"]
    (['a', 'b', 'c'], 1)
    >>> p
    Predictions({'a': 1}, deferred=['b', 'c'])
    >>> p["c"], p
    (3, Predictions({'a': 1, 'b': 2, 'c': 3}, deferred=[]))
    """

    def __init__(self, ready, deferred=(), order=None):
        self._ready = dict(ready)
        # [(keys, compute)]: compute() returns the values of all its keys.
        self._deferred = [(tuple(keys), compute) for keys, compute in deferred]
        self._keys = list(self._ready) + [
            key for keys, _ in self._deferred for key in keys
        ]
        if order is not None:  # the same keys, listed in `order`
            self._keys = [key for key in order if key in set(self._keys)]

    def __getitem__(self, key):
        if key not in self._ready:
            group = next((g for g in self._deferred if key in g[0]), None)
            if group is None:
                raise KeyError(key)
            self._ready.update(group[1]())
            self._deferred.remove(group)
        return self._ready[key]

    def __iter__(self):
        return iter(self._keys)

    def __len__(self):
        return len(self._keys)

    def __repr__(self):
        deferred = [key for keys, _ in self._deferred for key in keys]
        return f"Predictions({self._ready!r}, deferred={deferred!r})"

    def prefixed(self, prefix):
        """The same predictions keyed `(prefix, key)`, as MultiHead does."""

        def rekeyed(compute):
            return lambda: {(prefix, k): v for k, v in compute().items()}

        return Predictions(
            {(prefix, key): value for key, value in self._ready.items()},
            [
                ([(prefix, key) for key in keys], rekeyed(compute))
                for keys, compute in self._deferred
            ],
            order=[(prefix, key) for key in self._keys],
        )

    @staticmethod
    def merged(all_predictions):
        """One `Predictions` holding all of `all_predictions`, unread."""
        ready, deferred, order = {}, [], []
        for predictions in all_predictions:
            ready.update(predictions._ready)
            deferred.extend(predictions._deferred)
            order.extend(predictions._keys)
        return Predictions(ready, deferred, order)


class ExportOutput:
    """Base class of the outputs a serving signature returns."""

    method_name = None


class ClassificationOutput(ExportOutput):
    """Scores and class names for the `classification` signature.

    `scores[..., j]` is the score of class `classes[..., j]`; the heads set
    `classes` to every class name in id order.
    """

    method_name = "tensorflow/serving/classify"

    def __init__(self, scores=None, classes=None):
        if scores is not None and not _is_float(scores):
            raise ValueError(
                "Classification scores must be a float32 Tensor; got "
                f"{scores!r}"
            )
        if classes is not None and not backend.is_string(classes):
            raise ValueError(
                f"Classification classes must be a string Tensor; got {classes!r}"
            )
        if scores is None and classes is None:
            raise ValueError("At least one of scores and classes must be set.")
        self.scores = scores
        self.classes = classes

    @property
    def outputs(self):
        outputs = {"scores": self.scores, "classes": self.classes}
        return {k: v for k, v in outputs.items() if v is not None}


class RegressionOutput(ExportOutput):
    """The predicted value, for the `regression` signature."""

    method_name = "tensorflow/serving/regress"

    def __init__(self, value):
        if not _is_float(value):
            raise ValueError(
                f"Regression output value must be a float32 Tensor; got {value!r}"
            )
        self.value = value

    @property
    def outputs(self):
        return {"value": self.value}


class PredictOutput(ExportOutput):
    """A dict of named outputs, for the `predict` signature.

    A bare tensor becomes `{"output": tensor}`; tuple keys are joined with
    `/`. The dict is copied.
    """

    method_name = "tensorflow/serving/predict"

    def __init__(self, outputs):
        if not isinstance(outputs, dict):
            outputs = {"output": outputs}
        copied = {}
        for key, value in outputs.items():
            if isinstance(key, tuple):
                key = "/".join(str(part) for part in key)
            if not isinstance(key, str):
                raise ValueError(
                    f"Prediction output key must be a string; got {key!r}."
                )
            if not (_is_value(value) or backend.is_string(value)):
                raise ValueError(
                    f"Prediction output value must be a Tensor; got {value!r} "
                    f"for key {key!r}."
                )
            copied[key] = value
        self._outputs = copied

    @property
    def outputs(self):
        return self._outputs


_SPEC_FIELDS = (
    "mode",
    "predictions",
    "loss",
    "train_op",
    "eval_metric_ops",
    "export_outputs",
    "training_chief_hooks",
    "training_hooks",
    "scaffold",
    "evaluation_hooks",
    "prediction_hooks",
    "summaries",
)


class EstimatorSpec(collections.namedtuple("EstimatorSpec", _SPEC_FIELDS)):
    """What a head returns for one mode: loss, train op, predictions, metrics,
    export outputs.

    Validated on construction as the reference did. `summaries` is new: the
    training summaries (`loss`, `regularization_loss`, name-suffixed) that the
    reference wrote as TF1 summary ops, as a dict for the training loop to log.
    """

    def __new__(
        cls,
        mode,
        predictions=None,
        loss=None,
        train_op=None,
        eval_metric_ops=None,
        export_outputs=None,
        training_chief_hooks=None,
        training_hooks=None,
        scaffold=None,
        evaluation_hooks=None,
        prediction_hooks=None,
        summaries=None,
    ):
        if mode not in (ModeKeys.TRAIN, ModeKeys.EVAL, ModeKeys.PREDICT):
            raise ValueError(f"mode={mode} unrecognized.")
        if mode == ModeKeys.TRAIN and train_op is None:
            raise ValueError("Missing train_op.")
        if mode in (ModeKeys.TRAIN, ModeKeys.EVAL) and loss is None:
            raise ValueError("Missing loss.")
        if mode == ModeKeys.PREDICT and predictions is None:
            raise ValueError("Missing predictions.")
        if loss is not None:
            loss = _scalar_loss(loss)
        if predictions is None:
            predictions = {}
        if export_outputs is not None or mode == ModeKeys.PREDICT:
            export_outputs = (
                _default_export_outputs(export_outputs, predictions)
                if mode == ModeKeys.PREDICT
                else export_outputs
            )
        return super().__new__(
            cls,
            mode=mode,
            predictions=predictions,
            loss=loss,
            train_op=train_op,
            eval_metric_ops=dict(eval_metric_ops or {}),
            export_outputs=export_outputs,
            training_chief_hooks=tuple(training_chief_hooks or ()),
            training_hooks=tuple(training_hooks or ()),
            scaffold=scaffold,
            evaluation_hooks=tuple(evaluation_hooks or ()),
            prediction_hooks=tuple(prediction_hooks or ()),
            summaries=dict(summaries or {}),
        )

    def _replace(self, **kwargs):
        if "mode" in kwargs and kwargs["mode"] != self.mode:
            raise ValueError("mode of EstimatorSpec cannot be changed.")
        fields = self._asdict()
        fields.update(kwargs)
        return EstimatorSpec(**fields)


def _scalar_loss(loss):
    loss = ops.convert_to_tensor(loss)
    shape = tuple(loss.shape)
    if shape == ():
        return loss
    if len(shape) == 1 and shape[0] == 1:
        return ops.reshape(loss, ())
    raise ValueError(f"Loss must be scalar, given: {shape}")


def _default_export_outputs(export_outputs, predictions):
    if export_outputs is None:
        return {SignatureKeys.DEFAULT: PredictOutput(predictions)}
    if not isinstance(export_outputs, dict):
        raise TypeError(
            f"export_outputs must be a dict; got {type(export_outputs)}."
        )
    for key, value in export_outputs.items():
        if not isinstance(value, ExportOutput):
            raise TypeError(
                f"Values in export_outputs must be ExportOutput objects; "
                f"got {value!r} for {key!r}."
            )
    outputs = dict(export_outputs)
    if SignatureKeys.DEFAULT not in outputs:
        if len(outputs) != 1:
            raise ValueError(
                "Multiple export_outputs were provided, but none of them is "
                f"specified as the default. Name one {SignatureKeys.DEFAULT!r}."
            )
        outputs[SignatureKeys.DEFAULT] = next(iter(outputs.values()))
    return outputs
