"""The tf.contrib-era APIs, and a runner for the model_fn code written
against them.

* `keras_heads.compat.v1`: `tf.contrib.estimator`'s head factories (the TF 1.x
  `_Head` interface: `create_loss`, `create_estimator_spec`).
* `keras_heads.compat.learn`: `tf.contrib.learn.Head` (`create_model_fn_ops`,
  `ModelFnOps`).
* `keras_heads.compat.estimator`: `Estimator`, which trains, evaluates,
  predicts with and exports a `model_fn` (TensorFlow only).
* `keras_heads.compat.tf`: a stand-in for the `tf` module of that code, so
  that it runs with one import changed.

`docs/migrating.md` maps every old name to its new one; `docs/model_fn.md`
runs the seed pages' model_fn snippets.
"""
