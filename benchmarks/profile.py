"""Where a workload's time goes, XLA thunk by thunk: keras_heads against the
hand-written code of the same framework, under that framework's profiler.

    KERAS_BACKEND=jax python -m benchmarks.profile "W1 multi-label C=4096"
    make profile BACKEND=tensorflow WORKLOAD="W1 multi-label C=16"

For each implementation it prints the time of one step (a batch; a train
step for W4; the one call of W5) measured without the profiler, then the
compiled thunks that one step runs under it: microseconds per step, calls
per step, largest first. A thunk is one piece of the compiled program (a
fusion, a scatter, a YNNPACK call); XLA names it after its HLO instruction,
so `XLA_FLAGS=--xla_dump_to=DIR --xla_dump_hlo_as_text` shows what each
computes. The profiler adds its own cost, and XLA runs independent thunks
side by side on the two cores, so a step's thunks can add up to more than
the step: compare thunks with thunks and steps with steps.

For W5 it also prints what one compiled pass over the same input costs as
it does more per logit (`pass_costs`): the read alone, then one
exponential, then the loss's two transcendentals. That ladder is why the
2x-the-NumPy-read target for W5 cannot be met by compiled code on a CPU
like this project's (benchmarks/README.md).
"""

import argparse
import collections
import glob
import gzip
import json
import re
import tempfile

import keras
from keras import ops

from benchmarks import harness
from benchmarks import ours
from benchmarks import workloads

# A loop's or call's own thunk launches thunks that are recorded as well.
_CONTROL_FLOW = re.compile(r"^(while|conditional|call)(\.\d+)?$")

Thunk = collections.namedtuple("Thunk", ["name", "microseconds", "calls"])


def thunk_times(events, steps):
    """`Thunk`s from `(name, microseconds)` thunk events, with time and calls
    divided by `steps`, largest time first."""
    times = collections.Counter()
    calls = collections.Counter()
    for name, microseconds in events:
        times[name] += microseconds
        calls[name] += 1
    return [
        Thunk(name, times[name] / steps, calls[name] / steps)
        for name in sorted(times, key=lambda n: (-times[n], n))
    ]


def total_microseconds(thunks):
    """The time of `thunks` that is not also inside another's (loops)."""
    return sum(
        t.microseconds for t in thunks if not _CONTROL_FLOW.match(t.name)
    )


# Both profilers tag each compiled thunk's event with the HLO instruction it
# runs (`hlo_op`); every other event (Python frames, the runtime's own
# calls) has no such tag.
_HLO_OP = "hlo_op"


def _tensorflow_events(run, calls):
    """`(name, microseconds)` of every thunk that `calls` runs ran."""
    import tensorflow as tf
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        try:
            for _ in range(calls):
                run()
        finally:
            tf.profiler.experimental.stop()
        [path] = glob.glob(f"{logdir}/**/*.xplane.pb", recursive=True)
        space = xplane_pb2.XSpace()
        with open(path, "rb") as file:
            space.ParseFromString(file.read())
    events = []
    for plane in space.planes:
        names = {key: m.name for key, m in plane.event_metadata.items()}
        stats = {key: m.name for key, m in plane.stat_metadata.items()}
        for line in plane.lines:
            events.extend(
                (names[e.metadata_id], e.duration_ps / 1e6)
                for e in line.events
                if any(stats.get(s.metadata_id) == _HLO_OP for s in e.stats)
            )
    return events


def _jax_events(run, calls):
    """`(name, microseconds)` of every thunk that `calls` runs ran."""
    import jax

    with tempfile.TemporaryDirectory() as logdir:
        with jax.profiler.trace(logdir, create_perfetto_trace=True):
            for _ in range(calls):
                run()
        [path] = glob.glob(f"{logdir}/**/*.trace.json.gz", recursive=True)
        with gzip.open(path) as file:
            trace = json.load(file)
    return [
        (e["name"], float(e.get("dur", 0.0)))
        for e in trace["traceEvents"]
        if e.get("ph") == "X" and _HLO_OP in e.get("args", {})
    ]


def _hand_written():
    backend = keras.backend.backend()
    if backend == "tensorflow":
        from benchmarks import handwritten_tf

        return handwritten_tf, _tensorflow_events
    if backend == "jax":
        from benchmarks import handwritten_jax

        return handwritten_jax, _jax_events
    raise SystemExit(
        f"KERAS_BACKEND={backend}: profiles are of XLA-compiled code; use "
        "tensorflow or jax."
    )


def _steps(workload):
    return 1 if workload.kind == "loss_floor" else workload.batches


def profile(workload, modules, events, repetitions=5):
    """`{label: (microseconds per step, [Thunk])}` for each implementation
    module: steps timed without the profiler (repetitions alternating
    between the implementations, as in `make bench`), then one repetition
    (five for W5's single call) under it."""
    runs = {module.LABEL: module.build(workload) for module in modules}
    timed = harness.measure_together(runs, repetitions)
    steps = _steps(workload)
    calls = 1 if steps > 1 else 5
    profiles = {}
    for label, run in runs.items():
        harness.reset(run)
        profiles[label] = (
            timed[label]["seconds"] * 1e6 / steps,
            thunk_times(events(run, calls), steps * calls),
        )
    return profiles


def thunk_table(label, step, thunks, rows=12):
    """Lines: one implementation's step and its largest `rows` thunks."""
    shown, rest = thunks[:rows], thunks[rows:]
    total = total_microseconds(thunks)
    lines = [
        f"  {label}: {step:,.1f} us a step unprofiled; under the profiler "
        f"its thunks {total:,.1f} us ({sum(t.calls for t in thunks):.0f} "
        f"calls)",
    ]
    for t in shown:
        share = "" if _CONTROL_FLOW.match(t.name) else (
            f"{100 * t.microseconds / total:5.1f}%" if total else ""
        )
        lines.append(
            f"    {t.name:36s}{t.microseconds:>11,.1f}{t.calls:>8.1f}"
            f"{share:>8s}"
        )
    if rest:
        lines.append(
            f"    {f'({len(rest)} more)':36s}"
            f"{total_microseconds(rest):>11,.1f}"
            f"{sum(t.calls for t in rest):>8.1f}"
        )
    return lines


def pass_costs(workload, repetitions=5):
    """`[(what, seconds)]`: one compiled pass over W5's input as it does
    more per logit, with NumPy's plain read first. Every pass reads both the
    logits and the labels, as the loss must."""
    logits_np, labels_np = workloads.loss_floor_data(workload)
    logits = ops.convert_to_tensor(logits_np)
    labels = ops.convert_to_tensor(labels_np)

    def row_means(per_logit):
        # The loss's shape of reduction: a mean per example, then their sum.
        return lambda x, z: ops.sum(
            ops.mean(per_logit(x) + ops.cast(z, "float32"), axis=-1)
        )

    passes = {
        "compiled: the logits and labels summed": row_means(lambda x: x),
        "compiled: exp(-|x|), one transcendental a logit": row_means(
            lambda x: ops.exp(-ops.abs(x))
        ),
        "compiled: log1p(exp(-|x|)), the loss's two": row_means(
            lambda x: ops.log1p(ops.exp(-ops.abs(x)))
        ),
    }
    runs = {
        what: lambda compiled=ours._compile(function): {
            "value": float(compiled(logits, labels))
        }
        for what, function in passes.items()
    }
    timed = harness.measure_together(runs, repetitions)
    return [(
        "NumPy: read every byte once",
        workloads.numpy_read_seconds((logits_np, labels_np), repetitions),
    )] + [(what, timed[what]["seconds"]) for what in passes]


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "workloads", nargs="*", default=["W1 multi-label C=4096"],
        help=f"any of: {', '.join(workloads.WORKLOADS)}",
    )
    parser.add_argument("--rows", type=int, default=12)
    args = parser.parse_args(argv)
    unknown = [w for w in args.workloads if w not in workloads.WORKLOADS]
    if unknown:
        parser.error(
            f"workloads: expected names from {list(workloads.WORKLOADS)}; "
            f"received {unknown}."
        )
    hand, events = _hand_written()
    backend = keras.backend.backend()
    for name in args.workloads:
        workload = workloads.WORKLOADS[name]
        print(f"\n{name} on {backend}: microseconds per step")
        profiles = profile(workload, (ours, hand), events)
        for label, (step, thunks) in profiles.items():
            print("\n".join(thunk_table(label, step, thunks, args.rows)))
        if workload.kind == "loss_floor":
            costs = pass_costs(workload)
            floor = costs[0][1]
            print("\n  One pass over the same input (logits and labels)")
            for what, seconds in costs:
                print(
                    f"    {what:52s}{seconds * 1e3:>8.1f} ms"
                    f"{seconds / floor:>7.2f}x"
                )


if __name__ == "__main__":
    main()
