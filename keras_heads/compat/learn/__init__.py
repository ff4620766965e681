"""`tf.contrib.learn`'s heads: `Head.create_model_fn_ops` and `ModelFnOps`.

The deprecated predecessor of the `tf.estimator` heads, on Keras 3 (any
backend). A head's `create_model_fn_ops(features, mode, labels,
train_op_fn, logits | logits_input, scope)` returns `ModelFnOps`: the
predictions, the train loss, the train op, the eval metrics, the output
alternatives and (new) the summaries. `ModelFnOps.estimator_spec()` turns
them into a `keras_heads.EstimatorSpec`.

Differences from `keras_heads`' heads: the train loss is
`sum(w * l) / size(l)` while the reported `loss` is the weighted average;
a regression predicts `scores`; metric keys are `labels/...` and
`%f`-formatted; AUCs use the TF1 trapezoid rule; a head can build its own
logits layer from `logits_input` and learn a centered bias.

Example:

>>> from keras_heads.compat import learn
>>> head = learn.regression_head(weight_column_name="w")
>>> model_fn_ops = head.create_model_fn_ops(
...     features={"w": np.array([2.0, 5.0, 0.0])},
...     mode=learn.ModeKeys.TRAIN,
...     labels=np.array([[0.0], [1.0], [1.0]]),
...     logits=np.array([[1.0], [1.0], [3.0]]),
...     train_op_fn=learn.no_op_train_fn)
>>> round(float(model_fn_ops.loss), 6)                 # 2 / 3
0.666667
>>> round(float(model_fn_ops.summaries["loss"]), 6)    # 2 / 7
0.285714
>>> spec = model_fn_ops.estimator_spec()
>>> spec.mode, round(float(spec.loss), 6)
('train', 0.666667)
"""

from keras_heads.compat.learn.base import Head
from keras_heads.compat.learn.binary import binary_svm_head
from keras_heads.compat.learn.keys import MetricKey
from keras_heads.compat.learn.keys import ModeKeys
from keras_heads.compat.learn.keys import PredictionKey
from keras_heads.compat.learn.keys import ProblemType
from keras_heads.compat.learn.loss_only import loss_only_head
from keras_heads.compat.learn.model_fn_ops import ModelFnOps
from keras_heads.compat.learn.multi_class import multi_class_head
from keras_heads.compat.learn.multi_head import multi_head
from keras_heads.compat.learn.multi_label import multi_label_head
from keras_heads.compat.learn.regression import poisson_regression_head
from keras_heads.compat.learn.regression import regression_head
from keras_heads.compat.learn.train_ops import no_op_train_fn

__all__ = [
    "Head",
    "MetricKey",
    "ModeKeys",
    "ModelFnOps",
    "PredictionKey",
    "ProblemType",
    "binary_svm_head",
    "loss_only_head",
    "multi_class_head",
    "multi_head",
    "multi_label_head",
    "no_op_train_fn",
    "poisson_regression_head",
    "regression_head",
]
