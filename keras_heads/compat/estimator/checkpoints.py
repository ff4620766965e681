"""Checkpoints in a `model_dir`: the store's variables and the global step.

A checkpoint is a `tf.train.Checkpoint` of two entries, `global_step` and
`variables` (the store's keys, e.g. `dense/kernel`), written as
`<model_dir>/model.ckpt-<global step>` with TensorFlow's usual `checkpoint`
state file, so `tf.train.latest_checkpoint(model_dir)` finds it.
"""

import tensorflow as tf

_PREFIX = "variables/"
_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
_GLOBAL_STEP = "global_step"


def _checkpoint(variables, global_step):
    return tf.train.Checkpoint(global_step=global_step, variables=variables)


def save(model_dir, variables, global_step, max_to_keep=5):
    """Writes a checkpoint numbered by the global step; returns its path."""
    manager = tf.train.CheckpointManager(
        _checkpoint(variables, global_step),
        model_dir,
        max_to_keep=max_to_keep,
        checkpoint_name="model.ckpt",
    )
    return manager.save(checkpoint_number=int(global_step.numpy()))


def restore(path, variables, global_step):
    """Loads `path` into those of `variables` (and the step) it holds."""
    _checkpoint(variables, global_step).restore(path).expect_partial()


def values(path):
    """`{name: numpy value}` of a checkpoint, under the store's keys."""
    reader = tf.train.load_checkpoint(path)
    out = {}
    for saved, _ in tf.train.list_variables(path):
        if not saved.endswith(_SUFFIX):
            continue
        name = saved[: -len(_SUFFIX)]
        if name == _GLOBAL_STEP:
            out[_GLOBAL_STEP] = reader.get_tensor(saved)
        elif name.startswith(_PREFIX):
            out[_unescape(name[len(_PREFIX):])] = reader.get_tensor(saved)
    return out


def _unescape(name):
    # TensorFlow escapes "/" in object names as ".S" and "." as "..".
    out, i = [], 0
    while i < len(name):
        if name[i] == "." and i + 1 < len(name):
            out.append("/" if name[i + 1] == "S" else name[i + 1])
            i += 2
        else:
            out.append(name[i])
            i += 1
    return "".join(out)
