"""Scenario files load, cite their documents, and bad input gets one clear line."""
from __future__ import annotations

import dataclasses
import re
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model import LEVERS, Schedule
from scenarios import ScenarioError, list_scenarios, load_scenario
from scenarios.loader import SCENARIO_DIR
from tests.conftest import ROOT


def test_every_shipped_scenario_loads():
    names = list_scenarios()
    assert "baseline" in names and "packages/documents_reform" in names
    assert sum(n.startswith("mechanisms/") for n in names) >= 10
    for name in names:
        scenario = load_scenario(name)
        assert set(scenario.levers) == set(LEVERS)


def test_mechanism_values_cite_a_document_or_say_assumed():
    for path in (SCENARIO_DIR / "mechanisms").glob("*.yaml"):
        lever_lines = [line for line in path.read_text(encoding="utf-8").splitlines()
                       if re.match(r"^\s{2}\w+: [0-9.]+", line)]
        assert lever_lines, path
        for line in lever_lines:
            assert re.search(r"#.*(D[1-4]|assumed)", line), f"{path.name}: {line!r} cites no source"


def test_mechanisms_change_only_their_lever_from_the_status_quo():
    baseline = load_scenario("baseline")
    for name in list_scenarios():
        if not name.startswith("mechanisms/"):
            continue
        scenario = load_scenario(name)
        changed = [k for k in LEVERS if scenario.levers[k] != baseline.levers[k]]
        assert len(changed) == 1, (name, changed)
        assert scenario.behaviour == baseline.behaviour


def test_reform_package_follows_the_d1_phases():
    package = load_scenario("packages/documents_reform")
    merge = package.levers["merge_rate"]
    assert merge.value_at(0) < merge.value_at(26) < merge.value_at(104) == pytest.approx(0.60)
    burn_in = package.lever_weeks(-2, 3)  # two burn-in weeks at the status quo, then the first policy week
    assert {name: values[0] for name, values in burn_in.items()} == package.status_quo
    assert burn_in["merge_rate"][2] == package.levers["merge_rate"].value_at(0) != package.status_quo["merge_rate"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 300), st.floats(0, 1)), min_size=1, max_size=4),
       st.integers(-160, 300), st.integers(1, 120))
def test_a_lever_table_holds_the_value_in_force_each_week(steps, first_week, weeks):
    """The weekly table the model reads is each week's value of the schedule: the status quo in
    the burn-in (negative weeks), then the last step started; it is kept and read-only."""
    schedule = Schedule(tuple(sorted(steps, key=lambda step: step[0])))
    base = load_scenario("baseline")
    scenario = dataclasses.replace(base, levers={**base.levers, "merge_rate": schedule})
    week = np.arange(first_week, first_week + weeks)
    expected = np.where(week < 0, scenario.status_quo["merge_rate"], [schedule.value_at(w) for w in week])
    table = scenario.lever_table(first_week, weeks)
    assert np.array_equal(table[list(scenario.levers).index("merge_rate")], expected)
    assert scenario.lever_table(first_week, weeks) is table and not table.flags.writeable


@pytest.mark.parametrize("text, field", [
    ("levers:\n  merge_rate: 1.5\n", "levers.merge_rate"),
    ("levers:\n  merge_rat: 0.5\n", "levers.merge_rat"),
    ("levers:\n  merge_rate: lots\n", "levers.merge_rate"),
    ("behaviour:\n  detection_base: -1\n", "behaviour.detection_base"),
    ("scale: planet\n", "scale"),
    ("years: 0\n", "years"),
    ("colour: red\n", "colour"),
    ("levers:\n  merge_rate: {schedule: [{from: '2023-01', value: 0.2}]}\n", "levers.merge_rate.schedule[0].from"),
    ("levers:\n  merge_rate: {schedule: [{from: '2025-01', value: 0.2}, {from: '2024-07', value: 0.3}]}\n",
     "levers.merge_rate.schedule"),
    ("levers:\n  merge_rate: {schedule: [{from: 2024, value: 0.2}]}\n", "schedule[0].from: 2024 reads as week 2024"),
    ("levers:\n  merge_rate: {schedule: [{from: '2024-07', value: 0.2}], extra: 1}\n", "levers.merge_rate.extra: unknown key"),
    ("extends: nowhere\n", "extends"),
    ("extends: [baseline]\n", "extends"),
    ("levers: [1, 2\n", "file"),
    ("", "file: is empty"),
    ("# only a comment\n", "file: is empty"),
])
def test_bad_scenario_gives_one_line_naming_file_and_field(tmp_path, text, field):
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as error:
        load_scenario(str(path))
    message = str(error.value)
    assert "\n" not in message
    assert field in message and "allowed" in message
    assert str(path) in message


def test_a_bad_value_is_reported_in_the_file_that_set_it_not_the_one_extending_it(tmp_path):
    (tmp_path / "parent.yaml").write_text("levers:\n  merge_rate: '0.6'\n", encoding="utf-8")
    (tmp_path / "child.yaml").write_text("extends: parent.yaml\nlevers:\n  tolerance: 0.3\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as error:
        load_scenario(str(tmp_path / "child.yaml"))
    assert str(error.value).startswith(f"{tmp_path / 'parent.yaml'}: levers.merge_rate: '0.6'")


def test_a_folder_or_a_file_without_yaml_suffix_is_named_for_what_it_is(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder").mkdir()
    (tmp_path / "plain").write_text("levers: {}\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"^folder: scenario: is a folder, not a scenario file; allowed: "):
        load_scenario("folder")
    with pytest.raises(ScenarioError, match=r"^plain: scenario: is not a \.yaml file; allowed: "):
        load_scenario("plain")


def test_an_unquoted_date_in_a_schedule_is_the_month_it_names(tmp_path):
    quoted, unquoted = tmp_path / "quoted.yaml", tmp_path / "unquoted.yaml"
    quoted.write_text("levers:\n  merge_rate: {schedule: [{from: '2024-07', value: 0.2}]}\n", encoding="utf-8")
    unquoted.write_text("levers:\n  merge_rate: {schedule: [{from: 2024-07-01, value: 0.2}]}\n", encoding="utf-8")
    assert load_scenario(str(unquoted)).levers["merge_rate"] == load_scenario(str(quoted)).levers["merge_rate"]


def test_a_number_in_exponent_notation_is_a_number(tmp_path):
    """1e-2 is a number in YAML 1.2, JSON and Python; PyYAML alone (YAML 1.1) read it as text."""
    path = tmp_path / "small.yaml"
    path.write_text("levers:\n  accountability_intensity: 1e-2\n  merge_rate: 5E-1\n  tolerance: 2.5e-1\n"
                    "  remote_share: 0.5e0\n", encoding="utf-8")
    scenario = load_scenario(str(path))
    assert [scenario.levers[name].final for name in ("accountability_intensity", "merge_rate", "tolerance",
                                                      "remote_share")] == [0.01, 0.5, 0.25, 0.5]


def test_a_start_year_set_on_loading_moves_the_policy_start_not_the_dated_steps():
    """Dated steps are calendar months: --set start_year=2023 puts the documents' 2024-01 step a year
    into the policy period. A resolved scenario cannot be given another start year: its steps were
    counted from its own, and moving them would move the dates."""
    from scenarios import apply_overrides

    package = load_scenario("packages/documents_reform")
    earlier = load_scenario("packages/documents_reform", {"start_year": 2023})
    for name, schedule in package.levers.items():
        shifted = [(week + 52, value) for week, value in schedule.steps]
        if schedule.steps[0][0] == 0 and len(schedule.steps) > 1:
            assert list(earlier.levers[name].steps[1:]) == shifted, name
            assert earlier.levers[name].steps[0] == (0, package.status_quo[name])
    with pytest.raises(ScenarioError, match=r"start_year: 2023 would move the scenario's lever steps"):
        apply_overrides(package, {"start_year": 2023})
    assert load_scenario("baseline", {"start_year": 2030}).start_year == 2030


def test_a_file_without_extends_starts_from_the_calibrated_baseline(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("levers:\n  merge_rate: 0.5\n", encoding="utf-8")
    mine, baseline = load_scenario(str(path)), load_scenario("baseline")
    assert mine.behaviour == baseline.behaviour and mine.levers["merge_rate"].final == 0.5
    assert all(mine.levers[name] == baseline.levers[name] for name in LEVERS if name != "merge_rate")


@pytest.mark.parametrize("extends", ["", "extends: baseline\n"])
def test_a_file_without_a_name_is_named_after_itself_not_its_parent(tmp_path, extends):
    path = tmp_path / "my_reform.yaml"
    path.write_text(extends + "levers:\n  merge_rate: 0.5\n", encoding="utf-8")
    mine = load_scenario(str(path))
    assert mine.name == "my_reform" and mine.description == ""


def test_extends_is_found_beside_the_extending_file_from_any_working_folder(tmp_path, monkeypatch):
    (tmp_path / "studies").mkdir()
    (tmp_path / "studies" / "parent.yaml").write_text("levers:\n  merge_rate: 0.4\n", encoding="utf-8")
    (tmp_path / "studies" / "child.yaml").write_text("extends: parent.yaml\nyears: 2\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    child = load_scenario("studies/child.yaml")
    assert child.levers["merge_rate"].final == 0.4 and child.years == 2


def test_cli_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path):
    out = tmp_path / "results"
    for args in (["run", "baseline", "--set", "merge_rate=2"], ["run", "no_such_scenario"],
                 ["run", "baseline", "--set", "nonsense=1"], ["run", "baseline", "--seeds", "0"]):
        done = subprocess.run([sys.executable, "run.py", *args, "--out", str(out), "--quiet"], cwd=ROOT,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 2, (args, done.stderr)
        assert done.stderr.strip().count("\n") == 0 and "Traceback" not in done.stderr, done.stderr
        assert not out.exists()


@settings(max_examples=40, deadline=None)
@given(values=st.fixed_dictionaries({name: st.floats(0, 1) for name in LEVERS
                                     if LEVERS[name].high == 1}))
def test_any_lever_values_in_range_are_accepted(values):
    scenario = load_scenario("baseline", values)
    for name, value in values.items():
        assert scenario.levers[name].final == pytest.approx(value)


@given(steps=st.lists(st.tuples(st.integers(0, 200), st.floats(0, 1)), min_size=1, max_size=6, unique_by=lambda s: s[0]))
def test_schedule_holds_each_value_from_its_start(steps):
    steps = sorted(steps)
    schedule = Schedule(tuple(steps))
    for (start, value), nxt in zip(steps, steps[1:] + [(10_000, None)]):
        assert schedule.value_at(start) == value
        assert schedule.value_at(nxt[0] - 1) == value if nxt[0] - 1 >= start else True
