"""Timing and memory measurement shared by every implementation.

An implementation module exposes `build(workload)`, which makes its data and
returns a zero-argument `run()`: one repetition of the workload that returns
`{metric key: float}` (values fetched to the host, so the work is done).
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


def measure(run, repetitions):
    """Times `run`: the first call (tracing, compilation and one run) apart
    from the steady-state repetitions; the peak resident memory is taken over
    the steady repetitions, above what the process held before them."""
    start = time.perf_counter()
    values = run()
    first = time.perf_counter() - start
    has_peak = _reset_peak_rss()
    baseline = _status_kib("VmRSS")
    times = []
    for _ in range(repetitions):
        start = time.perf_counter()
        values = run()
        times.append(time.perf_counter() - start)
    median = float(np.median(times))
    return {
        "seconds": median,
        "all_seconds": times,
        "compile_seconds": max(first - median, 0.0),
        "peak_mib": (
            (_status_kib("VmHWM") - baseline) / 1024 if has_peak else None
        ),
        "values": {k: float(v) for k, v in values.items()},
    }
