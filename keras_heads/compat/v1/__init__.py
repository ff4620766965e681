"""The TF 1.x head API: `tf.contrib.estimator`'s `*_head` factories.

These heads have the v1 interface (`_Head`): `name`, `logits_dimension`,
`create_loss(features, mode, logits, labels)` returning a `LossSpec`, and
`create_estimator_spec(features, mode, logits, labels=None, optimizer=None,
train_op_fn=None, regularization_losses=None)` returning a
`keras_heads.EstimatorSpec`. They are thin adapters over the v2 heads, and
compute the same losses and predictions; what v1 did differently is kept:

* the reductions are v1's (`Reduction`: `"weighted_sum"`, ...; the public
  factories default to `SUM_OVER_BATCH_SIZE`, the private canned ones,
  named as in TF 1.x, to `SUM`), `MEAN` and `SUM_BY_NONZERO_WEIGHTS`
  included;
* `optimizer` is a `tf.compat.v1.train.Optimizer` (`minimize` with the
  graph's global step) or a Keras optimizer, inside a `tf.function` whose
  graph holds the TF1 collections; the graph's `UPDATE_OPS` join the train
  op (see `keras_heads.compat.v1.train_op`);
* `regularization_losses` count only when the list is non-empty;
* TRAIN `summaries` add `average_loss` for a `SUM` reduction;
* the metrics have v1's semantics: trapezoidal AUCs, `p >= t` threshold
  accuracies (see `keras_heads.compat.v1.metrics`);
* multi-label predictions are `logits` and `probabilities` only; the
  binary factory raises `TypeError` for a vocabulary that is not a list;
  range errors read `Labels must <= n_classes - 1`.

Eval metrics are keras-heads metric objects (`keras.metrics.Metric`,
updated with the batch; read `.result()`), not TF1 `(value, update_op)`
pairs, as everywhere in keras-heads.

Example:

>>> from keras_heads.compat import v1
>>> head = v1.binary_classification_head(loss_reduction=v1.Reduction.SUM)
>>> loss_spec = head.create_loss(
...     features={}, mode="train",
...     logits=np.array([[45.0], [-41.0]], "float32"),
...     labels=np.array([[1], [1]]))
>>> round(float(loss_spec.training_loss), 2)
41.0
"""

from keras_heads.compat.v1.canned import (
    _binary_logistic_head_with_sigmoid_cross_entropy_loss,
)
from keras_heads.compat.v1.canned import _binary_logistic_or_multi_class_head
from keras_heads.compat.v1.canned import (
    _multi_class_head_with_softmax_cross_entropy_loss,
)
from keras_heads.compat.v1.canned import _regression_head
from keras_heads.compat.v1.factories import binary_classification_head
from keras_heads.compat.v1.factories import logistic_regression_head
from keras_heads.compat.v1.factories import multi_class_head
from keras_heads.compat.v1.factories import multi_label_head
from keras_heads.compat.v1.factories import poisson_regression_head
from keras_heads.compat.v1.factories import regression_head
from keras_heads.compat.v1.heads import LossSpec
from keras_heads.compat.v1.multi_head import multi_head
from keras_heads.compat.v1.reduction import Reduction

__all__ = [
    "LossSpec",
    "Reduction",
    "binary_classification_head",
    "logistic_regression_head",
    "multi_class_head",
    "multi_head",
    "multi_label_head",
    "poisson_regression_head",
    "regression_head",
]
