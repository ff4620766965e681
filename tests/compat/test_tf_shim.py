"""keras_heads.compat.tf: the estimator's names are keras-heads', the rest
TensorFlow's."""

import keras
import pytest

import keras_heads
from keras_heads.compat import estimator as compat_estimator
from keras_heads.compat import learn
from keras_heads.compat import tf
from keras_heads.compat import v1


def test_estimator_names_are_keras_heads():
    assert tf.estimator.MultiLabelHead is keras_heads.MultiLabelHead
    assert tf.estimator.Head is keras_heads.Head
    assert tf.estimator.EstimatorSpec is keras_heads.EstimatorSpec
    assert tf.estimator.Estimator is compat_estimator.Estimator
    assert tf.estimator.RunConfig is compat_estimator.RunConfig
    assert (tf.estimator.export.build_raw_serving_input_receiver_fn
            is compat_estimator.build_raw_serving_input_receiver_fn)
    assert tf.estimator.export.ClassificationOutput is (
        keras_heads.ClassificationOutput)


def test_contrib_names_are_the_compat_apis():
    assert tf.contrib.estimator.multi_head is v1.multi_head
    assert tf.contrib.learn.multi_class_head is learn.multi_class_head
    assert tf.contrib.learn.ModeKeys.INFER == "infer"


def test_the_rest_is_tensorflow_with_tf1_optimizers():
    import tensorflow

    assert tf.keras is keras
    assert tf.train is tensorflow.compat.v1.train
    assert tf.train.AdagradOptimizer is (
        tensorflow.compat.v1.train.AdagradOptimizer)
    assert tf.losses.Reduction.SUM == "weighted_sum"
    assert tf.data is tensorflow.data
    assert tf.placeholder is tensorflow.compat.v1.placeholder  # TF1 only


def test_unknown_names_say_where_to_look():
    with pytest.raises(AttributeError, match="docs/migrating.md"):
        tf.contrib.estimator.DNNEstimator
    with pytest.raises(AttributeError, match="neither a keras-heads name"):
        tf.no_such_thing
