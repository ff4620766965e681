"""Test set-up: pick the Keras backend before anything imports Keras."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _fresh_torch_compile_cache():
    """torch.compile caches per code object and, past a few recompilations,
    silently falls back to eager: give every test a fresh cache."""
    yield
    if os.environ["KERAS_BACKEND"] == "torch":
        import torch

        torch._dynamo.reset()


# Property-based tests (tests/heads/test_invariants.py): a small, fixed
# budget, the same examples on every run (CI reproduces any failure), no
# example database written into the working tree, and no deadline or
# "too slow" complaint, since a first example may trace or compile.
from hypothesis import HealthCheck  # noqa: E402
from hypothesis import settings  # noqa: E402

settings.register_profile(
    "keras_heads",
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
# `HYPOTHESIS_PROFILE=...` picks another registered profile.
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "keras_heads"))
