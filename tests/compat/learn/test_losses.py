"""Train loss and report loss (spec B.4): every worked example of the
reference's tests, on each factory, and custom loss functions."""

import numpy as np
import pytest

from keras_heads.compat import learn
from tests.backends import numpy

TRAIN, EVAL = learn.ModeKeys.TRAIN, learn.ModeKeys.EVAL


def _ops(head, labels, logits, features=None, mode=TRAIN):
    return head.create_model_fn_ops(
        features=features or {}, mode=mode, labels=labels,
        train_op_fn=learn.no_op_train_fn, logits=logits,
    )


def _losses(model_fn_ops, report_key="loss"):
    """(train loss, report loss summary, `loss` eval metric)."""
    return (
        float(numpy(model_fn_ops.loss)),
        float(numpy(model_fn_ops.summaries[report_key])),
        float(numpy(model_fn_ops.eval_metric_ops[report_key].result())),
    )


LOGITS_REGRESSION = np.array([[1.0], [1.0], [3.0]], "float32")
LABELS_REGRESSION = np.array([[0.0], [1.0], [1.0]], "float32")


@pytest.mark.parametrize("mode", [TRAIN, EVAL])
def test_regression_unweighted_train_and_report_losses_are_the_mean(mode):
    model_fn_ops = _ops(learn.regression_head(), LABELS_REGRESSION,
                        LOGITS_REGRESSION, mode=mode)
    np.testing.assert_allclose(_losses(model_fn_ops), [5 / 3] * 3, rtol=1e-6)


def test_regression_weighted_train_loss_divides_by_batch_report_by_weights():
    head = learn.regression_head(weight_column_name="label_weight")
    features = {"label_weight": np.array([[2.0], [5.0], [0.0]], "float32")}
    train, report, metric = _losses(
        _ops(head, LABELS_REGRESSION, LOGITS_REGRESSION, features))
    np.testing.assert_allclose([train, report, metric], [2 / 3, 2 / 7, 2 / 7],
                               rtol=1e-6)


def test_rank1_weights_and_labels_give_the_same_losses():
    head = learn.regression_head(weight_column_name="w")
    features = {"w": np.array([2.0, 5.0, 0.0], "float32")}
    losses = _losses(_ops(head, np.array([0.0, 1.0, 1.0]), LOGITS_REGRESSION,
                          features))
    np.testing.assert_allclose(losses, [2 / 3, 2 / 7, 2 / 7], rtol=1e-6)


def test_scalar_weight_scales_the_train_loss_only():
    head = learn.multi_class_head(n_classes=3, weight_column_name="w")
    train, report, metric = _losses(_ops(
        head, np.array([[2]]), np.array([[1.0, 0.0, 0.0]], "float32"),
        {"w": np.float32(0.1)}))
    np.testing.assert_allclose([train, report, metric],
                               [0.1551445, 1.5514446, 1.5514446], rtol=1e-5)


def test_binary_losses():
    head = learn.multi_class_head(n_classes=2)
    logits = np.array([[1.0], [1.0]], "float32")
    labels = np.array([[1], [0]])
    np.testing.assert_allclose(_losses(_ops(head, labels, logits)),
                               [0.8132616] * 3, rtol=1e-6)
    weighted = learn.multi_class_head(n_classes=2, weight_column_name="w")
    train, report, _ = _losses(_ops(
        weighted, labels, logits, {"w": np.array([[1.0], [0.0]], "float32")}))
    np.testing.assert_allclose([train, report], [0.1566308, 0.3132617],
                               rtol=1e-6)


def test_multi_class_losses():
    logits = np.array([[1.0, 0.0, 0.0]], "float32")
    head = learn.multi_class_head(n_classes=3)
    np.testing.assert_allclose(_losses(_ops(head, np.array([2]), logits)),
                               [1.5514446] * 3, rtol=1e-6)
    weighted = learn.multi_class_head(n_classes=3, weight_column_name="w")
    train, _, _ = _losses(_ops(weighted, np.array([[2]]), logits,
                               {"w": np.array([0.1], "float32")}))
    np.testing.assert_allclose(train, 0.1551445, rtol=1e-6)


def test_multi_class_with_label_keys_looks_labels_up():
    head = learn.multi_class_head(n_classes=3, label_keys=["a", "b", "c"])
    model_fn_ops = _ops(head, np.array([["c"]]),
                        np.array([[1.0, 0.0, 0.0]], "float32"))
    np.testing.assert_allclose(_losses(model_fn_ops), [1.5514446] * 3,
                               rtol=1e-6)


def test_svm_hinge_losses():
    head = learn.binary_svm_head()
    model_fn_ops = _ops(head, np.array([0, 1]),
                        np.array([[-0.5], [1.2]], "float32"))
    np.testing.assert_allclose(_losses(model_fn_ops), [0.25] * 3, rtol=1e-6)
    weighted = learn.binary_svm_head(weight_column_name="w")
    train, report, _ = _losses(_ops(
        weighted, np.array([0, 1]), np.array([[-0.7], [0.2]], "float32"),
        {"w": np.array([2.0, 10.0], "float32")}))
    np.testing.assert_allclose([train, report], [4.3, 8.6 / 12], rtol=1e-6)


def test_multi_label_loss_is_the_mean_over_all_elements():
    head = learn.multi_label_head(n_classes=3)
    model_fn_ops = _ops(head, np.array([[0, 0, 1]]),
                        np.array([[1.0, 0.0, 0.0]], "float32"))
    expected = (np.log1p(np.e) + 2 * np.log(2.0)) / 3  # 0.89985204
    np.testing.assert_allclose(_losses(model_fn_ops), [expected] * 3,
                               rtol=1e-6)


def test_multi_label_weights_broadcast_over_classes():
    head = learn.multi_label_head(n_classes=2, weight_column_name="w")
    logits = np.array([[-10.0, 10.0], [-15.0, 10.0]], "float32")
    labels = np.array([[1, 0], [1, 1]])
    weights = {"w": np.array([[1.0], [2.0]], "float32")}
    train, report, _ = _losses(_ops(head, labels, logits, weights))
    # Element losses [[10, 10], [15, 0]]: weighted sum 20 + 30 = 50.
    np.testing.assert_allclose([train, report], [50 / 4, 50 / 6], rtol=1e-5)


def test_poisson_loss_is_the_full_log_poisson_loss():
    head = learn.poisson_regression_head()
    logits = np.array([[0.0], [-1.0], [1.0]], "float32")
    labels = np.array([[1.0], [2.0], [3.0]], "float32")
    train, _, _ = _losses(_ops(head, labels, logits))
    # exp(x) - x*z, plus Stirling's term for labels above 1.
    stirling = [0.0] + [z * np.log(z) - z + 0.5 * np.log(2 * np.pi * z)
                        for z in (2.0, 3.0)]
    expected = np.mean(np.exp(logits[:, 0]) - logits[:, 0] * labels[:, 0]
                       + stirling)
    np.testing.assert_allclose(train, expected, rtol=1e-5)


def test_all_zero_weights_report_nan_as_the_reference():
    head = learn.regression_head(weight_column_name="w")
    train, report, _ = _losses(_ops(
        head, LABELS_REGRESSION, LOGITS_REGRESSION,
        {"w": np.zeros((3, 1), "float32")}))
    assert train == 0.0 and np.isnan(report)


def test_weights_that_do_not_broadcast_are_rejected():
    head = learn.regression_head(weight_column_name="w")
    with pytest.raises(ValueError, match="weights can not be broadcast to "
                                         "values"):
        _ops(head, LABELS_REGRESSION, LOGITS_REGRESSION,
             {"w": np.ones((3, 2), "float32")})


def test_missing_weight_feature_is_named():
    head = learn.regression_head(weight_column_name="w")
    with pytest.raises(ValueError, match="Weights w missing from features"):
        _ops(head, LABELS_REGRESSION, LOGITS_REGRESSION, {"x": 1.0})


# --- custom loss functions ---------------------------------------------------


@pytest.mark.parametrize("factory", [
    lambda fn: learn.multi_class_head(n_classes=3, loss_fn=fn),
    lambda fn: learn.multi_class_head(n_classes=2, loss_fn=fn),
    lambda fn: learn.multi_label_head(n_classes=3, loss_fn=fn),
], ids=["multi_class", "binary", "multi_label"])
def test_loss_fn_must_take_labels_logits_and_weights(factory):
    for missing, fn in [
        ("labels", lambda logits, weights: 0.0),
        ("logits", lambda labels, weights: 0.0),
        ("weights", lambda labels, logits: 0.0),
    ]:
        with pytest.raises(ValueError,
                           match=f"Argument {missing} not found in loss_fn"):
            factory(fn)


def test_loss_fn_is_called_positionally_and_is_both_losses():
    calls = []

    def loss_fn(labels, logits, weights=None):
        calls.append(weights)
        return 0.5 if weights is None else 2.0

    head = learn.multi_class_head(n_classes=3, loss_fn=loss_fn)
    logits = np.array([[1.0, 0.0, 0.0]], "float32")
    assert _losses(_ops(head, np.array([[2]]), logits)) == (0.5, 0.5, 0.5)
    assert calls == [None]
    weighted = learn.multi_class_head(n_classes=3, loss_fn=loss_fn,
                                      weight_column_name="w")
    assert _losses(_ops(weighted, np.array([[2]]), logits,
                        {"w": np.array([3.0], "float32")}))[0] == 2.0
    assert tuple(calls[1].shape) == (1, 1)  # rank-1 weights became [-1, 1]


def test_multi_class_loss_fn_receives_the_label_ids():
    seen = {}

    def loss_fn(labels, logits, weights=None):
        seen["labels"] = numpy(labels)
        return 1.0

    head = learn.multi_class_head(n_classes=3, loss_fn=loss_fn,
                                  label_keys=["a", "b", "c"])
    _ops(head, np.array([["c"], ["a"]]), np.zeros((2, 3), "float32"))
    np.testing.assert_array_equal(seen["labels"], [[2], [0]])


def test_loss_fn_must_return_a_scalar():
    head = learn.multi_label_head(
        n_classes=2, loss_fn=lambda labels, logits, weights=None: logits)
    with pytest.raises(ValueError, match="loss_fn must return a scalar"):
        _ops(head, np.array([[1, 0]]), np.zeros((1, 2), "float32"))
