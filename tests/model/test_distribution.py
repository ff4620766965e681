"""Data-parallel training of a `HeadModel` gives one device's results.

With `tf.distribute.MirroredStrategy` over two logical CPUs, with
`MultiWorkerMirroredStrategy` over two worker processes on 127.0.0.1, and
with `keras.distribution.DataParallel` over two JAX host devices, one epoch
of SGD gives the same loss, the same gradients (so the same weights) and the
same metrics, in `fit` and `evaluate`, as one device; for every loss
reduction, with class labels as ids and as names (the worker processes,
slow to start, with names only: the harder path).

Devices must be set up before TensorFlow or JAX initialise theirs, so each
run is a process of its own (`_distributed_run.py`), started concurrently
once per module; the tests compare what the runs wrote.

The data makes the comparison sharp: each global batch of 8 splits into two
halves (one per replica) whose example weights differ over twofold, so
the replicas' weighted loss sums differ. A replica dividing its sum by its
own denominator instead of the global one doubles the gradients; a metric
averaging the replicas' values instead of summing their state is off.

The last batch may not split evenly (25 examples in batches of 8: its one
example goes to one replica, none to the other). `tf.distribute` then still
gives one device's numbers, the logged `loss` included: the mean over
examples of each batch's loss, regularization included, which the one-device
run also computes batch by batch to check. `keras.distribution` cannot split
such a batch: `fit` refuses it before the first step, saying what to pass.
"""

import json
import os
import re
import socket
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from tests import backends
from tests.model import _distributed_run as run_lib

pytestmark = backends.only_on(
    "tensorflow", "jax",
    why="Keras has no data-parallel engine on PyTorch (keras.distribution "
    "is implemented for JAX, tf.distribute is TensorFlow's)",
)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
SCRIPT = run_lib.__file__
TIMEOUT_S = 600  # Every run at once, on a small machine.
ATOL_WEIGHTS = 1e-5
RTOL_LOGS = 1e-5

# Class names (a vocabulary) are the harder path on TensorFlow: string
# tensors through tf.data and the step. The two worker processes, slow to
# start and to synchronise, train with them only, under every reduction.
NAMES_CASES = tuple(c for c in run_lib.CASES if c.startswith("names-"))
# Uneven last batches for the worker processes: 1 example (one replica gets
# none), and 3 (two and one).
MULTI_WORKER_UNEVEN_CASES = ("names-sum-25x8", "names-sum_over_batch_size-7x4")
# What keras.distribution cannot split: a last batch of 1, and batches of 3.
INDIVISIBLE_CASES = {
    "ids-sum-25x8": "Got 25 examples in batches of 8: the last batch holds 1",
    "ids-sum-9x3": "Got batch_size=3",
}

# The runs of each backend: name -> (MODE of `_distributed_run.py`, number
# of processes, cases). The runs named `single...` give one device's
# results, every case's in one of them.
RUNS = {
    "tensorflow": {
        "single": ("single", 1, run_lib.CASES),
        "single_uneven": ("single", 1,
                          run_lib.UNEVEN_CASES + MULTI_WORKER_UNEVEN_CASES),
        "mirrored": ("mirrored", 1, run_lib.CASES),
        "mirrored_uneven": ("mirrored", 1, run_lib.UNEVEN_CASES),
        "multi_worker": ("multi_worker", 2,
                         NAMES_CASES + MULTI_WORKER_UNEVEN_CASES),
    },
    "jax": {
        "single": ("single", 1, run_lib.CASES),
        "data_parallel": ("data_parallel", 1, run_lib.CASES),
        "data_parallel_uneven": ("data_parallel", 1,
                                 tuple(INDIVISIBLE_CASES)),
    },
}


def _env(mode):
    env = dict(os.environ)
    for name in ("TF_CONFIG", "XLA_FLAGS"):
        env.pop(name, None)
    env.update(
        KERAS_BACKEND=backends.BACKEND,
        CUDA_VISIBLE_DEVICES="",
        TF_CPP_MIN_LOG_LEVEL="2",
        JAX_PLATFORMS="cpu",
        PYTHONPATH=os.pathsep.join(
            p for p in (ROOT, env.get("PYTHONPATH")) if p
        ),
    )
    if mode == "data_parallel":
        env["XLA_FLAGS"] = (
            f"--xla_force_host_platform_device_count={run_lib.REPLICAS}"
        )
    return env


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [str(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _tail(path, lines=40):
    with open(path, errors="replace") as f:
        return "".join(f.readlines()[-lines:])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """`{run name: [results of each worker]}`, every run of this backend
    started at once and awaited; on any failure all are killed."""
    tmp = tmp_path_factory.mktemp("distribution")
    started = []  # (run name, process, output path, log path)
    try:
        for name, (mode, workers, cases) in RUNS[backends.BACKEND].items():
            ports = ",".join(_free_ports(workers)) if workers > 1 else None
            for index in range(workers):
                out = tmp / f"{name}-{index}.json"
                log = tmp / f"{name}-{index}.log"
                extra = ["--cases", ",".join(cases)]
                if ports:
                    extra += ["--worker", str(index), "--ports", ports]
                with open(log, "w") as log_file:
                    process = subprocess.Popen(
                        [sys.executable, SCRIPT, mode, str(out), *extra],
                        env=_env(mode), cwd=tmp, stdout=log_file,
                        stderr=subprocess.STDOUT,
                    )
                started.append((name, process, out, log))
        deadline = time.monotonic() + TIMEOUT_S
        results = {}
        for name, process, out, log in started:
            try:
                process.wait(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pytest.fail(f"run {name!r} took over {TIMEOUT_S} s; its "
                            f"log ends:\n{_tail(log)}")
            if process.returncode != 0 or not out.exists():
                pytest.fail(f"run {name!r} exited with {process.returncode}; "
                            f"its log ends:\n{_tail(log)}")
            with open(out) as f:
                results.setdefault(name, []).append(json.load(f))
        return results
    finally:
        for _, process, _, _ in started:
            if process.poll() is None:
                process.kill()
                process.wait()


def _one_device(runs, case):
    """The one-device run's results (`{"replicas", case}`) for `case`."""
    (one,) = [results for name, workers in runs.items()
              if name.startswith("single")
              for results in workers if case in results]
    assert one["replicas"] == 1
    return one


def _assert_same_as_one_device(runs, name, case):
    one = _one_device(runs, case)
    for worker, many in enumerate(runs[name]):
        assert many["replicas"] == run_lib.REPLICAS, (
            f"{name} ran on {many['replicas']} replicas"
        )
        for results, run in ((one[case], "single"), (many[case], name)):
            if "error" in results:
                pytest.fail(f"{case}: the {run} run failed:\n"
                            f"{results['error']}")
        _compare(one[case], many[case], f"{name} (worker {worker}) {case}")


def _compare(expected, actual, what):
    problems = []
    for i, (e, a) in enumerate(zip(expected["weights"], actual["weights"],
                                   strict=True)):
        e, a = np.asarray(e), np.asarray(a)
        if not np.allclose(a, e, rtol=0.0, atol=ATOL_WEIGHTS):
            problems.append(f"weights[{i}] differ by up to "
                            f"{np.max(np.abs(a - e)):.3g}")
    for part in ("history", "evaluate"):
        e_logs, a_logs = expected[part], actual[part]
        if set(e_logs) != set(a_logs):
            problems.append(f"{part} keys differ: one device "
                            f"{sorted(e_logs)}, distributed {sorted(a_logs)}")
        for key in sorted(set(e_logs) & set(a_logs)):
            if not np.isclose(a_logs[key], e_logs[key], rtol=RTOL_LOGS,
                              atol=1e-7):
                problems.append(
                    f"{part}[{key!r}]: one device {e_logs[key]!r}, "
                    f"distributed {a_logs[key]!r}"
                )
    assert not problems, f"{what} differs from one device:\n" + "\n".join(
        problems
    )


def test_each_replica_gets_a_different_half():
    """The replicas' weighted loss sums differ: each global batch's two
    halves weigh differently and hold different labels."""
    features, labels = run_lib.make_data()
    half = run_lib.GLOBAL_BATCH // run_lib.REPLICAS
    assert run_lib.EXAMPLES % run_lib.GLOBAL_BATCH == 0
    batches = features["w"].reshape(-1, run_lib.REPLICAS, half)
    sums = batches.sum(axis=-1)
    assert np.all(sums[:, 0] > 2 * sums[:, 1]), sums
    regression = labels["reg"].reshape(-1, run_lib.REPLICAS, half)
    assert not np.allclose(regression[:, 0], regression[:, 1])


@backends.only_on("tensorflow", why="tf.distribute is TensorFlow's")
@pytest.mark.parametrize("case", run_lib.CASES)
def test_mirrored_strategy_matches_one_device(runs, case):
    _assert_same_as_one_device(runs, "mirrored", case)


@backends.only_on("tensorflow", why="tf.distribute is TensorFlow's")
@pytest.mark.parametrize("case", NAMES_CASES)
def test_multi_worker_mirrored_strategy_matches_one_device(runs, case):
    _assert_same_as_one_device(runs, "multi_worker", case)


@backends.only_on("jax", why="keras.distribution runs on JAX")
@pytest.mark.parametrize("case", run_lib.CASES)
def test_data_parallel_matches_one_device(runs, case):
    _assert_same_as_one_device(runs, "data_parallel", case)


@backends.only_on("tensorflow", why="tf.distribute is TensorFlow's")
@pytest.mark.parametrize("case", run_lib.UNEVEN_CASES)
def test_mirrored_strategy_matches_one_device_on_an_uneven_last_batch(
        runs, case):
    _assert_same_as_one_device(runs, "mirrored_uneven", case)


@backends.only_on("tensorflow", why="tf.distribute is TensorFlow's")
@pytest.mark.parametrize("case", MULTI_WORKER_UNEVEN_CASES)
def test_multi_worker_strategy_matches_one_device_on_an_uneven_last_batch(
        runs, case):
    _assert_same_as_one_device(runs, "multi_worker", case)


@backends.only_on("tensorflow", why="the uneven cases run on TensorFlow")
@pytest.mark.parametrize(
    "case", run_lib.UNEVEN_CASES + MULTI_WORKER_UNEVEN_CASES
)
def test_one_device_loss_is_the_mean_over_examples_of_the_batch_losses(
        runs, case):
    """What the distributed runs are held to: on one device, `evaluate`'s
    `loss` is sum(loss_b * n_b) / sum(n_b) over the batches, the last (a
    smaller one) weighing less."""
    results = _one_device(runs, case)[case]
    if "error" in results:
        pytest.fail(f"{case}: the single run failed:\n{results['error']}")
    np.testing.assert_allclose(results["evaluate"]["loss"],
                               results["loss_by_hand"], rtol=RTOL_LOGS)


@backends.only_on("jax", why="keras.distribution runs on JAX")
@pytest.mark.parametrize("case", sorted(INDIVISIBLE_CASES))
def test_data_parallel_refuses_a_batch_it_cannot_split(runs, case):
    (results,) = runs["data_parallel_uneven"]
    assert results["replicas"] == run_lib.REPLICAS
    error = results[case].get("error")
    assert error is not None, f"{case} ran: {results[case]}"
    assert "ValueError: keras.distribution splits each batch over 2 " \
        "devices" in error, error
    assert INDIVISIBLE_CASES[case] in error, error
    assert "IndivisibleError" not in error, error


class _Steps(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.steps = 0

    def on_train_batch_begin(self, batch, logs=None):
        self.steps += 1

    def on_test_batch_begin(self, batch, logs=None):
        self.steps += 1


@backends.only_on("jax", why="keras.distribution runs on JAX")
@pytest.mark.parametrize("method", ["fit", "evaluate"])
@pytest.mark.parametrize("examples, batch_size, expected", [
    (25, 8, "Got 25 examples in batches of 8: the last batch holds 1. Pass "
            "a number of examples that 2 divides: drop the last 1, say "
            "(x[:24])"),
    (24, 3, "Got batch_size=3. Pass a batch_size that 2 divides"),
])
def test_an_unsplittable_batch_is_refused_before_the_first_step(
        monkeypatch, method, examples, batch_size, expected):
    """As under a `keras.distribution` over two devices (this process has
    one): `fit` and `evaluate` refuse before any step, naming the sizes."""
    from keras_heads import backend

    monkeypatch.setattr(backend, "batch_shards", lambda: 2)
    features, labels = run_lib.make_data("ids", examples, batch_size)
    model = run_lib.make_model("sum", "ids")
    before = [np.asarray(w) for w in model.get_weights()]
    steps = _Steps()
    with pytest.raises(ValueError, match=re.escape(
            "keras.distribution splits each batch over 2 devices, so every "
            f"batch must hold a multiple of 2 examples. {expected}")):
        getattr(model, method)(features, labels, batch_size=batch_size,
                               callbacks=[steps], verbose=0)
    assert steps.steps == 0
    for b, a in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    # Batches that split run: 24 examples in 8s; 6 in batches of 8 (one
    # batch of 6).
    for examples, batch_size in ((24, 8), (6, 8)):
        features, labels = run_lib.make_data("ids", examples, batch_size)
        getattr(model, method)(features, labels, batch_size=batch_size,
                               callbacks=[steps], verbose=0)
    assert steps.steps == 4


@backends.only_on("jax", why="keras.distribution runs on JAX")
def test_a_dataset_batch_size_is_checked_when_it_is_static(monkeypatch):
    import tensorflow as tf

    from keras_heads import backend

    monkeypatch.setattr(backend, "batch_shards", lambda: 2)
    features, labels = run_lib.make_data("ids", 24, 8)
    model = run_lib.make_model("sum", "ids")
    data = tf.data.Dataset.from_tensor_slices((features, labels))
    with pytest.raises(ValueError, match="Got batch_size=3"):
        model.evaluate(data.batch(3, drop_remainder=True), verbose=0)
    # 24 in 8s, whether or not the batch size is static.
    model.evaluate(data.batch(8, drop_remainder=True), verbose=0)
    model.evaluate(data.batch(8), verbose=0)
