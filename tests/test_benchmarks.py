"""The benchmark table's arithmetic and checks, on made-up results (the
timings themselves live in `make bench`, never in a test)."""

from benchmarks import harness
from benchmarks import ours
from benchmarks import profile
from benchmarks import run
from benchmarks import workloads
from tests import backends


def _result(label, seconds, values, **extra):
    return {
        "implementation": label,
        "results": {
            "W2 multi-class C=1000": {
                "seconds": seconds,
                "compile_seconds": 0.5,
                "peak_mib": 1.0,
                "values": values,
                **extra,
            }
        },
    }


def _row(text, label):
    return next(line for line in text.splitlines() if label in line)


def test_table_gives_ratio_to_hand_written_speedup_and_agreement():
    text = run.table({
        "keras_heads-jax": _result("ours", 0.2, {"accuracy": 0.5}),
        "handwritten-jax": _result("hand", 0.1, {"accuracy": 0.5}),
        "reference": _result("reference run", 2.0, {"accuracy": 0.5}),
    })
    ours = _row(text, "ours")
    assert "2.00" in ours  # twice the hand-written time
    assert "10.0" in ours  # ten times faster than the reference
    assert "agree" in ours
    assert "(baseline)" in _row(text, "reference run")


def test_table_flags_values_that_differ_from_the_reference():
    text = run.table({
        "keras_heads-jax": _result("ours", 0.2, {"accuracy": 0.51}),
        "reference": _result("reference run", 2.0, {"accuracy": 0.5}),
    })
    assert "DIFFER" in _row(text, "ours")


def test_errors_are_shown_not_hidden():
    results = _result("ours", 0.2, {})
    results["results"]["W2 multi-class C=1000"] = {"error": "ValueError: x"}
    assert "ERROR ValueError: x" in run.table({"keras_heads-jax": results})


def test_measure_separates_first_call_and_reports_every_repetition():
    calls = []

    def work():
        calls.append(1)
        return {"value": len(calls)}

    measured = harness.measure_together({"work": work}, repetitions=5)[
        "work"
    ]
    assert len(calls) == 6
    assert len(measured["all_seconds"]) == 5
    assert measured["values"] == {"value": 6.0}
    assert measured["compile_seconds"] >= 0.0


def test_measure_together_alternates_the_runs_round_by_round():
    order = []

    def run_named(name):
        def run():
            order.append(name)
            return {"calls": order.count(name)}
        return run

    measured = harness.measure_together(
        {"a": run_named("a"), "b": run_named("b")}, repetitions=3
    )
    # First calls, then rounds in alternating order: ab, ba, ab.
    assert order == ["a", "b", "a", "b", "b", "a", "a", "b"]
    for name in "ab":
        assert len(measured[name]["all_seconds"]) == 3
        assert measured[name]["values"] == {"calls": 4.0}


def test_measure_together_resets_each_run_before_every_call_untimed():
    events = []

    def run():
        events.append("run")
        return {"runs": events.count("run")}

    def reset():
        events.append("reset")

    run.reset = reset
    measured = harness.measure_together({"work": run}, repetitions=2)["work"]
    assert events == ["reset", "run"] * 3
    assert measured["values"] == {"runs": 3.0}


def test_measure_together_goes_on_until_every_run_has_its_seconds():
    clock = {"now": 0.0}
    harness_time = harness.time.perf_counter

    def run_taking(seconds):
        def run():
            clock["now"] += seconds
            return {}
        return run

    harness.time.perf_counter = lambda: clock["now"]
    try:
        measured = harness.measure_together(
            {"fast": run_taking(0.125), "slow": run_taking(1.0)},
            repetitions=3, min_seconds=2.0, max_repetitions=50,
        )
        capped = harness.measure_together(
            {"fast": run_taking(0.125)}, repetitions=3, min_seconds=100.0,
            max_repetitions=7,
        )
    finally:
        harness.time.perf_counter = harness_time
    # 16 rounds give the fast run its 2 s; the slow one rides along.
    assert len(measured["fast"]["all_seconds"]) == 16
    assert len(measured["slow"]["all_seconds"]) == 16
    assert len(capped["fast"]["all_seconds"]) == 7


def test_implementations_are_grouped_by_framework():
    groups = run.by_framework(run.DEFAULT)
    assert groups[0] == ["keras_heads-tensorflow", "handwritten-tensorflow"]
    assert ["keras_heads-jax", "handwritten-jax"] in groups
    for group in groups:
        assert len({run.IMPLEMENTATIONS[n][2] for n in group}) == 1


def test_thunk_times_are_per_step_and_largest_first():
    events = [("loss_fusion", 30.0), ("scatter", 50.0), ("loss_fusion", 30.0),
              ("scatter", 10.0), ("while", 5.0)]
    thunks = profile.thunk_times(events, steps=2)
    assert [t.name for t in thunks] == ["loss_fusion", "scatter", "while"]
    assert thunks[0] == profile.Thunk("loss_fusion", 30.0, 1.0)
    assert thunks[1] == profile.Thunk("scatter", 30.0, 1.0)
    # A loop's own thunk only launches its body's, counted apart.
    assert profile.total_microseconds(thunks) == 60.0


def test_thunk_table_shows_the_largest_and_sums_the_rest():
    thunks = profile.thunk_times(
        [("a", 40.0), ("b", 30.0), ("c", 20.0), ("d", 10.0)], steps=1
    )
    lines = profile.thunk_table("ours", 150.0, thunks, rows=2)
    assert "ours: 150.0 us a step" in lines[0]
    assert "100.0 us (4 calls)" in lines[0]
    assert lines[1].split()[:2] == ["a", "40.0"]
    assert lines[1].endswith("40.0%")
    assert lines[3].split()[:4] == ["(2", "more)", "30.0", "2.0"]


@backends.only_on(
    "tensorflow", "jax", why="profiles are of XLA-compiled code"
)
def test_profile_finds_the_compiled_thunks_of_both_implementations():
    hand, events = profile._hand_written()
    tiny = workloads.Workload("tiny multi-label", "multi_label", 2, 64, 4)
    profiles = profile.profile(tiny, (ours, hand), events, repetitions=1)
    assert set(profiles) == {ours.LABEL, hand.LABEL}
    for step, thunks in profiles.values():
        assert step > 0
        # Both steps scatter a histogram; no host-side event slips in.
        assert any("scatter" in t.name for t in thunks)
        assert all(" " not in t.name and "::" not in t.name for t in thunks)
        assert all(t.microseconds >= 0 and t.calls > 0 for t in thunks)


def test_pass_costs_climb_from_the_numpy_read_to_the_loss_transcendentals():
    tiny = workloads.Workload("tiny loss", "loss_floor", 1, 8, 16)
    costs = profile.pass_costs(tiny, repetitions=1)
    assert [what.split(":")[0] for what, _ in costs] == [
        "NumPy", "compiled", "compiled", "compiled"
    ]
    assert "log1p" in costs[-1][0]
    assert all(seconds > 0 for _, seconds in costs)
