"""TensorFlow, JAX and PyTorch give the same numbers.

The suite runs one backend per process, so this test runs
`tests._differential_cases` in a subprocess per backend (in parallel) and
compares the JSON they print: for every head and both reductions, the loss
of each batch, every metric after streaming the batches, and the
predictions. Floats agree within float32 tolerance; integers and class
names exactly.
"""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from tests import backends

BACKENDS = ("tensorflow", "jax", "torch")
ROOT = pathlib.Path(__file__).resolve().parents[1]
TOLERANCE = dict(rtol=1e-5, atol=1e-6)
TIMEOUT_S = 300


def _start(backend):
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("JAX_ENABLE_X64", None)  # float32 everywhere, as in training
    return subprocess.Popen(
        [sys.executable, "-W", "ignore", "-m", "tests._differential_cases"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )


def _results():
    """`{backend: cases}`, each computed in its own process."""
    processes = {backend: _start(backend) for backend in BACKENDS}
    results = {}
    for backend, process in processes.items():
        stdout, stderr = process.communicate(timeout=TIMEOUT_S)
        assert process.returncode == 0, f"{backend} failed:\n{stderr[-3000:]}"
        printed = json.loads(stdout.strip().splitlines()[-1])
        assert printed["backend"] == backend
        results[backend] = printed["cases"]
    return results


def assert_agree(actual, expected, path=""):
    """Same structure; floats within TOLERANCE, anything else equal."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), path
        assert sorted(actual) == sorted(expected), path
        for key in expected:
            assert_agree(actual[key], expected[key], f"{path}/{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), path
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_agree(a, e, f"{path}[{i}]")
    elif isinstance(expected, float):
        assert isinstance(actual, float), f"{path}: {actual!r}"
        np.testing.assert_allclose(actual, expected, err_msg=path,
                                   **TOLERANCE)
    else:  # integers (class ids) and class names
        assert type(actual) is type(expected), f"{path}: {actual!r}"
        assert actual == expected, f"{path}: {actual!r} != {expected!r}"


@backends.only_on(
    "tensorflow", why="one run compares all three backends, each in a "
    "subprocess; the other backends' runs would only repeat it"
)
def test_backends_agree_on_losses_metrics_and_predictions():
    results = _results()
    reference = results["tensorflow"]
    # Every head, both reductions, and something in each.
    assert len(reference) == 7
    for case in reference.values():
        assert len(case) == 5 and all(case.values())
    for backend in ("jax", "torch"):
        assert_agree(results[backend], reference, backend)


CASE = {"loss/sum": [1.5, 20.25], "predictions": {"class_ids": [[1], [0]],
                                                 "classes": [["b"], ["a"]]}}


@pytest.mark.parametrize("changed", [
    {"loss/sum": [1.5, 20.2505], "predictions": CASE["predictions"]},
    {"loss/sum": [1.5], "predictions": CASE["predictions"]},
    {"loss/sum": CASE["loss/sum"],
     "predictions": {"class_ids": [[1], [1]], "classes": [["b"], ["a"]]}},
    {"loss/sum": CASE["loss/sum"],
     "predictions": {"class_ids": [[1], [0]], "classes": [["b"], ["b"]]}},
    {"loss/sum": CASE["loss/sum"]},
], ids=["float", "length", "integer", "string", "key"])
def test_comparison_reports_any_difference(changed):
    """The comparison is not vacuous: float32 rounding passes, anything
    more fails."""
    rounded = {"loss/sum": [1.5 * (1 + 1e-7), 20.25],
               "predictions": CASE["predictions"]}
    assert_agree(rounded, CASE)
    with pytest.raises(AssertionError):
        assert_agree(changed, CASE)
