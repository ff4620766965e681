"""The v1 factories: names, argument order, defaults and construction
errors (message fragments of the reference, with the details added)."""

import inspect

import numpy as np
import pytest

from keras_heads.compat import v1
from keras_heads.compat.v1.heads import Head
from tests.backends import numpy

SOBS = v1.Reduction.SUM_OVER_BATCH_SIZE
SUM = v1.Reduction.SUM

SIGNATURES = {
    v1.multi_class_head: [
        ("n_classes", inspect.Parameter.empty), ("weight_column", None),
        ("label_vocabulary", None), ("loss_reduction", SOBS),
        ("loss_fn", None), ("name", None),
    ],
    v1.binary_classification_head: [
        ("weight_column", None), ("thresholds", None),
        ("label_vocabulary", None), ("loss_reduction", SOBS),
        ("loss_fn", None), ("name", None),
    ],
    v1.regression_head: [
        ("weight_column", None), ("label_dimension", 1),
        ("loss_reduction", SOBS), ("loss_fn", None),
        ("inverse_link_fn", None), ("name", None),
    ],
    v1.poisson_regression_head: [
        ("weight_column", None), ("label_dimension", 1),
        ("loss_reduction", SOBS), ("compute_full_loss", True),
        ("name", None),
    ],
    v1.logistic_regression_head: [
        ("weight_column", None), ("loss_reduction", SOBS), ("name", None),
    ],
    v1.multi_label_head: [
        ("n_classes", inspect.Parameter.empty), ("weight_column", None),
        ("thresholds", None), ("label_vocabulary", None),
        ("loss_reduction", SOBS), ("loss_fn", None),
        ("classes_for_class_based_metrics", None), ("name", None),
    ],
    v1.multi_head: [
        ("heads", inspect.Parameter.empty), ("head_weights", None),
    ],
    v1._multi_class_head_with_softmax_cross_entropy_loss: [
        ("n_classes", inspect.Parameter.empty), ("weight_column", None),
        ("label_vocabulary", None), ("loss_reduction", SUM),
        ("loss_fn", None), ("name", None),
    ],
    v1._binary_logistic_head_with_sigmoid_cross_entropy_loss: [
        ("weight_column", None), ("thresholds", None),
        ("label_vocabulary", None), ("loss_reduction", SUM),
        ("loss_fn", None), ("name", None),
    ],
    v1._regression_head: [
        ("weight_column", None), ("label_dimension", 1),
        ("loss_reduction", SUM), ("loss_fn", None),
        ("inverse_link_fn", None), ("name", None),
    ],
    v1._binary_logistic_or_multi_class_head: [
        ("n_classes", inspect.Parameter.empty),
        ("weight_column", inspect.Parameter.empty),
        ("label_vocabulary", inspect.Parameter.empty),
        ("loss_reduction", inspect.Parameter.empty),
    ],
}


@pytest.mark.parametrize(
    "factory", list(SIGNATURES), ids=[f.__name__ for f in SIGNATURES]
)
def test_signature(factory):
    parameters = inspect.signature(factory).parameters.values()
    assert [(p.name, p.default) for p in parameters] == SIGNATURES[factory]


def test_public_names():
    assert sorted(v1.__all__) == [
        "LossSpec", "Reduction", "binary_classification_head",
        "logistic_regression_head", "multi_class_head", "multi_head",
        "multi_label_head", "poisson_regression_head", "regression_head",
    ]


def _train_loss(head, logits, labels, features=None):
    spec = head.create_loss(features=features or {}, mode="train",
                            logits=np.asarray(logits, "float32"),
                            labels=np.asarray(labels))
    return float(numpy(spec.training_loss))


def test_public_factories_default_to_sum_over_batch_size():
    logits, labels = [[45.0], [-41.0]], [[1], [1]]
    assert _train_loss(v1.binary_classification_head(), logits,
                       labels) == pytest.approx(20.5)
    assert _train_loss(
        v1._binary_logistic_head_with_sigmoid_cross_entropy_loss(), logits,
        labels,
    ) == pytest.approx(41.0)
    assert _train_loss(v1.regression_head(), [[1.0], [3.0]],
                       [[0.0], [0.0]]) == 5.0
    assert _train_loss(v1._regression_head(), [[1.0], [3.0]],
                       [[0.0], [0.0]]) == 10.0


def test_positional_arguments_follow_the_v1_order():
    head = v1.regression_head("w", 2)  # weight_column first
    assert head.logits_dimension == 2
    features = {"w": np.array([[1.0], [0.0]], "float32")}
    loss = _train_loss(head, [[1.0, 1.0], [5.0, 5.0]], [[0.0, 0.0]] * 2,
                       features)
    assert loss == 0.5  # (1 + 1) / 4: the second example weighs 0
    binary = v1.binary_classification_head("w", [0.3])
    spec = binary.create_estimator_spec(
        features={"w": np.ones((1, 1), "float32")}, mode="eval",
        logits=np.zeros((1, 1), "float32"), labels=np.ones((1, 1)))
    assert "accuracy/positive_threshold_0.3" in spec.eval_metric_ops
    assert v1.multi_label_head(4, "w").logits_dimension == 4
    assert v1.poisson_regression_head(None, 3).logits_dimension == 3


def test_binary_or_multi_class():
    binary = v1._binary_logistic_or_multi_class_head(2, None, None, SUM)
    multi = v1._binary_logistic_or_multi_class_head(
        3, "w", ["a", "b", "c"], SOBS
    )
    assert binary.logits_dimension == 1 and multi.logits_dimension == 3
    assert all(isinstance(h, Head) for h in (binary, multi))


# --- construction errors ------------------------------------------------------


def test_binary_vocabulary_must_be_a_list_or_tuple():
    with pytest.raises(TypeError, match="label_vocabulary should be a list or "
                       "tuple. Given type: <class 'str'>"):
        v1.binary_classification_head(label_vocabulary="ab")
    v1.binary_classification_head(label_vocabulary=("a", "b"))


@pytest.mark.parametrize("thresholds", [[0.0], [0.5, 1.0], [-0.1]])
def test_binary_thresholds_in_open_unit_interval(thresholds):
    with pytest.raises(ValueError, match=r"thresholds not in \(0, 1\)"):
        v1.binary_classification_head(thresholds=thresholds)


def test_multi_class_n_classes():
    with pytest.raises(ValueError, match="n_classes cannot be None"):
        v1.multi_class_head(None)
    for n in (1, 2):
        with pytest.raises(ValueError, match="n_classes must be > 2"):
            v1.multi_class_head(n)


def test_multi_class_vocabulary_is_a_list_of_any_length():
    with pytest.raises(ValueError, match="label_vocabulary should be a list "
                       "or a tuple"):
        v1.multi_class_head(3, label_vocabulary="abc")
    for vocabulary in (["a", "b"], ["a", "b", "c", "d"]):
        head = v1.multi_class_head(3, label_vocabulary=vocabulary)
        assert head.logits_dimension == 3


def _loss_fn_with(*names):
    namespace = {}
    exec(f"def loss_fn({', '.join(names)}): return labels", namespace)
    return namespace["loss_fn"]


@pytest.mark.parametrize("factory", [
    lambda fn: v1.binary_classification_head(loss_fn=fn),
    lambda fn: v1.multi_class_head(3, loss_fn=fn),
    lambda fn: v1.regression_head(loss_fn=fn),
    lambda fn: v1.multi_label_head(2, loss_fn=fn),
], ids=["binary", "multi_class", "regression", "multi_label"])
def test_loss_fn_arguments(factory):
    factory(_loss_fn_with("labels", "logits"))
    factory(_loss_fn_with("labels", "logits", "features"))
    with pytest.raises(ValueError, match=r"loss_fn has unexpected args: "
                       r"\['loss_reduction'\]"):
        factory(_loss_fn_with("labels", "logits", "loss_reduction"))
    with pytest.raises(ValueError, match="loss_fn must contain argument: "
                       "logits"):
        factory(_loss_fn_with("labels", "features"))
    with pytest.raises(ValueError, match=r"loss_fn has unexpected args: "
                       r"\['weights'\]"):
        factory(_loss_fn_with("labels", "logits", "weights"))


def test_multi_label_errors():
    for n in (None, 1):
        with pytest.raises(ValueError, match="n_classes must be > 1 for "
                           f"multi-class classification. Given: {n}"):
            v1.multi_label_head(n)
    with pytest.raises(ValueError, match=r"are sting\.$"):
        v1.multi_label_head(2, classes_for_class_based_metrics=["a"])
    with pytest.raises(ValueError, match=r"thresholds must be in \(0, 1\) "
                       "range. Given: 1.0"):
        v1.multi_label_head(2, thresholds=[0.5, 1.0])
    with pytest.raises(ValueError, match="label_vocabulary must be a list or "
                       "tuple"):
        v1.multi_label_head(2, label_vocabulary="ab")
    with pytest.raises(ValueError, match=r"Length of label_vocabulary must be "
                       r"n_classes \(3\). Given: 2"):
        v1.multi_label_head(3, label_vocabulary=["a", "b"])
    with pytest.raises(ValueError,
                       match=r"must be in range \[0, 1\]. Given: 2"):
        v1.multi_label_head(2, classes_for_class_based_metrics=[2])
    v1.multi_label_head(2, label_vocabulary=["a", "b"],
                        classes_for_class_based_metrics=["b"])


def test_regression_label_dimension():
    for factory in (v1.regression_head, v1.poisson_regression_head,
                    v1._regression_head):
        with pytest.raises(ValueError, match="Invalid label_dimension 0"):
            factory(label_dimension=0)


def test_multi_head_validation_order():
    named = v1.regression_head(name="a")
    with pytest.raises(ValueError, match="heads and head_weights must have "
                       "the same size. Given len"):
        v1.multi_head([], head_weights=[1.0])
    with pytest.raises(ValueError, match="Must specify heads"):
        v1.multi_head([])
    for bad in (v1.regression_head(), v1.regression_head(name="")):
        with pytest.raises(ValueError, match="All given heads must have name "
                           "specified"):
            v1.multi_head([named, bad])
    with pytest.raises(ValueError, match="heads and head_weights"):
        v1.multi_head([named, v1.regression_head()], head_weights=[1.0])
