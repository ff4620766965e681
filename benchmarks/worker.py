"""Runs one implementation over the workloads and writes its results as JSON.

    python -m benchmarks.worker IMPLEMENTATION --out FILE [--workloads ...]

IMPLEMENTATION is `keras_heads` (on $KERAS_BACKEND), `tensorflow` or `jax`
(hand-written), or `reference` (tensorflow-estimator 2.15, in its own
virtualenv). Run by `benchmarks.run`; one process per implementation, so
each framework starts cold and owns the machine's two cores.
"""

import argparse
import importlib
import json
import os
import platform
import sys
import traceback

MODULES = {
    "keras_heads": "benchmarks.ours",
    "tensorflow": "benchmarks.handwritten_tf",
    "jax": "benchmarks.handwritten_jax",
    "reference": "benchmarks.reference",
}


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("implementation", choices=sorted(MODULES))
    parser.add_argument("--out", required=True)
    parser.add_argument("--workloads", nargs="*")
    parser.add_argument("--repetitions", type=int, default=5)
    args = parser.parse_args(argv)

    from benchmarks import harness
    from benchmarks import workloads

    module = importlib.import_module(MODULES[args.implementation])
    label = module.LABEL
    if os.environ.get("BENCH_VARIANT"):
        label += f" [{os.environ['BENCH_VARIANT']}]"
    selected = args.workloads or list(workloads.WORKLOADS)
    results = {}
    for name in selected:
        workload = workloads.WORKLOADS[name]
        print(f"  {label}: {name}", file=sys.stderr, flush=True)
        try:
            run = module.build(workload)
            if run is None:
                continue
            results[name] = harness.measure(run, args.repetitions)
            extra = getattr(run, "extra", None)
            if extra:
                results[name].update(extra)
        except Exception as error:  # reported in the table, never hidden
            traceback.print_exc()
            results[name] = {"error": f"{type(error).__name__}: {error}"}
    with open(args.out, "w") as out:
        json.dump(
            {
                "implementation": label,
                "versions": module.versions(),
                "python": platform.python_version(),
                "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                "repetitions": args.repetitions,
                "results": results,
            },
            out,
            indent=1,
        )


if __name__ == "__main__":
    main()
