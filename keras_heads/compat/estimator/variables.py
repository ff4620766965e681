"""Variables that outlive the `model_fn` call that created them.

A TF1 Estimator built a fresh graph for each `train`, `evaluate` and
`predict` and restored the variables by name from the last checkpoint, so a
`model_fn` could create its layers on every call. TensorFlow 2 has no such
graphs: a layer built inside a traced function would create new variables
on every trace. `VariableStore` restores the old contract without graphs.
While a `model_fn` runs inside `store.scope()`, every variable it asks for
(a Keras layer's kernel, an optimizer slot, a `tf.compat.v1` variable) is
looked up by a *key* and the variable already made for that key is handed
back; only a key seen for the first time creates a variable.

A key is the variable's name with Keras' automatic numbering removed
(`dense_3_kernel_momentum` and `dense_kernel_momentum` are one name),
followed by its rank among the variables of that name in the call:
`kernel`, `bias`, `kernel_1`, `bias_1` for two dense layers. This is the
rule of `tf.compat.v1.make_template`: a `model_fn` must create its variables
in the same order on every call, in every mode (which the usual
"build the network, then hand its logits to the head" code does).

Inside the scope the TF1 graph collections that old `model_fn` code reads
are filled in: `TRAINABLE_VARIABLES` (what a `tf.compat.v1` optimizer's
`minimize` trains) and `GLOBAL_STEP`
(`tf.compat.v1.train.get_global_step()`).
"""

import collections
import contextlib
import re

import tensorflow as tf

# Keras numbers the layers it names automatically (`dense`, `dense_1`, ...)
# across calls; the store must not see those numbers.
_AUTO_NUMBER = re.compile(r"_\d+(?=_|/|$)")


def variable_key(name, rank):
    """The store's key of the `rank`-th variable called `name` in a call.

    >>> variable_key("dense_3/kernel:0", 0), variable_key("kernel", 1)
    ('dense/kernel', 'kernel_1')
    >>> variable_key("dense/kernel/Adagrad/", 1)
    'dense/kernel/Adagrad_1'
    """
    # TF1 slot variables are named after their scope: `dense/kernel/Adagrad/`.
    base = (name or "Variable").split(":")[0].rstrip("/")
    base = _AUTO_NUMBER.sub("", base)
    return base if rank == 0 else f"{base}_{rank}"


class VariableStore:
    """The variables of one `Estimator`, keyed as the module docstring says.

    Example (TensorFlow only, so not run as a doctest):

        store = VariableStore()
        with store.scope():
            first = keras.layers.Dense(2)(x)
        with store.scope():
            again = keras.layers.Dense(2)(x)   # the same kernel and bias
    """

    def __init__(self):
        self._variables = {}
        self._local_keys = set()
        self._ranks = None
        self._global_step = None

    @property
    def variables(self):
        """`{key: tf.Variable}`, in creation order."""
        return dict(self._variables)

    def persistent_variables(self):
        """The variables a checkpoint holds: all but metric state."""
        return {
            key: variable
            for key, variable in self._variables.items()
            if key not in self._local_keys
        }

    def trainable_variables(self):
        return [v for v in self._variables.values() if v.trainable]

    def mark_local(self, variables):
        """Excludes `variables` (e.g. metric accumulators) from checkpoints."""
        ids = {id(_unwrap(v)) for v in variables}
        self._local_keys.update(
            key for key, v in self._variables.items() if id(v) in ids
        )

    @contextlib.contextmanager
    def scope(self, global_step=None):
        """Routes variable creation through the store, for one call.

        The TF1 collections hold exactly this call's variables (and the
        global step) while it runs: a traced graph writes its variable
        collections through to the process-wide graph, so they are emptied
        on entry and given back on exit.
        """
        self._ranks = collections.Counter()
        with _own_collections(_COLLECTIONS):
            if global_step is not None:
                _add_to_collection(
                    tf.compat.v1.GraphKeys.GLOBAL_STEP, global_step
                )
            try:
                with tf.variable_creator_scope(self._create):
                    yield self
            finally:
                self._ranks = None

    def _create(self, next_creator, **kwargs):
        name = kwargs.get("name")
        name = variable_key(name, 0)
        key = variable_key(name, self._ranks[name])
        self._ranks[name] += 1
        variable = self._variables.get(key)
        if variable is None:
            variable = next_creator(**kwargs)
            self._variables[key] = variable
        else:
            _check_compatible(key, variable, kwargs)
        if variable.trainable:
            _add_to_collection(
                tf.compat.v1.GraphKeys.TRAINABLE_VARIABLES, variable
            )
        return variable


_COLLECTIONS = (
    tf.compat.v1.GraphKeys.TRAINABLE_VARIABLES,
    tf.compat.v1.GraphKeys.GLOBAL_STEP,
    tf.compat.v1.GraphKeys.UPDATE_OPS,
)


@contextlib.contextmanager
def _own_collections(names):
    """Empties the collections `names` of the current graph, and restores
    them on exit."""
    if tf.executing_eagerly():
        yield
        return
    graph = tf.compat.v1.get_default_graph()
    saved = {name: list(graph.get_collection(name)) for name in names}
    for name in names:
        graph.clear_collection(name)
    try:
        yield
    finally:
        for name, items in saved.items():
            graph.clear_collection(name)
            for item in items:
                graph.add_to_collection(name, item)


def _unwrap(variable):
    """The `tf.Variable` behind a Keras variable (or the variable itself)."""
    return getattr(variable, "_value", variable)


def _add_to_collection(name, value):
    if tf.executing_eagerly():  # only a traced graph has collections
        return
    graph = tf.compat.v1.get_default_graph()
    if not any(item is value for item in graph.get_collection(name)):
        graph.add_to_collection(name, value)


def _check_compatible(key, variable, kwargs):
    shape = kwargs.get("shape")
    initial = kwargs.get("initial_value")
    if shape is None and callable(initial):
        # Keras passes its initializer as a function; evaluate it eagerly
        # (once per trace) rather than as an op of the traced step.
        with tf.init_scope():
            initial = initial()
    if shape is None and initial is not None:
        shape = getattr(initial, "shape", None)
    if shape is not None and not variable.shape.is_compatible_with(shape):
        raise ValueError(
            f"model_fn created the variable {key!r} with shape "
            f"{tuple(tf.TensorShape(shape))}, but an earlier call created it "
            f"with shape {tuple(variable.shape)}. A model_fn must create the "
            "same variables, in the same order, on every call."
        )
