"""The benchmark workloads: their sizes and their data, in NumPy only.

Every implementation (keras_heads on each backend, hand-written TensorFlow
and JAX, the reference in its own virtualenv) imports this module, so all of
them see the same bytes. Data are made before any timing starts.
"""

import dataclasses

import numpy as np

SEED = 20261125
THRESHOLDS = (0.25, 0.5, 0.75)
# Streaming workloads cycle through this many distinct batches, so that a
# 4096-class evaluation needs 160 MiB of logits rather than 800 MiB; each
# batch (16 MiB at C=4096) is far larger than any cache.
DISTINCT_BATCHES = 10


@dataclasses.dataclass(frozen=True)
class Workload:
    name: str
    kind: str  # "multi_label", "multi_class", "binary", "train", "loss_floor"
    batches: int
    batch_size: int
    n_classes: int = 1
    unit: str = "examples/s"

    @property
    def items(self):
        """Examples (or steps) per repetition, the numerator of the rate."""
        return self.batches if self.unit == "steps/s" else (
            self.batches * self.batch_size
        )


# Timed repetitions of each workload (after a first, compiling call); the
# table reports their median. The machine is shared and noisy: 11 make a
# median that moves far less between runs than 5.
REPETITIONS = 11
# ... and more, until each implementation has spent this long in its timed
# repetitions: a W1 C=16 repetition takes ~10 ms, and 11 of them sampled a
# tenth of a second of the machine, whose load moves over seconds.
MIN_SECONDS = 2.0
MAX_REPETITIONS = 201

WORKLOADS = {
    w.name: w
    for w in (
        Workload("W1 multi-label C=16", "multi_label", 50, 1024, 16),
        Workload("W1 multi-label C=256", "multi_label", 50, 1024, 256),
        Workload("W1 multi-label C=4096", "multi_label", 50, 1024, 4096),
        Workload("W2 multi-class C=1000", "multi_class", 50, 1024, 1000),
        Workload("W3 binary", "binary", 50, 65536, 1),
        Workload("W4 multi-head train", "train", 50, 1024, unit="steps/s"),
        Workload("W5 multi-label loss", "loss_floor", 1, 4096, 16384),
    )
}

# W4's network: 64 inputs, two relu layers of 256, then 10 + 1 + 1 logits
# (a 10-class head, a binary head and a regression head).
W4_LAYERS = (64, 256, 256, 12)
W4_LEARNING_RATE = 1e-3


def _rng(workload, salt=0):
    return np.random.default_rng([SEED, sum(map(ord, workload.name)), salt])


def streaming_batches(workload):
    """`(logits, labels)` lists for W1-W3: float32 logits, int64 labels.

    Multi-label labels are a multi-hot indicator with about 1 in 8 classes
    on; logits are correlated with the labels, so AUCs are informative.
    """
    rng = _rng(workload)
    distinct = min(DISTINCT_BATCHES, workload.batches)
    shape = (workload.batch_size, workload.n_classes)
    logits, labels = [], []
    for _ in range(distinct):
        if workload.kind == "multi_label":
            y = (rng.random(shape) < 0.125).astype(np.int64)
            x = rng.standard_normal(shape, np.float32) + 1.5 * y - 1.5
        elif workload.kind == "multi_class":
            y = rng.integers(0, workload.n_classes, (shape[0], 1))
            x = rng.standard_normal(shape, np.float32)
            np.put_along_axis(x, y, np.take_along_axis(x, y, 1) + 2.0, 1)
        else:
            y = (rng.random((shape[0], 1)) < 0.3).astype(np.int64)
            x = rng.standard_normal((shape[0], 1), np.float32) + 1.2 * y - 0.8
        logits.append(x.astype(np.float32))
        labels.append(y.astype(np.int64))
    return logits, labels


def batch_order(workload):
    """Index into `streaming_batches` of each of the `batches` steps."""
    distinct = min(DISTINCT_BATCHES, workload.batches)
    return [i % distinct for i in range(workload.batches)]


def train_data(workload):
    """W4: inputs, the three labels and the initial weights (as NumPy)."""
    rng = _rng(workload)
    n = workload.batch_size
    x = rng.standard_normal((n, W4_LAYERS[0]), np.float32)
    weights = []
    for fan_in, fan_out in zip(W4_LAYERS[:-1], W4_LAYERS[1:]):
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        weights.append(
            rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32)
        )
        weights.append(np.zeros((fan_out,), np.float32))
    return {
        "x": x,
        "class_labels": rng.integers(0, 10, (n, 1)).astype(np.int64),
        "binary_labels": (rng.random((n, 1)) < 0.5).astype(np.int64),
        "regression_labels": rng.standard_normal((n, 1), np.float32),
        "weights": weights,
    }


def loss_floor_data(workload):
    """W5: `[4096, 16384]` float32 logits and an int8 multi-hot indicator
    (the narrowest integer labels a multi-label head takes: 320 MiB in all)."""
    rng = _rng(workload)
    shape = (workload.batch_size, workload.n_classes)
    labels = (rng.random(shape, np.float32) < 0.01).astype(np.int8)
    logits = rng.standard_normal(shape, np.float32)
    return logits, labels


def numpy_read_seconds(arrays, repetitions=7):
    """Median time for NumPy to read every byte of `arrays` once.

    A bitwise-or reduction over a 64-bit view is the fastest full read NumPy
    offers (about 17 GB/s here, against 15 GB/s for a float sum).
    """
    import time

    times = []
    for _ in range(repetitions):
        start = time.perf_counter()
        for array in arrays:
            np.bitwise_or.reduce(array.reshape(-1).view(np.uint64))
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def read_floor(*arrays):
    """W5's yardstick: the input's size and NumPy's time to read it once."""
    return {
        "input_mib": sum(a.nbytes for a in arrays) / 2**20,
        "numpy_read_seconds": numpy_read_seconds(arrays),
    }
