"""The analysis layer on small synthetic results folders written with the store's own functions:
every number it reports is checked against a direct computation on the run rows."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from analysis.labels import (BEHAVIOUR_LABELS, LEVER_LABELS, METRIC_LABELS, LabelError, check_lang, format_difference,
                             format_estimate, format_number, format_value, lever_name, metric_name, scenario_name)
from analysis.measures import HEADLINES, lower_is_better
from analysis.sensitivity import ranked_factors, read_sensitivity
from analysis.study import evaluated_targets, load_study, non_dominated, wilson_interval
from analysis.summary import level_interval, paired_differences
from experiments.store import ResultsError, now_iso, write_manifest, write_part, write_table
from model import BEHAVIOUR, LEVERS, METRICS
from scenarios import list_scenarios

SEEDS = [11, 12, 13, 14, 15]
SCENARIOS = {"baseline": "scenarios/baseline.yaml", "merge_items": "scenarios/mechanisms/merge_items.yaml",
             "documents_reform": "scenarios/packages/documents_reform.yaml"}
YEARS = ((2022, "burn_in"), (2023, "burn_in"), (2024, "policy"), (2025, "policy"))


def synthetic_runs(seed: int = 0) -> pd.DataFrame:
    """Tidy run rows like the runners write: one per (scenario, seed, year), every metric."""
    rng = np.random.default_rng(seed)
    rows = []
    for shift, scenario in enumerate(SCENARIOS):
        for replication in SEEDS:
            common = rng.normal(0, 0.02)  # common random numbers: seeds share noise across scenarios
            for year, phase in YEARS:
                row = {"scenario": scenario, "seed": replication, "scale": "city", "year": year, "phase": phase}
                for i, metric in enumerate(METRICS):
                    base = 0.2 + 0.6 * ((i * 7) % 10) / 10
                    row[metric] = base + 0.05 * shift * (year - 2023) + common + rng.normal(0, 0.01)
                rows.append(row)
    return pd.DataFrame(rows)


def write_run_folder(folder, runs: pd.DataFrame) -> None:
    manifest = {"kind": "run", "scenarios": list(SCENARIOS), "scenario_files": list(SCENARIOS.values()),
                "seeds": SEEDS, "scale": "city", "years": 2, "started": now_iso(), "finished": None}
    write_manifest(folder, manifest)
    write_part(folder, runs, name="all")
    write_manifest(folder, {**manifest, "finished": now_iso()})


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("results") / "synthetic"
    write_run_folder(folder, synthetic_runs())
    return folder


@pytest.fixture(scope="module")
def study(run_folder):
    return load_study(run_folder)


def final_values(runs: pd.DataFrame, scenario: str, metric: str) -> np.ndarray:
    chosen = runs[(runs["scenario"] == scenario) & (runs["year"] == 2025)].sort_values("seed")
    return chosen[metric].to_numpy(dtype=float)


def t_interval(values: np.ndarray) -> tuple[float, float, float]:
    half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values))
    return values.mean(), values.mean() - half, values.mean() + half


# labels --------------------------------------------------------------------------------------

def test_every_metric_lever_parameter_and_shipped_scenario_has_both_labels():
    assert set(METRICS) <= set(METRIC_LABELS)
    assert set(LEVERS) <= set(LEVER_LABELS)
    assert set(BEHAVIOUR) == set(BEHAVIOUR_LABELS)
    for name in list_scenarios():
        short = name.rsplit("/", 1)[-1]
        assert scenario_name(short, "en") != short, f"no label for scenario {name}"
    for label in [*METRIC_LABELS.values(), *LEVER_LABELS.values(), *BEHAVIOUR_LABELS.values()]:
        assert label.zh and label.en and label.zh != label.en


def test_labels_pick_the_language_and_fall_back_to_the_raw_name():
    assert metric_name("detection_rate", "en") == "Problem detection rate"
    assert metric_name("detection_rate", "zh") == "问题发现率"
    assert metric_name("detection_rate", "both") == "问题发现率 Problem detection rate"
    assert lever_name("levers.merge_rate", "en") == lever_name("merge_rate", "en") == "Item merge rate"
    assert lever_name("behaviour.detection_base", "zh") == "基础发现率"
    assert lever_name("behaviour.no_such_parameter", "en") == "behaviour.no_such_parameter"
    with pytest.raises(LabelError, match="allowed: zh, en, both"):
        check_lang("fr")


def test_values_are_written_in_display_units():
    assert format_value("hosting_time_share", 0.1234) == "12.3%"
    assert format_value("formalism_index", 0.12345) == "0.123"
    assert format_value("inspections_per_unit_year", 28.31) == "28.3"
    assert format_value("detection_gain", 0.4) == "+40.0%"
    assert format_difference("hosting_time_share", -0.021, "en") == "-2.1 pp"
    assert format_difference("hosting_time_share", -0.021, "zh") == "-2.1个百分点"
    assert format_estimate("hosting_time_share", -0.021, -0.029, -0.013, "en", difference=True) == \
        "-2.1 pp [-2.9, -1.3]"
    assert format_estimate("rectification_days", 45.04, 42.1, 47.95) == "45.0 [42.1, 48.0]"
    assert format_estimate("rectification_days", 1.0, 0.9996, 1.0) == "1.00 [1.00, 1.00]"  # one precision
    assert format_number(9.996) == "10.0" and format_number(0.5) == "0.500"


def test_a_difference_that_rounds_to_zero_reads_as_zero_not_minus_zero():
    """Two scenarios with the same expected data time differ by float rounding (about -1e-15)."""
    assert format_estimate("data_acquisition_days", -1e-15, -2e-15, 1e-15, "en", difference=True) == \
        "+0.000 [+0.000, +0.000]"
    assert format_estimate("hosting_time_share", -1e-17, -1e-17, 0.0, "en", difference=True) == \
        "+0.0 pp [+0.0, +0.0]"
    assert format_value("formalism_index", -0.0) == "0.000"
    assert format_difference("hosting_time_share", -0.0006, "en") == "-0.1 pp"


def test_a_small_negative_bound_keeps_its_sign_so_the_interval_shows_it_spans_zero():
    assert format_estimate("detection_rate", 0.006, -0.0004, 0.0123, "en", difference=True) == \
        "+0.6 pp [-0.0, +1.2]"
    assert format_estimate("formalism_index", 0.002, -0.0003, 0.0046, "en", difference=True) == \
        "+0.002 [-0.000, +0.005]"
    assert format_difference("detection_rate", -0.0003, "en") == "-0.0 pp"


# the study's tables ----------------------------------------------------------------------------

def test_groups_reference_and_packages_come_from_the_manifest(study):
    assert study.kind == "run"
    assert study.groups == list(SCENARIOS)
    assert study.reference == "baseline"
    assert study.packages == ["documents_reform"]
    assert study.time_path_groups == ["baseline", "documents_reform"]
    assert study.seeds_per_group == len(SEEDS)


def test_scorecard_matches_the_final_year_rows(study, run_folder):
    runs = synthetic_runs()
    targets = evaluated_targets(list(METRICS))
    assert set(study.scorecard["metric"]) == set(targets)
    assert "data_sharing_rate" not in set(study.scorecard["metric"])  # a lever, not an outcome
    for row in study.scorecard.itertuples():
        values = final_values(runs, row.group, row.metric)
        mean, low, high = t_interval(values)
        target = targets[row.metric]
        assert row.mean == pytest.approx(mean) and row.low == pytest.approx(low) and row.high == pytest.approx(high)
        assert row.p_met == pytest.approx(target.met(values).mean())
        shortfall = mean - target.value if target.op in ("<", "<=") else target.value - mean
        assert row.gap == pytest.approx(shortfall)
        assert row.gap_low <= row.gap <= row.gap_high
        assert row.p_low <= row.p_met <= row.p_high


def test_effects_are_paired_differences_by_seed(study):
    runs = synthetic_runs()
    for row in study.effects.itertuples():
        difference = final_values(runs, row.group, row.metric) - final_values(runs, "baseline", row.metric)
        mean, low, high = t_interval(difference)
        assert (row.diff, row.low, row.high) == pytest.approx((mean, low, high))
        direction = lower_is_better(row.metric)
        if direction is None:
            assert row.verdict == ""
        elif low <= 0 <= high:
            assert row.verdict == "unclear"
        else:
            assert row.verdict == ("better" if (high < 0) == direction else "worse")
    assert set(study.effects["group"]) == {"merge_items", "documents_reform"}


def test_trade_offs_and_time_paths_summarise_the_headline_measures(study):
    runs = synthetic_runs()
    for row in study.tradeoffs.itertuples():
        for measure, headline in HEADLINES.items():
            assert getattr(row, measure) == pytest.approx(final_values(runs, row.group, headline.metric).mean())
    paths = study.time_paths
    assert set(paths["year"]) == {2022, 2023, 2024, 2025}
    assert set(paths.loc[paths["year"] <= 2023, "phase"]) == {"burn_in"}
    burden = paths[(paths["group"] == "merge_items") & (paths["measure"] == "burden") & (paths["year"] == 2024)]
    expected = runs[(runs["scenario"] == "merge_items") & (runs["year"] == 2024)]["supervision_time_share"].mean()
    assert burden["mean"].iloc[0] == pytest.approx(expected)


def test_calibration_check_uses_the_last_status_quo_year(study):
    runs = synthetic_runs()
    row = study.calibration.set_index("metric").loc["hosting_time_share"]
    expected = runs[(runs["scenario"] == "baseline") & (runs["year"] == 2023)]["hosting_time_share"].mean()
    assert row["mean"] == pytest.approx(expected)
    assert row["relative_gap"] == pytest.approx((expected - row["document"]) / row["document"])


def test_non_dominated_set_over_three_measures():
    table = pd.DataFrame({"burden": [0.5, 0.4, 0.4, 0.6], "detection": [0.4, 0.4, 0.5, 0.6],
                          "formalism": [0.2, 0.2, 0.2, 0.1]})
    # row 2 dominates rows 0 and 1; row 3 trades burden for detection and formalism
    assert non_dominated(table).tolist() == [False, False, True, True]


def test_wilson_interval_is_inside_unit_range():
    assert wilson_interval(0, 5)[0] == 0.0 and 0 < wilson_interval(0, 5)[1] < 0.6
    assert wilson_interval(5, 5)[1] == 1.0
    assert wilson_interval(0, 3)[0] == 0.0 and wilson_interval(3, 3)[1] == 1.0  # exactly, not 1e-17 off
    assert all(math.isnan(v) for v in wilson_interval(0, 0))


# bad input --------------------------------------------------------------------------------------

def test_run_rows_without_a_required_column_are_a_one_line_error(tmp_path):
    write_run_folder(tmp_path / "broken", synthetic_runs().drop(columns="phase"))
    with pytest.raises(ResultsError, match=r"runs: column phase: missing") as error:
        load_study(tmp_path / "broken")
    assert "\n" not in str(error.value)


def test_unfinished_folder_is_refused(tmp_path):
    folder = tmp_path / "unfinished"
    write_manifest(folder, {"kind": "run", "finished": None})
    write_part(folder, synthetic_runs())
    with pytest.raises(ResultsError, match="finished"):
        load_study(folder)


def sensitivity_folder(folder, indices: pd.DataFrame | None) -> None:
    manifest = {"kind": "sensitivity", "method": "sobol", "factors": [{"name": "merge_rate"}],
                "outcomes": ["detection_rate"], "started": now_iso(), "finished": None}
    write_manifest(folder, manifest)
    runs = synthetic_runs().assign(point=0, replication=0, merge_rate=0.3)
    write_part(folder, runs)
    if indices is not None:
        write_table(folder, "sensitivity_indices", indices)
    write_manifest(folder, {**manifest, "finished": now_iso()})


def test_sensitivity_tables_are_read_and_ranked(tmp_path):
    indices = pd.DataFrame({"method": "sobol", "outcome": "detection_rate", "factor": ["a", "b", "a", "b"],
                            "index": ["ST", "ST", "S1", "S1"], "estimate": [0.2, 0.6, 0.1, 0.5],
                            "low": [0.1, 0.5, 0.0, 0.4], "high": [0.3, 0.7, 0.2, 0.6], "n": 64,
                            "flag": ["", "unstable,not_converged", "", ""]})
    sensitivity_folder(tmp_path / "sens", indices)
    table, noise = read_sensitivity(tmp_path / "sens")
    assert noise is None
    assert list(ranked_factors(table, "sobol", "detection_rate")["factor"]) == ["b", "a"]
    assert load_study(tmp_path / "sens").factors == ["merge_rate"]
    with pytest.raises(ResultsError, match=r"--year: 2024: a sensitivity study's indices are of each run's final year"):
        load_study(tmp_path / "sens", year=2024)


@pytest.mark.parametrize("change, message", [
    (lambda t: t.drop(columns="flag"), "column flag: missing"),
    (lambda t: t.assign(method="fast"), "method: 'fast' is not known; allowed: 'morris', 'sobol'"),
])
def test_bad_sensitivity_tables_name_file_field_and_allowed_values(tmp_path, change, message):
    indices = pd.DataFrame({"method": ["sobol"], "outcome": ["detection_rate"], "factor": ["a"], "index": ["ST"],
                            "estimate": [0.2], "low": [0.1], "high": [0.3], "n": [8], "flag": [""]})
    sensitivity_folder(tmp_path / "sens", change(indices))
    with pytest.raises(ResultsError, match=message):
        load_study(tmp_path / "sens")


def test_missing_index_table_is_a_one_line_error(tmp_path):
    sensitivity_folder(tmp_path / "sens", None)
    with pytest.raises(ResultsError, match="sensitivity_indices.parquet: table: missing"):
        load_study(tmp_path / "sens")


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.floats(0, 1), min_size=1, max_size=6))
def test_a_share_interval_stays_inside_zero_and_one_and_contains_the_mean(values):
    mean, low, high = level_interval("detection_rate", values)
    if len(values) > 1:
        assert 0 <= low <= mean + 1e-12 and mean - 1e-12 <= high <= 1
    else:
        assert math.isnan(low) and math.isnan(high)
    assert level_interval("detection_gain", [-0.9, -0.95, 0.2])[1] < -1  # a change is not a share: not cut


def test_two_runs_of_one_scenario_name_and_seed_are_refused_not_pooled():
    """Overrides keep a scenario's name: a variant run beside it must not be pooled with it."""
    rows = pd.DataFrame({"scenario": ["baseline", "merge_items", "merge_items"], "seed": [0, 0, 0],
                         "year": [2026, 2026, 2026], "phase": "policy", "scale": "county",
                         "duplicate_inspection_share": [0.34, 0.2, 0.3]})
    with pytest.raises(ValueError, match="scenario 'merge_items' has more than one run of seed 0 in 2026"):
        paired_differences(rows, "baseline", ["duplicate_inspection_share"])
    renamed = rows.assign(scenario=["baseline", "merge_items", "merge_items_0.2"])
    assert len(paired_differences(renamed, "baseline", ["duplicate_inspection_share"])) == 2


def test_runs_of_different_lengths_are_compared_in_the_last_year_they_share(tmp_path):
    """A scenario run for longer is not paired with the others' final year from a later year."""
    runs = synthetic_runs()
    longer = runs[(runs["scenario"] == "merge_items") & (runs["year"] == 2025)].assign(year=2026)
    longer["formalism_index"] += 1.0  # a year the other scenarios never reach: must not enter the comparison
    folder = tmp_path / "lengths"
    write_run_folder(folder, pd.concat([runs, longer], ignore_index=True))
    study = load_study(folder)
    effect = study.effects.set_index(["group", "metric"]).loc[("merge_items", "formalism_index")]
    expected = final_values(runs, "merge_items", "formalism_index") - final_values(runs, "baseline", "formalism_index")
    assert effect["diff"] == pytest.approx(expected.mean())
    table = paired_differences(pd.concat([runs, longer]), "baseline", ["formalism_index"])
    assert table.set_index("scenario").loc["merge_items", "diff"] == pytest.approx(expected.mean())


def test_a_pair_with_an_undefined_value_is_left_out_whole_and_not_counted(tmp_path):
    runs = synthetic_runs()
    undefined = (runs["scenario"] == "merge_items") & (runs["seed"] == SEEDS[0]) & (runs["year"] == 2025)
    runs.loc[undefined, "major_problem_miss_rate"] = np.nan
    folder = tmp_path / "undefined"
    write_run_folder(folder, runs)
    effect = load_study(folder).effects.set_index(["group", "metric"]).loc[("merge_items", "major_problem_miss_rate")]
    kept = final_values(runs, "baseline", "major_problem_miss_rate")[1:]
    assert effect["n"] == len(SEEDS) - 1
    assert effect["reference_mean"] == pytest.approx(kept.mean())
    assert paired_differences(runs, "baseline", ["major_problem_miss_rate"]).set_index("scenario").loc[
        "merge_items", "n"] == len(SEEDS) - 1


def test_the_terminal_table_says_when_a_target_is_judged_on_another_targets_number():
    """The six-month share equal to completion in every run is said under its block; apart, it is not."""
    from analysis.comparison import compare, format_table

    runs = synthetic_runs()
    apart = format_table(compare(runs))
    runs["rectified_within_6_months"] = runs["rectification_completion_rate"] - 0.0002
    same = format_table(compare(runs))
    note = "note: within 0.001 of rectification_completion_rate in every run"
    assert note not in apart
    block = same[same.index("\nrectified_within_6_months"):]
    assert note in block.split("\n\n")[0] and same.count(note) == 1


def test_a_chosen_year_is_the_one_compared_and_judged(tmp_path):
    """`run --year` is recorded in the manifest and `report --year` overrides it: the scorecard,
    effects and trade-offs are of that year, and the study says it is not the final one."""
    runs = synthetic_runs()
    folder = tmp_path / "chosen"
    write_run_folder(folder, runs)
    write_manifest(folder, {**json.loads((folder / "manifest.json").read_text()), "year": 2024})
    chosen = load_study(folder)
    assert chosen.year == 2024 and not chosen.year_is_final
    assert "2024" in chosen.year_label("en") and "--year" in chosen.year_label("en")
    card = chosen.scorecard.set_index(["group", "metric"])
    metric = card.index[0][1]
    expected = runs[(runs["scenario"] == "baseline") & (runs["year"] == 2024)][metric].mean()
    assert card.loc[("baseline", metric), "mean"] == pytest.approx(expected)
    assert load_study(folder, year=2025).year_is_final  # report --year over the manifest's
    with pytest.raises(ResultsError, match=r"--year: 2031 is not a year every group simulated; allowed: 2022 to 2025"):
        load_study(folder, year=2031)


def test_a_baseline_that_moves_levers_is_not_called_the_status_quo(tmp_path):
    """The status quo is known by its levers, not its name: a user's own baseline.yaml (or baseline
    with --set) that moves a lever is named for what it is, and effects are not said to be from the status quo."""
    folder = tmp_path / "own_baseline"
    write_run_folder(folder, synthetic_runs())
    manifest = json.loads((folder / "manifest.json").read_text())
    status_quo = {"merge_rate": 0.0, "remote_share": 0.08}
    resolved = {"name": "baseline", "status_quo": status_quo,
                "levers": {"merge_rate": [[0, 0.5]], "remote_share": [[0, 0.08]]}}
    write_manifest(folder, {**manifest, "scenarios_resolved": [resolved]})
    moved = load_study(folder)
    assert moved.changed_baseline_levers == ["merge_rate"] and not moved.reference_is_status_quo
    assert "status quo" in moved.group_name("baseline", "en") and "changed" in moved.group_name("baseline", "en")
    resolved["levers"]["merge_rate"] = [[0, 0.0]]
    write_manifest(folder, {**manifest, "scenarios_resolved": [resolved]})
    assert load_study(folder).reference_is_status_quo


def test_a_package_run_first_is_drawn_once_in_the_time_paths(tmp_path):
    runs = synthetic_runs()
    folder = tmp_path / "package_first"
    package, mechanism = (runs[runs["scenario"] == name] for name in ("documents_reform", "merge_items"))
    write_run_folder(folder, pd.concat([package, mechanism], ignore_index=True))
    study = load_study(folder)
    assert study.reference == "documents_reform" and study.packages == ["documents_reform"]
    assert study.time_path_groups == ["documents_reform"]


def test_the_documents_phases_are_shaded_only_inside_the_packages_policy_period(tmp_path, study):
    """The phases are the documents' calendar (2024 to 2026); a package that starts later has its own
    timetable, and its burn-in years are not the documents' pilot."""
    assert [name for name, _, _ in study.document_phases] == ["pilot", "rollout", "consolidation"]
    runs = synthetic_runs()
    later = runs["scenario"] == "documents_reform"
    runs.loc[later, "year"] += 2  # burn-in 2024-2025, policy from 2026
    write_run_folder(tmp_path / "late", runs)
    assert load_study(tmp_path / "late").document_phases == []
