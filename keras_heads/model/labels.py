"""Class-name labels for compiled steps that cannot hold strings.

JAX and PyTorch tensors hold no strings, so on those backends a
`HeadModel` looks class names up on the host, before the batch enters the
compiled step, and trains a twin of its head that takes the looked-up labels
(`label_id_head`): the same head without its `label_vocabulary`. Loss and
metrics are unchanged, since a vocabulary only maps names to ids.
"""

import numpy as np
from keras import ops

from keras_heads import backend
from keras_heads.heads.base import Head
from keras_heads.heads.multi_head import MultiHead
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


def host_label_ids(head, labels):
    """In-memory `labels` with class names replaced by what `label_id_head`
    takes: class ids (multi-hot rows for a `MultiLabelHead`).

    Unknown class names raise the head's own error, naming them.
    """
    if labels is None or not has_vocabulary(head):
        return labels
    if isinstance(head, MultiHead):
        if not isinstance(labels, dict):
            raise ValueError(
                "labels must be a dict keyed by head name "
                f"{[h.name for h in head._heads]}; got {type(labels)}."
            )
        return {
            name: host_label_ids(_head_named(head, name), value)
            for name, value in labels.items()
        }
    if isinstance(head, SequentialHeadWrapper):
        raise ValueError(
            f"On the {backend.name()} backend a SequentialHeadWrapper cannot "
            "train on class names (its static head has a label_vocabulary): "
            "give class ids, and a static head without label_vocabulary."
        )
    if not (backend.is_string(labels) or backend.is_sparse(labels)):
        return labels  # Already ids; the twin head checks them.
    rows = _rows(labels)
    logits = ops.zeros((rows, head.logits_dimension))
    return ops.convert_to_numpy(head._processed_labels(logits, labels))


def _head_named(multi_head, name):
    for head in multi_head._heads:
        if head.name == name:
            return head
    raise ValueError(
        f"labels has a key {name!r} that is no head's name; heads: "
        f"{[h.name for h in multi_head._heads]}."
    )


def _rows(labels):
    if backend.is_sparse(labels):
        return int(backend.sparse_components(labels)[2][0])
    return len(np.asarray(labels))
