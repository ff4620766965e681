"""One test per reference fixture: keras_heads must return what the reference
returned (tensorflow-estimator 2.15), within SCHEMA.md's tolerances."""

import pytest

import keras_heads
from tests.conformance import runner

FAMILIES = (
    "regression",
    "poisson",
    "logistic",
    "binary",
    "multi_class",
    "multi_label",
    "multi_head",
    "sequential",
    "errors",
)


def _params():
    for family in FAMILIES:
        for case in runner.load_cases(family):
            head_class = case["head"]["class"]
            marks = ()
            if not hasattr(keras_heads, head_class):
                marks = pytest.mark.skip(
                    reason=f"{head_class} is not implemented yet (issue #3)"
                )
            yield pytest.param(case, id=case["id"], marks=marks)


@pytest.mark.parametrize("case", list(_params()))
def test_fixture(case):
    runner.run_case(case)
