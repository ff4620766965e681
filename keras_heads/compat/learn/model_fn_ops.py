"""`ModelFnOps`: what a contrib.learn head (or `model_fn`) returns, and its
conversion to a `keras_heads.EstimatorSpec`."""

import collections
import collections.abc

import numpy as np
from keras import ops

from keras_heads import backend
from keras_heads import keys as core_keys
from keras_heads.compat.learn.keys import MetricKey
from keras_heads.compat.learn.keys import ModeKeys
from keras_heads.compat.learn.keys import PredictionKey
from keras_heads.compat.learn.keys import ProblemType
from keras_heads.spec import ClassificationOutput
from keras_heads.spec import EstimatorSpec
from keras_heads.spec import PredictOutput
from keras_heads.spec import RegressionOutput

_FIELDS = (
    "predictions",
    "loss",
    "train_op",
    "eval_metric_ops",
    "output_alternatives",
    "training_chief_hooks",
    "training_hooks",
    "scaffold",
    "mode",
    "summaries",
)

_CORE_MODES = {
    ModeKeys.TRAIN: core_keys.ModeKeys.TRAIN,
    ModeKeys.EVAL: core_keys.ModeKeys.EVAL,
    ModeKeys.INFER: core_keys.ModeKeys.PREDICT,
}

# What a training hook must offer: the methods of a SessionRunHook.
_HOOK_METHODS = ("begin", "before_run", "after_run", "end")


class ModelFnOps(collections.namedtuple("ModelFnOps", _FIELDS)):
    """The ops a contrib.learn `model_fn` returns for one mode.

    Validated on construction, as the reference did: the mode must be one of
    `ModeKeys`; TRAIN needs a `train_op` ("Missing train_op.", checked
    first); TRAIN and EVAL need a `loss` ("Missing loss.") of one element;
    EVAL and INFER need `predictions` ("Missing predictions.");
    `eval_metric_ops` must be a dict (default `{}`); each training hook must
    be a SessionRunHook (`TypeError`).

    Eval metric ops are metric objects with a `.result()` (the convention of
    `keras_heads`), not TF1 `(value, update_op)` pairs. A head's TRAIN
    `eval_metric_ops`, and the string values of its TRAIN and EVAL
    `predictions` and output alternatives, are read-only mappings computed
    when first read: a compiled training step that never reads them builds
    no metric variables and no strings.

    `summaries` is new: the scalar summaries the reference wrote as TF1
    summary ops (`loss`, the centered bias), as a `{tag: value}` dict for the
    training loop to log; `keras_heads.EstimatorSpec` carries them the same
    way. `output_alternatives` is `{name: (ProblemType, {key: tensor})}`.

    Example:

    >>> from keras_heads.compat.learn import ModelFnOps, ModeKeys
    >>> ops_ = ModelFnOps(mode=ModeKeys.EVAL, loss=[0.5],
    ...                   predictions={"scores": np.array([1.0])})
    >>> tuple(ops_.loss.shape), ops_.eval_metric_ops
    ((), {})
    >>> ModelFnOps(mode=ModeKeys.TRAIN, loss=0.5)
    Traceback (most recent call last):
    ...
    ValueError: Missing train_op. ...
    """

    def __new__(
        cls,
        mode,
        predictions=None,
        loss=None,
        train_op=None,
        eval_metric_ops=None,
        output_alternatives=None,
        training_chief_hooks=None,
        training_hooks=None,
        scaffold=None,
        summaries=None,
    ):
        ModeKeys.validate(mode)
        if train_op is None and mode == ModeKeys.TRAIN:
            raise ValueError(
                "Missing train_op. mode=TRAIN needs the train op that "
                "train_op_fn(loss) returned."
            )
        if loss is None:
            if mode in (ModeKeys.TRAIN, ModeKeys.EVAL):
                raise ValueError(
                    f"Missing loss. mode={mode!r} needs a scalar loss (a "
                    "head computes it only when labels are given)."
                )
        else:
            loss = _scalar_loss(loss)
        if predictions is None and mode in (ModeKeys.INFER, ModeKeys.EVAL):
            raise ValueError(
                f"Missing predictions. mode={mode!r} needs a predictions "
                "dict."
            )
        if eval_metric_ops is None:
            eval_metric_ops = {}
        elif not isinstance(eval_metric_ops, collections.abc.Mapping):
            raise ValueError(
                "eval_metric_ops must be a dict. Given type: "
                f"{type(eval_metric_ops)}."
            )
        training_chief_hooks = list(training_chief_hooks or [])
        training_hooks = list(training_hooks or [])
        for hook in training_hooks + training_chief_hooks:
            if not all(
                callable(getattr(hook, method, None))
                for method in _HOOK_METHODS
            ):
                raise TypeError(
                    "All hooks returned from model_fn must be SessionRunHook "
                    f"instances, got instance of {type(hook)}: {hook}. A hook "
                    f"needs the methods {', '.join(_HOOK_METHODS)} (as "
                    "tf.estimator.SessionRunHook has)."
                )
        if summaries is not None and not isinstance(summaries, dict):
            raise ValueError(
                f"summaries must be a dict. Given type: {type(summaries)}."
            )
        return super().__new__(
            cls,
            predictions=predictions,
            loss=loss,
            train_op=train_op,
            eval_metric_ops=eval_metric_ops,
            output_alternatives=output_alternatives,
            training_chief_hooks=training_chief_hooks,
            training_hooks=training_hooks,
            scaffold=scaffold,
            mode=mode,
            summaries=dict(summaries or {}),
        )

    def _replace(self, **kwargs):
        """A copy with `kwargs` changed, validated again."""
        fields = self._asdict()
        fields.update(kwargs)
        return ModelFnOps(**fields)

    def estimator_spec(self, default_serving_output_alternative_key=None):
        """The equivalent `keras_heads.EstimatorSpec`.

        Mode `INFER` becomes `PREDICT` (both `"infer"`). Each output
        alternative `(problem_type, tensors)` becomes an export output:
        `LINEAR_REGRESSION` a `RegressionOutput` of `tensors["scores"]` (or
        `["probabilities"]`), `CLASSIFICATION` and `LOGISTIC_REGRESSION` a
        `ClassificationOutput` of those scores and the `classes` if they are
        strings, `UNSPECIFIED` a `PredictOutput`. With several alternatives
        and none keyed `"serving_default"`, the one named by
        `default_serving_output_alternative_key` is also exported as
        `"serving_default"`. The eval metric `"loss"` is dropped (the
        training loop reports its own), and in TRAIN mode all of them (an
        Estimator reads eval metrics only in EVAL). `summaries` carry over.

        Example:

        >>> from keras_heads.compat.learn import ModelFnOps, ProblemType
        >>> scores = np.array([0.5, 2.0], "float32")
        >>> spec = ModelFnOps(
        ...     mode="infer", predictions={"scores": scores},
        ...     output_alternatives={
        ...         "a": (ProblemType.LINEAR_REGRESSION, {"scores": scores}),
        ...         "b": (ProblemType.UNSPECIFIED, {"scores": scores})},
        ... ).estimator_spec(default_serving_output_alternative_key="a")
        >>> sorted(spec.export_outputs)
        ['a', 'b', 'serving_default']
        >>> type(spec.export_outputs["serving_default"]).__name__
        'RegressionOutput'
        """
        export_outputs = None
        if self.output_alternatives:
            alternatives = self.output_alternatives
            default = core_keys.SignatureKeys.DEFAULT
            key = default_serving_output_alternative_key
            needs_default = (
                len(alternatives) > 1 and default not in alternatives
            )
            if needs_default and key not in alternatives:
                raise ValueError(
                    "default_serving_output_alternative_key must name one of "
                    "the output_alternatives when there are several and none "
                    f"is keyed {default!r}. Given: {key!r}; "
                    f"output_alternatives keys: {list(alternatives)}."
                )
            export_outputs = {
                name: _export_output(name, *alternative)
                for name, alternative in alternatives.items()
            }
            if needs_default:
                export_outputs[default] = export_outputs[key]
        return EstimatorSpec(
            mode=_CORE_MODES[self.mode],
            predictions=self.predictions,
            loss=self.loss,
            train_op=self.train_op,
            eval_metric_ops=self._core_eval_metric_ops(),
            export_outputs=export_outputs,
            training_chief_hooks=self.training_chief_hooks,
            training_hooks=self.training_hooks,
            scaffold=self.scaffold,
            summaries=self.summaries,
        )

    def _core_eval_metric_ops(self):
        """The eval metrics without `"loss"`; none in TRAIN mode, where an
        Estimator never reads them (the reference's were graph ops that TRAIN
        never ran; here reading them would build and feed them)."""
        if self.mode == ModeKeys.TRAIN:
            return {}
        return {
            key: metric for key, metric in self.eval_metric_ops.items()
            if key != MetricKey.LOSS
        }


def _scalar_loss(loss):
    loss = ops.convert_to_tensor(loss)
    shape = tuple(loss.shape)
    if any(d is None for d in shape) or int(np.prod(shape)) == 1:
        return ops.reshape(loss, ()) if shape else loss
    raise ValueError(
        f"Loss must be scalar: a loss of one element was expected; got shape "
        f"{shape}."
    )


def _scores(tensors):
    scores = tensors.get(PredictionKey.SCORES)
    if scores is None:
        scores = tensors.get(PredictionKey.PROBABILITIES)
    return scores


def _string_classes(tensors):
    classes = tensors.get(PredictionKey.CLASSES)
    if classes is not None and backend.is_string(classes):
        return classes
    return None


def _export_output(key, problem_type, tensors):
    if problem_type == ProblemType.LINEAR_REGRESSION:
        scores = _scores(tensors)
        if scores is None:
            raise ValueError(
                f"Output alternative {key!r} (LINEAR_REGRESSION) has neither "
                f"{PredictionKey.SCORES!r} nor "
                f"{PredictionKey.PROBABILITIES!r}; its keys are "
                f"{list(tensors)}."
            )
        return RegressionOutput(scores)
    if problem_type in (
        ProblemType.CLASSIFICATION, ProblemType.LOGISTIC_REGRESSION
    ):
        scores, classes = _scores(tensors), _string_classes(tensors)
        if scores is None and classes is None:
            raise ValueError(
                f"Output alternative {key!r} (problem_type={problem_type}) "
                "cannot become a ClassificationOutput: it has no "
                f"{PredictionKey.SCORES!r} or {PredictionKey.PROBABILITIES!r} "
                f"and no string {PredictionKey.CLASSES!r}; its keys are "
                f"{list(tensors)}. (A binary_svm_head's output alternative is "
                "such a case.)"
            )
        return ClassificationOutput(scores=scores, classes=classes)
    if problem_type == ProblemType.UNSPECIFIED:
        if isinstance(tensors, collections.abc.Mapping):
            tensors = dict(tensors)
        return PredictOutput(tensors)
    raise ValueError(
        f"Unknown problem_type={problem_type} for output alternative {key!r}. "
        "Expected a ProblemType: UNSPECIFIED (0), CLASSIFICATION (1), "
        "LINEAR_REGRESSION (2) or LOGISTIC_REGRESSION (3)."
    )
