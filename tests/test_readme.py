"""Every Python example in README.md runs, top to bottom, as a reader would.

Blocks share one namespace, like cells of a notebook. A block whose first
line is `# backend: <name>` runs only on that Keras backend.
"""

import pathlib
import re

import pytest

from tests import backends

README = pathlib.Path(__file__).parent.parent / "README.md"
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
_TAG = re.compile(r"# backend: (\w+)")


def _blocks():
    text = README.read_text()
    for match in _BLOCK.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        yield line, match.group(1)


def test_readme_has_examples_for_every_backend():
    tags = {
        tag.group(1) for _, code in _blocks()
        if (tag := _TAG.match(code.splitlines()[0]))
    }
    assert tags == {"tensorflow", "jax", "torch"}


def test_readme_examples_run():
    namespace = {}
    ran = 0
    for line, code in _blocks():
        tag = _TAG.match(code.splitlines()[0])
        if tag and tag.group(1) != backends.BACKEND:
            continue
        try:
            exec(compile(code, f"README.md:{line}", "exec"), namespace)
        except Exception as error:
            pytest.fail(f"README.md block at line {line} failed: {error!r}")
        ran += 1
    assert ran >= 3, f"only {ran} README blocks ran on {backends.BACKEND}"
