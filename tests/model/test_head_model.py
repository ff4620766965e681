"""`HeadModel`: fit / evaluate / predict a network under each head family,
and check every number against the head called by hand on the model's
logits."""

import glob
import os

import keras
import numpy as np
import pytest

import keras_heads as kh
from tests import backends

N = 48  # rows
BATCH = 16  # three equal batches


def _network(outputs, regularizer=None):
    """A functional network from the feature `x` (4 floats) to logits: one
    Dense of `outputs` units, or a dict of them keyed by head name."""
    inputs = keras.Input((4,), name="x")

    def dense(units, name=None):
        return keras.layers.Dense(
            units, kernel_regularizer=regularizer, name=name
        )(inputs)

    if isinstance(outputs, dict):
        logits = {name: dense(units, name) for name, units in outputs.items()}
    else:
        logits = dense(outputs)
    return keras.Model({"x": inputs}, logits)


def _data():
    """`(features, score)`: features `x` and `w` (a weight column the network
    does not take), and a linear score of `x` to derive labels from."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N, 4)).astype("float32")
    w = rng.uniform(0.5, 2.0, size=(N, 1)).astype("float32")
    projection = np.array(
        [[1.0, -1.0, 0.5], [0.5, 1.0, -1.0], [-1.0, 0.5, 1.0], [0.3, 0.2, 0.1]],
        "float32",
    )
    return {"x": x, "w": w}, x @ projection


def _names(score, vocabulary):
    return np.array(vocabulary)[score.argmax(axis=1)][:, None]


def _case(family):
    """`(head, network outputs, features, labels)` for one head family."""
    features, score = _data()
    if family == "binary":
        head = kh.BinaryClassHead(label_vocabulary=["no", "yes"])
        labels = np.where(score[:, :1] > 0, "yes", "no")
        return head, 1, features, labels
    if family == "multi_class":
        head = kh.MultiClassHead(
            3, weight_column="w", label_vocabulary=["a", "b", "c"]
        )
        return head, 3, features, _names(score, ["a", "b", "c"])
    if family == "multi_label":
        return kh.MultiLabelHead(3), 3, features, (score > 0).astype("int64")
    if family == "regression":
        labels = (2.0 * features["x"][:, :2] - score[:, 1:]).astype("float32")
        return kh.RegressionHead(label_dimension=2), 2, features, labels
    assert family == "multi_head"
    head = kh.MultiHead(
        [
            kh.MultiClassHead(3, name="kind", label_vocabulary=["a", "b", "c"]),
            kh.RegressionHead(name="size", weight_column="w"),
        ],
        head_weights=[1.0, 0.5],
    )
    labels = {
        "kind": _names(score, ["a", "b", "c"]),
        "size": score[:, 2:].astype("float32"),
    }
    return head, {"kind": 3, "size": 1}, features, labels


FAMILIES = ["binary", "multi_class", "multi_label", "regression", "multi_head"]


def _model(head, outputs, optimizer="adam", **network_kwargs):
    keras.utils.set_random_seed(0)
    model = kh.HeadModel(_network(outputs, **network_kwargs), head)
    if optimizer == "adam":
        optimizer = keras.optimizers.Adam(learning_rate=0.05)
    model.compile(optimizer=optimizer)
    return model


def _rows(values, start, stop):
    if isinstance(values, dict):
        return {k: _rows(v, start, stop) for k, v in values.items()}
    return values[start:stop]


def _metric_keys(head):
    """The head's metric keys: its `metrics()`, and a MultiHead's heads'."""
    keys = set(head.metrics())
    for sub_head in head.heads if isinstance(head, kh.MultiHead) else ():
        keys |= set(sub_head.metrics())
    return keys


def _by_hand(model, features, labels, batch_size):
    """What `evaluate` should report: the head's metrics streamed over the
    batches of the model's logits, and the batches' mean loss."""
    head = model.head
    eval_metrics = head.metrics()
    losses = []
    for start in range(0, N, batch_size):
        batch = _rows(features, start, start + batch_size)
        batch_labels = _rows(labels, start, start + batch_size)
        logits = model(batch)
        head.update_metrics(eval_metrics, batch, logits, batch_labels)
        losses.append(float(backends.numpy(
            head.loss(batch_labels, logits, features=batch)
        )))
    results = {k: float(backends.numpy(m.result()))
               for k, m in eval_metrics.items()}
    results["loss"] = float(np.mean(losses))  # equal batches: a plain mean
    return results


def _assert_same_numbers(got, want):
    assert sorted(got) == sorted(want)
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=2e-5, atol=1e-6,
                                   err_msg=key)


def _assert_same_predictions(got, want):
    assert sorted(got, key=str) == sorted(want, key=str)
    for key, value in want.items():
        if kh.backend.is_string(value):
            assert got[key].dtype == object, key
            assert all(isinstance(s, bytes) for s in got[key].flat), key
            np.testing.assert_array_equal(
                got[key].astype("S"), kh.backend.string_values(value),
                err_msg=str(key),
            )
        else:
            np.testing.assert_allclose(got[key], backends.numpy(value),
                                       rtol=1e-5, atol=1e-6,
                                       err_msg=str(key))


# --- fit / evaluate / predict per head family --------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_fit_logs_the_head_metric_keys_and_lowers_the_loss(family):
    head, outputs, features, labels = _case(family)
    model = _model(head, outputs)
    history = model.fit(features, labels, batch_size=BATCH, epochs=4,
                        verbose=0)
    want = _metric_keys(head) | {"loss"}
    assert set(history.history) == want
    if isinstance(head, kh.MultiHead):
        assert {"loss/kind", "loss/size", "accuracy/kind",
                "average_loss/size"} <= want
    losses = history.history["loss"]
    assert losses[-1] < 0.9 * losses[0], losses


@pytest.mark.parametrize("family", FAMILIES)
def test_evaluate_equals_the_head_streamed_by_hand(family):
    head, outputs, features, labels = _case(family)
    model = _model(head, outputs)
    model.fit(features, labels, batch_size=BATCH, epochs=2, verbose=0)
    got = model.evaluate(features, labels, batch_size=BATCH, verbose=0,
                         return_dict=True)
    _assert_same_numbers(got, _by_hand(model, features, labels, BATCH))


@pytest.mark.parametrize("family", FAMILIES)
def test_one_batch_evaluate_reports_the_head_loss(family):
    head, outputs, features, labels = _case(family)
    model = _model(head, outputs)
    model.fit(features, labels, batch_size=BATCH, epochs=1, verbose=0)
    got = model.evaluate(features, labels, batch_size=N, verbose=0,
                         return_dict=True)
    want = head.loss(labels, model(features), features=features)
    np.testing.assert_allclose(got["loss"], backends.numpy(want), rtol=1e-5)


@pytest.mark.parametrize("family", FAMILIES)
def test_predict_equals_the_head_predictions_of_the_logits(family):
    head, outputs, features, labels = _case(family)
    model = _model(head, outputs)
    model.fit(features, labels, batch_size=BATCH, epochs=1, verbose=0)
    got = model.predict(features, batch_size=BATCH, verbose=0)
    want = head.predictions(model(features))
    _assert_same_predictions(got, want)
    if family == "binary":
        assert set(got["classes"].ravel()) <= {b"no", b"yes"}
        assert got["all_classes"][0].tolist() == [b"no", b"yes"]
    if family == "multi_head":
        assert ("kind", "classes") in got and ("size", "predictions") in got
        assert got[("kind", "all_classes")][0].tolist() == [b"a", b"b", b"c"]


# --- losses ------------------------------------------------------------------


@pytest.mark.parametrize(
    "reduction", [kh.Reduction.SUM, kh.Reduction.SUM_OVER_BATCH_SIZE]
)
def test_evaluate_loss_is_the_head_loss_for_each_reduction(reduction):
    _, score = _data()
    features, labels = _data()[0], (score[:, :1] > 0).astype("float32")
    head = kh.BinaryClassHead(weight_column="w", loss_reduction=reduction)
    model = _model(head, 1)
    got = model.evaluate(features, labels, batch_size=N, verbose=0,
                         return_dict=True)["loss"]
    want = float(backends.numpy(
        head.loss(labels, model(features), features=features)
    ))
    np.testing.assert_allclose(got, want, rtol=1e-5)
    # The two reductions differ by the batch size: SUM is not a mean.
    mean = float(backends.numpy(kh.BinaryClassHead(weight_column="w").loss(
        labels, model(features), features=features)))
    expected = mean * N if reduction == kh.Reduction.SUM else mean
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_regularization_losses_are_added_to_the_head_loss():
    head, _, features, labels = _case("binary")
    model = _model(head, 1, regularizer=keras.regularizers.L2(0.5))
    kernel = backends.numpy(model.network.layers[-1].kernel)
    penalty = 0.5 * float(np.sum(kernel ** 2))
    assert penalty > 0.1
    got = model.evaluate(features, labels, batch_size=N, verbose=0,
                         return_dict=True)
    head_loss = float(backends.numpy(
        head.loss(labels, model(features), features=features)
    ))
    np.testing.assert_allclose(got["loss"], head_loss + penalty, rtol=1e-5)
    # The metrics are the head's alone: average_loss has no penalty.
    np.testing.assert_allclose(got["average_loss"], head_loss, rtol=1e-5)


# --- validation, callbacks, TensorBoard --------------------------------------


def test_validation_data_logs_every_key_with_val_prefix():
    head, outputs, features, labels = _case("multi_head")
    model = _model(head, outputs)
    history = model.fit(features, labels, batch_size=BATCH, epochs=2,
                        validation_data=(features, labels), verbose=0)
    keys = _metric_keys(head) | {"loss"}
    assert set(history.history) == keys | {f"val_{k}" for k in keys}
    # Validation ran after the last epoch's training: it is an evaluate().
    now = model.evaluate(features, labels, batch_size=BATCH, verbose=0,
                         return_dict=True)
    for key in keys:
        np.testing.assert_allclose(history.history[f"val_{key}"][-1],
                                   now[key], rtol=1e-5, atol=1e-6,
                                   err_msg=key)


class _Recorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.batch_logs = []
        self.epoch_logs = []
        self.test_logs = []

    def on_train_batch_end(self, batch, logs=None):
        self.batch_logs.append(dict(logs))

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_logs.append(dict(logs))

    def on_test_end(self, logs=None):
        self.test_logs.append(dict(logs))


def test_callbacks_see_the_head_metric_keys():
    head, outputs, features, labels = _case("multi_class")
    model = _model(head, outputs)
    recorder = _Recorder()
    history = model.fit(features, labels, batch_size=BATCH, epochs=2,
                        callbacks=[recorder], verbose=0)
    keys = _metric_keys(head) | {"loss"}
    assert len(recorder.batch_logs) == 2 * (N // BATCH)
    assert all(set(logs) == keys for logs in recorder.batch_logs)
    assert [set(logs) for logs in recorder.epoch_logs] == [keys, keys]
    assert recorder.epoch_logs[-1]["accuracy"] == pytest.approx(
        history.history["accuracy"][-1])
    model.evaluate(features, labels, callbacks=[recorder], verbose=0)
    assert [set(logs) for logs in recorder.test_logs] == [keys]


def test_tensorboard_writes_event_files(tmp_path):
    # Keras' TensorBoard callback writes through the `tensorboard` package
    # (pinned in the `test` extra; tensorflow-cpu does not install it).
    head, outputs, features, labels = _case("multi_head")
    model = _model(head, outputs)
    model.fit(features, labels, batch_size=BATCH, epochs=2, verbose=0,
              validation_data=(features, labels),
              callbacks=[keras.callbacks.TensorBoard(log_dir=str(tmp_path))])
    for run in ("train", "validation"):
        events = glob.glob(os.path.join(tmp_path, run, "events.out.tfevents*"))
        assert events, run
        assert all(os.path.getsize(e) > 0 for e in events)


# --- errors ------------------------------------------------------------------


def test_compile_rejects_a_loss():
    model = kh.HeadModel(_network(1), kh.BinaryClassHead())
    with pytest.raises(ValueError, match="loss"):
        model.compile(optimizer="sgd", loss="binary_crossentropy")
    with pytest.raises(ValueError, match="loss_weights"):
        model.compile(optimizer="sgd", loss_weights=[1.0])


@pytest.mark.parametrize("method, argument", [
    ("fit", "sample_weight"), ("fit", "class_weight"),
    ("evaluate", "sample_weight"),
])
def test_sample_and_class_weights_are_rejected(method, argument):
    head, outputs, features, labels = _case("binary")
    model = _model(head, outputs)
    value = np.ones(N) if argument == "sample_weight" else {0: 1.0, 1: 2.0}
    with pytest.raises(ValueError, match=f"{argument}.*weight_column"):
        getattr(model, method)(features, labels, verbose=0,
                               **{argument: value})


def test_sample_weight_in_the_data_is_rejected():
    head, outputs, features, labels = _case("binary")
    model = _model(head, outputs)
    dataset = [(features, labels, np.ones(N, "float32"))]
    with pytest.raises(ValueError, match="sample_weight.*weight_column"):
        model.fit(_batches(dataset), epochs=1, shuffle=False, verbose=0)


def _batches(items):
    yield from items


@pytest.mark.parametrize("method", ["call", "fit", "predict"])
def test_missing_network_input_is_named(method):
    head, outputs, features, labels = _case("binary")
    model = _model(head, outputs)
    features = {"z": features["x"], "w": features["w"]}
    missing = r"missing the network's inputs \['x'\]"
    with pytest.raises(ValueError, match=missing):
        if method == "call":
            model(features)
        elif method == "fit":
            model.fit(features, labels, epochs=1, verbose=0)
        else:
            model.predict(features, verbose=0)


# --- .keras files ------------------------------------------------------------


def test_keras_file_round_trip_keeps_predictions_and_evaluation(tmp_path):
    _, score = _data()
    features, _ = _data()
    head = kh.MultiHead(
        [
            kh.MultiClassHead(3, name="kind", label_vocabulary=["a", "b", "c"],
                              weight_column=kh.numeric_column("w")),
            kh.RegressionHead(name="size",
                              weight_column=kh.numeric_column("w")),
        ],
        head_weights=[1.0, 0.5],
    )
    labels = {"kind": _names(score, ["a", "b", "c"]),
              "size": score[:, 2:].astype("float32")}
    model = _model(head, {"kind": 3, "size": 1})
    model.fit(features, labels, batch_size=BATCH, epochs=2, verbose=0)
    path = str(tmp_path / "m.keras")
    model.save(path)
    restored = keras.saving.load_model(path)

    assert type(restored) is kh.HeadModel
    assert restored.head.get_config() == head.get_config()
    want = model.predict(features, verbose=0)
    got = restored.predict(features, verbose=0)
    assert sorted(got, key=str) == sorted(want, key=str)
    for key, value in want.items():
        if value.dtype == object:
            np.testing.assert_array_equal(got[key], value, err_msg=str(key))
        else:
            np.testing.assert_allclose(got[key], value, rtol=1e-6,
                                       err_msg=str(key))
    evaluate = dict(batch_size=BATCH, verbose=0, return_dict=True)
    _assert_same_numbers(restored.evaluate(features, labels, **evaluate),
                         model.evaluate(features, labels, **evaluate))
    # The optimizer came back too: training goes on from the same state.
    np.testing.assert_allclose(
        restored.fit(features, labels, epochs=1, shuffle=False, verbose=0,
                     batch_size=BATCH).history["loss"],
        model.fit(features, labels, epochs=1, shuffle=False, verbose=0,
                  batch_size=BATCH).history["loss"], rtol=1e-5)


# --- class names as labels ---------------------------------------------------


def test_string_labels_train_as_their_ids():
    features, score = _data()
    names = _names(score, ["a", "b", "c"])
    ids = score.argmax(axis=1)[:, None].astype("int64")
    by_name = _model(kh.MultiClassHead(3, weight_column="w",
                                       label_vocabulary=["a", "b", "c"]), 3)
    by_id = _model(kh.MultiClassHead(3, weight_column="w"), 3)
    fit = dict(batch_size=BATCH, epochs=3, shuffle=False, verbose=0)
    got = by_name.fit(features, names, **fit).history
    want = by_id.fit(features, ids, **fit).history
    _assert_same_numbers({k: v[-1] for k, v in got.items()},
                         {k: v[-1] for k, v in want.items()})
    for a, b in zip(by_name.get_weights(), by_id.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    _assert_same_numbers(
        by_name.evaluate(features, names, verbose=0, return_dict=True),
        by_id.evaluate(features, ids, verbose=0, return_dict=True),
    )


def _with_unknown_name():
    head, outputs, features, labels = _case("multi_class")
    labels = labels.astype("U5")
    labels[5, 0] = "zebra"
    return _model(head, outputs), features, labels


@pytest.mark.parametrize("method", ["fit", "evaluate"])
def test_unknown_class_name_is_named(method):
    model, features, labels = _with_unknown_name()
    with pytest.raises(ValueError, match="not in label_vocabulary.*zebra"):
        getattr(model, method)(features, labels, verbose=0)


def test_label_ids_maps_names_for_a_custom_loop():
    head, outputs, features, labels = _case("multi_head")
    model = _model(head, outputs)
    ids = model.label_ids(labels)
    np.testing.assert_array_equal(
        ids["kind"], _data()[1].argmax(axis=1)[:, None])
    np.testing.assert_array_equal(ids["size"], labels["size"])
    # What a custom loop's compiled step gives the head's id twin.
    logits = model(features)
    np.testing.assert_allclose(
        backends.numpy(model._objective.loss(ids, logits, features)),
        backends.numpy(head.loss(labels, logits, features)), rtol=1e-6,
    )


def test_an_evaluation_step_gives_the_head_eval_mode_and_training_none():
    """`evaluate` computes the loss and the metrics with `mode=EVAL` (so a
    compiled step can share one pass between them); `fit` trains with no
    mode, whose loss is differentiated as usual."""
    seen = []

    class Recording(kh.MultiLabelHead):
        def _loss_terms(self, labels, logits, features, mode=None):
            seen.append(("loss", mode))
            return super()._loss_terms(labels, logits, features, mode)

        def update_metrics(self, *args, mode=None, **kwargs):
            seen.append(("metrics", mode))
            return super().update_metrics(*args, mode=mode, **kwargs)

    features, score = _data()
    labels = (score > 0).astype("int64")
    model = _model(Recording(3), 3)
    model.fit(features, labels, batch_size=BATCH, epochs=1, verbose=0)
    assert set(seen) == {("loss", None), ("metrics", None)}
    seen.clear()
    model.evaluate(features, labels, batch_size=BATCH, verbose=0)
    assert set(seen) == {("loss", kh.ModeKeys.EVAL),
                         ("metrics", kh.ModeKeys.EVAL)}


# --- what HeadModel takes ------------------------------------------------------


@pytest.mark.parametrize(
    "head, shown",
    [
        ("binary", "str 'binary'"),
        (kh.BinaryClassHead, "ABCMeta <class"),
        (None, "NoneType None"),
    ],
    ids=["string", "head_class", "none"],
)
def test_head_must_be_a_head_instance(head, shown):
    with pytest.raises(TypeError, match="head must be a keras_heads.Head "
                                        "instance") as info:
        kh.HeadModel(_network(1), head)
    assert f"Given: {shown}" in str(info.value)


@pytest.mark.parametrize(
    "network, shown",
    [
        (lambda features: features["x"], "function <function"),
        ("dense", "str 'dense'"),
        (None, "NoneType None"),
    ],
    ids=["function", "string", "none"],
)
def test_network_must_be_a_keras_layer(network, shown):
    with pytest.raises(TypeError, match="network must be a Keras layer or "
                                        "model") as info:
        kh.HeadModel(network, kh.BinaryClassHead())
    assert f"Given: {shown}" in str(info.value)


def _twin_networks(outputs):
    """Two networks sharing one Dense layer: one returns its logits as a
    tensor, the other as a one-entry dict."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,), name="x")
    logits = keras.layers.Dense(outputs)(inputs)
    return (keras.Model({"x": inputs}, logits),
            keras.Model({"x": inputs}, {"logits": logits}))


@pytest.mark.parametrize("family", ["binary", "regression"])
def test_single_head_takes_a_one_entry_dict_of_logits(family):
    """The dict's one value is the logits: evaluate and predict equal those
    of the same network returning a tensor, and fit trains."""
    head, outputs, features, labels = _case(family)
    as_tensor, as_dict = _twin_networks(outputs)
    models = [kh.HeadModel(network, head) for network in (as_tensor, as_dict)]
    for model in models:
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.05))
    evaluate = dict(batch_size=BATCH, verbose=0, return_dict=True)
    want, got = (m.evaluate(features, labels, **evaluate) for m in models)
    _assert_same_numbers(got, want)
    predictions = [m.predict(features, batch_size=BATCH, verbose=0)
                   for m in models]
    assert sorted(predictions[1]) == sorted(predictions[0])
    for key, value in predictions[0].items():
        if value.dtype == object:
            np.testing.assert_array_equal(predictions[1][key], value)
        else:
            np.testing.assert_allclose(predictions[1][key], value, rtol=1e-6,
                                       err_msg=key)
    history = models[1].fit(features, labels, batch_size=BATCH, epochs=5,
                            verbose=0).history
    assert sorted(_metric_keys(head)) == sorted(
        key for key in history if key != "loss"
    )
    assert history["loss"][-1] < history["loss"][0]


@pytest.mark.parametrize("method", ["call", "evaluate", "predict"])
def test_single_head_rejects_a_dict_of_several_logits(method):
    head, _, features, labels = _case("regression")
    model = _model(head, {"mean": 1, "spread": 1})
    with pytest.raises(ValueError, match="A single head takes one logits "
                                         "tensor") as info:
        if method == "call":
            model(features)
        elif method == "evaluate":
            model.evaluate(features, labels, verbose=0)
        else:
            model.predict(features, verbose=0)
    message = str(info.value)
    assert "['mean', 'spread']" in message
    assert "keras_heads.MultiHead" in message
