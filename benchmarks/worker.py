"""Runs implementations over the workloads and writes each one's results as
JSON.

    python -m benchmarks.worker IMPLEMENTATION... --out FILE... [--workloads ...]

IMPLEMENTATION is `keras_heads` (on $KERAS_BACKEND), `tensorflow` or `jax`
(hand-written), or `reference` (tensorflow-estimator 2.15, in its own
virtualenv). Run by `benchmarks.run`, one process per framework: keras_heads
and the hand-written code on the same framework run in the same process, a
workload's repetitions alternating between them (`harness.measure_together`),
so that a ratio of their medians compares runs on the same, shared machine.
"""

import argparse
import importlib
import json
import os
import platform
import sys
import traceback

from benchmarks import workloads
from benchmarks.workloads import REPETITIONS

MODULES = {
    "keras_heads": "benchmarks.ours",
    "tensorflow": "benchmarks.handwritten_tf",
    "jax": "benchmarks.handwritten_jax",
    "reference": "benchmarks.reference",
}


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("implementations", nargs="+", choices=sorted(MODULES))
    parser.add_argument("--out", nargs="+", required=True)
    parser.add_argument("--workloads", nargs="*")
    parser.add_argument("--repetitions", type=int, default=REPETITIONS)
    args = parser.parse_args(argv)
    if len(args.out) != len(args.implementations):
        parser.error(
            f"--out: expected one file per implementation "
            f"({len(args.implementations)}); received {len(args.out)}."
        )

    from benchmarks import harness

    modules = {
        name: importlib.import_module(MODULES[name])
        for name in args.implementations
    }
    results = {name: {} for name in modules}
    for workload_name in args.workloads or list(workloads.WORKLOADS):
        workload = workloads.WORKLOADS[workload_name]
        runs = {}
        for name, module in modules.items():
            print(f"  {_label(module)}: {workload_name}", file=sys.stderr,
                  flush=True)
            try:
                run = module.build(workload)
                if run is not None:
                    runs[name] = run
            except Exception as error:  # reported in the table, never hidden
                traceback.print_exc()
                results[name][workload_name] = _error(error)
        try:
            measured = harness.measure_together(
                runs, args.repetitions, workloads.MIN_SECONDS,
                workloads.MAX_REPETITIONS,
            )
        except Exception as error:
            traceback.print_exc()
            measured = {name: _error(error) for name in runs}
        for name, result in measured.items():
            result.update(getattr(runs[name], "extra", None) or {})
            results[name][workload_name] = result
    for (name, module), out in zip(modules.items(), args.out):
        with open(out, "w") as file:
            json.dump(
                {
                    "implementation": _label(module),
                    "versions": module.versions(),
                    "python": platform.python_version(),
                    "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                    "repetitions": args.repetitions,
                    "results": results[name],
                },
                file,
                indent=1,
            )


def _label(module):
    variant = os.environ.get("BENCH_VARIANT")
    return module.LABEL + (f" [{variant}]" if variant else "")


def _error(error):
    return {"error": f"{type(error).__name__}: {error}"}


if __name__ == "__main__":
    main()
