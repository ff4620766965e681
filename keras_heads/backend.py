"""The one seam between the heads and the active Keras backend.

Everything numeric in keras-heads is written with `keras.ops` and runs on any
backend. What cannot be written that way lives here, and only here:

* strings (label vocabularies, class names): `tf.string` tensors on the
  TensorFlow backend, host-side NumPy arrays of `bytes` (dtype `object`, as
  `tf.Tensor.numpy()` returns them) on the others;
* sparse labels: `SparseTensorValue` everywhere, `tf.SparseTensor` on any
  backend (tf.data feeds them to all three), and JAX's `BCOO` (what Keras
  hands a JAX model for sparse inputs);
* whether a value is being traced (value checks run eagerly only), and
  what a compiler cannot do (strings and data-dependent shapes in
  `jax.jit`), with an error that says so;
* gradients of an already computed loss, for `create_estimator_spec`'s
  optimizer path, and the distribution strategy's replicas (their count,
  sums and means) and batch split;
* TensorFlow itself where only it will do (a SavedModel), with an error
  that says how to install it;
* shapes and dtypes a backend's compiler handles far better than others:
  per-example values as true vectors on JAX (`flat_vectors`), their sums in
  float64 on TensorFlow (`sum_all`), 8-bit labels checked once per example
  rather than once per label except on TensorFlow
  (`checks_narrow_labels_by_example`).
"""

import collections
import sys

import keras
import numpy as np


class SparseTensorValue(
    collections.namedtuple(
        "SparseTensorValue", ["indices", "values", "dense_shape"]
    )
):
    """A backend-neutral sparse tensor: `(indices, values, dense_shape)`.

    `indices` is an `[nnz, rank]` integer array, `values` an `[nnz]` array of
    integers or strings and `dense_shape` the shape of the dense tensor. It
    is accepted wherever the reference accepted a `tf.SparseTensor`.
    """


def name():
    return keras.backend.backend()


def int64():
    """`"int64"`, or `"int32"` on JAX without x64: JAX would truncate an
    int64 request to int32 anyway, and warn each time."""
    if name() == "jax":
        import jax

        if not jax.config.jax_enable_x64:
            return "int32"
    return "int64"


def _tf():
    import tensorflow as tf

    return tf


class TensorFlowNotInstalledError(ModuleNotFoundError):
    """Something that only TensorFlow can do was asked of an install
    without it (`pip install keras-heads[jax]`, say)."""


def require_tensorflow(purpose):
    """The `tensorflow` module, for `purpose` (what needs it, in words).

    Raises `TensorFlowNotInstalledError` (a `ModuleNotFoundError`) naming
    `purpose` and the install that brings TensorFlow, where the bare import
    would only say that no module is named `tensorflow`.
    """
    try:
        import tensorflow as tf
    except ModuleNotFoundError as error:
        if error.name not in (None, "tensorflow"):
            raise  # TensorFlow is there; one of its own imports failed.
        raise TensorFlowNotInstalledError(
            f"{purpose} needs TensorFlow, which is not installed (the "
            f"{name()} backend runs without it). Install it with "
            "`pip install keras-heads[tensorflow]` (or `pip install "
            "tensorflow`).",
            name="tensorflow",
        ) from error
    return tf


def is_tensorflow():
    return name() == "tensorflow"


def is_traced(x=None):
    """True while a function is being traced or compiled (values unknown)."""
    backend = name()
    if backend == "tensorflow":
        return not _tf().executing_eagerly()
    if backend == "jax":
        import jax

        return isinstance(x, jax.core.Tracer)
    if backend == "torch":
        import torch

        return torch.compiler.is_compiling()
    return False


def loaded_tensorflow():
    """The `tensorflow` module if something already imported it, else None:
    a value can only be a TensorFlow object then, and nothing imports
    TensorFlow just to ask."""
    return sys.modules.get("tensorflow")


def _is_tf_sparse(x):
    tf = loaded_tensorflow()
    return tf is not None and isinstance(x, tf.SparseTensor)


def _is_bcoo(x):
    sparse = sys.modules.get("jax.experimental.sparse")
    return sparse is not None and isinstance(x, sparse.BCOO)


def is_sparse(x):
    return (
        isinstance(x, SparseTensorValue) or _is_tf_sparse(x) or _is_bcoo(x)
    )


def _tensor_or_strings(values):
    if is_string(values):
        return convert_strings(values)
    return keras.ops.convert_to_tensor(values)


def sparse_components(sparse):
    """`(indices, values, dense_shape)` of a sparse input.

    `indices` is an `[nnz, rank]` integer tensor, `values` a tensor (or this
    backend's string array) and `dense_shape` a tuple of ints where it is
    known statically.
    """
    if isinstance(sparse, SparseTensorValue):
        indices = np.asarray(sparse.indices, dtype="int64")
        return (
            keras.ops.convert_to_tensor(indices),
            _tensor_or_strings(sparse.values),
            tuple(int(d) for d in sparse.dense_shape),
        )
    if _is_bcoo(sparse):
        if sparse.n_batch or sparse.n_dense:
            raise ValueError(
                "Sparse labels as a jax BCOO must have n_batch=0 and "
                f"n_dense=0 (one row of `indices` per entry). Received "
                f"n_batch={sparse.n_batch}, n_dense={sparse.n_dense}; "
                "convert with `.update_layout(n_batch=0, n_dense=0)`."
            )
        return sparse.indices, sparse.data, tuple(sparse.shape)
    if not is_tensorflow():  # a tf.SparseTensor from tf.data, say
        return sparse_components(
            SparseTensorValue(
                sparse.indices.numpy(), sparse.values.numpy(),
                sparse.dense_shape.numpy(),
            )
        )
    shape = tuple(sparse.shape)
    if any(d is None for d in shape) and _tf().executing_eagerly():
        shape = tuple(int(d) for d in sparse.dense_shape.numpy())
    return sparse.indices, sparse.values, shape


def nonzero(flags, error):
    """Indices of the nonzero entries of the 1-D `flags`.

    Their number depends on the values: eager execution, `tf.function`
    and `torch.compile` (which breaks its graph there) compute it, but
    `jax.jit` needs static shapes, so there it raises `ValueError(error)`.
    """
    if name() == "jax" and is_traced(flags):
        raise ValueError(error)
    return keras.ops.nonzero(flags)[0]


# --- strings ---------------------------------------------------------------


def _host_strings(x):
    """A NumPy `bytes` array (dtype `S`) of the strings in `x`, or None."""
    a = np.asarray(x)
    if a.dtype.kind == "S":
        return a
    if a.dtype.kind == "U":
        return np.char.encode(a, "utf-8")
    # An empty object array holds no value to tell, and is taken for
    # strings: it is how this module holds them off TensorFlow (see
    # `convert_strings`), where numbers never come as objects.
    if a.dtype.kind == "O" and (
        not a.size or isinstance(a.flat[0], (str, bytes))
    ):
        encode = np.frompyfunc(
            lambda s: s.encode("utf-8") if isinstance(s, str) else s, 1, 1
        )
        return encode(a).astype("S")
    return None


def is_string(x):
    """True for string tensors, string arrays and (nested) lists of strings."""
    if is_tensorflow() and isinstance(x, (_tf().Tensor, _tf().Variable)):
        return x.dtype == _tf().string
    if keras.ops.is_tensor(x):
        return False
    return _host_strings(x) is not None


def convert_strings(x):
    """Converts a string input to this backend's string representation."""
    if is_tensorflow():
        return _tf().convert_to_tensor(x, dtype=_tf().string)
    return _host_strings(x).astype(object)


def expand_dims(x, axis):
    """`expand_dims` that also accepts host-side string arrays."""
    if isinstance(x, np.ndarray):
        return np.expand_dims(x, axis)
    if is_tensorflow():
        return _tf().expand_dims(x, axis)
    return keras.ops.expand_dims(x, axis)


def reduce_last_axis(reduction, x):
    """`reduction(x, axis=-1, keepdims=True)` (`keras.ops.max` or `min`),
    also for a batch of no examples.

    Keras' TensorFlow (eager) and PyTorch backends refuse the max or min of
    any tensor without elements, even along an axis that has some, where
    JAX returns the empty result. That result, `[..., 0, ..., 1]`, needs no
    reduction: it is `x[..., :1]`. The shape is checked statically, so a
    compiled function pays nothing.
    """
    shape = tuple(x.shape)
    if shape[-1] != 0 and any(d == 0 for d in shape[:-1]):
        return x[..., :1]
    return reduction(x, axis=-1, keepdims=True)


def flat_vectors(*tensors):
    """The tensors as flat vectors, materialised as such on JAX.

    XLA on CPU (jaxlib 0.10) computes exp/log reductions over `[N, 1]`
    arrays up to 10x slower than over `[N]` ones (its YNNPACK fusions), and
    it sees through a plain reshape; an optimization barrier over the flat
    views makes everything after it work on true vectors. Elsewhere the
    tensors are only reshaped. Python numbers pass through.
    """
    numbers = [isinstance(x, (int, float)) for x in tensors]
    flat = [
        x if number else keras.ops.reshape(x, (-1,))
        for x, number in zip(tensors, numbers)
    ]
    if name() != "jax":
        return flat
    import jax

    barriered = iter(jax.lax.optimization_barrier(
        [x for x, number in zip(flat, numbers) if not number]
    ))
    return [x if number else next(barriered) for x, number in zip(flat, numbers)]


def sum_all(x):
    """The float32 sum of every element of `x`.

    On TensorFlow the sum accumulates in float64. TensorFlow 2.21's XLA
    hands a float32 sum to YNNPACK, which takes about 13x longer over an
    `[N, 1]` array (a head's per-example values) than over a flat vector
    (65,536 values: ~280 us against ~21 us on this project's 2-core
    machine), and it turns a reshape to `[N]` back into the `[N, 1]` sum; a
    float64 sum stays in XLA's own vectorised loops, and is more precise.
    """
    if name() != "tensorflow":
        return keras.ops.sum(x)
    total = keras.ops.sum(keras.ops.cast(x, "float64"))
    return keras.ops.cast(total, "float32")


def segment_sum(data, segment_ids, num_segments):
    """`keras.ops.segment_sum` of 1-D `data` into `num_segments` (a Python
    int), for ids all in `[0, num_segments)`.

    On PyTorch, one `index_add`: Keras' version first repeats the ids with a
    tensor count (`repeat_interleave`), which `torch.compile` cannot lower
    for a batch of no examples, and which costs a pass of its own.
    """
    if name() == "torch":
        import torch

        data = keras.ops.convert_to_tensor(data)
        ids = keras.ops.convert_to_tensor(segment_ids).long()
        sums = torch.zeros(num_segments, dtype=data.dtype, device=data.device)
        return sums.index_add(0, ids, data)
    return keras.ops.segment_sum(data, segment_ids, num_segments=num_segments)


def only_if(condition, compute, otherwise):
    """`compute()` where the scalar bool `condition` holds, else
    `otherwise()`: two functions of no argument that return tensors of one
    shape and dtype.

    TensorFlow and JAX branch (`tf.cond`, XLA's conditional), so `compute`
    runs only when needed. PyTorch computes both and selects:
    `torch.compile` would break its graph at a branch on a tensor's value.
    """
    if not is_traced(condition):
        # Known on the host: no conditional to build (on JAX, an eager
        # `cond` of fresh functions compiles anew at every call).
        return compute() if bool(condition) else otherwise()
    if name() == "torch":
        return keras.ops.where(condition, compute(), otherwise())
    return keras.ops.cond(condition, compute, otherwise)


def branches_cheaply():
    """Whether a compiled step pays next to nothing for a conditional
    (`only_if`) that reads a batch.

    TensorFlow 2.21's XLA: a binary evaluation step of 65,536 examples
    takes as long with one as without, and so does a multi-label one
    (1024 x 4096) in one pass. On JAX (jaxlib 0.10) the binary step takes
    8-40% longer with one, and no longer with a multiply-add on each of
    its scores instead.
    """
    return name() == "tensorflow"


def merges_identical_loops(x):
    """Whether `x` is being compiled by XLA (`jax.jit`, or a
    `tf.function(jit_compile=True)`), whose common-subexpression pass runs
    two identical loops with the same inputs once."""
    backend = name()
    if backend == "jax":
        return is_traced(x)
    if backend == "tensorflow" and is_traced():
        from tensorflow.python.ops import control_flow_util

        graph = _tf().compat.v1.get_default_graph()
        return control_flow_util.GraphOrParentsInXlaContext(graph)
    return False


def shares_sigmoid_exponential():
    """Whether a pass that needs both a sigmoid cross-entropy and the
    sigmoid computes them from one `exp(-|x|)`.

    Measured in a multi-label evaluation step's one pass (1024 x 4096
    scores, 8 blocks; the hand-written step as the unit): TensorFlow 2.21's
    XLA runs it in 1.00x shared against 1.37x apart; on JAX (jaxlib 0.10)
    sharing costs more than a second exponential (1.18-1.21x shared against
    0.93-1.02x apart), since XLA then takes the loss's reduction out of the
    YNNPACK fusion that computes it.
    """
    return name() == "tensorflow"


def checks_narrow_labels_by_example():
    """Whether a loss checks the range of 8-bit integer labels once per
    example (a max and a min over its labels, then one factor of 1 or NaN)
    rather than once per label (a square root inside the loss).

    On JAX the square root is a third of a large multi-label loss (a
    `[4096, 16384]` loss: 78 ms, 55 ms with per-example checks, 50 ms with
    none), while XLA reduces 8-bit rows almost for free; on PyTorch, eager,
    the per-label check costs four temporaries of the batch's size.
    TensorFlow's XLA folds the square root into its one loop over the batch
    and would pay for the extra pass (100 ms against 116 ms).
    """
    return name() != "tensorflow"


def take_rows(x, indices, row_rank=1):
    """Rows `indices` of `x` once its first `row_rank` axes are merged.

    `take(reshape(x, [-1, *x.shape[row_rank:]]), indices, axis=0)`, that
    also accepts host-side string arrays. The result has shape
    `indices.shape + x.shape[row_rank:]`.
    """
    if isinstance(x, np.ndarray):
        rows = x.reshape((-1,) + x.shape[row_rank:])
        return rows[keras.ops.convert_to_numpy(indices)]
    shape = keras.ops.shape(x)
    rows = keras.ops.reshape(x, (-1,) + tuple(shape[row_rank:]))
    return keras.ops.take(rows, indices, axis=0)


def lookup_ids(strings, vocabulary):
    """Maps each string to its index in `vocabulary`, or -1; int64 ids."""
    if is_tensorflow():
        tf = _tf()
        vocab = tf.constant([v.encode("utf-8") for v in vocabulary])
        matches = tf.equal(tf.expand_dims(strings, -1), vocab)
        first = tf.argmax(tf.cast(matches, tf.int32), axis=-1)
        return tf.where(tf.reduce_any(matches, axis=-1), first, -1)
    strings = _host_strings(strings)
    vocab = _host_strings(list(vocabulary))
    order = np.argsort(vocab, kind="stable")
    sorted_vocab = vocab[order]
    pos = np.clip(np.searchsorted(sorted_vocab, strings), 0, len(vocab) - 1)
    ids = np.where(sorted_vocab[pos] == strings, order[pos], -1)
    return keras.ops.convert_to_tensor(ids.astype(int64()))


def _check_strings_can_leave(x):
    """jax.jit cannot return strings: say so before JAX fails obscurely."""
    if name() == "jax" and is_traced(x):
        raise ValueError(
            "Class-name predictions (`classes`, `all_classes`) are host-side "
            "strings, which a jax.jit-compiled function cannot return. "
            "Inside jax.jit, ask for numeric keys only, e.g. "
            "head.predictions(logits, keys=['class_ids', 'probabilities']), "
            "and call head.predictions(logits) outside it for class names."
        )


def gather_strings(names, ids):
    """The string `names[i]` for every id in `ids` (same shape as `ids`)."""
    encoded = [n.encode("utf-8") for n in names]
    if is_tensorflow():
        return _tf().gather(_tf().constant(encoded), ids)
    _check_strings_can_leave(ids)
    table = np.array(encoded, dtype=object)
    return table[keras.ops.convert_to_numpy(ids)]


def tiled_strings(names, like):
    """`names` once per row of `like`: a `[rows, len(names)]` string array."""
    encoded = [n.encode("utf-8") for n in names]
    rows = keras.ops.shape(like)[0]
    if is_tensorflow():
        tf = _tf()
        return tf.tile(tf.constant([encoded]), tf.stack([rows, 1]))
    _check_strings_can_leave(like)
    return np.tile(np.array([encoded], dtype=object), (int(rows), 1))


def string_values(x):
    """The strings of `x` as a NumPy bytes array, for error messages."""
    if is_tensorflow() and isinstance(x, _tf().Tensor):
        return x.numpy()
    return _host_strings(x)


# --- training ----------------------------------------------------------------


def num_replicas_in_sync():
    """Replicas of the active data-parallel strategy (1 outside any)."""
    if is_tensorflow():
        return _tf().distribute.get_strategy().num_replicas_in_sync
    return 1


def cross_replica_sum(x):
    """`x` summed over the replicas of a `tf.distribute` step.

    Identity elsewhere: outside a replica context, and on JAX, whose
    `keras.distribution` steps compute on global (sharded) arrays and so
    already see the whole batch.
    """
    return _all_reduce(x, "SUM")


def replicas_mean(x):
    """`x` averaged over the replicas of a `tf.distribute` step.

    Identity elsewhere, as `cross_replica_sum`.
    """
    return _all_reduce(x, "MEAN")


def _all_reduce(x, op):
    if is_tensorflow():
        tf = _tf()
        context = tf.distribute.get_replica_context()
        if context is not None and context.num_replicas_in_sync > 1:
            return context.all_reduce(getattr(tf.distribute.ReduceOp, op), x)
    return x


def batch_shards():
    """How many devices each process's batch is split over by the active
    `keras.distribution` (JAX): every batch must hold a multiple of this
    many examples. 1 without a distribution, and on other backends, whose
    engines (`tf.distribute`) split any batch."""
    if name() != "jax":
        return 1
    distribution = keras.distribution.distribution()
    if distribution is None:
        return 1
    import jax

    mesh = distribution.device_mesh
    shards = mesh.shape[mesh.axis_names.index(distribution.batch_dim_name)]
    return max(1, shards // jax.process_count())


def one_replica(batch):
    """The first replica's part of a distributed batch (TensorFlow)."""
    tf = _tf()
    strategy = tf.distribute.get_strategy()
    return keras.tree.map_structure(
        lambda v: strategy.experimental_local_results(v)[0]
        if isinstance(v, tf.distribute.DistributedValues) else v,
        batch,
    )


def reducible_step_logs(logs):
    """Step logs that Keras can average over `MultiWorkerMirroredStrategy`
    workers: it reduces them along axis 0, which scalars lack
    (tensorflow/tensorflow#72388), so each gets a leading axis of 1. The
    epoch's logs are read from the metrics, not from these."""
    if not is_tensorflow():
        return logs
    tf = _tf()
    strategy = tf.distribute.get_strategy()
    if not (isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
            and strategy.extended._in_multi_worker_mode()):
        return logs
    return {key: keras.ops.reshape(value, (1,)) for key, value in logs.items()}


def gradients(loss, variables):
    """Gradients of an already computed `loss` with respect to `variables`.

    Only possible where the loss still carries its graph: inside a
    `tf.function` on TensorFlow, and in eager PyTorch.
    """
    backend = name()
    if backend == "tensorflow" and not _tf().executing_eagerly():
        # Keras variables, or plain `tf.Variable`s (what TF2 Estimator code
        # passed: `tf.compat.v1.trainable_variables()`).
        return _tf().gradients(
            loss,
            [v.value if isinstance(v, keras.Variable) else v
             for v in variables],
        )
    if backend == "torch":
        import torch

        return list(torch.autograd.grad(loss, [v.value for v in variables]))
    where = "eager TensorFlow" if backend == "tensorflow" else backend
    raise ValueError(
        "create_estimator_spec(optimizer=...) needs the gradient of an "
        f"already computed loss, which {where} cannot give: the loss "
        "tensor carries no graph. Call create_estimator_spec inside a "
        "tf.function (TensorFlow) or in eager PyTorch, or pass "
        "train_op_fn=... and compute gradients yourself from spec.loss."
    )


def group(ops):
    """One train op that runs all of `ops` (a no-op outside TF graphs)."""
    ops = [op for op in ops if op is not None]
    if is_tensorflow() and not _tf().executing_eagerly():
        return _tf().group(*ops)
    return ops[0] if len(ops) == 1 else tuple(ops)
