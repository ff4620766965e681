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
