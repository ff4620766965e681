"""Runs one reference fixture (see SCHEMA.md beside this file) on keras_heads.

`run_case(case)` builds the head, makes the call the case describes and
compares every expected field, raising `AssertionError` on a mismatch.
"""

import json
import math
import pathlib

import keras
import numpy as np
from keras import ops

import keras_heads
from keras_heads import backend
from tests import backends

FIXTURES = pathlib.Path(__file__).parent

LOSS_TOLERANCE = dict(rtol=1e-5, atol=1e-6)
METRIC_TOLERANCE = dict(rtol=1e-4, atol=1e-5)


def load_cases(family):
    return json.loads((FIXTURES / f"{family}.json").read_text())["cases"]


# --- decoding inputs ---------------------------------------------------------


def _to_float(x):
    return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}.get(
        x, x
    )


def decode_array(spec):
    """A typed array as NumPy, with exactly its dtype and shape."""
    dtype, shape, data = spec["dtype"], tuple(spec["shape"]), spec["data"]
    if dtype == "string":
        return np.array(data, dtype=object).reshape(shape)
    if dtype.startswith("float"):
        data = np.vectorize(_to_float, otypes=[np.float64])(np.array(data))
    return np.array(data, dtype=dtype).reshape(shape)


def to_backend(array):
    """A NumPy array as this backend's tensor (strings as backend strings)."""
    if array.dtype == object:
        return backend.convert_strings(array)
    if backend.is_tensorflow():
        import tensorflow as tf

        return tf.constant(array)
    return ops.convert_to_tensor(array, dtype=str(array.dtype))


def decode(value):
    if isinstance(value, dict):
        keys = set(value)
        if keys == {"dtype", "shape", "data"}:
            return to_backend(decode_array(value))
        if keys == {"sparse"}:
            return _decode_sparse(value["sparse"])
        if keys == {"raw"}:
            return value["raw"]
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def _decode_sparse(spec):
    indices = decode_array(spec["indices"])
    values = decode_array(spec["values"])
    if backend.is_tensorflow():
        import tensorflow as tf

        return tf.SparseTensor(indices, to_backend(values), spec["dense_shape"])
    return keras_heads.SparseTensorValue(indices, values, spec["dense_shape"])


# --- building heads ------------------------------------------------------------


def _labels_as_float(labels):
    return ops.cast(labels, "float32")


LOSS_FNS = {
    "abs_error": lambda labels, logits: ops.abs(
        _labels_as_float(labels) - logits
    ),
    "mean_abs_error": lambda labels, logits: ops.mean(
        ops.abs(_labels_as_float(labels) - logits), axis=-1, keepdims=True
    ),
    "scaled_abs_error": lambda labels, logits, features: ops.abs(
        _labels_as_float(labels) - logits
    ) * ops.cast(features["loss_scale"], "float32"),
    "scaled_mean_abs_error": lambda labels, logits, features: ops.mean(
        ops.abs(_labels_as_float(labels) - logits), axis=-1, keepdims=True
    ) * ops.cast(features["loss_scale"], "float32"),
    "mean_abs_error_no_keepdims": lambda labels, logits: ops.mean(
        ops.abs(_labels_as_float(labels) - logits), axis=-1
    ),
    "bad_signature_logits_only": lambda logits: None,
    "bad_signature_labels_only": lambda labels: None,
    "bad_signature_extra_arg": lambda labels, logits, name=None: None,
}

INVERSE_LINK_FNS = {
    "exp": ops.exp,
    "sigmoid": ops.sigmoid,
    "minus_10": lambda logits: logits - 10.0,
    "identity": lambda logits: logits,
}


def build_head(spec):
    args = dict(spec["args"])
    if args.get("loss_fn") is not None:
        args["loss_fn"] = LOSS_FNS[args["loss_fn"]]
    if args.get("inverse_link_fn") is not None:
        args["inverse_link_fn"] = INVERSE_LINK_FNS[args["inverse_link_fn"]]
    if "heads" in args:
        args["heads"] = [build_head(h) for h in args["heads"]]
    if args.get("static_head") is not None:
        args["static_head"] = build_head(args["static_head"])
    return getattr(keras_heads, spec["class"])(**args)


# --- comparing outputs -----------------------------------------------------------


def dtype_name(value):
    if backend.is_string(value):
        return "string"
    return keras.backend.standardize_dtype(value.dtype)


def to_numpy(value):
    if backend.is_string(value):
        strings = backend.string_values(value)
        return np.vectorize(lambda s: s.decode("utf-8"), otypes=[object])(
            strings
        ) if strings.size else strings.astype(object)
    return np.asarray(ops.convert_to_numpy(value))


def assert_array(expected, got, what, tolerance):
    if not (keras.ops.is_tensor(got) or isinstance(got, np.ndarray)):
        got = ops.convert_to_tensor(np.asarray(got, dtype=expected["dtype"]))
    want_dtype = (
        "string" if expected["dtype"] == "string"
        else backends.backend_dtype(expected["dtype"])
    )
    assert dtype_name(got) == want_dtype, (
        f"{what}: dtype {dtype_name(got)} != {want_dtype}"
    )
    want = decode_array(expected)
    have = to_numpy(got)
    assert have.shape == want.shape, f"{what}: shape {have.shape} != {want.shape}"
    if expected["dtype"].startswith("float"):
        np.testing.assert_allclose(
            have, want, err_msg=what, equal_nan=True, **tolerance
        )
    else:
        assert have.tolist() == want.tolist(), f"{what}: {have} != {want}"


def assert_scalar(expected, got, what, tolerance):
    want = _to_float(expected)
    have = float(ops.convert_to_numpy(got))
    np.testing.assert_allclose(have, want, err_msg=what, equal_nan=True,
                               **tolerance)


def assert_predictions(expected, got, what="predictions"):
    want = {_pred_key(e["key"]): e["value"] for e in expected}
    assert set(got) == set(want), f"{what}: keys {set(got)} != {set(want)}"
    for key, value in want.items():
        assert_array(value, got[key], f"{what}[{key}]", LOSS_TOLERANCE)


def _pred_key(key):
    return tuple(key) if isinstance(key, list) else key


def assert_metrics(expected, got, what="metrics"):
    assert set(got) == set(expected), (
        f"{what}: keys {sorted(got)} != {sorted(expected)}"
    )
    for key, value in expected.items():
        assert_scalar(value, got[key], f"{what}[{key}]", METRIC_TOLERANCE)


# --- the calls ---------------------------------------------------------------------


def _features(inputs):
    return decode(inputs.get("features", {}))


def _regularization(inputs):
    return inputs.get("regularization_losses")


def run_construct(head, inputs, expected):
    for prop, want in expected["properties"].items():
        if isinstance(want, dict) and "error" in want:
            error = want["error"]
            try:
                getattr(head, prop)
            except Exception as e:  # noqa: BLE001 - compared below
                assert_error(error, e, "call")
            else:
                raise AssertionError(f"{prop}: expected {error['type']}")
        else:
            assert getattr(head, prop) == want, (
                f"{prop}: {getattr(head, prop)!r} != {want!r}"
            )


def run_loss(head, inputs, expected):
    logits, labels = decode(inputs["logits"]), decode(inputs.get("labels"))
    features = _features(inputs)
    loss = head.loss(labels=labels, logits=logits, features=features,
                     mode=inputs.get("mode"),
                     regularization_losses=_regularization(inputs))
    assert_scalar(expected["loss"], loss, "loss", LOSS_TOLERANCE)
    if "per_head_loss" in expected:  # MultiHead (SCHEMA.md 6.2)
        _assert_per_head_loss(head, inputs, expected["per_head_loss"])
    if "flat_logits" in expected:  # SequentialHeadWrapper (SCHEMA.md 6.2)
        logits, labels, features = head._flatten(logits, labels, features)
        assert_array(expected["flat_logits"], logits, "flat_logits",
                     LOSS_TOLERANCE)
        assert_array(expected["flat_labels"], labels, "flat_labels",
                     LOSS_TOLERANCE)
        assert set(features) == set(expected["flat_features"]), (
            f"flat_features: keys {sorted(features)}"
        )
        for key, value in expected["flat_features"].items():
            assert_array(value, features[key], f"flat_features[{key}]",
                         LOSS_TOLERANCE)
        head = head.static_head  # its intermediate values, on flat tensors
    if "processed_labels" in expected:
        batch = head._batch(features, logits, labels)
        assert_array(expected["processed_labels"], batch.labels,
                     "processed_labels", LOSS_TOLERANCE)
        assert_array(expected["unweighted_loss"], batch.unweighted_loss,
                     "unweighted_loss", LOSS_TOLERANCE)
        assert_array(expected["weights"], batch.weights, "weights",
                     LOSS_TOLERANCE)


def _assert_per_head_loss(head, inputs, expected):
    """Each sub-head's own loss: no head weight, no regularization."""
    logits, labels = decode(inputs["logits"]), decode(inputs.get("labels"))
    logits = head._logits_by_head(logits, labels)
    names = [sub_head.name for sub_head in head.heads]
    assert set(names) == set(expected), f"per_head_loss: heads {names}"
    for sub_head in head.heads:
        loss = sub_head.loss(labels=labels[sub_head.name],
                             logits=logits[sub_head.name],
                             features=_features(inputs),
                             mode=inputs.get("mode"))
        assert_scalar(expected[sub_head.name], loss,
                      f"per_head_loss[{sub_head.name}]", LOSS_TOLERANCE)


def run_predictions(head, inputs, expected):
    logits = decode(inputs["logits"])
    if "keys" in inputs:
        got = head.predictions(logits, keys=inputs["keys"])
    else:
        got = head.predictions(logits)
    assert_predictions(expected["predictions"], got)


def _results(eval_metrics):
    return {key: metric.result() for key, metric in eval_metrics.items()}


def run_metrics(head, inputs, expected):
    eval_metrics = head.metrics(regularization_losses=_regularization(inputs))
    created = set(eval_metrics)
    snapshots, losses = [], []
    for batch in inputs["batches"]:
        logits, labels = decode(batch["logits"]), decode(batch.get("labels"))
        features = _features(batch)
        regularization = _regularization(batch)
        updated = head.update_metrics(eval_metrics, features, logits, labels,
                                      regularization_losses=regularization)
        snapshots.append(_results(updated))
        losses.append(head.loss(labels=labels, logits=logits,
                                features=features, mode="eval",
                                regularization_losses=regularization))
    assert created == set(expected["metric_keys_created"]), (
        f"metric keys {sorted(created)} != "
        f"{sorted(expected['metric_keys_created'])}"
    )
    assert_metrics(expected["metrics"], snapshots[-1])
    for i, want in enumerate(expected.get("metrics_per_batch", [])):
        assert_metrics(want, snapshots[i], f"metrics after batch {i}")
    for i, want in enumerate(expected["batch_losses"]):
        assert_scalar(want, losses[i], f"batch_losses[{i}]", LOSS_TOLERANCE)


class _RecordingTrainOp:
    def __init__(self):
        self.losses = []

    def __call__(self, loss):
        self.losses.append(loss)
        return "no-op"


def run_estimator_spec(head, inputs, expected):
    recorder = _RecordingTrainOp()
    kwargs = {}
    if inputs.get("train_op_fn", True):
        kwargs["train_op_fn"] = recorder
    if "optimizer" in inputs:
        optimizer = decode(inputs["optimizer"])
        kwargs["optimizer"] = (
            keras.optimizers.SGD(learning_rate=0.1)
            if optimizer == "sgd" else optimizer
        )
    if "trainable_variables" in inputs:
        variables = decode(inputs["trainable_variables"])
        kwargs["trainable_variables"] = (
            [keras.Variable(v) for v in variables]
            if isinstance(variables, list) else variables
        )
    if "update_ops" in inputs:
        kwargs["update_ops"] = decode(inputs["update_ops"])
    spec = head.create_estimator_spec(
        features=_features(inputs),
        mode=inputs["mode"],
        logits=decode(inputs["logits"]),
        labels=decode(inputs.get("labels")),
        regularization_losses=_regularization(inputs),
        **kwargs,
    )
    assert spec.mode == expected["mode"], f"mode {spec.mode}"
    if expected["loss"] is None:
        assert spec.loss is None, "loss should be None"
    else:
        assert_scalar(expected["loss"], spec.loss, "loss", LOSS_TOLERANCE)
    if "train_op_fn_loss" in expected:
        assert len(recorder.losses) == 1, "train_op_fn not called once"
        assert_scalar(expected["train_op_fn_loss"], recorder.losses[0],
                      "train_op_fn_loss", LOSS_TOLERANCE)
    assert_predictions(expected["predictions"], spec.predictions)
    assert_metrics(expected["eval_metrics"], _results(spec.eval_metric_ops),
                   "eval_metrics")
    _assert_export_outputs(expected["export_outputs"], spec.export_outputs)


_OUTPUT_TYPES = {
    "classification": keras_heads.ClassificationOutput,
    "regression": keras_heads.RegressionOutput,
    "predict": keras_heads.PredictOutput,
}


def _assert_export_outputs(expected, got):
    if expected is None:
        assert got is None, "export_outputs should be None"
        return
    assert set(got) == set(expected), (
        f"signatures {sorted(got)} != {sorted(expected)}"
    )
    for name, want in expected.items():
        output = got[name]
        assert isinstance(output, _OUTPUT_TYPES[want["type"]]), (
            f"{name}: {type(output).__name__} is not {want['type']}"
        )
        assert set(output.outputs) == set(want["outputs"]), (
            f"{name}: outputs {sorted(output.outputs)}"
        )
        for key, value in want["outputs"].items():
            assert_array(value, output.outputs[key], f"{name}.{key}",
                         LOSS_TOLERANCE)


CALLS = {
    "construct": run_construct,
    "loss": run_loss,
    "predictions": run_predictions,
    "metrics": run_metrics,
    "estimator_spec": run_estimator_spec,
}


# --- errors and the entry point ----------------------------------------------------


def assert_error(expected, error, when):
    assert type(error).__name__ == expected["type"], (
        f"raised {type(error).__name__}: {error}; expected {expected['type']}"
    )
    assert when == expected["when"], (
        f"raised at {when}; expected at {expected['when']}: {error}"
    )
    # A property's error (6.1) records no `match`: its whole message is one.
    match = expected.get("match", expected["message"])
    assert match in str(error), (
        f"message {str(error)!r} lacks {match!r}"
    )


def run_case(case):
    expected = case["expected"]
    error = expected.get("error") if isinstance(expected, dict) else None
    try:
        head = build_head(case["head"])
    except Exception as e:
        if error is None:
            raise
        assert_error(error, e, "construct")
        return
    try:
        CALLS[case["call"]](head, case["inputs"], expected)
    except AssertionError:
        raise
    except Exception as e:
        if error is None:
            raise
        assert_error(error, e, "call")
        return
    assert error is None, f"expected {error['type']}: {error['message']}"
