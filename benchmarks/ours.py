"""keras_heads on the current Keras backend, compiled as a user would.

TensorFlow: `tf.function(jit_compile=True)` with the head's metric objects.
JAX: `jax.jit` over the stateless API (`stateless_update_metrics`,
`Model.stateless_call`, `Optimizer.stateless_apply`). PyTorch: eager (the
Keras metrics and optimizer are eager on this backend).
"""

import functools

import keras
import numpy as np
from keras import ops

import keras_heads
from benchmarks import workloads

BACKEND = keras.backend.backend()
LABEL = f"keras_heads[{BACKEND}]"


def versions():
    out = {"keras_heads": keras_heads.__version__, "keras": keras.__version__}
    if BACKEND == "tensorflow":
        import tensorflow as tf

        out["tensorflow"] = tf.__version__
    elif BACKEND == "jax":
        import jax

        out["jax"] = jax.__version__
    else:
        import torch

        out["torch"] = torch.__version__
    return out


def _head(workload):
    if workload.kind in ("multi_label", "loss_floor"):
        return keras_heads.MultiLabelHead(
            n_classes=workload.n_classes, thresholds=workloads.THRESHOLDS
        )
    if workload.kind == "multi_class":
        return keras_heads.MultiClassHead(n_classes=workload.n_classes)
    return keras_heads.BinaryClassHead(thresholds=[0.5])


def _compile(function):
    if BACKEND == "tensorflow":
        import tensorflow as tf

        return tf.function(function, jit_compile=True)
    if BACKEND == "jax":
        import jax

        return jax.jit(function)
    return function


def build(workload):
    if workload.kind == "train":
        return _train(workload)
    if workload.kind == "loss_floor":
        return _loss_floor(workload)
    return _evaluation(workload)


def _evaluation(workload, mode=keras_heads.ModeKeys.EVAL):
    """W1-W3: per batch `loss` and `update_metrics`, then the results.

    Both calls get `mode=EVAL`, as an evaluation does: on a large batch
    they then share one pass (see `SingleHead.update_metrics`).
    """
    head = _head(workload)
    logits, labels = workloads.streaming_batches(workload)
    logits = [ops.convert_to_tensor(x) for x in logits]
    labels = [ops.convert_to_tensor(y) for y in labels]
    order = workloads.batch_order(workload)
    eval_metrics = head.metrics()

    if BACKEND == "jax":
        initial = head.metric_variables(eval_metrics)

        import jax

        # The state is donated, as in the hand-written step: XLA updates it
        # in place instead of allocating new buffers each batch.
        @functools.partial(jax.jit, donate_argnums=0)
        def step(state, logits, labels):
            loss = head.loss(labels=labels, logits=logits, mode=mode)
            state = head.stateless_update_metrics(
                state, eval_metrics, {}, logits, labels, mode=mode
            )
            return state, loss

        results = _compile(
            lambda state: head.stateless_metric_results(state, eval_metrics)
        )

        state = None

        def reset():
            nonlocal state
            state = [jax.numpy.copy(v) for v in initial]

        def run():
            nonlocal state
            losses = []
            for i in order:
                state, loss = step(state, logits[i], labels[i])
                losses.append(loss)
            return _values(results(state), losses)

        run.reset = reset
        return run

    @_compile
    def step(logits, labels):
        loss = head.loss(labels=labels, logits=logits, mode=mode)
        head.update_metrics(eval_metrics, {}, logits, labels, mode=mode)
        return loss

    results = _compile(
        lambda: {key: m.result() for key, m in eval_metrics.items()}
    )

    def reset():
        for metric in eval_metrics.values():
            metric.reset_state()

    def run():
        call = _fastest_call(step, logits[0], labels[0])
        losses = [call(logits[i], labels[i]) for i in order]
        return _values(results(), losses)

    run.reset = reset
    return run


def _fastest_call(step, *example):
    """On TensorFlow, the traced concrete function: it skips tf.function's
    argument matching (about 100 us a call), as the hand-written code does."""
    if BACKEND == "tensorflow":
        return step.get_concrete_function(*example)
    return step


def _values(results, losses):
    values = {key: float(v) for key, v in results.items()}
    values["mean batch loss"] = float(np.mean([float(x) for x in losses]))
    return values


def _train(workload):
    """W4: MLP + MultiHead, forward + loss + gradients + Adam per step."""
    data = workloads.train_data(workload)
    head = keras_heads.MultiHead([
        keras_heads.MultiClassHead(10, name="class"),
        keras_heads.BinaryClassHead(name="binary"),
        keras_heads.RegressionHead(name="regression"),
    ])
    sizes = workloads.W4_LAYERS
    model = keras.Sequential(
        [keras.Input((sizes[0],))]
        + [keras.layers.Dense(n, activation="relu") for n in sizes[1:-1]]
        + [keras.layers.Dense(sizes[-1])]
    )
    model.set_weights(data["weights"])
    optimizer = keras.optimizers.Adam(workloads.W4_LEARNING_RATE)
    optimizer.build(model.trainable_variables)
    x = ops.convert_to_tensor(data["x"])
    labels = {
        "class": ops.convert_to_tensor(data["class_labels"]),
        "binary": ops.convert_to_tensor(data["binary_labels"]),
        "regression": ops.convert_to_tensor(data["regression_labels"]),
    }
    steps = workload.batches

    if BACKEND == "jax":
        import jax

        def loss_fn(trainable, non_trainable, x, labels):
            logits, _ = model.stateless_call(trainable, non_trainable, x)
            return head.loss(labels=labels, logits=logits)

        @jax.jit
        def step(trainable, non_trainable, optimizer_state, x, labels):
            loss, grads = jax.value_and_grad(loss_fn)(
                trainable, non_trainable, x, labels
            )
            trainable, optimizer_state = optimizer.stateless_apply(
                optimizer_state, grads, trainable
            )
            return trainable, optimizer_state, loss

        initial = (
            [v.value for v in model.trainable_variables],
            [v.value for v in model.non_trainable_variables],
            [v.value for v in optimizer.variables],
        )

        def run():
            trainable, non_trainable, optimizer_state = initial
            losses = []
            for _ in range(steps):
                trainable, optimizer_state, loss = step(
                    trainable, non_trainable, optimizer_state, x, labels
                )
                losses.append(loss)
            return _train_values(losses)

        return run

    variables = model.trainable_variables + optimizer.variables
    initial = [np.array(v) for v in variables]

    def reset():
        for variable, value in zip(variables, initial):
            variable.assign(value)

    if BACKEND == "tensorflow":
        import tensorflow as tf

        @tf.function(jit_compile=True)
        def step(x, labels):
            with tf.GradientTape() as tape:
                loss = head.loss(labels=labels, logits=model(x))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply(grads, model.trainable_variables)
            return loss

        reset = tf.function(reset)
    else:

        def step(x, labels):
            model.zero_grad()
            loss = head.loss(labels=labels, logits=model(x))
            loss.backward()
            variables = model.trainable_variables
            optimizer.apply([v.value.grad for v in variables], variables)
            return loss.detach()

    def run():
        call = _fastest_call(step, x, labels)
        return _train_values([call(x, labels) for _ in range(steps)])

    run.reset = reset
    return run


def _train_values(losses):
    return {
        "first loss": float(losses[0]),
        "last loss": float(losses[-1]),
    }


def _loss_floor(workload):
    """W5: one multi-label loss over a `[4096, 16384]` batch."""
    head = _head(workload)
    logits_np, labels_np = workloads.loss_floor_data(workload)
    logits = ops.convert_to_tensor(logits_np)
    labels = ops.convert_to_tensor(labels_np)
    loss = _compile(lambda logits, labels: head.loss(labels, logits))

    def run():
        return {"loss": float(loss(logits, labels))}

    run.extra = workloads.read_floor(logits_np, labels_np)
    return run
