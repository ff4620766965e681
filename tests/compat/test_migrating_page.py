"""docs/migrating.md names every public symbol of the seed pages, and every
keras-heads name it gives exists."""

import importlib
import pathlib
import re

import pytest

PAGE = pathlib.Path(__file__).parents[2] / "docs" / "migrating.md"

# What the seed pages use, as their code and text spell it.
SEED_SYMBOLS = [
    "tf.contrib.estimator.multi_head", "tf.contrib.estimator.multi_class_head",
    "tf.contrib.estimator.binary_classification_head",
    "tf.contrib.estimator.multi_label_head",
    "tf.contrib.estimator.DNNEstimator", "tf.estimator.Estimator",
    "tf.estimator.MultiHead", "tf.compat.v1.estimator.MultiHead",
    "tf.estimator.MultiLabelHead", "tf.estimator.MultiClassHead",
    "tf.estimator.BinaryClassHead", "tf.estimator.RegressionHead",
    "tf.estimator.Head", "tf.contrib.learn.Head",
    "tf.contrib.learn.ModelFnOps", "tf.contrib.learn.ModeKeys",
    "tf.contrib.learn.multi_class_head", "tf.contrib.learn.no_op_train_fn",
    "tf.contrib.layers.input_from_feature_columns",
    "tf.contrib.layers.optimize_loss", "tf.train.SyncReplicasOptimizer",
    "tf.losses.Reduction", "tf.feature_column.numeric_column",
    "tf.keras.layers.DenseFeatures", "tf.keras.Model",
    "tf.AdagradOptimizer", "tf.keras.optimizers.Optimizer", "tf.no_op",
    "create_estimator_spec", "create_model_fn_ops", "create_loss",
    "update_metrics", "logits_dimension", "loss_reduction", "_Head",
    "tf.estimator.EstimatorSpec", "tf.estimator.ModeKeys",
]


def _rows():
    for line in PAGE.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 2 and cells[0] != "Old name":
            yield cells


@pytest.mark.parametrize("symbol", SEED_SYMBOLS)
def test_every_seed_symbol_has_a_row(symbol):
    old_names = " ".join(old for old, _ in _rows())
    assert symbol in old_names.replace(" ", ""), symbol


def _resolve(dotted):
    if dotted.startswith("compat."):
        dotted = "keras_heads." + dotted
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            value = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attr in parts[split:]:
            value = getattr(value, attr)
        return value
    raise ImportError(dotted)


def test_every_new_name_exists():
    names = {
        name
        for _, new in _rows()
        for name in re.findall(r"`((?:keras_heads|compat)\.[\w.]+)", new)
    }
    assert len(names) > 30
    for name in sorted(names):
        assert _resolve(name) is not None, name
