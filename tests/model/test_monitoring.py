"""Keras' monitoring callbacks find which way each head metric improves.

`EarlyStopping`, `ModelCheckpoint(save_best_only=True)` and
`ReduceLROnPlateau` with `mode="auto"` learn a monitored key's direction from
the model's metrics: every head metric key resolves (AUCs, accuracies,
precisions, recalls up; losses down), and a key with no better side
(`label/mean`, ...) fails with Keras' own error, which names it and asks
for `mode`.
"""

import keras
import numpy as np
import pytest

import keras_heads as kh
from keras_heads.model import monitoring

N = 64
BATCH = 16

UP, DOWN = keras.ops.greater, keras.ops.less

# Heads of every family, with their optional metrics (thresholds, per-class
# metrics, regularization).
HEADS = {
    "binary": lambda: kh.BinaryClassHead(thresholds=[0.3, 0.7]),
    "multi_class": lambda: kh.MultiClassHead(3),
    "multi_label": lambda: kh.MultiLabelHead(
        3, label_vocabulary=["a", "b", "c"],
        classes_for_class_based_metrics=["a", "c"],
    ),
    "regression": lambda: kh.RegressionHead(),
    "poisson": lambda: kh.PoissonRegressionHead(),
}
# The first `/` part of every key without a direction.
NO_DIRECTION = {"label", "prediction", "accuracy_baseline", "probability_mean"}


@pytest.mark.parametrize("family", sorted(HEADS))
def test_every_head_metric_key_has_its_direction(family):
    metrics = HEADS[family]().metrics(regularization_losses=[0.0])
    seen = set()
    for key, metric in metrics.items():
        kind = key.split("/")[0]
        seen.add(kind)
        want = (None if kind in NO_DIRECTION
                else "down" if kind.endswith("loss") else "up")
        assert monitoring.direction(key, metric) == want, key
        # A MultiHead suffixes the head's name: the same direction.
        assert monitoring.direction(f"{key}/head1", metric) == want, key
    assert seen & {"average_loss", "regularization_loss"}, seen


def test_a_key_of_no_head_family_takes_its_metric_direction():
    assert monitoring.direction("mse", keras.metrics.MeanSquaredError()) == (
        "down")
    assert monitoring.direction("r2", keras.metrics.R2Score()) == "up"
    assert monitoring.direction("spread", keras.metrics.Mean()) is None


def _network(outputs):
    inputs = keras.Input((4,), name="x")
    logits = {name: keras.layers.Dense(units, name=name)(inputs)
              for name, units in outputs.items()}
    return keras.Model({"x": inputs}, logits)


def _multi_head_model():
    keras.utils.set_random_seed(0)
    head = kh.MultiHead([
        kh.BinaryClassHead(name="bin", thresholds=[0.5]),
        kh.MultiClassHead(3, name="cls"),
        kh.RegressionHead(name="reg"),
    ])
    model = kh.HeadModel(_network({"bin": 1, "cls": 3, "reg": 1}), head)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.05))
    return model


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N, 4)).astype("float32")
    labels = {
        "bin": (x[:, :1] + 0.5 * rng.normal(size=(N, 1)) > 0).astype("int64"),
        "cls": np.argmax(x[:, :3], axis=1)[:, None].astype("int64"),
        "reg": (x[:, 3:] * 2.0).astype("float32"),
    }
    return {"x": x}, labels


def _fit(model, callbacks, epochs=1):
    features, labels = _data()
    return model.fit(features, labels, batch_size=BATCH, epochs=epochs,
                     validation_data=(features, labels), callbacks=callbacks,
                     verbose=0)


def test_every_multi_head_key_resolves_in_every_monitoring_callback(tmp_path):
    model = _multi_head_model()
    expected = {}
    for key, metric in model.head_metrics.items():
        way = monitoring.direction(key, metric)
        if way is not None:
            expected[key] = UP if way == "up" else DOWN
    expected["loss"] = DOWN
    assert expected["auc/bin"] is UP
    assert expected["precision/positive_threshold_0.5/bin"] is UP
    assert expected["accuracy/cls"] is UP
    assert expected["loss/reg"] is DOWN
    assert expected["average_loss/cls"] is DOWN
    callbacks = {}
    for i, key in enumerate(sorted(expected)):
        for prefix in ("", "val_"):
            monitor = prefix + key
            callbacks[monitor] = [
                keras.callbacks.EarlyStopping(monitor=monitor, patience=10),
                keras.callbacks.ModelCheckpoint(
                    str(tmp_path / f"{i}{prefix}.weights.h5"),
                    monitor=monitor, save_best_only=True,
                    save_weights_only=True,
                ),
                keras.callbacks.ReduceLROnPlateau(monitor=monitor),
            ]
    _fit(model, [c for group in callbacks.values() for c in group])
    for monitor, group in callbacks.items():
        want = expected[monitor.removeprefix("val_")]
        for callback in group:
            assert callback.monitor_op is want, (
                f"{type(callback).__name__}(monitor={monitor!r})"
            )


@pytest.mark.parametrize("key", [
    "label/mean/reg", "prediction/mean/bin", "accuracy_baseline/bin",
])
def test_a_key_with_no_direction_asks_for_mode(key):
    model = _multi_head_model()
    assert key in model.head_metrics
    with pytest.raises(ValueError, match=(
            f"monitor=val_{key}, but Keras isn't able to automatically "
            "determine whether that metric should be maximized or "
            "minimized. Pass `mode='max'`")):
        _fit(model, [keras.callbacks.EarlyStopping(monitor=f"val_{key}")])
    # With a mode, the same key is monitored.
    stopper = keras.callbacks.EarlyStopping(monitor=f"val_{key}", mode="min")
    _fit(model, [stopper])
    assert stopper.monitor_op is DOWN


def test_checkpoint_keeps_the_highest_auc_early_stopping_the_lowest_loss(
        tmp_path):
    model = _multi_head_model()
    path = tmp_path / "best.keras"
    checkpoint = keras.callbacks.ModelCheckpoint(
        str(path), monitor="val_auc/bin", save_best_only=True
    )
    stopper = keras.callbacks.EarlyStopping(monitor="val_loss/cls",
                                            patience=10)
    history = _fit(model, [checkpoint, stopper], epochs=6).history
    aucs, losses = history["val_auc/bin"], history["val_loss/cls"]
    assert max(aucs) > min(aucs) and max(losses) > min(losses)
    assert checkpoint.best == pytest.approx(max(aucs))
    assert stopper.best == pytest.approx(min(losses))
    assert path.exists()
    saved = keras.saving.load_model(path)
    features, labels = _data()
    logs = saved.evaluate(features, labels, batch_size=BATCH, verbose=0,
                          return_dict=True)
    assert logs["auc/bin"] == pytest.approx(max(aucs), rel=1e-5)


def test_single_head_auc_is_maximized():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,), name="x")
    network = keras.Model({"x": inputs}, keras.layers.Dense(1)(inputs))
    model = kh.HeadModel(network, kh.BinaryClassHead())
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.05))
    features, labels = _data()
    stopper = keras.callbacks.EarlyStopping(monitor="val_auc", patience=10)
    model.fit(features, labels["bin"], batch_size=BATCH, epochs=2,
              validation_data=(features, labels["bin"]), callbacks=[stopper],
              verbose=0)
    assert stopper.monitor_op is UP


def test_the_directions_hold_no_state_and_log_nothing():
    model = _multi_head_model()
    features, labels = _data()
    logs = model.evaluate(features, labels, batch_size=BATCH, verbose=0,
                          return_dict=True)
    directions = [m for m in model.metrics
                  if isinstance(m, monitoring.MetricDirections)]
    assert len(directions) == 1
    assert directions[0].variables == []
    assert set(logs) == set(model.head_metrics) | {"loss"}
