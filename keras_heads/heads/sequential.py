"""`SequentialHeadWrapper`: a single head applied to the real steps of
padded sequences.

The wrapper owns no objective of its own. It *flattens* `[batch, time, ...]`
inputs to `[n, ...]`, keeping the `n` steps its mask marks as real, and hands
them to the wrapped ("static") head as an ordinary batch of `n` examples.
"""

import collections.abc
import math

from keras import ops

from keras_heads import backend
from keras_heads.heads.base import Head
from keras_heads.heads.config import register
from keras_heads.heads.multi_head import MultiHead
from keras_heads.keys import ModeKeys

_INCOMPATIBLE = "Tensor shape is incompatible with provided mask."


@register
class SequentialHeadWrapper(Head):
    """Applies a single ("static") head to the unpadded steps of sequences.

    Logits of shape `[B, T, ...]` come with a `[B, T]` mask feature (int or
    bool) marking the real steps. In `loss`, `update_metrics` and
    `create_estimator_spec` in TRAIN and EVAL mode, the logits, the labels
    and the features named in `feature_columns` are flattened: the
    `n = sum(mask)` real steps become `n` rows, in row-major `(b, t)` order,
    and a `[B, T]` tensor becomes `[n, 1]`. Sparse labels or features are
    not masked: their entries, sorted into row-major order, must be exactly
    the real steps. Only the `feature_columns` features reach the static
    head, so list its weight column there.

    In PREDICT mode nothing is flattened: the static head predicts on all
    `[B, T, ...]` logits and the mask is added to the predictions under its
    key. `predictions()` and `metrics()` are the static head's.

    `loss(logits, labels, ...)` takes the logits first, unlike the other
    heads (as in the reference): pass them by keyword.

    `n` depends on the mask's values: flattening runs eagerly, inside
    `tf.function` (with or without XLA on the CPU) and under `torch.compile`,
    which breaks its graph there. `jax.jit` needs every shape static, so
    there it raises a `ValueError`; call the head outside `jax.jit`.

    Args:
      static_head: the head to apply to each real step; any head but a
        `MultiHead`.
      sequence_length_mask: the key of the `[B, T]` mask in `features`.
      feature_columns: a feature key, or a list of them: the features to
        flatten and pass to the static head (typically its weight column).

    Example:

    >>> head = keras_heads.SequentialHeadWrapper(
    ...     keras_heads.BinaryClassHead(weight_column="w"),
    ...     sequence_length_mask="mask", feature_columns="w")
    >>> logits = np.array([[[2.0], [-1.0]], [[0.5], [9.0]]], "float32")
    >>> labels = np.array([[1, 0], [1, 0]])
    >>> features = {"mask": np.array([[1, 1], [1, 0]]),   # 3 real steps
    ...             "w": np.array([[1.0, 1.0], [2.0, 0.0]], "float32")}
    >>> loss = head.loss(logits=logits, labels=labels, features=features)
    >>> round(float(loss), 4)  # the padded step (logit 9.0) is ignored
    0.4628
    >>> spec = head.create_estimator_spec(
    ...     features, keras_heads.ModeKeys.PREDICT, logits)
    >>> spec.predictions["mask"]
    array([[1, 1],
           [1, 0]])
    """

    def __init__(self, static_head, sequence_length_mask="sequence_length_mask",
                 feature_columns=None):
        if not isinstance(sequence_length_mask, str):
            raise TypeError(
                "`sequence_mask` column must be a string. Given type: "
                f"{type(sequence_length_mask)}. sequence_length_mask is the "
                "key of the [batch_size, max_time] mask in features."
            )
        feature_columns = feature_columns or []  # None, "" or []: no columns
        if isinstance(feature_columns, str):
            feature_columns = [feature_columns]
        elif not isinstance(feature_columns, collections.abc.Iterable):
            raise TypeError(
                "`feature_columns` must be either a string or an iterable of "
                f"strings got {type(feature_columns)} instead."
            )
        feature_columns = list(feature_columns)
        for column in feature_columns:
            if not isinstance(column, str):
                raise TypeError(
                    f"Column must a string. Given type: {type(column)}. "
                    "feature_columns must hold feature keys; got "
                    f"{feature_columns!r}."
                )
        if isinstance(static_head, MultiHead):
            raise ValueError(
                "`MultiHead` is not supported with `SequentialHeadWrapper`. "
                "static_head must be a single head."
            )
        self._static_head = static_head
        self._sequence_length_mask = sequence_length_mask
        self._feature_columns = feature_columns

    # --- properties ----------------------------------------------------------

    @property
    def static_head(self):
        """The wrapped head."""
        return self._static_head

    @property
    def input_sequence_mask_key(self):
        """The key of the `[batch_size, max_time]` mask in `features`."""
        return self._sequence_length_mask

    @property
    def name(self):
        """`"<static head name>_sequential"`, or None for an unnamed head."""
        if self._static_head.name:
            return f"{self._static_head.name}_sequential"
        return None

    def _arguments(self):
        return {
            "static_head": self._static_head,
            "sequence_length_mask": self._sequence_length_mask,
            "feature_columns": list(self._feature_columns),
        }

    @property
    def logits_dimension(self):
        return self._static_head.logits_dimension

    @property
    def loss_reduction(self):
        return self._static_head.loss_reduction

    # --- flattening ----------------------------------------------------------

    def _mask(self, features):
        key = self._sequence_length_mask
        if key not in features:
            raise ValueError(
                f"The provided sequence_length_mask key `{key}` should be "
                "included in the features dictionary, but was not found. "
                f"Found keys: {list(features)}."
            )
        return features[key]

    def _flatten(self, logits, labels, features):
        """`(flat_logits, flat_labels, flat_features)`: the real steps only.

        `labels=None` stays None (the static head then says labels are
        missing).
        """
        features = {} if features is None else features
        key = self._sequence_length_mask
        mask = ops.convert_to_tensor(self._mask(features))
        if len(mask.shape) != 2:
            raise ValueError(
                "Mask is expected to have two dimensions, got "
                f"{len(mask.shape)} instead. The mask feature {key!r} must "
                f"have shape [batch_size, max_time]; got {tuple(mask.shape)}."
            )
        steps = _Steps(mask, key)
        flat_logits = steps.flatten(logits, "logits")
        flat_labels = (
            None if labels is None else steps.flatten(labels, "labels")
        )
        flat_features = {}
        for column in self._feature_columns:
            if column not in features:
                raise ValueError(
                    f"`{column}` column expected in features dictionary. It "
                    f"is listed in feature_columns={self._feature_columns}; "
                    f"found keys: {list(features)}."
                )
            flat_features[column] = steps.flatten(
                features[column], f"feature {column!r}"
            )
        return flat_logits, flat_labels, flat_features

    # --- the head ------------------------------------------------------------

    def loss(self, logits, labels, features=None, mode=None,
             regularization_losses=None):
        """The static head's loss on the real steps. Note: logits first."""
        flat_logits, flat_labels, flat_features = self._flatten(
            logits, labels, features
        )
        return self._static_head.loss(
            logits=flat_logits, labels=flat_labels, features=flat_features,
            mode=mode, regularization_losses=regularization_losses,
        )

    def _loss_terms(self, labels, logits, features, mode=None):
        flat_logits, flat_labels, flat_features = self._flatten(
            logits, labels, features
        )
        return self._static_head._loss_terms(
            flat_labels, flat_logits, flat_features, mode
        )

    def predictions(self, logits, keys=None):
        """The static head's predictions of all `[B, T, ...]` logits."""
        if keys is None:
            return self._static_head.predictions(logits)
        return self._static_head.predictions(logits, keys=keys)

    def metrics(self, regularization_losses=None):
        """The static head's metrics."""
        return self._static_head.metrics(regularization_losses)

    def update_metrics(self, eval_metrics, features, logits, labels,
                       regularization_losses=None, mode=None):
        """Updates the static head's metrics with the real steps."""
        flat_logits, flat_labels, flat_features = self._flatten(
            logits, labels, features
        )
        return self._static_head.update_metrics(
            eval_metrics, flat_features, flat_logits, flat_labels,
            regularization_losses=regularization_losses, mode=mode,
        )

    def create_estimator_spec(self, features, mode, logits, labels=None,
                              optimizer=None, trainable_variables=None,
                              train_op_fn=None, update_ops=None,
                              regularization_losses=None):
        """The static head's spec; PREDICT adds the mask to the predictions.

        TRAIN and EVAL run on the real steps (flattened). PREDICT runs on all
        `[B, T, ...]` logits; the export outputs do not contain the mask.
        """
        if mode == ModeKeys.PREDICT:
            spec = self._static_head.create_estimator_spec(
                features=features, mode=mode, logits=logits
            )
            predictions = dict(spec.predictions)
            predictions[self._sequence_length_mask] = self._mask(
                {} if features is None else features
            )
            return spec._replace(predictions=predictions)
        flat_logits, flat_labels, flat_features = self._flatten(
            logits, labels, features
        )
        return self._static_head.create_estimator_spec(
            features=flat_features, mode=mode, logits=flat_logits,
            labels=flat_labels, optimizer=optimizer,
            trainable_variables=trainable_variables, train_op_fn=train_op_fn,
            update_ops=update_ops, regularization_losses=regularization_losses,
        )


class _Steps:
    """The real steps of a `[B, T]` mask, and flattening by them."""

    def __init__(self, mask, key):
        self.mask_shape = tuple(mask.shape)
        self.key = key
        self.count = ops.sum(ops.cast(mask, "int32"))
        self.known = not backend.is_traced(self.count)
        # Positions of the real steps in the row-major [B * T] mask.
        self.positions = backend.nonzero(
            ops.reshape(mask, (-1,)),
            f"SequentialHeadWrapper cannot flatten by a traced mask {key!r} "
            "inside jax.jit (or another JAX transformation): the number of "
            "real steps it marks is a data-dependent shape, which JAX cannot "
            "compile. Call the head outside jax.jit, or pad and weight the "
            "steps yourself and use the static head directly.",
        )

    def flatten(self, x, what):
        """`x`, dense or sparse `[B, T, r...]`, as `[n, r...]` (`[n, 1]`)."""
        if backend.is_sparse(x):
            indices, values, shape = backend.sparse_components(x)
            rank = len(shape)
            self._check_rank(rank, what)
            flat = self._flatten_sparse(indices, values, shape, what)
        else:
            x = _dense(x)
            rank = len(x.shape)
            self._check_rank(rank, what)
            self._check_leading_shape(tuple(x.shape), what)
            flat = backend.take_rows(x, self.positions, row_rank=2)
            self._check_rows(flat, what)
        if rank == 2:
            flat = backend.expand_dims(flat, -1)
        return flat

    def _flatten_sparse(self, indices, values, shape, what):
        # Entries in row-major order, grouped per step: [n, r...].
        per_step = math.prod(shape[2:])
        nnz = indices.shape[0]
        if self.known and nnz is not None:
            n = int(self.count)
            if nnz != n * per_step:
                raise ValueError(
                    f"{_INCOMPATIBLE} {what} is sparse with {nnz} entries; "
                    f"the mask {self.key!r} marks {n} real steps, so "
                    f"{n * per_step} entries ({per_step} per step) were "
                    "expected. A sparse tensor must hold exactly the real "
                    "steps."
                )
        order = ops.reshape(_row_major_order(indices), (-1,) + shape[2:])
        return backend.take_rows(values, order)

    def _check_rank(self, rank, what):
        if rank < 2:
            raise ValueError(
                "Input tensor expected to have at least 2 dimensions, got "
                f"{rank} instead. {what} must have shape [batch_size, "
                f"max_time, ...] like the mask {self.key!r} "
                f"{list(self.mask_shape)}."
            )

    def _check_leading_shape(self, shape, what):
        for got, want in zip(shape[:2], self.mask_shape):
            if got is not None and want is not None and got != want:
                raise ValueError(
                    f"{_INCOMPATIBLE} {what} has shape {list(shape)}; its "
                    "first two dimensions must be the shape of the mask "
                    f"{self.key!r}, {list(self.mask_shape)}."
                )

    def _check_rows(self, flat, what):
        rows = flat.shape[0]
        if self.known and rows is not None and rows != int(self.count):
            raise ValueError(
                f"{_INCOMPATIBLE} The mask {self.key!r} sums to "
                f"{int(self.count)} but has {rows} non-zero steps (flattening "
                f"{what}); it must hold only 0 and 1, or booleans."
            )


def _dense(x):
    if backend.is_string(x):
        return backend.convert_strings(x)
    return ops.convert_to_tensor(x)


def _row_major_order(indices):
    """The permutation that sorts `[nnz, rank]` sparse indices row-major."""
    indices = ops.cast(indices, backend.int64())
    # Any extents larger than every index give the row-major order.
    extents = ops.max(indices, axis=0, initial=0) + 1
    suffix_sizes = ops.flip(ops.cumprod(ops.flip(extents)))
    strides = ops.concatenate([suffix_sizes[1:], ops.ones((1,), backend.int64())])
    return ops.argsort(ops.sum(indices * strides, axis=1))
