"""User-supplied unreduced loss functions (`loss_fn=`)."""

import functools
import inspect

from keras import ops

_OPTIONAL_ARGS = ("features", "loss_reduction")


def _named_positional_args(fn):
    """Names a caller may pass by position: no `*args`, `**kwargs`, bound or
    keyword-only parameters."""
    if isinstance(fn, functools.partial):
        bound = set(fn.keywords or {})
        names = _named_positional_args(fn.func)[len(fn.args):]
        return tuple(n for n in names if n not in bound)
    positional = (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
    )
    return tuple(
        p.name
        for p in inspect.signature(fn).parameters.values()
        if p.kind in positional
    )


def validate_loss_fn(loss_fn):
    """Checks `loss_fn` takes `labels` and `logits` (and maybe `features`).

    Returns its argument names.
    """
    args = _named_positional_args(loss_fn)
    for required in ("labels", "logits"):
        if required not in args:
            raise ValueError(
                f"loss_fn must contain argument: {required}. Given arguments: "
                f"{args}"
            )
    unexpected = [a for a in args if a not in ("labels", "logits", *_OPTIONAL_ARGS)]
    if unexpected:
        raise ValueError(
            f"loss_fn has unexpected args: {unexpected}. A loss_fn takes "
            "labels, logits and optionally features."
        )
    return args


def call_loss_fn(loss_fn, args, labels, logits, features, expected_dimension):
    """Calls `loss_fn` and checks it returned `[D0..DN, expected_dimension]`."""
    kwargs = {"labels": labels, "logits": logits}
    if "features" in args:
        kwargs["features"] = features
    loss = ops.cast(ops.convert_to_tensor(loss_fn(**kwargs)), "float32")
    logits_shape, loss_shape = tuple(logits.shape), tuple(loss.shape)
    expected = logits_shape[:-1] + (expected_dimension,)
    if len(loss_shape) != len(expected) or any(
        a is not None and b is not None and a != b
        for a, b in zip(loss_shape, expected)
    ):
        raise ValueError(
            "loss_fn must return Tensor of shape [D0, D1, ... DN, "
            f"{expected_dimension}]. logits_shape: {logits_shape}. "
            f"loss_shape: {loss_shape}."
        )
    return loss
