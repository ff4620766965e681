"""The workloads on the reference: tf.estimator 2.15's heads (on tf.keras 2).

Runs in its own virtualenv (tensorflow-cpu 2.15.1, tensorflow-estimator
2.15.0), which has neither keras_heads nor Keras 3; it needs only NumPy's
`benchmarks.workloads`. Each workload runs its per-batch (or per-step) work in
a `tf.function`: in graph mode, as Estimator ran it, or with
REFERENCE_MODE=jit compiled with XLA (`jit_compile=True`) where the
reference's heads allow it. Measured here (2 cores), XLA made the reference
1.5-3x faster on W1 and 2x on W5, and slower on W4.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from importlib import metadata  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks import workloads  # noqa: E402

# Graph mode is how Estimator ran the heads; REFERENCE_MODE=jit compiles the
# same functions with XLA, where the reference allows it.
MODE = os.environ.get("REFERENCE_MODE", "graph")
LABEL = "reference (tf.estimator 2.15)" + (", XLA" if MODE == "jit" else "")
# The workloads whose `update_metrics` cannot compile: their heads make
# string class predictions (`AsString`, which XLA lacks).
NOT_COMPILABLE = ("multi_class", "binary")


def versions():
    return {
        "tensorflow": tf.__version__,
        "tensorflow_estimator": metadata.version("tensorflow-estimator"),
        "keras": metadata.version("keras"),
    }


def _function(function, mode):
    return tf.function(function, jit_compile=(mode == "jit"))


def _head(workload):
    if workload.kind in ("multi_label", "loss_floor"):
        return tf.estimator.MultiLabelHead(
            n_classes=workload.n_classes, thresholds=workloads.THRESHOLDS
        )
    if workload.kind == "multi_class":
        return tf.estimator.MultiClassHead(n_classes=workload.n_classes)
    return tf.estimator.BinaryClassHead(thresholds=[0.5])


def build(workload):
    mode = MODE
    if mode == "jit" and workload.kind in NOT_COMPILABLE:
        return None
    if workload.kind == "train":
        run = _train(workload, mode)
    elif workload.kind == "loss_floor":
        run = _loss_floor(workload, mode)
    else:
        run = _evaluation(workload, mode)
    run.extra = {**getattr(run, "extra", {}), "mode": mode}
    return run


def _evaluation(workload, mode):
    """W1-W3: per batch `loss` and `update_metrics`, then the results."""
    head = _head(workload)
    logits, labels = workloads.streaming_batches(workload)
    logits = [tf.constant(x) for x in logits]
    labels = [tf.constant(y) for y in labels]
    order = workloads.batch_order(workload)
    eval_metrics = head.metrics()

    def step(logits, labels):
        loss = head.loss(labels=labels, logits=logits, features={})
        head.update_metrics(
            eval_metrics, features={}, logits=logits, labels=labels
        )
        return loss

    # BinaryClassHead's `accuracy_baseline` is not a stateful metric: each
    # `update_metrics` call rebinds its total to a tensor derived from
    # `label_mean`, which lives only in the graph of that call (Estimator
    # built one graph for updates and results). So the results are read after
    # an update over an empty batch, which changes no state and derives the
    # baseline again in the graph that reads it.
    empty_logits = tf.zeros((0,) + tuple(logits[0].shape[1:]), logits[0].dtype)
    empty_labels = tf.zeros((0,) + tuple(labels[0].shape[1:]), labels[0].dtype)

    def results():
        head.update_metrics(
            eval_metrics, features={}, logits=empty_logits, labels=empty_labels
        )
        return {key: m.result() for key, m in eval_metrics.items()}

    step = _function(step, mode)
    results = _function(results, mode)

    def reset():
        for metric in eval_metrics.values():
            metric.reset_state()

    def run():
        losses = [step(logits[i], labels[i]) for i in order]
        return _values(results(), losses)

    run.reset = reset
    return run


def _values(results, losses):
    values = {key: float(v) for key, v in results.items()}
    values["mean batch loss"] = float(np.mean([float(x) for x in losses]))
    return values


def _train(workload, mode):
    """W4: MLP + MultiHead, forward + loss + gradients + Adam per step."""
    data = workloads.train_data(workload)
    head = tf.estimator.MultiHead([
        tf.estimator.MultiClassHead(10, name="class"),
        tf.estimator.BinaryClassHead(name="binary"),
        tf.estimator.RegressionHead(name="regression"),
    ])
    sizes = workloads.W4_LAYERS
    layers = tf.keras.layers
    model = tf.keras.Sequential(
        [tf.keras.Input((sizes[0],))]
        + [layers.Dense(n, activation="relu") for n in sizes[1:-1]]
        + [layers.Dense(sizes[-1])]
    )
    model.set_weights(data["weights"])
    # epsilon=1e-7 is the default of both tf.keras 2.15 and Keras 3.
    optimizer = tf.keras.optimizers.Adam(workloads.W4_LEARNING_RATE)
    optimizer.build(model.trainable_variables)
    x = tf.constant(data["x"])
    labels = {
        "class": tf.constant(data["class_labels"]),
        "binary": tf.constant(data["binary_labels"]),
        "regression": tf.constant(data["regression_labels"]),
    }
    # Each repetition restores the weights and the optimizer's step count and
    # moments (the values they have now) in one graph call.
    variables = model.trainable_variables + list(optimizer.variables)
    initial = [tf.constant(v.numpy()) for v in variables]
    steps = workload.batches

    @tf.function
    def reset():
        for variable, value in zip(variables, initial):
            variable.assign(value)

    def step(x, labels):
        with tf.GradientTape() as tape:
            loss = head.loss(labels=labels, logits=model(x), features={})
        weights = model.trainable_variables
        grads = tape.gradient(loss, weights)
        optimizer.apply_gradients(zip(grads, weights))
        return loss

    step = _function(step, mode)

    def run():
        return _train_values([step(x, labels) for _ in range(steps)])

    run.reset = reset
    return run


def _train_values(losses):
    return {
        "first loss": float(losses[0]),
        "last loss": float(losses[-1]),
    }


def _loss_floor(workload, mode):
    """W5: one multi-label loss over a `[4096, 16384]` batch."""
    head = _head(workload)
    logits_np, labels_np = workloads.loss_floor_data(workload)
    logits = tf.constant(logits_np)
    labels = tf.constant(labels_np)
    loss = _function(
        lambda logits, labels: head.loss(
            labels=labels, logits=logits, features={}
        ),
        mode,
    )

    def run():
        return {"loss": float(loss(logits, labels))}

    run.extra = workloads.read_floor(logits_np, labels_np)
    return run
