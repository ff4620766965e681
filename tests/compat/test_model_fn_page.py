"""docs/model_fn.md runs: the seed pages' snippets, completed, with their
imports changed, train, evaluate, predict and export.

The page's Python blocks share one namespace, top to bottom. A block whose
first line is `# backend: <name>[, ...]` runs only on those backends. A
```text block right after a Python block is what that block prints.
"""

import contextlib
import io
import os
import pathlib
import re

import pytest

from tests import backends

PAGE = pathlib.Path(__file__).parents[2] / "docs" / "model_fn.md"
_BLOCK = re.compile(
    r"^```python\n(.*?)^```\n(?:\n?```text\n(.*?)^```)?",
    re.DOTALL | re.MULTILINE,
)
_TAG = re.compile(r"# backend: ([\w, ]+)$")


def _blocks():
    text = PAGE.read_text()
    for match in _BLOCK.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        yield line, match.group(1), match.group(2)


def _runs_here(code):
    tag = _TAG.match(code.splitlines()[0])
    if tag is None:
        return True
    return backends.BACKEND in {b.strip() for b in tag.group(1).split(",")}


def _normalized(text):
    return [" ".join(line.split()) for line in text.strip().splitlines()]


def test_the_page_covers_every_seed_with_a_model_fn():
    text = PAGE.read_text()
    for seed in ("tf.contrib.estimator.multi_head", "tf.estimator.MultiHead",
                 "tf.contrib.learn.Head",
                 "tf.contrib.estimator.multi_label_head"):
        assert f"## `{seed}`" in text, seed


@backends.only_on("tensorflow", why="the Estimator runner is TensorFlow only")
def test_the_page_runs(tmp_path):
    namespace = {}
    ran = 0
    cwd = os.getcwd()
    os.chdir(tmp_path)  # the snippets' model_dirs and exports land here
    try:
        for line, code, expected in _blocks():
            if not _runs_here(code):
                continue
            out = io.StringIO()
            try:
                with contextlib.redirect_stdout(out):
                    exec(compile(code, f"model_fn.md:{line}", "exec"),
                         namespace)
            except Exception as error:
                pytest.fail(f"docs/model_fn.md block at line {line} failed: "
                            f"{error!r}")
            if expected is not None:
                assert _normalized(out.getvalue()) == _normalized(expected), (
                    f"block at line {line} printed:\n{out.getvalue()}")
            ran += 1
    finally:
        os.chdir(cwd)
    assert ran >= 10, f"only {ran} blocks ran"
