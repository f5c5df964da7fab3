"""Replications advanced together (model.model.ReplicationStack) are the solo runs, bit for bit."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from experiments import RunSpec, replication_seeds, run_all
import experiments.runner as runner
from experiments.runner import run_one, run_stacked
from model import LEVERS, SupervisionModel, simulate, simulate_replications
from model.errors import UserError
from model.model import ReplicationStack
from model.reductions import mean, pairwise_row_means
from model.schedule import EventQueue
from model.simulate import run_table, stackable
from scenarios import apply_overrides, load_scenario


def assert_stack_is_its_solo_runs(scenario, seeds, scale, years):
    stack = ReplicationStack(scenario, seeds, scale=scale, years=years)
    stack.run()
    for seed, yearly in zip(seeds, stack.replication_yearly):
        solo = simulate(scenario, seed, scale=scale, years=years, reuse_burn_in=False)
        pd.testing.assert_frame_equal(run_table(scenario.name, seed, scale, yearly), solo, check_exact=True)


@pytest.mark.parametrize("name, scale", [("baseline", "county"), ("packages/documents_reform", "county"),
                                         ("mechanisms/joint_inspection", "city"), ("baseline", "province")])
def test_each_replication_of_a_stack_is_its_seeds_solo_run(name, scale):
    assert_stack_is_its_solo_runs(load_scenario(name), [3, 1, 4, 1_000_003], scale, 2)


@settings(max_examples=60, deadline=None)
@given(rows=st.integers(1, 12), length=st.integers(1, 2000), seed=st.integers(0, 2**32 - 1))
def test_row_means_are_each_rows_own_mean(rows, length, seed):
    """The year's metrics of a stack take every run's means in one reduction along rows; each row's
    must be, bit for bit, the mean a solo run takes of its own array."""
    values = np.random.default_rng(seed).lognormal(0.0, 3.0, (rows, length))
    np.testing.assert_array_equal(pairwise_row_means(values), [mean(row) for row in values])


@settings(max_examples=6, deadline=None)
@given(levers=st.fixed_dictionaries({name: st.floats(0, 1) for name in LEVERS if LEVERS[name].high == 1}),
       seeds=st.lists(st.integers(0, 2**32), min_size=1, max_size=4))
def test_a_stack_equals_its_solo_runs_for_any_levers_and_seeds(levers, seeds):
    scenario = apply_overrides(load_scenario("baseline"), {f"levers.{k}": v for k, v in levers.items()})
    assert_stack_is_its_solo_runs(scenario, seeds, "county", 1)


def test_a_stack_refuses_a_national_scale_no_seeds_and_agents_in_one_line():
    baseline = load_scenario("baseline")
    with pytest.raises(UserError, match=r"^ReplicationStack: scale: national has several provinces, which run apart; "
                                        r"allowed: county, city, province$"):
        ReplicationStack(baseline, [1, 2], scale="national", years=1)
    with pytest.raises(UserError, match=r"^ReplicationStack: seeds: \[\] is not a list of seeds"):
        ReplicationStack(baseline, [], scale="county", years=1)
    with pytest.raises(UserError, match=r"^ReplicationStack: seed: -2 is not a whole number"):
        ReplicationStack(baseline, [1, -2], scale="county", years=1)
    with pytest.raises(RuntimeError, match="makes no agents"):
        ReplicationStack(baseline, [1, 2], scale="county", years=1).agents
    for arguments, message in (
            (dict(seeds=5), r"^simulate_replications: seeds: 5 is not a list of seeds"),
            (dict(seeds=[1, 2], scale="bogus"), r"^simulate_replications: scale: 'bogus' is not a scale; allowed: "),
            (dict(seeds=[1, 2], tags=[()]), r"^simulate_replications: tags: 1 for 2 seeds; allowed: ")):
        with pytest.raises(UserError, match=message):
            simulate_replications(baseline, **{"years": 1, **arguments})


def test_burn_in_snapshots_pass_between_stacks_and_solo_runs():
    """A stack's snapshot of a replication continues as that seed's solo run, and a stack starts
    from solo runs' snapshots (or another stack's, in any order) as from its own burn-in."""
    reform, baseline, seeds = load_scenario("packages/documents_reform"), load_scenario("baseline"), [5, 6, 7]
    solo = {seed: simulate(reform, seed, scale="county", years=2, reuse_burn_in=False) for seed in seeds}
    burn_in = ReplicationStack(reform, seeds, scale="county", years=2)
    burn_in.run_burn_in()
    stacked_states = burn_in.snapshots()
    for seed, state in zip(seeds, stacked_states):
        model = SupervisionModel(reform, seed, scale="county", years=2, burn_in=state)
        pd.testing.assert_frame_equal(run_table(reform.name, seed, "county", model.run()), solo[seed],
                                      check_exact=True)
    solo_states = []
    for seed in seeds:
        model = SupervisionModel(baseline, seed, scale="county", years=2)  # the burn-in ignores the levers
        model.run_burn_in()
        solo_states.append(model.snapshot())
    for order, states in ((seeds, solo_states), (seeds[::-1], stacked_states[::-1])):
        stack = ReplicationStack(reform, order, scale="county", years=2, burn_ins=states)
        stack.run()
        for seed, yearly in zip(order, stack.replication_yearly):
            pd.testing.assert_frame_equal(run_table(reform.name, seed, "county", yearly), solo[seed],
                                          check_exact=True)


@given(st.lists(st.lists(st.tuples(st.integers(0, 11), st.integers(0, 29)), max_size=40), min_size=1, max_size=5))
def test_a_stacks_calendar_splits_into_the_calendars_it_joined(parts):
    """Replications' calendars of due events, joined into a stack's and split again (its snapshots),
    come back as they were: the same events in the same order within each week."""
    horizon, codes_per_part = 12, 30
    calendars = []
    for events in parts:
        events = sorted(events, key=lambda event: event[0])  # a calendar holds them week by week
        calendars.append(EventQueue._of(horizon, np.array([w for w, _ in events], np.int64),
                                        np.array([c for _, c in events], np.int64)))
    stacked = EventQueue.joined(calendars, [r * codes_per_part for r in range(len(parts))])
    for calendar, part in zip(calendars, stacked.split(codes_per_part, len(parts))):
        np.testing.assert_array_equal(part.fill, calendar.fill)
        for got, expected in zip(part._entries(), calendar._entries()):  # weeks, then codes
            np.testing.assert_array_equal(got, expected)


def test_simulate_replications_gives_simulates_tables_whatever_burn_ins_are_kept():
    """Some seeds' burn-ins kept from earlier runs, others not, a seed twice, tags per run: each
    table is simulate()'s, attrs included; a national scale runs its seeds one after another."""
    reform = load_scenario("packages/documents_reform")
    simulate(reform, 21, scale="county", years=1)  # keeps seed 21's burn-in snapshot in this process
    seeds, tags = [20, 21, 22, 20], [(("replication", r),) for r in range(4)]
    tables = simulate_replications(reform, seeds, scale="county", years=1, tags=tags)
    for seed, tag, table in zip(seeds, tags, tables):
        solo = simulate(reform, seed, scale="county", years=1, reuse_burn_in=False, tags=tag)
        pd.testing.assert_frame_equal(table, solo, check_exact=True)
        assert table.attrs == solo.attrs
    again = simulate_replications(reform, seeds, scale="county", years=1, tags=tags)  # every burn-in kept now
    for table, earlier in zip(again, tables):
        pd.testing.assert_frame_equal(table, earlier, check_exact=True)
    assert stackable("city") and not stackable("national")


def test_a_study_stacks_each_points_replications_and_gets_the_solo_tables(monkeypatch):
    """run_all sends chunks of runs to run_stacked, which stacks each design point's consecutive
    replications: the table is the solo runs', in spec order, with one worker or two."""
    baseline, reform = load_scenario("baseline"), load_scenario("packages/documents_reform")
    specs = [RunSpec(scenario, seed, scale=scale, years=1, tags=(("replication", r),))
             for scenario, scale in ((baseline, "county"), (reform, "county"), (reform, "city"))
             for r, seed in enumerate(replication_seeds(5))]
    solo = pd.concat([run_one(spec) for spec in specs], ignore_index=True)
    stacks, stacked = [], runner.simulate_replications
    monkeypatch.setattr(runner, "simulate_replications",
                        lambda scenario, seeds, **options: stacks.append(len(seeds)) or stacked(scenario, seeds,
                                                                                              **options))
    pd.testing.assert_frame_equal(pd.concat(run_stacked(specs), ignore_index=True), solo, check_exact=True)
    assert stacks == [5, 5, 5]
    for workers in (1, 2):
        pd.testing.assert_frame_equal(run_all(specs, workers=workers, progress=False), solo, check_exact=True)
