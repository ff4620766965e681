"""keras-heads in five minutes: classify iris flowers with a `MultiClassHead`.

A head sits on top of any network's logits and owns the objective: the loss,
the predictions (probabilities, class ids, class *names*), the evaluation
metrics and the serving signatures. This demo:

1. loads scikit-learn's bundled iris data set (no download) and standardizes it;
2. builds a `MultiClassHead` whose labels are the species names;
3. trains a small Keras network with a plain `tf.GradientTape` loop, taking the
   loss from `head.loss` on *string* labels;
4. streams the test split through `head.metrics()` / `head.update_metrics()`;
5. prints a few predictions from `head.predictions()`;
6. builds a PREDICT `EstimatorSpec` and lists its serving signatures.

Run with `make demo` (TensorFlow backend).
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from sklearn.datasets import load_iris  # noqa: E402

import keras_heads  # noqa: E402

SEED = 7
EPOCHS = 60
BATCH_SIZE = 15  # 120 training rows: 8 equal batches, so one trace


def load_data(test_fraction=0.2):
    """Iris, split with a fixed seed; labels are species names, shape [n, 1]."""
    iris = load_iris()
    names = [str(n) for n in iris.target_names]
    x = iris.data.astype("float32")
    y = np.array(names)[iris.target].reshape(-1, 1)  # e.g. [["setosa"], ...]
    order = np.random.default_rng(SEED).permutation(len(x))
    n_test = int(len(x) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    mean, std = x[train].mean(axis=0), x[train].std(axis=0)
    x = (x - mean) / std  # standardize with training statistics only
    return names, (x[train], y[train]), (x[test], y[test])


def build_model(n_features, n_logits):
    return keras.Sequential([
        keras.Input(shape=(n_features,)),
        keras.layers.Dense(16, activation="relu"),
        keras.layers.Dense(16, activation="relu"),
        keras.layers.Dense(n_logits),  # raw logits: the head does the rest
    ])


def train(head, model, x, y):
    optimizer = keras.optimizers.Adam(learning_rate=0.005)

    @tf.function
    def train_step(features, labels):
        with tf.GradientTape() as tape:
            logits = model(features, training=True)
            loss = head.loss(labels=labels, logits=logits)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply(grads, model.trainable_variables)
        return loss

    rng = np.random.default_rng(SEED)
    for epoch in range(1, EPOCHS + 1):
        order = rng.permutation(len(x))
        losses = [
            float(train_step(x[idx], y[idx]))
            for idx in np.split(order, range(BATCH_SIZE, len(x), BATCH_SIZE))
        ]
        if epoch == 1 or epoch % 10 == 0:
            print(f"  epoch {epoch:3d}  loss {np.mean(losses):.4f}")


def evaluate(head, model, x, y, n_batches=3):
    eval_metrics = head.metrics()
    batches = zip(np.array_split(x, n_batches), np.array_split(y, n_batches))
    for xb, yb in batches:  # metrics accumulate over the batches
        head.update_metrics(
            eval_metrics, features={}, logits=model(xb), labels=yb
        )
    for key, metric in eval_metrics.items():
        print(f"  {key:<14} {float(metric.result()):.4f}")


def show_predictions(head, model, names, x, y, n=5):
    predictions = head.predictions(model(x[:n]))
    print(f"  keys: {sorted(predictions)}")
    header = "".join(f"{'p(' + name + ')':>16}" for name in names)
    print(f"  {'true':<12}{'predicted':<12}{header}")
    classes = predictions["classes"].numpy()
    probabilities = predictions["probabilities"].numpy()
    for true, predicted, probs in zip(y[:n, 0], classes[:, 0], probabilities):
        row = "".join(f"{p:16.3f}" for p in probs)
        print(f"  {true:<12}{predicted.decode():<12}{row}")


def show_export_signatures(head, model, x):
    spec = head.create_estimator_spec(
        features={}, mode=keras_heads.ModeKeys.PREDICT, logits=model(x[:2])
    )
    print(f"  mode: {spec.mode!r}")
    for name, output in spec.export_outputs.items():
        print(f"  {name:<16} {type(output).__name__:<21} "
              f"{output.method_name}")
        print(f"  {'':<16} outputs: {', '.join(sorted(output.outputs))}")


def main():
    keras.utils.set_random_seed(SEED)

    print("1. Data: scikit-learn's bundled iris set")
    names, (x_train, y_train), (x_test, y_test) = load_data()
    print(f"  train {x_train.shape}, test {x_test.shape}, classes {names}")
    print(f"  first labels: {y_train[:3, 0].tolist()}")

    print("\n2. Head and network")
    head = keras_heads.MultiClassHead(
        n_classes=len(names), label_vocabulary=names, weight_column=None
    )
    model = build_model(x_train.shape[1], head.logits_dimension)
    print(f"  {type(head).__name__}: logits_dimension={head.logits_dimension}, "
          f"{model.count_params()} network parameters")

    print("\n3. Training with tf.GradientTape, loss = head.loss(string labels)")
    train(head, model, x_train, y_train)

    print("\n4. Streaming evaluation on the test split: head.metrics()")
    evaluate(head, model, x_test, y_test)

    print("\n5. head.predictions() on five test examples")
    show_predictions(head, model, names, x_test, y_test)

    print("\n6. create_estimator_spec(mode=PREDICT): serving signatures")
    show_export_signatures(head, model, x_test)


if __name__ == "__main__":
    main()
