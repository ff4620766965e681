"""Query an exported iris model with TensorFlow and NumPy only.

The SavedModel written by `examples/demo.py` (`HeadModel.export`) needs
neither Keras nor keras_heads to serve: each signature takes the flower's
measurements by name and returns the head's outputs, class names included.

    python examples/serve.py EXPORT_DIR [--rows ROWS] [--json-out PATH]

ROWS is a JSON list of flowers, inline or in a file, e.g.
'[{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4}]'
(centimetres); without it, three example flowers are used. `--json-out`
writes every signature's answers to a file (the demo compares them with its
in-process predictions).
"""

import argparse
import json
import logging
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# oneDNN off: its notice is the one import log line the above does not hide.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

EXAMPLE_ROWS = [
    {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4},
    {"sepal_length": 6.4, "sepal_width": 3.2, "petal_length": 4.5},
    {"sepal_length": 6.3, "sepal_width": 3.3, "petal_length": 6.0},
]
SIGNATURES = [
    "serving_default",
    "species/classification",
    "petal_width/regression",
    "predict",
]


def load_rows(text):
    if text is None:
        return EXAMPLE_ROWS
    if os.path.exists(text):
        with open(text) as f:
            return json.load(f)
    return json.loads(text)


def signature_inputs(signature, rows):
    """One tensor per named input, a row per flower."""
    _, specs = signature.structured_input_signature
    return {
        name: tf.constant(
            np.reshape([row[name] for row in rows], (-1, *spec.shape[1:])),
            dtype=spec.dtype,
        )
        for name, spec in specs.items()
    }


def to_json(value):
    value = value.numpy()
    if value.dtype == object:
        return np.vectorize(bytes.decode, otypes=[object])(value).tolist()
    return value.tolist()


def best_class(outputs, i):
    """A classification signature's answer: its top class and score."""
    best = int(np.argmax(outputs["scores"][i]))
    return f"{outputs['classes'][i][best]} {outputs['scores'][i][best]:.3f}"


def show(rows, answers):
    """A line per flower, a column per signature."""
    columns = {
        "serving_default": lambda i: best_class(answers["serving_default"], i),
        "species/classification": lambda i: best_class(
            answers["species/classification"], i),
        "petal_width/regression": lambda i: "{:.3f}".format(
            answers["petal_width/regression"]["outputs"][i][0]),
        "predict: species/classes, petal_width/predictions": lambda i: (
            "{} {:.3f}".format(answers["predict"]["species/classes"][i][0],
                               answers["predict"]["petal_width/predictions"]
                               [i][0])),
    }
    print("  " + f"{'flower (cm)':<16}" + "".join(
        f"{name:<24}" for name in columns))
    for i, row in enumerate(rows):
        flower = " ".join(f"{value:.1f}" for value in row.values())
        print(("  " + f"{flower:<16}" + "".join(
            f"{cell(i):<24}" for cell in columns.values())).rstrip())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("export_dir")
    parser.add_argument("--rows", help="JSON list of flowers, or a file")
    parser.add_argument("--json-out", help="write every answer here")
    args = parser.parse_args()

    rows = load_rows(args.rows)
    # A model exported from JAX warns, on loading, that its functions cannot
    # be differentiated; serving needs no gradients.
    logging.getLogger("absl").setLevel(logging.ERROR)
    loaded = tf.saved_model.load(args.export_dir)
    print(f"  loaded {args.export_dir}: {len(loaded.signatures)} signatures; "
          f"{len(rows)} flowers ({', '.join(rows[0])})")
    answers = {}
    for name in SIGNATURES:
        signature = loaded.signatures[name]
        result = signature(**signature_inputs(signature, rows))
        answers[name] = {key: to_json(value) for key, value in result.items()}
    show(rows, answers)
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(answers, f)


if __name__ == "__main__":
    main()
