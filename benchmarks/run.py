"""Runs every implementation over the workloads and prints one table.

    python -m benchmarks.run                 # everything but the reference
    python -m benchmarks.run --table-only    # reprint from benchmarks/results

keras_heads and the hand-written code of the same framework run in one
process (see `benchmarks.worker`), their repetitions alternating; each
framework's process runs after the other, and every implementation writes
`benchmarks/results/<name>.json`. The reference
runs in its own virtualenv (`make bench-reference`); its results, when
present, join the table. Rates are medians over the repetitions; "vs hand"
is keras_heads' time over the hand-written time on the same framework (1.00
means the same speed), "x ref" how many times faster than the reference.
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys

from benchmarks import workloads
from benchmarks.workloads import REPETITIONS

RESULTS = pathlib.Path(__file__).parent / "results"

# XLA on CPU (jaxlib 0.10) hands elementwise-and-reduce fusions to YNNPACK,
# which runs exp/log over `[N, 1]` arrays up to 10x slower than XLA's own
# loops; this flag turns that off (see README.md, "Where the time goes").
NO_YNN = {
    "XLA_FLAGS": "--xla_cpu_experimental_ynn_fusion_type=",
    "BENCH_VARIANT": "no YNN",
}

# (results file, worker argument, KERAS_BACKEND, framework for "vs hand",
# extra environment)
IMPLEMENTATIONS = {
    "keras_heads-tensorflow": ("keras_heads", "tensorflow", "tf", {}),
    "handwritten-tensorflow": ("tensorflow", None, "tf", {}),
    "keras_heads-jax": ("keras_heads", "jax", "jax", {}),
    "handwritten-jax": ("jax", None, "jax", {}),
    "keras_heads-jax-no-ynn": ("keras_heads", "jax", "jax-no-ynn", NO_YNN),
    "handwritten-jax-no-ynn": ("jax", None, "jax-no-ynn", NO_YNN),
    "keras_heads-torch": ("keras_heads", "torch", "torch", {}),
}
# PyTorch runs eagerly (Keras' metrics and optimizer are eager there) and
# takes minutes a repetition on the larger workloads: opt in by naming it.
DEFAULT = [name for name in IMPLEMENTATIONS if not name.endswith("torch")]
REFERENCE = "reference"  # graph mode, as Estimator ran: the "x ref" basis
REFERENCE_XLA = "reference-xla"  # the same compiled with XLA, where it can be

# Values agree when |a - b| <= ATOL + RTOL |b|; training drifts more after
# 50 Adam steps in float32.
RTOL, ATOL, TRAIN_RTOL = 1e-4, 1e-5, 2e-3


def run_worker(names, repetitions, selected):
    """Runs `names` (implementations of one framework) in one worker process,
    their repetitions alternating."""
    specs = [IMPLEMENTATIONS[name] for name in names]
    RESULTS.mkdir(exist_ok=True)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **specs[0][3])
    backends = {backend for _, backend, _, _ in specs if backend}
    if backends:
        (env["KERAS_BACKEND"],) = backends
    command = [
        sys.executable, "-m", "benchmarks.worker",
        *(worker for worker, _, _, _ in specs),
        "--out", *(str(RESULTS / f"{name}.json") for name in names),
        "--repetitions", str(repetitions),
    ]
    if selected:
        command += ["--workloads", *selected]
    print(f"running {' + '.join(names)} ...", flush=True)
    log_name = "+".join(names)
    with open(RESULTS / f"{log_name}.log", "w") as log:
        subprocess.run(command, env=env, stderr=log, check=True)


def by_framework(names):
    """`names` grouped by framework (keras_heads with the hand-written code
    it is compared with), in order."""
    groups = {}
    for name in names:
        groups.setdefault(IMPLEMENTATIONS[name][2], []).append(name)
    return list(groups.values())


def load_results():
    loaded = {}
    for path in sorted(RESULTS.glob("*.json")):
        loaded[path.stem] = json.loads(path.read_text())
    return loaded


def _rate(workload, seconds):
    rate = workload.items / seconds
    if rate >= 1e6:
        return f"{rate / 1e6:.2f}M"
    if rate >= 1e3:
        return f"{rate / 1e3:.1f}k"
    return f"{rate:.1f}"


def _disagreement(values, expected, rtol):
    """The largest |a - b| / (ATOL / RTOL + |b|) over shared keys, scaled so
    that 1.0 is the tolerance; None when nothing is shared."""
    shared = [k for k in values if k in expected]
    if not shared:
        return None
    return max(
        abs(values[k] - expected[k]) / (ATOL + rtol * abs(expected[k]))
        for k in shared
    )


def table(results):
    order = [
        n for n in (*IMPLEMENTATIONS, REFERENCE, REFERENCE_XLA)
        if n in results
    ]
    lines = []
    header = (
        f"{'':38s}{'rate/s':>10s}{'median s':>10s}{'compile s':>10s}"
        f"{'peak MiB':>10s}{'vs hand':>9s}{'x ref':>8s}{'x ref XLA':>11s}"
        "  values"
    )
    for name, workload in workloads.WORKLOADS.items():
        rows = {
            n: results[n]["results"][name]
            for n in order
            if name in results[n]["results"]
        }
        if not rows:
            continue
        lines += ["", f"{name} ({workload.unit})", header]
        baseline_name = REFERENCE if REFERENCE in rows else order[0]
        baseline = rows.get(baseline_name, {}).get("values", {})
        rtol = TRAIN_RTOL if workload.kind == "train" else RTOL
        for n, row in rows.items():
            label = results[n]["implementation"]
            if "error" in row:
                lines.append(f"  {label:36s}ERROR {row['error'][:70]}")
                continue
            seconds = row["seconds"]
            hand = _hand_written(n, name, results)
            versus_hand = f"{seconds / hand:.2f}" if hand else ""
            times_ref = _speedup(rows, REFERENCE, n, seconds)
            times_ref_xla = _speedup(rows, REFERENCE_XLA, n, seconds)
            if n == baseline_name:
                check = "(baseline)"
            else:
                d = _disagreement(row["values"], baseline, rtol)
                check = "n/a" if d is None else (
                    "agree" if d <= 1 else f"DIFFER ({d:.1f}x tol)"
                )
            peak = row.get("peak_mib")
            lines.append(
                f"  {label:36s}{_rate(workload, seconds):>10s}"
                f"{seconds:>10.4f}{row['compile_seconds']:>10.2f}"
                f"{'' if peak is None else f'{peak:.1f}':>10s}"
                f"{versus_hand:>9s}{times_ref:>8s}{times_ref_xla:>11s}  {check}"
            )
        floor = _read_floor(rows.values())
        if floor:
            lines.append(_floor_line(rows, results, floor))
    return "\n".join(lines)


def _read_floor(rows):
    """The fastest NumPy read of W5's input that any process measured."""
    floors = [r["numpy_read_seconds"] for r in rows if "numpy_read_seconds" in r]
    return min(floors) if floors else None


def _seconds(results, name, workload_name):
    row = results.get(name, {}).get("results", {}).get(workload_name, {})
    return row.get("seconds")


def targets(results):
    """The issue's targets, each with its measured value and a verdict."""
    lines = ["", "Targets (ratios of medians)"]

    def check(what, value, limit, at_most=True):
        if value is None:
            lines.append(f"  {what}: not measured")
            return
        ok = value <= limit if at_most else value >= limit
        sign = "<=" if at_most else ">="
        lines.append(
            f"  {'met ' if ok else 'MISS'} {what}: {value:.2f} ({sign} {limit})"
        )

    for name in workloads.WORKLOADS:
        limit = 1.05 if name.startswith("W4") else 1.3
        if name.startswith("W5"):
            continue
        for ours, hand, label in (
            ("keras_heads-tensorflow", "handwritten-tensorflow", "TF-XLA"),
            ("keras_heads-jax", "handwritten-jax", "JAX"),
        ):
            a, b = _seconds(results, ours, name), _seconds(results, hand, name)
            check(
                f"{name}, keras_heads / hand-written, {label}",
                a / b if a and b else None, limit,
            )
    for name in workloads.WORKLOADS:
        if not (name.startswith("W3") or name in (
            "W1 multi-label C=256", "W1 multi-label C=4096"
        )):
            continue
        ref = _seconds(results, REFERENCE, name)
        best = min(
            (t for t in (
                _seconds(results, "keras_heads-tensorflow", name),
                _seconds(results, "keras_heads-jax", name),
            ) if t),
            default=None,
        )
        check(
            f"{name}, keras_heads (fastest backend) x the reference",
            ref / best if ref and best else None, 5.0, at_most=False,
        )
    name = "W5 multi-label loss"
    rows = {
        n: r["results"][name] for n, r in results.items()
        if n.startswith("keras_heads") and "seconds" in r["results"].get(name, {})
    }
    if rows:
        best = min(rows.values(), key=lambda r: r["seconds"])
        floor = _read_floor(
            r["results"].get(name, {}) for r in results.values()
        )
        check(
            "W5, fastest keras_heads / NumPy read floor",
            best["seconds"] / floor, 2.0,
        )
        check(
            "W5, peak memory / input",
            (best["input_mib"] + max(best["peak_mib"] or 0.0, 0.0))
            / best["input_mib"], 2.5,
        )
    return "\n".join(lines)


def _speedup(rows, reference, name, seconds):
    ref = rows.get(reference, {}).get("seconds")
    if not ref or not name.startswith("keras_heads"):
        return ""
    return f"{ref / seconds:.1f}"


def _hand_written(name, workload_name, results):
    if not name.startswith("keras_heads"):
        return None
    framework = IMPLEMENTATIONS[name][2]
    for other, (_, _, fw, _) in IMPLEMENTATIONS.items():
        if other.startswith("handwritten") and fw == framework:
            row = results.get(other, {}).get("results", {}).get(workload_name)
            if row and "seconds" in row:
                return row["seconds"]
    return None


def _floor_line(rows, results, floor):
    ours = {
        n: r for n, r in rows.items()
        if n.startswith("keras_heads") and "seconds" in r
    }
    if not ours:
        return f"  NumPy read floor {floor * 1e3:.1f} ms"
    best = min(ours, key=lambda n: ours[n]["seconds"])
    row = ours[best]
    memory = (row["input_mib"] + max(row["peak_mib"] or 0.0, 0.0)) / row[
        "input_mib"
    ]
    return (
        f"  NumPy read of the same {row['input_mib']:.0f} MiB: "
        f"{floor * 1e3:.1f} ms; fastest keras_heads "
        f"({results[best]['implementation']}) is {row['seconds'] / floor:.2f}x "
        f"that floor, peak memory {memory:.2f}x the input"
    )


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--repetitions", type=int, default=REPETITIONS)
    parser.add_argument("--workloads", nargs="*")
    parser.add_argument(
        "--implementations", nargs="*", choices=sorted(IMPLEMENTATIONS)
    )
    parser.add_argument("--table-only", action="store_true")
    args = parser.parse_args(argv)
    if not args.table_only:
        for names in by_framework(args.implementations or DEFAULT):
            run_worker(names, args.repetitions, args.workloads)
    results = load_results()
    if not results:
        sys.exit("No results yet: run `make bench`.")
    print(table(results))
    print(targets(results))


if __name__ == "__main__":
    main()
