"""Timing and memory measurement shared by every implementation.

An implementation module exposes `build(workload)`, which makes its data and
returns a zero-argument `run()`: one repetition of the workload that returns
`{metric key: float}` (values fetched to the host, so the work is done).
A `run` may carry `run.reset()`, which zeroes its streaming state before
each repetition, outside the timed region: resetting is set-up, paid once
per evaluation however many batches it has, and a repetition here has only
50 (on TensorFlow, Keras' per-metric `reset_state` is an eager assignment
of ~160 us per metric; a binary head has 15 metrics).
"""

import time

import numpy as np


def _status_kib(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak_rss():
    """Sets this process's resident-memory high-water mark to its current
    resident size (Linux `clear_refs` 5)."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def measure_together(runs, repetitions, min_seconds=0.0,
                     max_repetitions=None):
    """Times each of `runs` (`{name: run}`): the first call (tracing,
    compilation and one run) apart from `repetitions` steady-state calls,
    or more: rounds go on until every run has spent `min_seconds` in its
    steady calls (at most `max_repetitions` rounds), so that a workload of a
    few milliseconds is sampled over as many seconds of the machine as a
    slow one.

    The steady calls alternate between the runs, round by round (in reverse
    order every other round), so that implementations compared with each
    other see the same state of a shared, noisy machine. The peak resident
    memory of a run is the largest rise above what the process held just
    before one of its steady calls.
    """
    results = {}
    for name, run in runs.items():
        reset(run)
        start = time.perf_counter()
        values = run()
        results[name] = {
            "first": time.perf_counter() - start, "times": [], "peak": None,
            "values": values,
        }
    names = list(runs)
    round_ = 0
    while _more_rounds(results, round_, repetitions, min_seconds,
                       max_repetitions):
        for name in names if round_ % 2 == 0 else names[::-1]:
            reset(runs[name])
            has_peak = _reset_peak_rss()
            baseline = _status_kib("VmRSS")
            start = time.perf_counter()
            values = runs[name]()
            elapsed = time.perf_counter() - start
            entry = results[name]
            entry["times"].append(elapsed)
            entry["values"] = values
            if has_peak:
                rise = (_status_kib("VmHWM") - baseline) / 1024
                entry["peak"] = rise if entry["peak"] is None else max(
                    entry["peak"], rise
                )
        round_ += 1
    return {name: _summary(entry) for name, entry in results.items()}


def _more_rounds(results, done, repetitions, min_seconds, max_repetitions):
    if done < repetitions:
        return True
    if max_repetitions is not None and done >= max_repetitions:
        return False
    return any(sum(e["times"]) < min_seconds for e in results.values())


def reset(run):
    """Calls `run.reset()`, if `run` has one."""
    if hasattr(run, "reset"):
        run.reset()


def _summary(entry):
    median = float(np.median(entry["times"]))
    return {
        "seconds": median,
        "all_seconds": entry["times"],
        "compile_seconds": max(entry["first"] - median, 0.0),
        "peak_mib": entry["peak"],
        "values": {k: float(v) for k, v in entry["values"].items()},
    }
