"""`tf.estimator`'s runner for `model_fn` code, on TensorFlow 2.

`Estimator` trains, evaluates, predicts with and exports any
`model_fn(features, labels, mode, params)` that returns a
`keras_heads.EstimatorSpec` (a head's `create_estimator_spec`) or a
contrib.learn `ModelFnOps`; checkpoints live in its `model_dir`. The serving
input receivers say what a SavedModel's signatures take.

TensorFlow only: the runner traces `model_fn` with `tf.function`.
"""

from keras_heads.compat.estimator.export import ServingInputReceiver
from keras_heads.compat.estimator.export import (
    build_parsing_serving_input_receiver_fn,
)
from keras_heads.compat.estimator.export import (
    build_raw_serving_input_receiver_fn,
)
from keras_heads.compat.estimator.runner import Estimator
from keras_heads.compat.estimator.runner import RunConfig
from keras_heads.keys import ModeKeys
from keras_heads.spec import EstimatorSpec

__all__ = [
    "Estimator",
    "EstimatorSpec",
    "ModeKeys",
    "RunConfig",
    "ServingInputReceiver",
    "build_parsing_serving_input_receiver_fn",
    "build_raw_serving_input_receiver_fn",
]
