"""Seeded cases for every head, computed on the active Keras backend.

`python -m tests._differential_cases` (with `KERAS_BACKEND` set) prints, as
one line of JSON, what each head gives for the same seeded inputs: the loss
of each batch under both reductions, every metric after streaming the
batches, and the predictions of the first batch. tests/test_differential.py
runs it once per backend and compares. Nothing here is backend-specific.
"""

import json

import keras
import numpy as np

import keras_heads as kh
from keras_heads import Reduction
from keras_heads import backend
from keras_heads.backend import string_values

REDUCTIONS = (Reduction.SUM, Reduction.SUM_OVER_BATCH_SIZE)
# Uneven batches, of few distinct sizes (eager JAX compiles each operation
# once per shape).
BATCH_SIZES = (5, 3, 5)
VOCABULARY = ["low", "mid", "high"]


def make_heads(reduction):
    """`{case name: head}`, each reading example weights from feature "w"."""
    common = dict(weight_column="w", loss_reduction=reduction)
    return {
        "binary": kh.BinaryClassHead(thresholds=[0.3, 0.7], **common),
        "multi_class": kh.MultiClassHead(
            3, label_vocabulary=VOCABULARY, **common
        ),
        "multi_label": kh.MultiLabelHead(
            3, thresholds=[0.5], classes_for_class_based_metrics=[1],
            **common
        ),
        "regression": kh.RegressionHead(label_dimension=2, **common),
        "poisson": kh.PoissonRegressionHead(**common),
        "logistic": kh.LogisticRegressionHead(**common),
        "multi_head": kh.MultiHead(
            [kh.BinaryClassHead(name="b", **common),
             kh.RegressionHead(label_dimension=2, name="r", **common)],
            head_weights=[0.5, 2.0],
        ),
    }


def _labels(name, rng, n):
    if name == "binary":
        return rng.integers(0, 2, (n, 1)).astype("float32")
    if name == "multi_class":  # class names
        return np.array(VOCABULARY)[rng.integers(0, 3, (n, 1))]
    if name == "multi_label":
        return rng.integers(0, 2, (n, 3)).astype("int64")
    if name == "regression":
        return rng.normal(size=(n, 2)).astype("float32")
    if name == "poisson":
        return rng.integers(0, 6, (n, 1)).astype("float32")
    if name == "logistic":
        return rng.uniform(size=(n, 1)).astype("float32")
    return {"b": _labels("binary", rng, n), "r": _labels("regression", rng, n)}


def make_batches(name, head, seed):
    """`[(features, logits, labels)]` of BATCH_SIZES examples, weights with
    some zeros."""
    rng = np.random.default_rng(seed)
    batches = []
    for n in BATCH_SIZES:
        logits = 3.0 * rng.normal(size=(n, head.logits_dimension))
        kept = rng.uniform(size=(n, 1)) > 0.2
        weights = rng.uniform(0.0, 2.0, (n, 1)) * kept
        batches.append((
            {"w": weights.astype("float32")},
            logits.astype("float32"),
            _labels(name, rng, n),
        ))
    return batches


def _plain(value):
    """A prediction as nested lists of floats, ints or class names."""
    if backend.is_string(value):
        return np.vectorize(lambda s: s.decode(), otypes=[object])(
            string_values(value)
        ).tolist()
    return np.asarray(keras.ops.convert_to_numpy(value)).tolist()


def compute():
    """`{case: {"loss/<reduction>": [per batch], "metrics/<reduction>":
    {key: value}, "predictions": {key: value}}}`."""
    out = {}
    for seed, name in enumerate(sorted(make_heads(Reduction.SUM))):
        case = out[name] = {}
        for reduction in REDUCTIONS:
            head = make_heads(reduction)[name]
            batches = make_batches(name, head, seed)
            eval_metrics = head.metrics()
            losses = []
            for features, logits, labels in batches:
                loss = head.loss(labels=labels, logits=logits,
                                 features=features)
                losses.append(float(keras.ops.convert_to_numpy(loss)))
                head.update_metrics(eval_metrics, features, logits, labels)
            case[f"loss/{reduction}"] = losses
            case[f"metrics/{reduction}"] = {
                key: float(keras.ops.convert_to_numpy(m.result()))
                for key, m in eval_metrics.items()
            }
        _, logits, _ = batches[0]
        case["predictions"] = {
            "/".join(key) if isinstance(key, tuple) else key: _plain(value)
            for key, value in head.predictions(logits).items()
        }
    return out


if __name__ == "__main__":
    print(json.dumps({"backend": keras.backend.backend(), "cases": compute()}))
