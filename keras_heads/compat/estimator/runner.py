"""`Estimator`: runs a `model_fn(features, labels, mode, params)` as
`tf.estimator.Estimator` did, on TensorFlow 2.

Each mode's step is one `tf.function` that calls `model_fn` while tracing;
a `VariableStore` hands every trace the variables of the first (see
`variables.py`), so the network `model_fn` builds is the same network in
`train`, `evaluate`, `predict` and the export. The variables, and a
`global_step`, are checkpointed in `model_dir` after training and restored
before every call, as the reference restored them into each new graph.
"""

import logging
import os
import tempfile

import keras
import numpy as np
import tensorflow as tf

from keras_heads.compat.estimator import checkpoints
from keras_heads.compat.estimator import export as export_lib
from keras_heads.compat.estimator import inputs
from keras_heads.compat.estimator.variables import VariableStore
from keras_heads.keys import ModeKeys
from keras_heads.spec import EstimatorSpec

_log = logging.getLogger("keras_heads.compat.estimator")


class RunConfig:
    """Where and how often an `Estimator` writes.

    Args:
        model_dir: Directory of checkpoints and summaries.
        save_checkpoints_steps: Also checkpoint every this many training
            steps (a checkpoint is always written when `train` ends).
        keep_checkpoint_max: How many checkpoints to keep.
        save_summary_steps: Write the training summaries every this many
            steps.
        log_step_count_steps: Log the loss every this many steps.
        tf_random_seed: Seed of TensorFlow's global generator, set when the
            `Estimator` is made.

    >>> RunConfig(model_dir="/tmp/m", save_checkpoints_steps=50).model_dir
    '/tmp/m'
    """

    def __init__(self, model_dir=None, save_checkpoints_steps=None,
                 keep_checkpoint_max=5, save_summary_steps=100,
                 log_step_count_steps=100, tf_random_seed=None):
        self.model_dir = model_dir
        self.save_checkpoints_steps = save_checkpoints_steps
        self.keep_checkpoint_max = keep_checkpoint_max
        self.save_summary_steps = save_summary_steps
        self.log_step_count_steps = log_step_count_steps
        self.tf_random_seed = tf_random_seed

    def replace(self, **changes):
        """A copy with `changes` applied."""
        config = RunConfig(**vars(self))
        for name, value in changes.items():
            if not hasattr(config, name):
                raise ValueError(f"RunConfig has no argument {name!r}.")
            setattr(config, name, value)
        return config


class Estimator:
    """Trains, evaluates, predicts with and exports a `model_fn`.

    `model_fn(features, labels, mode[, params][, config])` returns a
    `keras_heads.EstimatorSpec` (e.g. from `head.create_estimator_spec`) or a
    contrib.learn `ModelFnOps`. It may build its network on every call:
    variables are matched across calls by name and creation order (see
    `keras_heads.compat.estimator.variables`). Inside `model_fn`,
    `tf.compat.v1.train.get_global_step()` and
    `tf.compat.v1.trainable_variables()` work, so TF1 optimizers'
    `minimize(loss, global_step=...)` does.

    `input_fn([params][, mode][, config])` returns a `tf.data.Dataset` of
    `(features, labels)` (or of features alone), or one batch as such a
    tuple.

    Args:
        model_fn: the function above.
        model_dir: where checkpoints and summaries go (a new temporary
            directory if neither this nor `config.model_dir` is given).
        config: a `RunConfig`.
        params: a dict handed to `model_fn` and `input_fn` as `params`.
        warm_start_from: a checkpoint (or a directory of them) whose
            trainable variables start training when `model_dir` has no
            checkpoint yet.

    Example (TensorFlow only, so not run as a doctest):

        def model_fn(features, labels, mode):
            logits = keras.layers.Dense(1)(features["x"])
            return head.create_estimator_spec(
                features, mode, logits, labels,
                train_op_fn=lambda loss: optimizer.minimize(
                    loss, global_step=tf.compat.v1.train.get_global_step()))

        estimator = Estimator(model_fn, model_dir="/tmp/model")
        estimator.train(input_fn, steps=100)
        estimator.evaluate(input_fn)   # {"loss": ..., "auc": ..., ...}
    """

    def __init__(self, model_fn, model_dir=None, config=None, params=None,
                 warm_start_from=None):
        if keras.backend.backend() != "tensorflow":
            raise ValueError(
                "The Estimator runner traces model_fn with tf.function and "
                "needs the tensorflow Keras backend; KERAS_BACKEND is "
                f"{keras.backend.backend()!r}. Set KERAS_BACKEND=tensorflow, "
                "or move to keras_heads.HeadModel, which runs on every backend."
            )
        inputs.check_model_fn(model_fn)
        if config is not None and not isinstance(config, RunConfig):
            raise ValueError(
                "config must be a keras_heads.compat.estimator.RunConfig; got "
                f"{type(config).__name__}."
            )
        config = config or RunConfig()
        if model_dir is not None and config.model_dir not in (None, model_dir):
            raise ValueError(
                f"model_dir={model_dir!r} and config.model_dir="
                f"{config.model_dir!r} differ; give one of them."
            )
        model_dir = model_dir or config.model_dir
        if model_dir is None:
            model_dir = tempfile.mkdtemp(prefix="keras_heads_model_")
            _log.warning("Using temporary folder as model directory: %s",
                         model_dir)
        self._model_dir = os.fspath(model_dir)
        self._config = config.replace(model_dir=self._model_dir)
        self._params = dict(params or {})
        self._model_fn = model_fn
        self._warm_start_from = warm_start_from
        if config.tf_random_seed is not None:
            tf.random.set_seed(config.tf_random_seed)
        self._store = VariableStore()
        self._global_step = tf.Variable(
            0, dtype=tf.int64, trainable=False, name="global_step"
        )
        self._steps = {}  # mode -> tf.function
        self._specs = {}  # mode -> the EstimatorSpec of the last trace

    # --- properties -----------------------------------------------------------

    @property
    def model_dir(self):
        return self._model_dir

    @property
    def config(self):
        return self._config

    @property
    def params(self):
        return dict(self._params)

    @property
    def model_fn(self):
        return self._model_fn

    # --- the public API -------------------------------------------------------

    def train(self, input_fn, hooks=None, steps=None, max_steps=None,
              saving_listeners=None):
        """Trains for `steps` more steps, up to global step `max_steps`, or
        until `input_fn`'s data runs out; then writes a checkpoint."""
        _no_hooks(hooks, "hooks")
        _no_hooks(saving_listeners, "saving_listeners")
        if steps is not None and max_steps is not None:
            raise ValueError("Can not provide both steps and max_steps.")
        for name, value in (("steps", steps), ("max_steps", max_steps)):
            if value is not None and value <= 0:
                raise ValueError(f"Must specify {name} > 0, given: {value}")
        batches, endless = inputs.batches(
            input_fn, ModeKeys.TRAIN, self._params, self._config, repeat=True
        )
        first = next(batches, None)
        if first is None:
            return self
        step_fn = self._prepared(ModeKeys.TRAIN, first, restore_warm=True)
        start = int(self._global_step.numpy())
        if max_steps is not None:
            if start >= max_steps:
                _log.info("Skipping training since max_steps has already "
                          "saved.")
                return self
            steps = max_steps - start
        elif steps is None and endless:
            raise ValueError(
                "input_fn returned one batch and neither steps nor max_steps "
                "was given, so training would never stop."
            )
        writer = tf.summary.create_file_writer(self._model_dir)
        done = 0
        for features, labels in _prepend(first, batches):
            loss, summaries = step_fn(features, labels)
            done += 1
            step = int(self._global_step.numpy())
            if not np.isfinite(loss.numpy()):
                raise FloatingPointError(
                    f"Model diverged with loss = NaN at step {step}."
                )
            self._after_train_step(step, loss, summaries, writer)
            if steps is not None and done >= steps:
                break
        writer.flush()
        self._save()
        return self

    def evaluate(self, input_fn, steps=None, hooks=None, checkpoint_path=None,
                 name=None):
        """The metrics of `model_fn`'s EVAL spec over `input_fn`'s data (or
        its first `steps` batches), plus `loss` (the mean batch loss) and
        `global_step`."""
        _no_hooks(hooks, "hooks")
        if steps is not None and steps <= 0:
            raise ValueError(f"Must specify steps > 0, given: {steps}")
        batches, _ = inputs.batches(
            input_fn, ModeKeys.EVAL, self._params, self._config, repeat=False
        )
        first = next(batches, None)
        if first is None:
            raise ValueError("input_fn of evaluate produced no batch.")
        step_fn = self._prepared(ModeKeys.EVAL, first, checkpoint_path)
        metrics = self._specs[ModeKeys.EVAL].eval_metric_ops
        for metric in metrics.values():
            metric.reset_state()
        losses = []
        for features, labels in _prepend(first, batches):
            losses.append(float(step_fn(features, labels)))
            if steps is not None and len(losses) >= steps:
                break
        results = {key: _numpy(m.result()) for key, m in metrics.items()}
        results["loss"] = np.float32(np.mean(losses))
        results["global_step"] = self._global_step.numpy()
        self._write_eval_summaries(results, name)
        return results

    def predict(self, input_fn, predict_keys=None, hooks=None,
                checkpoint_path=None, yield_single_examples=True):
        """Yields `model_fn`'s PREDICT predictions for `input_fn`'s features,
        one example at a time (or one batch, if not
        `yield_single_examples`)."""
        _no_hooks(hooks, "hooks")
        batches, _ = inputs.batches(
            input_fn, ModeKeys.PREDICT, self._params, self._config,
            repeat=False,
        )
        first = next(batches, None)
        if first is None:
            return
        first = (first[0], None)
        step_fn = self._prepared(ModeKeys.PREDICT, first, checkpoint_path)
        keys = self._predict_keys(predict_keys)
        for features, _ in _prepend(first, batches):
            values = {k: v.numpy() for k, v in step_fn(features, None).items()}
            values = {k: values[k] for k in keys}
            if not yield_single_examples:
                yield values
                continue
            size = _batch_size(values)
            for i in range(size):
                yield {k: v[i] for k, v in values.items()}

    def export_saved_model(self, export_dir_base, serving_input_receiver_fn,
                           assets_extra=None, as_text=False,
                           checkpoint_path=None,
                           experimental_mode=ModeKeys.PREDICT):
        """Writes the PREDICT spec's export outputs as the signatures of a
        SavedModel in a new timestamped directory under `export_dir_base`;
        returns that directory (bytes)."""
        if as_text:
            raise ValueError(
                "as_text=True is not supported: TensorFlow 2 writes "
                "SavedModels in binary form only."
            )
        if experimental_mode != ModeKeys.PREDICT:
            raise ValueError(
                "Only experimental_mode=ModeKeys.PREDICT is supported; got "
                f"{experimental_mode!r}."
            )
        receiver = serving_input_receiver_fn()
        if not isinstance(receiver, export_lib.ServingInputReceiver):
            raise ValueError(
                "serving_input_receiver_fn must return a "
                "keras_heads.compat.estimator.ServingInputReceiver; got "
                f"{type(receiver).__name__}."
            )

        def export_outputs(features):
            spec = self._traced_spec(features, None, ModeKeys.PREDICT)
            return dict(spec.export_outputs)

        signatures = export_lib.signatures(export_outputs, receiver)
        path = self._restore(checkpoint_path)
        if path is None:
            raise ValueError(
                f"Couldn't find trained model at {self._model_dir}."
            )
        variables = list(self._store.persistent_variables().values())
        return export_lib.write_saved_model(
            export_dir_base, signatures, [self._global_step, *variables],
            assets_extra,
        )

    def latest_checkpoint(self):
        """The path of the newest checkpoint in `model_dir`, or None."""
        return tf.train.latest_checkpoint(self._model_dir)

    def get_variable_names(self):
        """The names of the variables in the latest checkpoint."""
        return sorted(self._checkpoint_values())

    def get_variable_value(self, name):
        """The value of the variable `name` in the latest checkpoint."""
        values = self._checkpoint_values()
        if name not in values:
            raise ValueError(
                f"Variable {name!r} is not in the checkpoint; it has "
                f"{sorted(values)}."
            )
        return values[name]

    # --- steps ------------------------------------------------------------------

    def _traced_spec(self, features, labels, mode):
        """Calls `model_fn` inside the store's scope (while tracing)."""
        with self._store.scope(global_step=self._global_step):
            result = inputs.call_with_declared(
                self._model_fn,
                {"features": features, "mode": mode},
                {"labels": labels, "params": self._params,
                 "config": self._config},
            )
        spec = _as_estimator_spec(result, mode)
        if mode == ModeKeys.EVAL:
            _check_metrics(spec.eval_metric_ops)
        self._store.mark_local(
            v for m in spec.eval_metric_ops.values() for v in _metric_vars(m)
        )
        self._specs[mode] = spec
        return spec

    def _step_fn(self, mode):
        if mode in self._steps:
            return self._steps[mode]
        global_step = self._global_step

        def train_step(features, labels):
            before = global_step.read_value()
            spec = self._traced_spec(features, labels, mode)
            with tf.control_dependencies(_ops(spec.train_op)):
                # The train op may have advanced the step (a TF1 optimizer's
                # minimize(global_step=...)); else this step counts it.
                after = global_step.read_value()
                global_step.assign(tf.maximum(after, before + 1))
            return spec.loss, dict(spec.summaries)

        def eval_step(features, labels):
            return self._traced_spec(features, labels, mode).loss

        def predict_step(features, labels):
            spec = self._traced_spec(features, labels, mode)
            return dict(spec.predictions)

        step = {ModeKeys.TRAIN: train_step, ModeKeys.EVAL: eval_step,
                ModeKeys.PREDICT: predict_step}[mode]
        # No AutoGraph: model_fn is Python that builds ops, as in a TF1 graph.
        self._steps[mode] = tf.function(
            step, reduce_retracing=True, autograph=False
        )
        return self._steps[mode]

    def _prepared(self, mode, first_batch, checkpoint_path=None,
                  restore_warm=False):
        """The step function of `mode`, traced (so every variable exists)
        and with the variables restored from the checkpoint."""
        step_fn = self._step_fn(mode)
        step_fn.get_concrete_function(*first_batch)
        path = self._restore(checkpoint_path)
        if path is None and restore_warm and self._warm_start_from:
            self._restore(self._warm_start_from, warm_start=True)
        elif path is None and mode != ModeKeys.TRAIN:
            _log.warning(
                "Could not find trained model in model_dir: %s, running "
                "initialization to %s.", self._model_dir,
                "evaluate" if mode == ModeKeys.EVAL else "predict",
            )
        return step_fn

    def _predict_keys(self, predict_keys):
        available = list(self._specs[ModeKeys.PREDICT].predictions)
        if predict_keys is None:
            return available
        if isinstance(predict_keys, str):
            predict_keys = [predict_keys]
        missing = [k for k in predict_keys if k not in available]
        if missing:
            raise ValueError(
                f"predict_keys argument is not valid: {missing} are not in "
                f"the predictions, whose keys are {available}."
            )
        return list(predict_keys)

    def _after_train_step(self, step, loss, summaries, writer):
        config = self._config
        if config.log_step_count_steps and step % config.log_step_count_steps == 0:
            _log.info("loss = %s, step = %d", float(loss), step)
        if config.save_summary_steps and step % config.save_summary_steps == 0:
            with writer.as_default(step=step):
                for key, value in summaries.items():
                    tf.summary.scalar(key, value)
        if (config.save_checkpoints_steps
                and step % config.save_checkpoints_steps == 0):
            self._save()

    def _write_eval_summaries(self, results, name):
        directory = os.path.join(
            self._model_dir, "eval" if not name else f"eval_{name}"
        )
        step = int(results["global_step"])
        with tf.summary.create_file_writer(directory).as_default(step=step):
            for key, value in results.items():
                if key != "global_step" and np.ndim(value) == 0:
                    tf.summary.scalar(_summary_name(key), float(value))

    # --- checkpoints --------------------------------------------------------------

    def _save(self):
        path = checkpoints.save(
            self._model_dir, self._store.persistent_variables(),
            self._global_step, self._config.keep_checkpoint_max,
        )
        _log.info("Saving checkpoints for %d into %s.",
                  int(self._global_step.numpy()), path)
        return path

    def _restore(self, checkpoint_path=None, warm_start=False):
        """Loads a checkpoint (the latest in `model_dir` by default); with
        `warm_start`, only its trainable variables, as the reference's
        default warm start did (not the step, not the optimizer's state)."""
        path = checkpoint_path or self.latest_checkpoint()
        if path is not None and os.path.isdir(path):
            path = tf.train.latest_checkpoint(path)
        if path is None:
            return None
        variables = self._store.persistent_variables()
        step = self._global_step
        if warm_start:
            variables = {k: v for k, v in variables.items() if v.trainable}
            step = tf.Variable(0, dtype=tf.int64)
        checkpoints.restore(path, variables, step)
        return path

    def _checkpoint_values(self):
        path = self.latest_checkpoint()
        if path is None:
            raise ValueError(
                f"Couldn't find trained model at {self._model_dir}."
            )
        return checkpoints.values(path)


def _prepend(first, rest):
    yield first
    yield from rest


def _as_estimator_spec(result, mode):
    if not isinstance(result, EstimatorSpec) and hasattr(
        result, "estimator_spec"
    ):
        result = _from_model_fn_ops(result, mode)
    if not isinstance(result, EstimatorSpec):
        raise ValueError(
            "model_fn must return a keras_heads.EstimatorSpec or a "
            f"ModelFnOps; got {type(result).__name__}."
        )
    if result.mode != mode:
        raise ValueError(
            f"model_fn was called with mode={mode!r} but returned a spec of "
            f"mode={result.mode!r}."
        )
    return result


def _from_model_fn_ops(model_fn_ops, mode):
    """A contrib.learn `ModelFnOps` as an `EstimatorSpec`.

    Its output alternatives become export outputs, which only PREDICT
    uses: other modes drop them (so a head whose alternative cannot be
    exported, like `binary_svm_head`'s, still trains and evaluates). With
    several alternatives and none keyed `serving_default`, the first one
    (a `multi_head`'s first head) is served by default, as `MultiHead`
    does.
    """
    alternatives = model_fn_ops.output_alternatives
    if mode != ModeKeys.PREDICT and alternatives:
        model_fn_ops = model_fn_ops._replace(output_alternatives=None)
        alternatives = None
    default = next(iter(alternatives), None) if alternatives else None
    return model_fn_ops.estimator_spec(
        default_serving_output_alternative_key=default
    )


def _check_metrics(eval_metric_ops):
    for key, metric in eval_metric_ops.items():
        if not hasattr(metric, "result") or not hasattr(metric, "reset_state"):
            raise ValueError(
                f"eval_metric_ops[{key!r}] is a {type(metric).__name__}; the "
                "Estimator reads metric objects (keras.metrics.Metric, as the "
                "heads return), not TF1 (value, update_op) pairs: a value "
                "computed inside a traced step cannot be read after it. Wrap "
                "the quantity in a keras.metrics.Mean (or another Metric)."
            )


def _metric_vars(metric):
    return getattr(metric, "variables", ())


def _ops(train_op):
    """`train_op` as control dependencies (nothing for a Python value)."""
    if train_op is None:
        return []
    items = train_op if isinstance(train_op, (list, tuple)) else [train_op]
    return [
        item for item in items
        if isinstance(item, tf.Operation) or tf.is_tensor(item)
    ]


def _no_hooks(hooks, name):
    if hooks:
        raise ValueError(
            f"{name} are TF1 session hooks, which TensorFlow 2 cannot run; "
            f"got {hooks!r}. Read the results of train/evaluate instead."
        )


def _numpy(value):
    value = value.numpy() if hasattr(value, "numpy") else np.asarray(value)
    return value


def _summary_name(key):
    return "/".join(key) if isinstance(key, tuple) else str(key)


def _batch_size(values):
    sizes = {np.shape(v)[0] for v in values.values() if np.ndim(v) > 0}
    if len(sizes) != 1:
        raise ValueError(
            "yield_single_examples=True needs predictions of one batch size; "
            f"got sizes {sorted(sizes)}. Use yield_single_examples=False."
        )
    return sizes.pop()
