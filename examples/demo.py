"""keras-heads end to end: one network, two objectives, trained and served.

From three measurements of an iris flower (sepal length, sepal width, petal
length), one Keras network predicts both its species (a `MultiClassHead`
whose labels are the species *names*) and its petal width (a
`RegressionHead`), combined by a `MultiHead`. A `HeadModel` wraps network and
head, and the demo goes through a model's life with plain Keras calls:

1. load scikit-learn's bundled iris data (no download), split it;
2. build the network and the heads;  3. `fit`;
4. `evaluate`: the heads' metrics, per head;  5. `predict`: class names;
6. `export` a SavedModel with the heads' serving signatures;
7. query it in a fresh process with TensorFlow alone (`examples/serve.py`)
   and check that it answers as the trained model does.

Run with `make demo` (TensorFlow), or
`KERAS_BACKEND=jax|torch .venv/bin/python examples/demo.py [--export-dir DIR]`.
Export needs TensorFlow or JAX: on PyTorch the demo stops after step 5.
"""

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# oneDNN off: its notice is the one import log line the above does not hide.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_iris  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

import keras_heads  # noqa: E402

SEED = 42
EPOCHS = 50
FEATURES = ["sepal_length", "sepal_width", "petal_length"]  # cm
HEADS = ["species", "petal_width"]
SERVE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "serve.py")


def rounded(values, digits=2):
    return [round(float(v), digits) for v in values]


def step(title):
    print(f"\n{title}", flush=True)


# --- 1. data -----------------------------------------------------------------

def load_data():
    """Features `{name: [n, 1] float32}` and labels `{head name: [n, 1]}`:
    species names (strings) and petal widths (cm)."""
    iris = load_iris()
    species = np.array([str(name) for name in iris.target_names])
    data = iris.data.astype("float32")
    features = {name: data[:, [i]] for i, name in enumerate(FEATURES)}
    labels = {"species": species[iris.target][:, None],
              "petal_width": data[:, [3]]}
    train, test = train_test_split(np.arange(len(data)), test_size=0.2,
                                   stratify=iris.target, random_state=SEED)

    def take(rows):
        return ({k: v[rows] for k, v in features.items()},
                {k: v[rows] for k, v in labels.items()})

    return list(species), take(train), take(test)


# --- 2. network and head -----------------------------------------------------

def build_network(train_features):
    """Dict inputs by feature name -> dict logits by head name. The inputs
    are standardized inside the network, with the training split's mean and
    variance, so the exported model takes raw centimetres."""
    stacked = np.concatenate([train_features[n] for n in FEATURES], axis=1)
    inputs = {name: keras.Input((1,), name=name) for name in FEATURES}
    x = keras.layers.Concatenate()([inputs[n] for n in FEATURES])
    x = keras.layers.Normalization(mean=stacked.mean(0),
                                   variance=stacked.var(0))(x)
    x = keras.layers.Dense(16, activation="relu")(x)
    x = keras.layers.Dense(16, activation="relu")(x)
    logits = {"species": keras.layers.Dense(3, name="species")(x),
              "petal_width": keras.layers.Dense(1, name="petal_width")(x)}
    return keras.Model(inputs, logits, name="iris_network")


def by_head(keys):
    """`{head name: [its keys]}`: a head's keys end in `/<head name>`; the
    others (the total `loss`) are grouped under "(total)"."""
    groups = {}
    for key in sorted(keys):
        head = key.rsplit("/", 1)[-1]
        groups.setdefault(head if head in HEADS else "(total)", []).append(key)
    return groups


# --- 3. training -------------------------------------------------------------

class EpochTable(keras.callbacks.Callback):
    """Prints a few of the logged keys every `every` epochs."""

    def __init__(self, keys, every):
        super().__init__()
        self.keys, self.every = keys, every

    def on_train_begin(self, logs=None):
        print("  epoch" + "".join(f"{key:>26}" for key in self.keys))

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every == 0 or epoch == 0:
            print(f"  {epoch + 1:5d}" + "".join(
                f"{float(logs[key]):26.4f}" for key in self.keys))


# --- 5. predictions ----------------------------------------------------------

def show_predictions(predictions, features, labels, species, n):
    """A line per flower: its measurements, then each head's prediction
    next to the truth."""
    header = ("  " + "".join(f"{name:>13}" for name in FEATURES)
            + f" | {'species':<11}{'predicted':<11}"
            + "".join(f"{'p(' + s + ')':>14}" for s in species)
            + f" | {'petal_width':>11}{'predicted':>10}")
    print(header)
    for i in range(n):
        measured = "".join(f"{features[k][i, 0]:13.1f}" for k in FEATURES)
        probabilities = "".join(
            f"{p:14.3f}" for p in predictions["species", "probabilities"][i])
        print(f"  {measured} | {labels['species'][i, 0]:<11}"
              f"{predictions['species', 'classes'][i, 0].decode():<11}"
              f"{probabilities} | {labels['petal_width'][i, 0]:11.2f}"
              f"{predictions['petal_width', 'predictions'][i, 0]:10.2f}")


# --- 7. serving --------------------------------------------------------------

def serve_in_fresh_process(export_dir, features, n, workdir):
    """Runs examples/serve.py on the first `n` rows; returns its answers."""
    rows = [{k: float(features[k][i, 0]) for k in FEATURES} for i in range(n)]
    rows_path = os.path.join(workdir, "rows.json")
    answers_path = os.path.join(workdir, "answers.json")
    with open(rows_path, "w") as f:
        json.dump(rows, f)
    command = [sys.executable, SERVE, export_dir,
               "--rows", rows_path, "--json-out", answers_path]
    print(f"  $ python examples/serve.py {export_dir} --rows rows.json",
          flush=True)
    if subprocess.run(command).returncode != 0:
        return None
    with open(answers_path) as f:
        return json.load(f)


def compare(answers, predictions):
    """Matches each served output with `predict`'s; returns how many were
    compared and the names of those that differ."""
    species = (predictions["species", "all_classes"],
               predictions["species", "probabilities"])
    pairs = {
        "petal_width/regression:outputs": (
            answers["petal_width/regression"]["outputs"],
            predictions["petal_width", "predictions"]),
    }
    for name in ("serving_default", "species/classification"):
        pairs[f"{name}:classes"] = (answers[name]["classes"], species[0])
        pairs[f"{name}:scores"] = (answers[name]["scores"], species[1])
    for key, value in answers["predict"].items():
        pairs[f"predict:{key}"] = (value, predictions[tuple(key.split("/"))])
    mismatches = []
    for name, (served, local) in pairs.items():
        served, local = np.asarray(served), np.asarray(local)
        if local.dtype == object:
            same = (served == np.vectorize(bytes.decode)(local)).all()
        else:
            same = np.allclose(served, local, rtol=1e-5, atol=1e-6)
        if not same:
            mismatches.append(name)
    return len(pairs), mismatches


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--export-dir",
                        help="where to write the SavedModel (kept); "
                             "default: a temporary directory")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    args = parser.parse_args()
    start = time.perf_counter()
    keras.utils.set_random_seed(SEED)
    print(f"keras-heads demo on the {keras.backend.backend()} backend")

    step("1. Data: scikit-learn's bundled iris set (150 flowers, no download)")
    species, (x_train, y_train), (x_test, y_test) = load_data()
    print(f"  train {len(y_train['species'])} rows, test "
          f"{len(y_test['species'])} rows (stratified by species)")
    print(f"  features (cm): {', '.join(FEATURES)}")
    print(f"  labels: species ({', '.join(species)}), petal_width (cm)")
    stats = np.concatenate([x_train[k] for k in FEATURES], axis=1)
    print("  standardized with the training split's mean "
          f"{rounded(stats.mean(0))} and std {rounded(stats.std(0))}")

    step("2. Network and MultiHead")
    network = build_network(x_train)
    head = keras_heads.MultiHead([
        keras_heads.MultiClassHead(3, label_vocabulary=species,
                                   name="species"),
        keras_heads.RegressionHead(name="petal_width"),
    ])
    model = keras_heads.HeadModel(network, head)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01))
    print(f"  network: {{{', '.join(FEATURES)}}} -> Normalization -> "
          "Dense(16) -> Dense(16) -> {species: 3 logits, petal_width: 1}, "
          f"{network.count_params()} parameters")
    print(f"  head: MultiHead {head.name!r}, logits_dimension "
          f"{head.logits_dimension}; metric keys:")
    for name, keys in by_head(model.head_metrics).items():
        print(f"    {name:<12} {', '.join(keys)}")

    step(f"3. fit: {args.epochs} epochs, batch 16, Adam(0.01); "
         "training metrics")
    columns = ["loss", "accuracy/species", "average_loss/petal_width"]
    model.fit(x_train, y_train, epochs=args.epochs, batch_size=16, verbose=0,
              callbacks=[EpochTable(columns, every=10)])

    step("4. evaluate on the test split, per head")
    logs = model.evaluate(x_test, y_test, verbose=0, return_dict=True)
    for name, keys in by_head(logs).items():
        print(f"  {name}")
        for key in keys:
            print(f"    {key:<30}{float(logs[key]):8.4f}")
    if logs["accuracy/species"] <= 0.9:
        print("  test accuracy should exceed 0.9")
        return 1

    n = 6
    step(f"5. predict: the first {n} test flowers")
    predictions = model.predict(x_test, verbose=0)
    show_predictions(predictions, x_test, y_test, species, n)

    with tempfile.TemporaryDirectory(prefix="keras_heads_demo_") as workdir:
        export_dir = args.export_dir or os.path.join(workdir, "iris_model")
        step(f"6. export a SavedModel to {export_dir}")
        try:
            model.export(export_dir, verbose=False)
        except ValueError as error:
            if keras.backend.backend() in ("tensorflow", "jax"):
                raise
            print(f"  not on this backend: {error}")
            print("  (steps 6-7 need KERAS_BACKEND=tensorflow or jax)")
            return 0
        import tensorflow as tf  # to list the signatures

        logging.getLogger("absl").setLevel(logging.ERROR)  # see serve.py
        for name, fn in tf.saved_model.load(export_dir).signatures.items():
            outputs = ", ".join(sorted(fn.structured_outputs))
            print(f"  {name:<24} -> {outputs}")
        print(f"  every signature takes {', '.join(FEATURES)}: "
              "float32 [batch, 1]")

        step("7. serve it in a fresh process (TensorFlow + NumPy only)")
        answers = serve_in_fresh_process(export_dir, x_test, n, workdir)
        if answers is None:
            print("  serve.py failed")
            return 1
        first = {key: value[:n] for key, value in predictions.items()}
        checked, mismatches = compare(answers, first)
        if mismatches:
            print(f"  served != in-process for: {', '.join(mismatches)}")
            return 1
        print(f"  served == in-process: OK ({checked} outputs compared)")
    if args.export_dir:
        print(f"\n  query it again: python examples/serve.py {export_dir}")
    print(f"\ndone in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
