"""Which way each head metric improves, told to Keras' callbacks.

`EarlyStopping`, `ReduceLROnPlateau`, `ModelCheckpoint` and the other
`keras.callbacks.MonitorCallback`s with `mode="auto"` look the monitored key
up among the model's compiled metrics, by name, and read its `_direction`
("up" or "down"); they know `loss` by name, and raise for anything else.
A head's metrics are not compiled metrics, and their names are not their
keys (`auc/head1` is an `AUC` named `auc`), so Keras 3.15 finds none.

`MetricDirections` is a stateless entry of `HeadModel.metrics` that lists
each head metric key with its direction, in the form those callbacks read:
a `MetricsList` of entries with a `name` and a `_direction`.

A key's direction comes from the metric it names (its first `/` part:
`auc/class2/head1` is an AUC): up for accuracies, precisions, recalls and
AUCs, down for losses. The means of labels, predictions and probabilities,
and `accuracy_baseline` (a property of the labels), have none: with
`mode="auto"` Keras raises its own error for them, which names the key and
asks for `mode="min"` or `mode="max"`. A key of no head family falls back on
its metric's own `_direction`, as Keras' metrics carry one.
"""

import weakref

from keras.src.trainers import compile_utils

from keras_heads.keys import MetricKeys

_UP = frozenset({
    MetricKeys.ACCURACY,
    MetricKeys.PRECISION,
    MetricKeys.RECALL,
    MetricKeys.AUC,
    MetricKeys.AUC_PR,
})
_DOWN = frozenset({
    MetricKeys.LOSS,
    MetricKeys.LOSS_MEAN,
    MetricKeys.LOSS_REGULARIZATION,
})
# Descriptive statistics: neither larger nor smaller is better.
_NONE = frozenset({
    MetricKeys.ACCURACY_BASELINE,
    MetricKeys.LABEL_MEAN.split("/")[0],
    MetricKeys.PREDICTION_MEAN.split("/")[0],
    MetricKeys.PROBABILITY_MEAN_AT_CLASS.split("/")[0],
})


def direction(key, metric=None):
    """`"up"`, `"down"` or None (no better side) for the metric `key`."""
    kind = key.split("/")[0]
    if kind in _UP:
        return "up"
    if kind in _DOWN:
        return "down"
    if kind in _NONE:
        return None
    return getattr(metric, "_direction", None)


class _Direction:
    """What a `MonitorCallback` reads of a metric: its name and direction."""

    def __init__(self, name, direction):
        self.name = name
        self._direction = direction

    def __repr__(self):
        return f"_Direction({self.name!r}, {self._direction!r})"


class MetricDirections(compile_utils.MetricsList):
    """The directions of a `HeadModel`'s head metric keys, as Keras'
    callbacks look them up; no state, no result of its own."""

    def __init__(self, head_metrics):
        super().__init__(
            [
                _Direction(key, way)
                for key, metric in head_metrics.items()
                if (way := direction(key, metric)) is not None
            ],
            name="head_metric_directions",
        )

    def update_state(self, *args, **kwargs):
        pass

    def reset_state(self):
        pass

    def result(self):
        return {}

    get_result = result


# Each model's directions, made on first use. Kept off the model itself:
# an attribute would be tracked, saved and exported as part of its state.
_DIRECTIONS = weakref.WeakKeyDictionary()


def metric_directions(model):
    """`model`'s `MetricDirections` (a `HeadModel`'s)."""
    directions = _DIRECTIONS.get(model)
    if directions is None:
        directions = _DIRECTIONS[model] = MetricDirections(model.head_metrics)
    return directions
