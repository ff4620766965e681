"""A stand-in for the `tf` module of Estimator-era code: change one import.

    import tensorflow as tf             # before
    from keras_heads.compat import tf   # after

The rest of the code keeps its `tf.` names. Those of the estimator and its
heads resolve to keras-heads:

* `tf.estimator.*`: the heads (`BinaryClassHead`, `MultiHead`, ...),
  `EstimatorSpec`, `ModeKeys`, the export outputs, `Estimator` and
  `RunConfig` (`keras_heads.compat.estimator`), and `tf.estimator.export.*`
  (the serving input receivers);
* `tf.contrib.estimator.*`: the TF 1.x head factories
  (`keras_heads.compat.v1`);
* `tf.contrib.learn.*`: `Head`, `ModelFnOps` and their factories
  (`keras_heads.compat.learn`);
* `tf.keras` is Keras 3; `tf.train` and `tf.losses` are TensorFlow's
  `tf.compat.v1` modules, whose TF1 optimizers (`tf.train.AdagradOptimizer`),
  `get_global_step` and `Reduction` the old code uses.

Every other name is TensorFlow 2's, else `tf.compat.v1`'s.

>>> from keras_heads.compat import tf
>>> tf.estimator.MultiHead is keras_heads.MultiHead
True
>>> tf.contrib.estimator.multi_label_head(n_classes=3).logits_dimension
3
"""

import importlib
import types

import keras as _keras


class _Namespace(types.ModuleType):
    """A module whose attributes are looked up in `sources`, in order.

    A source is a module name (imported on first use) or a dict.
    """

    def __init__(self, name, *sources):
        super().__init__(name)
        self._sources = sources

    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        for source in self._sources:
            if isinstance(source, str):
                source = importlib.import_module(source)
            value = (
                source.get(attr, _MISSING) if isinstance(source, dict)
                else getattr(source, attr, _MISSING)
            )
            if value is not _MISSING:
                return value
        raise AttributeError(
            f"{self.__name__} has no attribute {attr!r}: it is neither a "
            "keras-heads name nor one of TensorFlow's. See "
            "docs/migrating.md for where the old names went."
        )

    def __dir__(self):
        names = set()
        for source in self._sources:
            if isinstance(source, str):
                source = importlib.import_module(source)
            names.update(source if isinstance(source, dict) else dir(source))
        return sorted(names)


_MISSING = object()

estimator = _Namespace(
    f"{__name__}.estimator",
    {
        "export": _Namespace(
            f"{__name__}.estimator.export",
            "keras_heads.compat.estimator",
            "keras_heads",
        ),
    },
    "keras_heads.compat.estimator",
    "keras_heads",
)

contrib = _Namespace(
    f"{__name__}.contrib",
    {
        "estimator": _Namespace(
            f"{__name__}.contrib.estimator", "keras_heads.compat.v1"
        ),
        "learn": _Namespace(
            f"{__name__}.contrib.learn", "keras_heads.compat.learn"
        ),
    },
)

keras = _keras


def __getattr__(attr):
    import tensorflow

    if attr in ("train", "losses"):
        return getattr(tensorflow.compat.v1, attr)
    for source in (tensorflow, tensorflow.compat.v1):
        value = getattr(source, attr, _MISSING)
        if value is not _MISSING:
            return value
    raise AttributeError(
        f"{__name__} has no attribute {attr!r}: it is neither a keras-heads "
        "name nor one of TensorFlow's."
    )
