"""Every Python example in README.md runs, top to bottom, as a reader would.

Blocks share one namespace, like cells of a notebook. A block whose first
line is `# backend: <name>[, <name> ...]` runs only on those Keras backends.
"""

import pathlib
import re

import pytest

from tests import backends

README = pathlib.Path(__file__).parent.parent / "README.md"
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
_TAG = re.compile(r"# backend: ([\w, ]+)$")


def _blocks():
    text = README.read_text()
    for match in _BLOCK.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        yield line, match.group(1)


def test_readme_has_examples_for_every_backend():
    tags = set()
    for _, code in _blocks():
        tags.update(_backends(code) or ())
    assert tags == {"tensorflow", "jax", "torch"}


def _backends(code):
    """The backends a block is limited to, or None."""
    tag = _TAG.match(code.splitlines()[0])
    return None if tag is None else {b.strip() for b in tag.group(1).split(",")}


def test_readme_opens_with_a_short_end_to_end_example():
    _, code = next(_blocks())
    assert len(code.splitlines()) <= 25
    for step in (".fit(", ".evaluate(", ".export(", "tf.saved_model.load("):
        assert step in code, step


def test_readme_examples_run():
    namespace = {}
    ran = 0
    for line, code in _blocks():
        limited_to = _backends(code)
        if limited_to is not None and backends.BACKEND not in limited_to:
            continue
        try:
            exec(compile(code, f"README.md:{line}", "exec"), namespace)
        except Exception as error:
            pytest.fail(f"README.md block at line {line} failed: {error!r}")
        ran += 1
    assert ran >= 3, f"only {ran} README blocks ran on {backends.BACKEND}"
