"""Smoke test of the benchmark's structure on a tiny configuration; speed is never asserted."""
import json

import pytest

from benchmarks import BenchConfig, ScaleRuns, format_table, run_benchmarks

TINY = BenchConfig(  # QUICK's shape, with the city standing in for the nation
    county=ScaleRuns("county", 1, 1), city=ScaleRuns("city", 1, 0), province=ScaleRuns("province", 1, 1),
    national=ScaleRuns("city", 1, 0, warmup=0), boltzmann_steps=2, sweep=ScaleRuns("city", 1, 1), sweep_runs=2,
    stacked=(ScaleRuns("county", 1, 1),),
)
POSITIVE_FIGURES = ("mesa_boltzmann_agent_steps_per_s", "ratio_vs_mesa_province", "national_seconds_per_run",
                    "national_peak_rss_mib", "parallel_efficiency_2", "sobol_study_projected_minutes")


@pytest.fixture(scope="module")
def results():
    return run_benchmarks(quick=True, config=TINY, progress=False)


def test_every_figure_is_present_and_positive(results):
    assert set(results["unit_weeks_per_s"]) == {"county", "province", "city"}
    assert set(results["sweep_runs_per_s"]) == {"1", "2"}
    assert set(results["stacked_unit_weeks_per_s"]) == {"county"}
    rates = [*results["unit_weeks_per_s"].values(), *results["sweep_runs_per_s"].values(),
             *results["stacked_unit_weeks_per_s"].values()]
    for value in (*rates, *(results[key] for key in POSITIVE_FIGURES)):
        assert isinstance(value, float) and value > 0
    sweep = results["details"]["sweep"]
    assert sweep["steady_runs_per_s_2"] > 0 and sweep["once_seconds_2"] >= 0


def test_context_goals_and_output_formats(results):
    assert {"cpu_count", "platform", "python", "date"} <= set(results["machine"])
    assert len(results["goals"]) == 6
    assert all(isinstance(goal["passed"], bool) for goal in results["goals"])
    assert json.loads(json.dumps(results))["mode"] == "quick"
    table = format_table(results)
    assert "unit-weeks/s" in table and "parallel_efficiency_2" in table and "county, stacked" in table


def test_bad_format_is_a_usage_error():
    from run import main

    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "--format", "xml"])
    assert exit_info.value.code == 2


def test_kernel_profile_times_every_rule_and_leaves_the_run_as_it_was():
    # profile() itself checks that the timed copies give the model's own tables for its seeds; a
    # stack of two runs every kernel a solo run does, block by block (the copies compile once: 50 s)
    from benchmarks.kernel_profile import format_table as profile_table, profile

    result = profile("county", runs=1, stack=2)
    callees = {site["callee"] for site in result["sites"]}
    assert {"_unit_week", "_arise_and_heal", "_inspect", "_detect", "_case_courses", "_data_and_task_days",
            "_pps_sample", "_round_order_sorted"} <= callees
    assert all(0 <= site["ns_per_unit_week"] <= site["timed_ns_per_unit_week"] for site in result["sites"])
    assert all(site["calls_per_unit_week"] > 0 for site in result["sites"]
               if site["callee"] in {"_unit_week", "_inspect", "_pps_sample", "_stacked_visits"})
    # the figures below are timings, with the counters' cost estimated from two timed phases: on a busy
    # host a correction can take a call's figure to 0, so only what holds by construction is checked
    assert result["entry_calls"]["_run_weeks"] > 0 and result["entry_calls"]["_plan_replications"] > 0
    assert min(result["entries"].values()) >= 0 and result["ns_per_unit_week"] <= result["timed_ns_per_unit_week"]
    assert result["counter_ns_per_call"] >= 0 and result["plain_ns_per_unit_week"] > 0
    # as timed, a call's nested statements take part of its time, never more
    inspect_site = next(site for site in result["sites"] if site["callee"] == "_inspect")
    inside = sum(site["timed_ns_per_unit_week"] for site in result["sites"] if site["function"] == "_inspect")
    assert inside <= inspect_site["timed_ns_per_unit_week"]
    table = profile_table(result)
    assert "_data_and_task_days (inspection.py:" in table and "1 stack of 2 runs" in table


def test_law_check_passes_the_same_law_and_flags_a_changed_metric(tmp_path):
    """benchmarks.law: a record against itself flags nothing; a metric moved far is flagged,
    and only a metric named in --expect is excused."""
    import pandas as pd

    from benchmarks import law

    from model.params import SCALES

    path = law.record(tmp_path / "before", seeds=4, province_seeds=0, provinces_seeds=2, workers=1)
    before = pd.read_parquet(path)
    assert len(before) == 2 * (4 + 2) and set(before["scale"]) == {"city", law.PROVINCES_SCALE}
    assert law.PROVINCES_SCALE not in SCALES, "the several-province scale is registered only while it runs"
    assert not law.compare(before, before)["flagged"].any()
    # moved by 0.5, about 25 of its run-to-run SDs: flagged even by 4 seeds against the Bonferroni bound
    after = before.assign(hosting_time_share=before["hosting_time_share"] + 0.5)
    (tmp_path / "after").mkdir()
    after.to_parquet(tmp_path / "after" / law.FILE)
    flagged = law.compare(before, after).query("flagged")
    assert set(flagged["metric"]) == {"hosting_time_share"}
    arguments = ["compare", str(tmp_path / "before"), str(tmp_path / "after")]
    assert law.main(arguments) == 1
    assert law.main([*arguments, "--expect", "hosting_time_share"]) == 0
    assert law.main(["compare", str(tmp_path / "before"), str(tmp_path / "missing")]) == 2


def test_interleaved_takes_the_scales_in_turn_and_returns_each_ones_figures():
    """benchmarks.bench.interleaved advances the generator least far through its runs, so a
    scale with few long runs is spread across a scale with many short ones."""
    from benchmarks.bench import interleaved

    order = []

    def runs(name, count):
        for k in range(count):
            order.append(name)
            if k < count - 1:
                yield
        return f"{name} done"

    figures = interleaved({"many": (runs("many", 6), 6), "few": (runs("few", 2), 2)})
    assert figures == {"many": "many done", "few": "few done"}
    assert order.count("many") == 6 and order.count("few") == 2
    assert order.index("few") < 2 and len(order) - 1 - order[::-1].index("few") >= 4


def test_host_probe_reports_its_spread(results):
    host = results["details"]["host"]
    assert host["probes"] >= 2 and host["spread"] >= 1.0
    assert host["p10_ms"] <= host["median_ms"] <= host["p90_ms"]
    assert host["steady"] is None  # the tiny configuration times too few runs to judge
    assert "host      a fixed piece of work" in format_table(results) and "too few timings" in format_table(results)


@pytest.mark.parametrize(("milliseconds", "steady"), [([3.0] * 20, True), ([3.0] * 15 + [6.0] * 5, False),
                                                      ([3.0, 3.3, 9.0], None)])
def test_host_probe_judges_steadiness_only_from_enough_timings(results, milliseconds, steady):
    from copy import deepcopy

    from benchmarks.bench import HostProbe

    probe = HostProbe()
    probe.seconds = [value / 1e3 for value in milliseconds]
    summary = probe.summary()
    assert summary["steady"] is steady
    assert 1.0 <= summary["spread"] <= max(milliseconds) / min(milliseconds)
    shown = deepcopy(results)
    shown["details"]["host"] = summary
    assert ("warning: this machine's speed moved" in format_table(shown)) == (steady is False)
