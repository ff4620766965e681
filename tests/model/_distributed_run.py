"""One training run of `test_distribution.py`, in a process of its own.

    python _distributed_run.py MODE OUT_JSON [--cases C,...]
                               [--worker INDEX --ports PORT,PORT]

MODE is `single` (one device), `mirrored` (`tf.distribute.MirroredStrategy`
over two logical CPUs), `multi_worker` (`MultiWorkerMirroredStrategy`, this
process being worker INDEX of two on 127.0.0.1) or `data_parallel`
(`keras.distribution.DataParallel` over two JAX host devices; the parent
sets `XLA_FLAGS=--xla_force_host_platform_device_count=2`). Devices are set
up before TensorFlow or JAX initialise theirs, which is why every run gets a
fresh process.

For each case (class labels as ids or names, a loss reduction, and
optionally `<examples>x<batch size>`, else `EXAMPLES` in batches of
`GLOBAL_BATCH`; all of `CASES` by default), the run builds the same
`HeadModel` (fixed weights), trains it one epoch with SGD, unshuffled, then
evaluates it, and writes `{case: {"weights", "history", "evaluate"}}` (and
in `single` mode `"loss_by_hand"`, the evaluation's loss computed batch by
batch; or `{case: {"error"}}`) plus the number of replicas to OUT_JSON.
"""

import json
import os

import numpy as np

EXAMPLES = 32
GLOBAL_BATCH = 8
REPLICAS = 2
VOCABULARY = ["ant", "bee", "cat"]
REDUCTIONS = ("sum", "sum_over_batch_size")  # keras_heads.Reduction values
# How the multi-class head takes its labels: class ids, or class names
# (`label_vocabulary`).
LABELS = ("ids", "names")
CASES = tuple(f"{labels}-{reduction}"
              for labels in LABELS for reduction in REDUCTIONS)
# Example counts and batch sizes whose last batch two replicas cannot share
# evenly: a last batch of 1 (one replica gets none) or 3 (two and one).
UNEVEN_SPLITS = ("25x8", "7x4", "9x2")
UNEVEN_CASES = tuple(f"ids-{reduction}-{split}"
                     for split in UNEVEN_SPLITS for reduction in REDUCTIONS)


def make_data(labels_kind="names", examples=EXAMPLES, batch=GLOBAL_BATCH):
    """`(features, labels)`, class labels as ids or names.

    Every global batch of `batch` examples splits into halves (one per
    replica) whose weighted losses differ."""
    rng = np.random.RandomState(0)
    x = rng.normal(size=(examples, 4)).astype("float32")
    weights = rng.uniform(0.2, 0.8, size=(examples, 1)).astype("float32")
    # The first half of each global batch weighs over twice the second.
    first_half = (np.arange(examples) % batch) < batch // 2
    weights[first_half] += 1.5
    class_ids = rng.randint(0, 3, size=(examples, 1))
    labels = {
        "cls": (np.array(VOCABULARY)[class_ids] if labels_kind == "names"
                else class_ids.astype("int64")),
        "bin": rng.randint(0, 2, size=(examples, 1)).astype("int64"),
        "reg": rng.normal(size=(examples, 1)).astype("float32"),
    }
    return {"x": x, "w": weights}, labels


def make_model(reduction, labels_kind="names"):
    """A `MultiHead` (weighted multi-class, with a vocabulary for names;
    weighted binary; regression; unequal head weights) on a small functional
    network with an L2-regularized hidden layer, its weights fixed."""
    import keras

    import keras_heads

    inputs = keras.Input((4,), name="x")
    hidden = keras.layers.Dense(
        5, activation="tanh", name="hidden",
        kernel_regularizer=keras.regularizers.L2(0.01),
    )(inputs)
    logits = {
        name: keras.layers.Dense(units, name=f"logits_{name}")(hidden)
        for name, units in (("cls", 3), ("bin", 1), ("reg", 1))
    }
    network = keras.Model({"x": inputs}, logits)
    rng = np.random.RandomState(1)
    network.set_weights([
        rng.normal(scale=0.7, size=tuple(v.shape)).astype("float32")
        for v in network.weights
    ])
    head = keras_heads.MultiHead(
        [
            keras_heads.MultiClassHead(
                3, weight_column="w",
                label_vocabulary=(
                    VOCABULARY if labels_kind == "names" else None
                ),
                loss_reduction=reduction, name="cls",
            ),
            keras_heads.BinaryClassHead(
                weight_column="w", loss_reduction=reduction, name="bin"
            ),
            keras_heads.RegressionHead(loss_reduction=reduction, name="reg"),
        ],
        head_weights=[1.0, 0.5, 2.0],
    )
    model = keras_heads.HeadModel(network, head)
    # A SUM loss grows with the batch: a smaller step keeps SGD stable.
    rate = 0.02 if reduction == "sum" else 0.1
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=rate))
    return model


def _strategy(mode):
    """Sets up the devices for `mode`; returns `(scope, replicas)`, `scope`
    a function giving the context to build models in."""
    import contextlib

    backend = os.environ["KERAS_BACKEND"]
    if backend == "tensorflow":
        import tensorflow as tf

        if mode == "mirrored":
            (cpu,) = tf.config.list_physical_devices("CPU")
            tf.config.set_logical_device_configuration(
                cpu, [tf.config.LogicalDeviceConfiguration()] * REPLICAS
            )
            strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        elif mode == "multi_worker":
            strategy = tf.distribute.MultiWorkerMirroredStrategy()
        elif mode == "single":
            strategy = tf.distribute.get_strategy()
        else:
            raise ValueError(f"mode {mode!r} is not for TensorFlow")
        return strategy.scope, strategy.num_replicas_in_sync
    if backend == "jax":
        import jax
        import keras

        if mode == "data_parallel":
            distribution = keras.distribution.DataParallel(
                devices=jax.devices()
            )
            keras.distribution.set_distribution(distribution)
            devices = distribution.device_mesh.devices
            return contextlib.nullcontext, len(devices)
        if mode == "single":
            return contextlib.nullcontext, len(jax.devices())
        raise ValueError(f"mode {mode!r} is not for JAX")
    raise ValueError(f"no data-parallel engine on the {backend} backend")


def _floats(logs):
    return {key: float(np.asarray(value).ravel()[-1])
            for key, value in logs.items()}


def parse_case(case):
    """`(labels kind, reduction, examples, batch size)` of a case."""
    labels_kind, reduction, *split = case.split("-")
    examples, batch = map(int, split[0].split("x")) if split else (
        EXAMPLES, GLOBAL_BATCH)
    return labels_kind, reduction, examples, batch


def _loss_by_hand(model, features, labels, batch):
    """The mean over examples of each batch's loss (the head's, plus the
    regularization), computed batch by batch on this device: what
    `evaluate` logs as `loss` on one device."""
    import keras

    def rows(values, start):
        return {k: v[start:start + batch] for k, v in values.items()}

    total, count = 0.0, 0
    for start in range(0, len(features["x"]), batch):
        batch_features = rows(features, start)
        logits = model(batch_features)
        loss = model.head.loss(rows(labels, start), logits,
                               features=batch_features)
        loss = float(keras.ops.convert_to_numpy(loss)) + sum(
            float(keras.ops.convert_to_numpy(extra)) for extra in model.losses
        )
        size = len(batch_features["x"])
        total, count = total + loss * size, count + size
    return total / count


def _train_and_evaluate(scope, case, by_hand=False):
    labels_kind, reduction, examples, batch = parse_case(case)
    features, labels = make_data(labels_kind, examples, batch)
    with scope():
        model = make_model(reduction, labels_kind)
    history = model.fit(
        features, labels, batch_size=batch, epochs=1, shuffle=False,
        verbose=0,
    )
    weights = [np.asarray(w).tolist() for w in model.get_weights()]
    evaluation = model.evaluate(
        features, labels, batch_size=batch, verbose=0, return_dict=True,
    )
    results = {
        "weights": weights,
        "history": _floats(history.history),
        "evaluate": _floats(evaluation),
    }
    if by_hand:
        results["loss_by_hand"] = _loss_by_hand(model, features, labels, batch)
    return results


def run(mode, cases):
    """`{"replicas": n, case: results or {"error": traceback}}`."""
    import traceback

    scope, replicas = _strategy(mode)
    results = {"replicas": replicas}
    for case in cases:
        try:
            results[case] = _train_and_evaluate(
                scope, case, by_hand=mode == "single"
            )
        except Exception:  # Reported by the test, which fails on it.
            results[case] = {"error": traceback.format_exc(limit=-8)}
    return results


def main(argv=None):
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mode", choices=[
        "single", "mirrored", "multi_worker", "data_parallel"])
    parser.add_argument("out", help="the JSON file to write")
    parser.add_argument("--cases", default=",".join(CASES),
                        help="comma-separated: LABELS-REDUCTION[-NxBATCH]")
    parser.add_argument("--worker", type=int, help="multi_worker: my index")
    parser.add_argument("--ports", help="multi_worker: the workers' ports, "
                        "comma-separated")
    args = parser.parse_args(argv)
    if args.mode == "multi_worker":
        os.environ["TF_CONFIG"] = json.dumps({
            "cluster": {"worker": [f"127.0.0.1:{port}"
                                   for port in args.ports.split(",")]},
            "task": {"type": "worker", "index": args.worker},
        })
    results = run(args.mode, args.cases.split(","))
    with open(args.out + ".tmp", "w") as f:
        json.dump(results, f)
    os.replace(args.out + ".tmp", args.out)


if __name__ == "__main__":
    main()
