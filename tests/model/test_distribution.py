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
"""

import json
import os
import socket
import subprocess
import sys
import time

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
TIMEOUT_S = 240
ATOL_WEIGHTS = 1e-5
RTOL_LOGS = 1e-5

# Class names (a vocabulary) are the harder path on TensorFlow: string
# tensors through tf.data and the step. The two worker processes, slow to
# start and to synchronise, train with them only, under every reduction.
NAMES_CASES = tuple(c for c in run_lib.CASES if c.startswith("names-"))

# The runs of each backend: name -> (MODE of `_distributed_run.py`, number
# of processes, cases).
RUNS = {
    "tensorflow": {
        "single": ("single", 1, run_lib.CASES),
        "mirrored": ("mirrored", 1, run_lib.CASES),
        "multi_worker": ("multi_worker", 2, NAMES_CASES),
    },
    "jax": {
        "single": ("single", 1, run_lib.CASES),
        "data_parallel": ("data_parallel", 1, run_lib.CASES),
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


def _assert_same_as_one_device(runs, name, case):
    (one,) = runs["single"]
    assert one["replicas"] == 1
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
