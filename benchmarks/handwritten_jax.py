"""Hand-written JAX equivalents of `benchmarks/ours.py`.

`jax.numpy` inside `jax.jit`, one compiled call per batch or train step;
streaming state (a histogram and running sums) is threaded through the step
and donated, so XLA updates it in place; per-step losses stay on the device
until the end. With JAX's default 32-bit mode the int64 labels become int32
device arrays, as they do for keras_heads on JAX.

W1 and W3 fold every bucketed metric into one flat histogram filled by a
scatter-add of ones: the bin of a score is `(bucket * (K + 1) + k) * 2 +
label`, `bucket` its AUC bucket (200), `k` the number of thresholds it is
above (W3 adds one bit, the class id `logit > 0`). AUCs, precision, recall
and accuracies all come from that histogram at the end.

Measured here (2 shared cores, XLA CPU, seconds per repetition):
* scatter flavour (W1 C=4096, unchunked): `.at[].add` on the donated state
  2.98, with mode="promise_in_bounds" 3.05, into zeros then added 3.05,
  bincount 3.05, segment_sum 3.02: a tie; the first is kept. Spreading
  counts over 2-8 sub-histograms (to break store-to-load chains): no gain.
* cutting a batch into blocks of 2^19 elements (`lax.scan`) keeps the
  temporaries in cache: W1 C=4096 3.0 -> 0.6 (2^17: 0.66, 2^18: 0.60,
  2^20: 0.70). Not for W2 or W5, where it is slower.
* `k` as an unrolled sum of K comparisons in one fusion rather than a
  size-K reduce of `p[..., None] > t`: C=256 0.076 -> 0.068, C=4096
  0.89 -> 0.65.
* flat 1-D arrays instead of `[N, 1]`: W3 0.087 -> 0.022.
* W2 top-1 by "label logit is the max, no earlier tie" rather than argmax:
  0.155 -> 0.045.
* W4 with a hand-derived backward pass: within 2% of `jax.grad`, which is
  kept.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks import workloads

LABEL = "hand-written JAX"
N_BUCKETS = 200
# Elements per chunk of a batch: one chunk's temporaries stay in cache.
CHUNK_ELEMENTS = 1 << 19


def versions():
    import jaxlib

    return {"jax": jax.__version__, "jaxlib": jaxlib.__version__}


def build(workload):
    if workload.kind == "train":
        return _train(workload)
    if workload.kind == "loss_floor":
        return _loss_floor(workload)
    return _evaluation(workload)


# --- elementwise pieces ------------------------------------------------------


def _sigmoid_cross_entropy(logits, labels):
    """`max(x, 0) - x y + log1p(exp(-|x|))`, labels already float."""
    return (
        jnp.maximum(logits, 0.0)
        - logits * labels
        + jnp.log1p(jnp.exp(-jnp.abs(logits)))
    )


def _cross_entropy_and_sigmoid(logits, labels):
    """The sigmoid cross-entropy and `sigmoid(x)`, sharing one `exp(-|x|)`."""
    e = jnp.exp(-jnp.abs(logits))
    loss = jnp.maximum(logits, 0.0) - logits * labels + jnp.log1p(e)
    r = 1.0 / (1.0 + e)
    return loss, jnp.where(logits >= 0.0, r, e * r)


def _bucket(probabilities):
    """AUC bucket of a score: `max(ceil(p (n - 1)) - 1, 0)`."""
    p = jnp.clip(probabilities, 0.0, 1.0)
    return jnp.maximum(jnp.ceil(p * (N_BUCKETS - 1)) - 1.0, 0.0).astype(
        jnp.int32
    )


def _thresholds_passed(probabilities, thresholds):
    """How many of `thresholds` each score is strictly above.

    A sum of K comparisons in the same elementwise fusion: XLA CPU's size-K
    reduce over a broadcast `p[..., None] > t` costs ~0.6 ns/element more.
    """
    passed = [(probabilities > t).astype(jnp.int32) for t in thresholds]
    return sum(passed[1:], passed[0])


def _add_counts(hist, index):
    """`hist` plus the histogram of the flat int32 `index`: one scatter-add
    of ones, in place when `hist` is a donated or loop-carried buffer."""
    return hist.at[index].add(1.0)


def _chunks(rows, row_size):
    """How many equal row blocks to cut a batch into, each of about
    `CHUNK_ELEMENTS` elements."""
    chunks = max(1, rows * row_size // CHUNK_ELEMENTS)
    while rows % chunks:
        chunks -= 1
    return chunks


def _over_chunks(count, hist, n_sums, logits, labels):
    """`count(hist, logits, labels) -> (hist, sums)` over row blocks of the
    batch, carrying the histogram and summing the sums."""
    chunks = _chunks(logits.shape[0], math.prod(logits.shape[1:]))
    if chunks == 1:
        return count(hist, logits, labels)

    def body(carry, block):
        hist, sums = carry
        hist, block_sums = count(hist, *block)
        return (hist, sums + block_sums), None

    blocks = (
        logits.reshape(chunks, -1, *logits.shape[1:]),
        labels.reshape(chunks, -1, *labels.shape[1:]),
    )
    initial = (hist, jnp.zeros(n_sums, jnp.float32))
    return jax.lax.scan(body, initial, blocks)[0]


# --- results from the histogram ----------------------------------------------


def _divide_no_nan(x, y):
    safe = jnp.where(y == 0.0, 1.0, y)
    return jnp.where(y == 0.0, 0.0, x / safe)


def _reverse_cumsum(x, axis=0):
    return jnp.flip(jnp.cumsum(jnp.flip(x, axis), axis), axis)


def _auc_values(negatives, positives):
    """ROC and PR AUCs from per-bucket label counts (as keras_heads AUC)."""
    tp, fp = _reverse_cumsum(positives), _reverse_cumsum(negatives)
    fn = jnp.sum(positives) - tp
    tn = jnp.sum(negatives) - fp
    div = _divide_no_nan

    recall, fp_rate = div(tp, tp + fn), div(fp, fp + tn)
    roc = jnp.sum(
        (fp_rate[:-1] - fp_rate[1:]) * (recall[:-1] + recall[1:]) / 2.0
    )

    predicted = tp + fp
    d_tp = tp[:-1] - tp[1:]
    d_predicted = predicted[:-1] - predicted[1:]
    slope = div(d_tp, jnp.maximum(d_predicted, 0.0))
    intercept = tp[1:] - slope * predicted[1:]
    both = jnp.logical_and(predicted[:-1] > 0, predicted[1:] > 0)
    ratio = jnp.where(
        both, div(predicted[:-1], jnp.maximum(predicted[1:], 0.0)), 1.0
    )
    pr = jnp.sum(div(
        slope * (d_tp + intercept * jnp.log(ratio)),
        jnp.maximum(tp[1:] + fn[1:], 0.0),
    ))
    return {"auc": roc, "auc_precision_recall": pr}


def _confusion_values(tp, fp, fn, tn):
    div = _divide_no_nan
    return (
        div(tp + tn, tp + fp + fn + tn), div(tp, tp + fp), div(tp, tp + fn)
    )


def _threshold_values(counts, thresholds):
    """The `.../positive_threshold_<t>` trio from `[K + 1, 2]` counts of
    (thresholds passed, label): at threshold j a score is positive iff
    k > j."""
    above = _reverse_cumsum(counts)[1:]  # [K, 2]: k > j
    totals = jnp.sum(counts, axis=0)
    tp, fp = above[:, 1], above[:, 0]
    accuracy, precision, recall = _confusion_values(
        tp, fp, totals[1] - tp, totals[0] - fp
    )
    out = {}
    for j, t in enumerate(thresholds):
        out["accuracy/positive_threshold_%g" % t] = accuracy[j]
        out["precision/positive_threshold_%g" % t] = precision[j]
        out["recall/positive_threshold_%g" % t] = recall[j]
    return out


# --- W1-W3: streaming evaluation ---------------------------------------------


def _multi_label(thresholds):
    """W1: `(bins, n_sums, update, results)`; `update(state, x, y)` returns
    `(state, batch loss)`."""
    k_bins = len(thresholds) + 1
    bins = N_BUCKETS * k_bins * 2

    def count(hist, logits, labels):
        # Flat: the loss sum over elements / C is the sum of per-example
        # means, and XLA CPU handles 1-D arrays best.
        n_classes = logits.shape[-1]
        logits = logits.reshape(-1)
        y = labels.reshape(-1).astype(jnp.int32)
        loss, p = _cross_entropy_and_sigmoid(logits, y.astype(jnp.float32))
        loss_sum = jnp.sum(loss) / n_classes
        k = _thresholds_passed(p, thresholds)
        index = (_bucket(p) * k_bins + k) * 2 + y
        return _add_counts(hist, index), loss_sum[None]

    def update(state, logits, labels):
        hist, sums = state
        hist, (loss_sum,) = _over_chunks(count, hist, 1, logits, labels)
        n = jnp.float32(logits.shape[0])
        sums = sums + jnp.stack([loss_sum, n])
        return (hist, sums), loss_sum / n

    def results(state):
        hist, sums = state
        h = hist.reshape(N_BUCKETS, k_bins, 2)
        by_bucket = jnp.sum(h, axis=1)
        return {
            "average_loss": sums[0] / sums[1],
            **_auc_values(by_bucket[:, 0], by_bucket[:, 1]),
            **_threshold_values(jnp.sum(h, axis=0), thresholds),
        }

    return bins, 2, update, results


def _multi_class():
    """W2: softmax cross-entropy and top-1 accuracy."""

    def update(state, logits, labels):
        hist, sums = state
        ids = labels.astype(jnp.int32)  # [N, 1]
        shifted = logits - jnp.max(logits, axis=-1, keepdims=True)
        log_normalizer = jnp.log(
            jnp.sum(jnp.exp(shifted), axis=-1, keepdims=True)
        )
        picked = jnp.take_along_axis(shifted, ids, axis=-1)
        loss_sum = jnp.sum(log_normalizer - picked)
        # argmax == label (first maximum): the label's logit is a maximum
        # and no earlier class ties it. Cheaper than XLA's argmax on CPU.
        columns = jnp.arange(logits.shape[-1])
        tie_before = jnp.any(
            (shifted == 0.0) & (columns < ids), axis=-1, keepdims=True
        )
        correct = jnp.sum((picked == 0.0) & ~tie_before, dtype=jnp.float32)
        n = jnp.float32(logits.shape[0])
        sums = sums + jnp.stack([loss_sum, correct, n])
        return (hist, sums), loss_sum / n

    def results(state):
        sums = state[1]
        return {
            "average_loss": sums[0] / sums[2], "accuracy": sums[1] / sums[2]
        }

    return 1, 3, update, results


def _binary(thresholds):
    """W3: the binary head's metrics; the histogram has one more bit, the
    class id `logit > 0`."""
    k_bins = len(thresholds) + 1
    bins = N_BUCKETS * k_bins * 4

    def count(hist, logits, labels):
        logits = logits.reshape(-1)
        y = labels.reshape(-1).astype(jnp.int32)
        y_float = y.astype(jnp.float32)
        loss, p = _cross_entropy_and_sigmoid(logits, y_float)
        k = _thresholds_passed(p, thresholds)
        class_id = (logits > 0.0).astype(jnp.int32)
        index = ((_bucket(p) * k_bins + k) * 2 + class_id) * 2 + y
        sums = jnp.stack([jnp.sum(loss), jnp.sum(p), jnp.sum(y_float)])
        return _add_counts(hist, index.reshape(-1)), sums

    def update(state, logits, labels):
        hist, sums = state
        hist, batch = _over_chunks(count, hist, 3, logits, labels)
        n = jnp.float32(logits.size)
        sums = sums + jnp.concatenate([batch, n[None]])
        return (hist, sums), batch[0] / n

    def results(state):
        hist, sums = state
        h = hist.reshape(N_BUCKETS, k_bins, 2, 2)
        by_bucket = jnp.sum(h, axis=(1, 2))
        by_class = jnp.sum(h, axis=(0, 1))  # [class id, label]
        accuracy, precision, recall = _confusion_values(
            by_class[1, 1], by_class[1, 0], by_class[0, 1], by_class[0, 0]
        )
        label_mean = sums[2] / sums[3]
        return {
            "average_loss": sums[0] / sums[3],
            "accuracy": accuracy,
            "precision": precision,
            "recall": recall,
            "prediction/mean": sums[1] / sums[3],
            "label/mean": label_mean,
            "accuracy_baseline": jnp.maximum(label_mean, 1.0 - label_mean),
            **_auc_values(by_bucket[:, 0], by_bucket[:, 1]),
            **_threshold_values(jnp.sum(h, axis=(0, 2)), thresholds),
        }

    return bins, 4, update, results


def _evaluation(workload):
    if workload.kind == "multi_label":
        bins, n_sums, update, results = _multi_label(workloads.THRESHOLDS)
    elif workload.kind == "multi_class":
        bins, n_sums, update, results = _multi_class()
    else:
        bins, n_sums, update, results = _binary((0.5,))
    logits, labels = workloads.streaming_batches(workload)
    logits = [jnp.asarray(x) for x in logits]
    labels = [jnp.asarray(y) for y in labels]
    order = workloads.batch_order(workload)

    step = jax.jit(update, donate_argnums=0)
    final = jax.jit(results)

    state = None

    def reset():
        nonlocal state
        state = (jnp.zeros(bins, jnp.float32), jnp.zeros(n_sums, jnp.float32))

    def run():
        nonlocal state
        losses = []
        for i in order:
            state, loss = step(state, logits[i], labels[i])
            losses.append(loss)
        values = {key: float(v) for key, v in final(state).items()}
        values["mean batch loss"] = float(np.mean(jax.device_get(losses)))
        return values

    run.reset = reset
    return run


# --- W4: MLP + three heads, Adam ---------------------------------------------


def _mlp_loss(weights, x, class_ids, binary, target):
    h = x
    for i in range(0, len(weights) - 2, 2):
        h = jax.nn.relu(h @ weights[i] + weights[i + 1])
    out = h @ weights[-2] + weights[-1]
    n = out.shape[0]
    class_logits = out[:, :10]
    shifted = class_logits - jnp.max(class_logits, -1, keepdims=True)
    softmax_ce = jnp.log(
        jnp.sum(jnp.exp(shifted), -1, keepdims=True)
    ) - jnp.take_along_axis(shifted, class_ids.astype(jnp.int32), axis=-1)
    binary_logit = out[:, 10:11]
    # `where`, not max/abs, so the gradient at 0 is sigmoid(0) - y.
    positive = binary_logit >= 0
    sigmoid_ce = (
        jnp.where(positive, binary_logit, 0.0)
        - binary_logit * binary.astype(jnp.float32)
        + jnp.log1p(jnp.exp(jnp.where(positive, -binary_logit, binary_logit)))
    )
    squared = jnp.square(out[:, 11:12] - target)
    return (
        jnp.sum(softmax_ce) / n + jnp.sum(sigmoid_ce) / n
        + jnp.sum(squared) / n
    )


def _adam(weights, grads, m, v, t, lr=workloads.W4_LEARNING_RATE,
          beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    """Keras 3's Adam update, on lists of arrays."""
    t = t + 1.0
    alpha = lr * jnp.sqrt(1.0 - beta_2 ** t) / (1.0 - beta_1 ** t)
    m = [m_w + (g - m_w) * (1.0 - beta_1) for m_w, g in zip(m, grads)]
    v = [v_w + (g * g - v_w) * (1.0 - beta_2) for v_w, g in zip(v, grads)]
    weights = [
        w - m_w * alpha / (jnp.sqrt(v_w) + epsilon)
        for w, m_w, v_w in zip(weights, m, v)
    ]
    return weights, m, v, t


def _train(workload):
    data = workloads.train_data(workload)
    weights = [jnp.asarray(w) for w in data["weights"]]
    inputs = (
        jnp.asarray(data["x"]),
        jnp.asarray(data["class_labels"]),
        jnp.asarray(data["binary_labels"]),
        jnp.asarray(data["regression_labels"]),
    )

    @jax.jit
    def step(state, inputs):
        weights, m, v, t = state
        loss, grads = jax.value_and_grad(_mlp_loss)(weights, *inputs)
        return _adam(weights, grads, m, v, t), loss

    def run():
        zeros = [jnp.zeros_like(w) for w in weights]
        state = (weights, zeros, zeros, jnp.float32(0.0))
        losses = []
        for _ in range(workload.batches):
            state, loss = step(state, inputs)
            losses.append(loss)
        return {"first loss": float(losses[0]), "last loss": float(losses[-1])}

    return run


# --- W5: one big multi-label loss --------------------------------------------


def _loss_floor(workload):
    logits_np, labels_np = workloads.loss_floor_data(workload)
    logits, labels = jnp.asarray(logits_np), jnp.asarray(labels_np)

    @jax.jit
    def loss(logits, labels):
        ce = _sigmoid_cross_entropy(logits, labels.astype(jnp.float32))
        return jnp.mean(jnp.mean(ce, axis=-1))

    def run():
        return {"loss": float(loss(logits, labels))}

    run.extra = workloads.read_floor(logits_np, labels_np)
    return run
