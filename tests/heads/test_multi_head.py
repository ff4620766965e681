"""MultiHead: the reference's example, streaming metrics (a deliberate
difference), split vs dict logits, training, specs and errors."""

import keras
import numpy as np
import pytest

import keras_heads
from keras_heads import ModeKeys
from tests import backends
from tests.conformance import runner


def _mixed_head(head_weights=None):
    return keras_heads.MultiHead(
        [
            keras_heads.MultiClassHead(3, weight_column="w", name="mc"),
            keras_heads.BinaryClassHead(label_vocabulary=["no", "yes"],
                                        thresholds=[0.3], name="bin"),
            keras_heads.RegressionHead(label_dimension=2, name="reg"),
            keras_heads.MultiLabelHead(n_classes=3, name="ml"),
        ],
        head_weights=head_weights,
    )


MIXED_DIMENSIONS = {"mc": 3, "bin": 1, "reg": 2, "ml": 3}


def _mixed_batch(n, seed):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, 9)).astype("float32")
    labels = {
        "mc": rng.integers(0, 3, size=(n, 1)),
        "bin": rng.choice(np.array(["no", "yes"], object), size=(n, 1)),
        "reg": rng.normal(size=(n, 2)).astype("float32"),
        "ml": rng.integers(0, 2, size=(n, 3)),
    }
    features = {"w": rng.uniform(0.5, 2.0, size=(n, 1)).astype("float32")}
    return logits, labels, features


def _as_dict(logits):
    out, begin = {}, 0
    for name, size in MIXED_DIMENSIONS.items():
        out[name] = logits[:, begin:begin + size]
        begin += size
    return out


def _results(eval_metrics):
    return {key: float(m.result()) for key, m in eval_metrics.items()}


def _labels_for(labels, tensor_labels=True):
    if not tensor_labels:
        return labels
    return {key: runner.to_backend(np.asarray(value))
            for key, value in labels.items()}


# --- the reference's docstring example ---------------------------------------


def test_reference_docstring_example():
    head1 = keras_heads.MultiLabelHead(n_classes=2, name='head1')
    head2 = keras_heads.MultiLabelHead(n_classes=3, name='head2')
    multi_head = keras_heads.MultiHead([head1, head2])
    logits = {
        'head1': np.array([[-10., 10.], [-15., 10.]], np.float32),
        'head2': np.array([[20., -20., 20.], [-30., 20., -20.]], np.float32),
    }
    labels = {
        'head1': np.array([[1, 0], [1, 1]], np.int64),
        'head2': np.array([[0, 1, 0], [1, 1, 0]], np.int64),
    }
    features = {'x': np.array(((42,),), np.float32)}

    loss = multi_head.loss(labels=labels, logits=logits, features=features)
    assert '{:.2f}'.format(loss) == '23.75'

    eval_metrics = multi_head.metrics()
    updated = multi_head.update_metrics(eval_metrics, features, logits, labels)
    lines = sorted('{} : {:.2f}'.format(k, float(v.result()))
                   for k, v in updated.items())
    assert lines == [
        'auc/head1 : 0.17',
        'auc/head2 : 0.33',
        'auc_precision_recall/head1 : 0.60',
        'auc_precision_recall/head2 : 0.40',
        'average_loss/head1 : 8.75',
        'average_loss/head2 : 15.00',
        'loss/head1 : 8.75',
        'loss/head2 : 15.00',
    ]

    preds = multi_head.predictions(logits)
    np.testing.assert_array_equal(preds[('head1', 'logits')], logits['head1'])


# --- streaming metrics (docs/differences.md #13) -----------------------------


def test_update_metrics_streams_like_one_concatenated_batch():
    head = _mixed_head(head_weights=[1.0, 2.0, 0.5, 1.5])
    batches = [_mixed_batch(8, seed) for seed in range(3)]

    streamed = head.metrics(regularization_losses=[0.0])
    created = set(streamed)
    first_objects = None
    for i, (logits, labels, features) in enumerate(batches):
        head.update_metrics(streamed, features, logits, labels,
                            regularization_losses=[0.5 * i])
        if first_objects is None:
            first_objects = dict(streamed)
    # metrics() holds the reference's keys only; the first update adds the
    # heads' own metrics, and later updates reuse those same objects.
    assert created == {"loss/mc", "loss/bin", "loss/reg", "loss/ml",
                       "regularization_loss/mc_bin_reg_ml"}
    assert all(streamed[k] is m for k, m in first_objects.items())
    assert set(streamed) == set(first_objects)

    logits = np.concatenate([b[0] for b in batches])
    labels = {k: np.concatenate([b[1][k] for b in batches])
              for k in batches[0][1]}
    features = {"w": np.concatenate([b[2]["w"] for b in batches])}
    at_once = head.metrics(regularization_losses=[0.0])
    head.update_metrics(at_once, features, logits, labels,
                        regularization_losses=[0.5])

    got, want = _results(streamed), _results(at_once)
    assert set(got) == set(want)
    assert "auc/bin" in got and "auc/ml" in got and "label/mean/reg" in got
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=1e-5, atol=1e-6,
                                   err_msg=key)


def test_a_fresh_metrics_dict_gets_fresh_head_metrics():
    head = _mixed_head()
    logits, labels, features = _mixed_batch(6, 0)
    first = head.update_metrics(head.metrics(), features, logits, labels)
    second = head.update_metrics(head.metrics(), features, logits, labels)
    assert first["auc/bin"] is not second["auc/bin"]
    assert _results(first) == pytest.approx(_results(second))


@pytest.mark.parametrize("case_id", [
    "multi_head/metrics/glm/dict_logits/2_batches",
    "multi_head/metrics/two_multilabel/split_logits/3_batches/regularized",
])
def test_quirk_fixtures_differ_only_in_what_the_reference_dropped(case_id):
    """The reference's snapshot after batch 1 and its streamed `loss/<head>`
    and regularization metrics still hold; only the sub-heads' metrics after
    later batches differ (they stream instead of restarting)."""
    case = next(c for c in runner.load_cases("multi_head")
                if c["id"] == case_id)
    head = runner.build_head(case["head"])
    inputs, expected = case["inputs"], case["expected"]
    eval_metrics = head.metrics(
        regularization_losses=inputs.get("regularization_losses"))
    snapshots = []
    for batch in inputs["batches"]:
        head.update_metrics(
            eval_metrics, runner.decode(batch.get("features", {})),
            runner.decode(batch["logits"]), runner.decode(batch["labels"]),
            regularization_losses=batch.get("regularization_losses"))
        snapshots.append(_results(eval_metrics))
    runner.assert_metrics(expected["metrics_per_batch"][0], snapshots[0])
    streamed_by_reference = {
        k: v for k, v in expected["metrics"].items()
        if k.startswith(("loss/", "regularization_loss/"))
    }
    runner.assert_metrics(
        streamed_by_reference,
        {k: snapshots[-1][k] for k in streamed_by_reference},
    )
    restarted = [k for k in expected["metrics"]
                 if k not in streamed_by_reference]
    assert any(
        abs(snapshots[-1][k] - runner._to_float(expected["metrics"][k]))
        > 1e-3 for k in restarted
    ), "expected at least one sub-head metric to differ from last-batch-only"


def _numeric_head():
    return keras_heads.MultiHead([
        keras_heads.MultiClassHead(3, weight_column="w", name="mc"),
        keras_heads.RegressionHead(label_dimension=2, name="reg"),
    ], head_weights=[1.0, 2.0])


def _numeric_batch(n, seed):
    """A batch for `_numeric_head`, as this backend's tensors."""
    logits, labels, features = _mixed_batch(n, seed)
    labels = {key: labels[key] for key in ("mc", "reg")}
    return (_labels_for(features), runner.to_backend(logits[:, :5]),
            _labels_for(labels))


def _streamed(head, batches, compile_fn=None, stateful=True):
    """The metric results after streaming `batches` (features, logits,
    labels): the first eagerly, which adds the sub-heads' metrics, and the
    others through `compile_fn`, statefully or through the stateless API
    (all eagerly when `compile_fn` is None)."""
    eval_metrics = head.update_metrics(head.metrics(), *batches[0])
    if compile_fn is None or stateful:
        def update(features, logits, labels):
            head.update_metrics(eval_metrics, features, logits, labels)

        if compile_fn is not None:
            update = compile_fn(update)
        for batch in batches[1:]:
            update(*batch)
        return _results(eval_metrics)
    state = head.metric_variables(eval_metrics)
    update = compile_fn(lambda state, *batch: head.stateless_update_metrics(
        state, eval_metrics, *batch))
    for batch in batches[1:]:
        state = update(state, *batch)
    # The metric objects themselves still hold the first batch only.
    assert _results(eval_metrics) == _streamed(head, batches[:1])
    results = head.stateless_metric_results(state, eval_metrics)
    return {key: float(backends.numpy(value))
            for key, value in results.items()}


def _assert_not_last_batch_only(head, batches, got):
    last_only = _streamed(head, batches[-1:])
    assert not np.isclose(got["loss/reg"], last_only["loss/reg"])


def _assert_same_metrics(got, want):
    assert set(got) == set(want)
    for key, value in want.items():
        np.testing.assert_allclose(got[key], value, rtol=1e-5, atol=1e-6,
                                   err_msg=key)


@backends.only_on(
    "tensorflow", why="metric variables are mutable inside tf.function; "
    "jax.jit needs the stateless API, tested below on every backend")
@pytest.mark.parametrize("compile_fn", [
    pytest.param(fn, id=name, marks=[pytest.mark.skip(
        reason="XLA has no string type: the binary head maps its "
               "label_vocabulary with tf.string ops")] if name == "xla" else [])
    for name, fn in backends.COMPILERS.items()])
def test_streaming_update_metrics_runs_compiled_after_first_call(compile_fn):
    head = _mixed_head()
    batches = [(features, logits, _labels_for(labels))
               for logits, labels, features in (_mixed_batch(6, seed)
                                                for seed in range(3))]
    got = _streamed(head, batches, compile_fn, stateful=True)
    _assert_same_metrics(got, _streamed(head, batches))
    assert "auc/bin" in got and "label/mean/reg" in got
    _assert_not_last_batch_only(head, batches, got)


@backends.parametrize_compilers
def test_stateless_update_metrics_streams_compiled_after_first_call(
        compile_fn):
    """The stateless API continues the stream that an eager update began
    (`metric_variables` reads the current values, sub-heads' included)."""
    head = _numeric_head()
    batches = [_numeric_batch(6, seed) for seed in range(3)]
    got = _streamed(head, batches, compile_fn, stateful=False)
    _assert_same_metrics(got, _streamed(head, batches))
    assert "accuracy/mc" in got and "label/mean/reg" in got
    _assert_not_last_batch_only(head, batches, got)


# --- dict vs one tensor ------------------------------------------------------


def test_dict_and_concatenated_logits_agree():
    head = _mixed_head(head_weights=[0.5, 1.0, 2.0, 3.0])
    logits, labels, features = _mixed_batch(10, 4)
    by_head = _as_dict(logits)

    def loss(x):
        return float(head.loss(labels=labels, logits=x, features=features,
                               regularization_losses=[0.25]))

    assert loss(logits) == loss(by_head)

    def metric_values(x):
        m = head.metrics(regularization_losses=[0.25])
        head.update_metrics(m, features, x, labels,
                            regularization_losses=[0.25])
        return _results(m)

    assert metric_values(logits) == metric_values(by_head)

    split, direct = head.predictions(logits), head.predictions(by_head)
    assert set(split) == set(direct)
    assert ("ml", "probabilities") in split and ("reg", "predictions") in split
    for key in direct:
        np.testing.assert_array_equal(
            runner.to_numpy(split[key]), runner.to_numpy(direct[key]))


def test_rank_3_logits_are_split_on_the_last_axis():
    head = keras_heads.MultiHead([
        keras_heads.RegressionHead(label_dimension=2, name="a"),
        keras_heads.RegressionHead(label_dimension=3, name="b"),
    ])
    logits = np.arange(20, dtype="float32").reshape(2, 2, 5)
    predictions = head.predictions(logits)
    np.testing.assert_array_equal(predictions[("a", "predictions")],
                                  logits[..., :2])
    np.testing.assert_array_equal(predictions[("b", "predictions")],
                                  logits[..., 2:])


def test_prediction_keys_are_ignored():
    head = _mixed_head()
    logits = _mixed_batch(2, 0)[0]
    assert set(head.predictions(logits, keys=["logits"])) == set(
        head.predictions(logits))


# --- training ----------------------------------------------------------------


def _fit(model, optimizer, x, steps, loss_fn):
    """`steps` steps of `optimizer` on `loss_fn(model(x))`, the way this
    backend differentiates: a GradientTape on TensorFlow, a jitted
    `jax.value_and_grad` of `model.stateless_call` and
    `optimizer.stateless_apply` on JAX (the model's variables are updated
    at the end), `torch.autograd.grad` on PyTorch."""
    variables = model.trainable_variables
    if backends.BACKEND == "tensorflow":
        import tensorflow as tf

        for _ in range(steps):
            with tf.GradientTape() as tape:
                loss = loss_fn(model(x))
            optimizer.apply(tape.gradient(loss, variables), variables)
    elif backends.BACKEND == "jax":
        import jax

        optimizer.build(variables)

        def loss_of(trainable, non_trainable):
            logits, non_trainable = model.stateless_call(
                trainable, non_trainable, x)
            return loss_fn(logits), non_trainable

        @jax.jit
        def step(trainable, non_trainable, optimizer_variables):
            (_, non_trainable), gradients = jax.value_and_grad(
                loss_of, has_aux=True)(trainable, non_trainable)
            trainable, optimizer_variables = optimizer.stateless_apply(
                optimizer_variables, gradients, trainable)
            return trainable, non_trainable, optimizer_variables

        state = ([v.value for v in variables],
                 [v.value for v in model.non_trainable_variables],
                 [v.value for v in optimizer.variables])
        for _ in range(steps):
            state = step(*state)
        for owner, values in zip(
                [variables, model.non_trainable_variables,
                 optimizer.variables], state):
            for variable, value in zip(owner, values):
                variable.assign(value)
    else:
        import torch

        for _ in range(steps):
            loss = loss_fn(model(x))
            gradients = torch.autograd.grad(loss, [v.value for v in variables])
            with torch.no_grad():
                optimizer.apply(gradients, variables)


def test_training_a_keras_model_lowers_every_heads_loss():
    head = _mixed_head(head_weights=[1.0, 1.0, 0.5, 1.0])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 4)).astype("float32")
    signal = x[:, :1] + 0.5 * x[:, 1:2]
    labels = {
        "mc": np.digitize(signal, [-0.5, 0.5]).astype("int64"),
        "bin": np.where(signal > 0, "yes", "no").astype(object),
        "reg": np.concatenate([signal, x[:, 2:3]], axis=1),
        "ml": np.concatenate(
            [signal > 0, x[:, 2:3] > 0, x[:, 3:4] > 0], axis=1
        ).astype("int64"),
    }
    features = {"w": np.ones((256, 1), "float32")}
    keras.utils.set_random_seed(1)
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(head.logits_dimension)])
    optimizer = keras.optimizers.Adam(learning_rate=0.05)

    def head_losses():  # what the `loss/<head>` metrics report
        by_head = _as_dict(backends.numpy(model(x)))
        return {name: float(backends.numpy(sub_head.loss(
                    labels[name], by_head[name], features)))
                for name, sub_head in zip(MIXED_DIMENSIONS, head.heads)}

    before = head_losses()
    _fit(model, optimizer, x, steps=60,
         loss_fn=lambda logits: head.loss(labels=labels, logits=logits,
                                          features=features))
    after = head_losses()
    for name in MIXED_DIMENSIONS:
        assert after[name] < 0.7 * before[name], (name, before, after)


def test_train_spec_builds_one_train_op_from_the_merged_loss():
    head = _mixed_head(head_weights=[1.0, 2.0, 0.5, 1.5])
    logits, labels, features = _mixed_batch(4, 2)
    received = []
    spec = head.create_estimator_spec(
        features=features, mode=ModeKeys.TRAIN, logits=logits, labels=labels,
        train_op_fn=lambda loss: received.append(loss) or "op",
        regularization_losses=[1.5, 0.5],
    )
    assert spec.train_op == "op" and len(received) == 1
    total = float(head.loss(labels, logits, features,
                            regularization_losses=[1.5, 0.5]))
    assert float(received[0]) == total == float(spec.loss)
    assert set(spec.summaries) == {"loss", "regularization_loss", "loss/mc",
                                   "loss/bin", "loss/reg", "loss/ml"}
    assert float(spec.summaries["regularization_loss"]) == 2.0
    by_head = _as_dict(logits)
    for name, sub_head in zip(MIXED_DIMENSIONS, head.heads):
        assert float(spec.summaries[f"loss/{name}"]) == float(
            sub_head.loss(labels[name], by_head[name], features))
    assert spec.eval_metric_ops == {}


def _optimizer_spec_problem():
    head = keras_heads.MultiHead([
        keras_heads.BinaryClassHead(name="a"),
        keras_heads.RegressionHead(name="b"),
    ])
    x = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
    labels = {"a": (x[:, :1] > 0).astype("float32"), "b": x[:, 1:2]}
    keras.utils.set_random_seed(2)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    optimizer = keras.optimizers.SGD(0.5)

    def step():
        return head.create_estimator_spec(
            features={}, mode=ModeKeys.TRAIN, logits=model(x), labels=labels,
            optimizer=optimizer,
            trainable_variables=model.trainable_variables).loss

    return step


def _keeping_the_loss_graph(fn):
    """`fn` run where create_estimator_spec(optimizer=...) can differentiate
    the loss it has just computed: in a tf.function graph (tf.gradients) on
    TensorFlow; eagerly on PyTorch, whose tensors carry their autograd graph.
    """
    if backends.BACKEND == "tensorflow":
        import tensorflow as tf

        return tf.function(fn)
    return fn


@backends.only_on("tensorflow", "torch", why=(
    "the optimizer path needs the graph of an already computed loss: a "
    "tf.function graph or eager torch autograd; JAX arrays carry none"))
def test_train_spec_with_optimizer_lowers_the_loss():
    step = _keeping_the_loss_graph(_optimizer_spec_problem())
    losses = [float(backends.numpy(step())) for _ in range(20)]
    assert losses[-1] < 0.5 * losses[0]


@backends.only_on("tensorflow", "jax", why=(
    "eager TensorFlow and JAX losses carry no graph to differentiate; eager "
    "torch does (tested above)"))
def test_train_spec_with_optimizer_explains_where_it_cannot_work():
    with pytest.raises(ValueError, match=r"carries no graph.*pass "
                                         r"train_op_fn=\.\.\. and compute"):
        _optimizer_spec_problem()()


# --- eval and predict specs --------------------------------------------------


def test_eval_spec():
    head = _mixed_head(head_weights=[1.0, 2.0, 0.5, 1.5])
    logits, labels, features = _mixed_batch(5, 3)
    spec = head.create_estimator_spec(
        features=features, mode=ModeKeys.EVAL, logits=logits, labels=labels,
        regularization_losses=[1.0])
    expected = head.metrics(regularization_losses=[1.0])
    head.update_metrics(expected, features, logits, labels,
                        regularization_losses=[1.0])
    assert _results(spec.eval_metric_ops) == _results(expected)
    assert float(spec.loss) == float(
        head.loss(labels, logits, features, regularization_losses=[1.0]))


def test_predict_spec_merges_the_signatures():
    head = _mixed_head()
    logits = _mixed_batch(3, 0)[0]
    spec = head.create_estimator_spec(features={}, mode=ModeKeys.PREDICT,
                                      logits=logits)
    outputs = spec.export_outputs
    assert set(outputs) == {
        "serving_default", "predict",
        "mc", "mc/classification", "mc/predict",
        "bin", "bin/classification", "bin/regression", "bin/predict",
        "reg", "reg/regression", "reg/predict",
        "ml", "ml/classification", "ml/predict",
    }
    assert outputs["serving_default"] is outputs["mc"]
    assert isinstance(outputs["serving_default"],
                      keras_heads.ClassificationOutput)
    merged = outputs["predict"].outputs
    assert "mc/probabilities" in merged and "reg/predictions" in merged
    for (name, key), value in spec.predictions.items():
        np.testing.assert_array_equal(runner.to_numpy(merged[f"{name}/{key}"]),
                                      runner.to_numpy(value))
    assert spec.loss is None and spec.train_op is None


# --- errors ------------------------------------------------------------------


def test_construction_errors_name_the_argument():
    a = keras_heads.BinaryClassHead(name="a")
    with pytest.raises(ValueError, match=r"Must specify heads. Given: \[\]"):
        keras_heads.MultiHead([])
    with pytest.raises(ValueError, match=r"len\(heads\): 1. Given "
                                         r"len\(head_weights\): 2"):
        keras_heads.MultiHead([a], head_weights=[1.0, 2.0])
    with pytest.raises(ValueError, match=r"must have name specified.*"
                                         r"heads\[1\], name=None"):
        keras_heads.MultiHead([a, keras_heads.RegressionHead()])
    # An empty head_weights list means no weights, as in the reference.
    assert keras_heads.MultiHead([a], head_weights=[]).head_weights == ()


def test_split_error_shows_expected_and_actual_sizes():
    head = keras_heads.MultiHead([
        keras_heads.RegressionHead(label_dimension=2, name="a"),
        keras_heads.RegressionHead(label_dimension=3, name="b"),
    ])
    with pytest.raises(ValueError) as info:
        head.predictions(np.zeros((2, 4), "float32"))
    message = str(info.value)
    assert message.startswith(
        "Could not split logits of shape [2, 4] among the heads with "
        "individual logits dimensions: [2, 3].")
    assert "should equal 5 (the sum of the heads' logits_dimension) but is 4" \
        in message
    with pytest.raises(ValueError, match="logits must have rank at least 2"):
        head.predictions(np.zeros((5,), "float32"))


def test_logits_and_labels_dict_errors_list_the_heads():
    head = _mixed_head()
    logits, labels, features = _mixed_batch(2, 0)
    partial = {k: v for k, v in _as_dict(logits).items() if k != "reg"}
    with pytest.raises(ValueError, match=r"logits has missing values for "
                                         r"head\(s\): \['reg'\]. Expected"):
        head.loss(labels, partial, features)
    with pytest.raises(ValueError, match="labels must be a dict. Given: "):
        head.loss(labels["mc"], logits, features)
    del labels["ml"]
    with pytest.raises(ValueError, match=r"labels has missing values for "
                                         r"head\(s\): \['ml'\]"):
        head.loss(labels, logits, features)


def test_missing_labels_raise_the_heads_error():
    """docs/differences.md #14: the reference failed with a TypeError."""
    head = _mixed_head()
    logits, _, features = _mixed_batch(2, 0)
    with pytest.raises(ValueError, match="You must provide a labels Tensor"):
        head.loss(None, logits, features)
    with pytest.raises(ValueError, match="You must provide a labels Tensor"):
        head.update_metrics(head.metrics(), features, logits, None)
    with pytest.raises(ValueError, match="You must provide a labels Tensor"):
        head.create_estimator_spec(features, ModeKeys.EVAL, logits)


def test_loss_reduction_and_mode_errors():
    head = keras_heads.MultiHead([
        keras_heads.BinaryClassHead(name="a", loss_reduction="sum"),
        keras_heads.BinaryClassHead(name="b"),
    ])
    with pytest.raises(ValueError, match="must be the same for different "
                                         r"heads. Given: \['sum', "
                                         r"'sum_over_batch_size'\] for heads"):
        head.loss_reduction
    logits = np.zeros((2, 2), "float32")
    labels = {"a": np.ones((2, 1)), "b": np.ones((2, 1))}
    with pytest.raises(ValueError, match="must be the same"):
        head.create_estimator_spec({}, ModeKeys.TRAIN, logits, labels,
                                   train_op_fn=lambda loss: None)
    with pytest.raises(ValueError, match="mode=bogus unrecognized. Expected"):
        head.create_estimator_spec({}, "bogus", logits, labels,
                                   train_op_fn=lambda loss: None)


@backends.parametrize_compilers
def test_loss_compiles(compile_fn):
    head = keras_heads.MultiHead([
        keras_heads.MultiClassHead(3, weight_column="w", name="mc"),
        keras_heads.BinaryClassHead(name="bin"),
        keras_heads.RegressionHead(label_dimension=2, name="reg"),
        keras_heads.MultiLabelHead(n_classes=3, name="ml"),
    ], head_weights=[1.0, 2.0, 0.5, 1.5])
    logits, labels, features = _mixed_batch(6, 5)
    labels["bin"] = (labels["bin"] == "yes").astype("float32")
    labels, features = _labels_for(labels), _labels_for(features)

    @compile_fn
    def compiled(logits):
        return head.loss(labels=labels, logits=logits, features=features,
                         regularization_losses=[0.5])

    eager = head.loss(labels=labels, logits=logits, features=features,
                      regularization_losses=[0.5])
    np.testing.assert_allclose(backends.numpy(compiled(logits)),
                               backends.numpy(eager), rtol=1e-6)


# --- construction errors -----------------------------------------------------


@pytest.mark.parametrize(
    "names, repeated",
    [
        (["a", "a"], "['a']"),
        (["a", "b", "a", "b", "c"], "['a', 'b']"),
    ],
)
def test_duplicated_head_names_are_rejected(names, repeated):
    """Two heads with one name would share labels and metric keys and be
    counted twice in the loss; the message lists the names."""
    heads = [keras_heads.RegressionHead(name=name) for name in names]
    with pytest.raises(ValueError, match="Head names must be unique") as info:
        keras_heads.MultiHead(heads)
    message = str(info.value)
    assert f"heads named {names}" in message
    assert f"{repeated} appear more than once" in message


@pytest.mark.parametrize(
    "bad", [float("nan"), float("inf"), -float("inf"), "1.0", None, True],
    ids=["nan", "inf", "-inf", "string", "none", "bool"],
)
def test_head_weights_must_be_finite_numbers(bad):
    heads = [keras_heads.RegressionHead(name="a"),
             keras_heads.RegressionHead(name="b")]
    with pytest.raises(ValueError,
                       match="head_weights must be finite numbers") as info:
        keras_heads.MultiHead(heads, head_weights=[1.0, bad])
    message = str(info.value)
    assert f"Given: {[1.0, bad]}" in message
    assert f"which holds {bad!r}" in message


def test_head_weights_of_the_wrong_size_keep_the_reference_message():
    heads = [keras_heads.RegressionHead(name="a"),
             keras_heads.RegressionHead(name="b")]
    with pytest.raises(ValueError, match=r"heads and head_weights must have "
                                         r"the same size\. Given len\(heads\)"
                                         r": 2\. Given len\(head_weights\): "
                                         r"3\."):
        keras_heads.MultiHead(heads, head_weights=[1.0, float("nan"), 2.0])


def test_finite_head_weights_of_any_numeric_type_weight_the_loss():
    """Ints, NumPy floats, zero and negative weights stay accepted."""
    head = keras_heads.MultiHead(
        [keras_heads.RegressionHead(name="a"),
         keras_heads.RegressionHead(name="b")],
        head_weights=[2, np.float32(-0.25)],
    )
    logits = np.array([[1.0, 2.0]], "float32")
    labels = {"a": np.array([[0.0]], "float32"),
              "b": np.array([[0.0]], "float32")}
    # 2 * 1 ** 2 - 0.25 * 2 ** 2
    np.testing.assert_allclose(
        backends.numpy(head.loss(labels=labels, logits=logits)), 1.0,
        rtol=1e-6,
    )
