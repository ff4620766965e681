"""Labels prepared once, at the data boundary, for every data path.

A `HeadModel` never hands its compiled step the labels it was given. Every
batch first passes through `LabelPreparation`, on the host, whatever brought
it (arrays, `tf.data`, a `keras.utils.PyDataset`, a generator, validation
data) and whatever the backend:

* class names become class ids through the head's `label_vocabulary`, so a
  compiled step holds numbers only (XLA and `jax.jit` take no strings);
* sparse multi-label labels become dense `int8` multi-hot rows, the one
  form every Keras data adapter carries;
* every label is checked by the head's own rules while its values are
  known, so a bad label raises the head's `ValueError` before any step, the
  same on every backend, instead of turning a compiled loss into NaN.

The step then computes the loss and the metrics with `label_id_head(head)`:
the same head without its vocabularies, whose numbers on ids are the
head's on names.
"""

import contextlib

import keras
import numpy as np
from keras import ops

from keras_heads import backend
from keras_heads.heads.base import Head
from keras_heads.heads.binary_class import BinaryClassHead
from keras_heads.heads.multi_class import MultiClassHead
from keras_heads.heads.multi_head import MultiHead
from keras_heads.heads.multi_label import MultiLabelHead
from keras_heads.heads.regression import LogisticRegressionHead
from keras_heads.heads.sequential import SequentialHeadWrapper


def _vocabulary(head):
    return getattr(head, "_label_vocabulary", None)


def has_vocabulary(head):
    """True when `head`, or any head inside it, looks up class names."""
    if isinstance(head, MultiHead):
        return any(has_vocabulary(h) for h in head._heads)
    if isinstance(head, SequentialHeadWrapper):
        return has_vocabulary(head._static_head)
    return bool(_vocabulary(head))


def label_id_head(head):
    """`head` rebuilt without label vocabularies (itself if it has none)."""
    if not has_vocabulary(head):
        return head
    arguments = head._arguments()
    for key, value in arguments.items():
        if key == "label_vocabulary":
            arguments[key] = None
        elif isinstance(value, Head):
            arguments[key] = label_id_head(value)
        elif isinstance(value, list) and value and isinstance(value[0], Head):
            arguments[key] = [label_id_head(h) for h in value]
    return type(head)(**arguments)


# --- one batch's labels, on the host -------------------------------------------


def prepare_labels(head, labels, features=None):
    """`labels` as `label_id_head(head)` takes them, checked by `head`.

    Host values in (NumPy arrays, lists, tensors of any backend,
    `SparseTensorValue`s), NumPy arrays out: class ids for class names
    (`int32`, shaped `[D0..DN, 1]`), `int8` multi-hot rows for sparse
    multi-label labels, and numeric labels unchanged. A label the head
    rejects raises the head's error, naming it. `features` is read only for
    a `SequentialHeadWrapper`'s mask.

    >>> head = keras_heads.MultiClassHead(3, label_vocabulary=["a", "b", "c"])
    >>> prepare_labels(head, np.array(["c", "a"])).tolist()
    [[2], [0]]
    """
    if labels is None:
        return None
    if isinstance(head, MultiHead):
        return _prepare_by_head_name(head, labels, features)
    if isinstance(head, SequentialHeadWrapper):
        return _prepare_sequences(head, labels, features)
    if backend.is_sparse(labels):
        return _multi_hot(head, labels)
    array = _host_array(labels)
    if not _vocabulary(head) and _within_range(head, array):
        return array  # Numbers the head takes as they are.
    logits = ops.convert_to_tensor(_zero_logits(head, array))
    processed = head._processed_labels(logits, array)
    head._default_loss(processed, logits)  # Its own checks (LogisticRegression)
    if not _vocabulary(head):
        return array
    return _ids(processed)


def label_range(head):
    """`(lower, upper)`: the values a single head without a vocabulary
    takes as labels, or None where any number will do.

    A quick first look only, on the host or in a `tf.data` pipeline:
    labels inside the range pass at once, and any others go through the
    head's own checks, which raise its error or let them through. So the
    range may be wider than the head's rules, never narrower.
    """
    if isinstance(head, MultiClassHead):
        return 0, head.logits_dimension - 1
    if isinstance(head, (BinaryClassHead, MultiLabelHead,
                         LogisticRegressionHead)):
        return 0, 1
    return None


def _within_range(head, array):
    if array.dtype.kind not in "biuf":
        return False
    bounds = label_range(head)
    if bounds is None or not array.size:
        return True
    lower, upper = bounds
    return bool(np.all((array >= lower) & (array <= upper)))


def _prepare_by_head_name(multi_head, labels, features):
    names = [head.name for head in multi_head._heads]
    if not isinstance(labels, dict):
        raise ValueError(
            f"labels of a MultiHead must be a dict keyed by head name "
            f"{names}. Got {type(labels).__name__}."
        )
    unknown = sorted(set(labels) - set(names))
    if unknown:
        raise ValueError(
            f"labels has keys {unknown} that are no head's name. Expected "
            f"the keys {names}; got {sorted(labels)}."
        )
    missing = [name for name in names if name not in labels]
    if missing:
        raise ValueError(
            f"labels has no entry for the heads {missing}. Expected the keys "
            f"{names}; got {sorted(labels)}."
        )
    return {
        head.name: prepare_labels(head, labels[head.name], features)
        for head in multi_head._heads
    }


def _prepare_sequences(wrapper, labels, features):
    """Dense `[B, T(, 1)]` labels checked (and looked up) on the real steps
    only: a padded step's label may be anything, and becomes id 0. Sparse
    sequence labels go to the step as they are."""
    if backend.is_sparse(labels):
        if has_vocabulary(wrapper):
            raise ValueError(
                "A HeadModel takes the class names of a "
                "SequentialHeadWrapper as dense [batch, time] labels; got "
                "sparse labels. Give dense labels (any value on padded "
                "steps), or class ids."
            )
        return labels
    array = _host_array(labels)
    mask = wrapper._mask(features or {})
    real = np.asarray(ops.convert_to_numpy(mask)).astype(bool)
    static = wrapper._static_head
    steps = array.reshape(real.shape + (-1,))[real]
    processed = static._processed_labels(_zero_logits(static, steps), steps)
    if not _vocabulary(static):
        return array
    ids = np.zeros(real.shape + (1,), "int32")
    ids[real] = _ids(processed)
    return ids


def _multi_hot(head, labels):
    if not isinstance(head, MultiLabelHead):
        raise ValueError(
            "SparseTensor labels are not supported. Labels must be a dense "
            "Tensor of shape [D0, D1, ..., DN, 1], e.g. [batch_size, 1]; "
            f"only MultiLabelHead accepts sparse labels. Got sparse labels "
            f"for {type(head).__name__} {head.name!r}."
        )
    labels = _host_sparse(labels)
    rows = tuple(int(d) for d in labels.dense_shape[:-1])
    processed = head._processed_labels(_zero_logits(head, rows), labels)
    return np.asarray(ops.convert_to_numpy(processed)).astype("int8")


def _zero_logits(head, labels_or_rows):
    """Logits that fit `labels` (or the example shape `rows`): only their
    shape is read."""
    if isinstance(labels_or_rows, tuple):
        rows = labels_or_rows
    else:
        shape = labels_or_rows.shape
        if not shape:
            raise ValueError(
                "labels must have rank at least 1 (one label per example). "
                f"Got a scalar: {labels_or_rows!r}."
            )
        rows = shape if len(shape) == 1 else shape[:-1]
    return np.zeros(tuple(rows) + (head.logits_dimension,), "float32")


def _ids(processed):
    return np.asarray(ops.convert_to_numpy(processed)).astype("int32")


def _host_array(values):
    """Any backend's tensor, a list or an array, as a NumPy array."""
    if isinstance(values, np.ndarray):
        return values
    if hasattr(values, "numpy"):  # tf.Tensor, torch.Tensor
        return np.asarray(values.numpy())
    if keras.ops.is_tensor(values):
        return np.asarray(ops.convert_to_numpy(values))
    array = np.asarray(values)
    if array.dtype.kind == "O" and backend.is_string(array):
        return backend._host_strings(array)
    return array


def _host_sparse(labels):
    """A sparse input as a `SparseTensorValue` of NumPy arrays."""
    indices, values, shape = backend.sparse_components(labels)
    values = (
        values if isinstance(values, np.ndarray)
        else np.asarray(ops.convert_to_numpy(values))
    )
    return backend.SparseTensorValue(
        np.asarray(ops.convert_to_numpy(indices)), values, shape
    )


# --- every data path --------------------------------------------------------------


class LabelPreparation:
    """Prepares the labels of every batch a `HeadModel` is given.

    `arrays` maps in-memory labels at once; `data` wraps a `tf.data`
    dataset, a `PyDataset` or a generator so that each batch is prepared
    as it comes. An error raised while a `tf.data` pipeline prepares a
    batch reaches the caller of `raising_label_errors` as the head's own
    exception, not as TensorFlow's wrapper of it.
    """

    def __init__(self, head):
        self.head = head
        self._needs_features = _holds_sequences(head)
        # Errors raised inside a tf.data pipeline, re-raised as they were.
        self._errors = []

    def arrays(self, labels, features=None):
        """In-memory labels (or None) prepared at once."""
        return prepare_labels(self.head, labels, _feature_dict(features))

    def batch(self, batch):
        """One `(x, y, ...)` batch with its labels prepared."""
        if not isinstance(batch, tuple) or len(batch) < 2:
            return batch
        x, y, *rest = batch
        return (x, self.arrays(y, x), *rest)

    def data(self, data):
        """`data` whose batches are prepared as they are read: a `tf.data`
        dataset, a `keras.utils.PyDataset`, a generator or an iterator.
        Anything else is returned unchanged."""
        if _is_tf_dataset(data):
            return self._dataset(data)
        if isinstance(data, keras.utils.PyDataset):
            return _PreparedPyDataset(data, self.batch)
        if _is_iterator(data):
            return (self.batch(batch) for batch in data)
        return data

    @contextlib.contextmanager
    def raising_label_errors(self):
        """Re-raises a label error that a `tf.data` pipeline wrapped."""
        self._errors.clear()
        try:
            yield
        except Exception:
            if self._errors:
                raise self._errors[-1] from None
            raise
        finally:
            self._errors.clear()

    def _checked_in_graph(self, x, y, *rest):
        """Numeric labels checked inside the `tf.data` graph: a range test
        per head, and only for a batch that fails it, the head's own checks
        on the host, which raise its error."""
        import tensorflow as tf

        inside = [tf.constant(True)]
        for head, labels in _leaves(self.head, y):
            bounds = label_range(head)
            if bounds is not None:
                values = tf.cast(labels, tf.float64)
                inside.append(tf.reduce_all(
                    (values >= bounds[0]) & (values <= bounds[1])
                ))
        flat = tf.nest.flatten(y)

        def check_on_host(*values):
            try:
                self.arrays(tf.nest.pack_sequence_as(
                    y, [v.numpy() for v in values]
                ))
            except Exception as error:
                self._errors.append(error)
                raise
            return True

        checked = tf.cond(
            tf.reduce_all(tf.stack(inside)),
            lambda: tf.constant(True),
            lambda: tf.py_function(check_on_host, flat, tf.bool),
        )
        with tf.control_dependencies([checked]):
            y = tf.nest.map_structure(tf.identity, y)
        return (x, y, *rest)

    def _dataset(self, dataset):
        import tensorflow as tf

        spec = dataset.element_spec
        if not isinstance(spec, tuple) or len(spec) < 2:
            return dataset
        x_spec, y_spec = spec[0], spec[1]
        if _numbers_only(self.head, y_spec):
            return dataset.map(self._checked_in_graph)
        out_spec = _prepared_spec(self.head, y_spec)
        inputs = (x_spec, y_spec) if self._needs_features else (y_spec,)

        def prepare_flat(*flat):
            try:
                values = tf.nest.pack_sequence_as(
                    inputs, list(flat), expand_composites=True
                )
                values = tf.nest.map_structure(
                    _eager_to_host, values, expand_composites=False
                )
                features = values[0] if self._needs_features else None
                prepared = self.arrays(values[-1], features)
                return tf.nest.flatten(prepared)
            except Exception as error:
                self._errors.append(error)
                raise

        out_specs = tf.nest.flatten(out_spec, expand_composites=True)

        def prepare(x, y, *rest):
            inputs_now = (x, y) if self._needs_features else (y,)
            flat = tf.py_function(
                prepare_flat,
                tf.nest.flatten(inputs_now, expand_composites=True),
                [s.dtype for s in out_specs],
            )
            for tensor, s in zip(flat, out_specs):
                tensor.set_shape(s.shape)
            prepared = tf.nest.pack_sequence_as(
                out_spec, flat, expand_composites=True
            )
            return (x, prepared, *rest)

        return dataset.map(prepare)


def _numbers_only(head, spec):
    """Whether labels of `spec` stay as they are: dense numbers for heads
    without vocabularies (and no sequences, whose check needs the mask)."""
    import tensorflow as tf

    if isinstance(head, MultiHead):
        return isinstance(spec, dict) and set(spec) == {
            h.name for h in head._heads
        } and all(_numbers_only(h, spec[h.name]) for h in head._heads)
    return (
        not isinstance(head, SequentialHeadWrapper)
        and not _vocabulary(head)
        and isinstance(spec, tf.TensorSpec)
        and spec.dtype != tf.string
    )


def _leaves(head, labels):
    """`[(single head, its labels)]` of numbers-only labels."""
    if isinstance(head, MultiHead):
        return [(h, labels[h.name]) for h in head._heads]
    return [(head, labels)]


def _prepared_spec(head, spec):
    """The `tf.TypeSpec` of `prepare_labels`' result for labels of `spec`."""
    import tensorflow as tf

    if head is None:
        return spec  # An unknown key: prepare_labels raises, naming it.
    if isinstance(head, MultiHead):
        if not isinstance(spec, dict):
            return spec  # prepare_labels raises, naming the heads.
        return {
            key: _prepared_spec(_head_named(head, key), value)
            for key, value in spec.items()
        }
    static = (
        head._static_head if isinstance(head, SequentialHeadWrapper) else head
    )
    if isinstance(spec, tf.SparseTensorSpec):
        if isinstance(head, SequentialHeadWrapper):
            return spec
        rows = spec.shape[:-1]
        return tf.TensorSpec(
            rows.concatenate([head.logits_dimension]), tf.int8
        )
    if not _vocabulary(static):
        return spec
    shape = spec.shape
    if isinstance(head, SequentialHeadWrapper):
        if shape.rank is not None and shape.rank == 2:
            shape = shape.concatenate([1])
    elif shape.rank == 1:
        shape = shape.concatenate([1])
    return tf.TensorSpec(shape, tf.int32)


def _head_named(multi_head, name):
    for head in multi_head._heads:
        if head.name == name:
            return head
    return None


def _holds_sequences(head):
    if isinstance(head, MultiHead):
        return any(_holds_sequences(h) for h in head._heads)
    return isinstance(head, SequentialHeadWrapper)


def _feature_dict(features):
    return features if isinstance(features, dict) else None


def _eager_to_host(value):
    """A tensor from `tf.py_function` as NumPy (a SparseTensor's parts as a
    `SparseTensorValue`)."""
    import tensorflow as tf

    if isinstance(value, tf.SparseTensor):
        return backend.SparseTensorValue(
            value.indices.numpy(), value.values.numpy(),
            value.dense_shape.numpy(),
        )
    return value.numpy() if hasattr(value, "numpy") else value


def _is_tf_dataset(data):
    tf = backend.loaded_tensorflow()
    return tf is not None and isinstance(data, tf.data.Dataset)


def _is_iterator(data):
    return hasattr(data, "__next__") and hasattr(data, "__iter__")


class _PreparedPyDataset(keras.utils.PyDataset):
    """A `PyDataset` whose batches' labels are prepared as they are read.

    It reads the wrapped dataset with threads (its `workers`, never
    processes): the preparation may run backend ops, which a forked worker
    cannot do safely.
    """

    def __init__(self, dataset, prepare_batch):
        super().__init__(
            workers=dataset.workers,
            use_multiprocessing=False,
            max_queue_size=dataset.max_queue_size,
        )
        self._dataset = dataset
        self._prepare_batch = prepare_batch

    @property
    def num_batches(self):
        return self._dataset.num_batches

    def __getitem__(self, index):
        return self._prepare_batch(self._dataset[index])

    def on_epoch_begin(self):
        self._dataset.on_epoch_begin()

    def on_epoch_end(self):
        self._dataset.on_epoch_end()
