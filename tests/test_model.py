"""Model invariants, agents, reproducibility and provenance."""
from __future__ import annotations

import dataclasses
import gc
import pickle
import sys
import weakref

import numpy as np
from numba.typed import List
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from experiments import RunSpec, replication_seeds, run_all
from model import (LEVERS, METRICS, Department, GrassrootsUnit, SupervisionBody, SupervisionModel, code_version,
                   simulate)
from model.inspection import INSPECTION_TOTALS, expected_data_days
from model.organisation import build_organisation
from model.errors import UserError
from model.params import SCALES, Schedule
from model.model import BurnInState, ReplicationStack, footprint
from model.simulate import BurnInCache, run_table
from model.units import MAJOR, WIDTH, _allocate, _arise_and_heal
from scenarios import apply_overrides, load_scenario

CLOSED_FORM_METRIC = "data_acquisition_days"
SHARES = [m for m in METRICS if m.endswith(("_share", "_rate", "_months"))
          or m in ("grassroots_recognition", "public_satisfaction", "formalism_index")]


def step_checking_invariants(model: SupervisionModel, weeks: int) -> None:
    for _ in range(weeks):
        model.step()
        u = model.units
        total = u.work + u.materials + u.hosting
        assert np.allclose(total, 1.0), "time shares must sum to 1"
        for share in (u.work, u.materials, u.hosting, u.ledgers):
            assert share.min() >= -1e-12 and share.max() <= 1 + 1e-12
        assert (u.materials >= u.ledgers).all(), "ledgers are part of materials"
        assert u.latent.min() >= 0
        assert (u.unresolved >= u.latent).all(), "a latent problem is always unresolved"
        assert (u.latent_ordinary == u.latent[:, :MAJOR].sum(axis=1)).all(), "the kept count is the row sum"


def test_weekly_invariants_hold_at_baseline():
    model = SupervisionModel(load_scenario("baseline"), seed=3, scale="county", years=1)
    step_checking_invariants(model, 3 * 52)
    assert not model.running


@settings(max_examples=12, deadline=None)
@given(levers=st.fixed_dictionaries({name: st.floats(0, 1) for name in LEVERS if LEVERS[name].high == 1}),
       seed=st.integers(0, 2**31))
def test_invariants_and_metric_ranges_hold_for_any_levers(levers, seed):
    scenario = load_scenario("baseline", levers)
    model = SupervisionModel(scenario, seed=seed, scale="county", years=1)
    step_checking_invariants(model, 3 * 52)
    frame = pd.DataFrame(model.yearly)
    for metric in SHARES:
        values = frame[metric].dropna()
        assert ((values >= 0) & (values <= 1)).all(), metric
    assert (frame["inspections_per_unit_year"] >= 0).all()
    kinds = frame["onsite_inspections_per_unit_year"] + frame["remote_inspections_per_unit_year"]
    assert np.allclose(frame["inspections_per_unit_year"], kinds), "inspections of every kind: on site plus off site"


@settings(max_examples=60, deadline=None)
@given(hosting=st.floats(0, 0.5), ratio=st.floats(0.2, 2.0), ledger_base=st.floats(0, 0.6),
       intent=st.floats(0, 0.8), memory=st.floats(0, 3), integrity=st.floats(0, 1))
def test_ledgers_follow_the_items_and_more_items_never_mean_less_material_time(hosting, ratio, ledger_base, intent,
                                                                              memory, integrity):
    """ODD 7.2: ledgers are owed per item as far as hosting leaves room; the chosen part gives back
    less than the extra ledgers take, so material time never falls as items rise."""
    minimum_work = 0.1
    p = np.array([1.0, 0.2, 0.3, 0.5, 0.1, 0.1, 3.0, 0.15, minimum_work, ledger_base])
    out = {}
    for label, r in (("fewer", ratio), ("more", 2 * ratio)):
        state = [np.array([intent]), np.zeros(1), np.zeros(1), np.zeros(1)]  # intent, materials, ledgers, work
        _allocate(*state, np.array([hosting]), np.array([memory]), np.array([integrity]), np.array([r]),
                  np.ones(1), p)
        intent_after, materials, ledgers, work = (a[0] for a in state)
        assert ledgers == pytest.approx(min(ledger_base * r, max(1 - hosting - minimum_work, 0)))
        assert hosting + materials + work == pytest.approx(1.0) and materials >= ledgers
        out[label] = materials
    assert out["more"] >= out["fewer"] - 1e-12


def test_unannounced_checks_change_nothing_when_every_inspection_is_off_site():
    """Unannounced checks are a share of on-site visits: with none on site, there are none, and
    evaluations see no more truth for the lever."""
    def run(unannounced: float) -> pd.DataFrame:
        scenario = load_scenario("baseline", {"remote_share": 1.0, "unannounced_share": unannounced})
        return simulate(scenario, 4, scale="city", years=1)

    pd.testing.assert_frame_equal(run(0.0), run(0.5))


def test_a_relayed_item_faces_the_negative_list_once_where_it_was_issued():
    """An item's category does not change as it is relayed down; relayed copies of kept items are
    never struck, so relaying more strikes no more items."""
    def struck(relay: float) -> float:
        counts = []
        for seed in range(12):  # struck items per city year: about 100, sd 10
            scenario = load_scenario("baseline", {"negative_list_share": 1.0, "behaviour.relay_probability": relay,
                                                  "burn_in_years": 1, "years": 1})
            model = SupervisionModel(scenario, seed=seed, scale="city")
            for _ in range(53):  # the burn-in year, then the policy year's plan
                model.step()
            counts.append(model.plan.struck)
        return float(np.mean(counts))

    assert struck(1.0) == pytest.approx(struck(0.0), rel=0.1)


def test_tolerance_waives_only_blame_for_outside_causes():
    """Tolerance (容错纠错) waives sanctions for problems with outside causes, and units expect no
    more than that: with no such problems it changes nothing, in the rules or in the units' choices."""
    def run(tolerance: float, exogenous_share: float) -> pd.DataFrame:
        scenario = load_scenario("baseline", {"tolerance": tolerance, "behaviour.exogenous_share": exogenous_share})
        return simulate(scenario, 5, scale="city", years=2)

    pd.testing.assert_frame_equal(run(0.0, 0.0), run(1.0, 0.0))
    assert not run(0.0, 0.3)["material_hours_per_week"].equals(run(1.0, 0.3)["material_hours_per_week"])


@pytest.fixture(scope="module")
def three_provinces():
    """A small scale with several provinces (120 units), so the per-province paths run cheaply."""
    SCALES["three_provinces"] = (3, 2, 2, 10)
    yield "three_provinces"
    del SCALES["three_provinces"]


@settings(max_examples=8, deadline=None)
@given(levers=st.fixed_dictionaries({name: st.floats(0, 1) for name in LEVERS if LEVERS[name].high == 1}),
       seed=st.integers(0, 2**31))
def test_provinces_keep_the_invariants_and_give_the_same_run_in_any_threads_for_any_levers(three_provinces, levers,
                                                                                             seed):
    scenario = load_scenario("baseline", levers)
    stepped = SupervisionModel(scenario, seed=seed, scale=three_provinces, years=1, threads=2)
    assert len(stepped.provinces) == 3
    step_checking_invariants(stepped, 3 * 52)
    whole = SupervisionModel(scenario, seed=seed, scale=three_provinces, years=1, threads=1)
    assert pd.DataFrame(whole.run()).equals(pd.DataFrame(stepped.yearly))


def test_agents_are_mesa_agents_and_units_are_views_on_the_arrays():
    model = SupervisionModel(load_scenario("baseline"), seed=1, scale="city", years=1)
    organisation = build_organisation("city")
    assert len(model.agents_by_type[GrassrootsUnit]) == organisation.n_units == 150
    assert len(model.bodies) == 20 and len(model.departments) == 24
    assert all(isinstance(a, SupervisionBody) for a in model.bodies)
    assert all(isinstance(a, Department) for a in model.departments)
    for _ in range(30):
        model.step()
    unit = model.unit(42)
    assert unit.material_hours_per_week == pytest.approx(model.units.materials[42] * 50)
    assert unit.ledger_hours_per_week == pytest.approx(model.units.ledgers[42] * 50)
    assert 0 < unit.ledger_hours_per_week < unit.material_hours_per_week
    assert unit.latent_problems == model.units.latent[42].sum()
    assert sum(unit.time_shares.values()) == pytest.approx(1.0)
    assert sum(body.visits_this_year for body in model.bodies) + sum(
        d.visits_this_year for d in model.departments) == model.plan.unit.size


API_MISTAKES = {  # a Python caller's mistake: the argument, and what the one-line message must name
    "scale": (dict(scale="City"), "simulate: scale: 'City' is not a scale; allowed: county, city, province, national"),
    "seed as text": (dict(seed="1"), "simulate: seed: '1' is not a whole number >= 0; allowed: an integer >= 0"),
    "negative seed": (dict(seed=-1), "simulate: seed: -1"),
    "no policy year": (dict(years=0), "simulate: years: 0 is not a number of policy years; allowed: an integer in "
                                       "[1, 50]"),
    "fractional years": (dict(years=1.5), "simulate: years: 1.5"),
    "scenario by name": (dict(scenario="baseline"), "simulate: scenario: 'baseline' is a str, not a Scenario"),
}


@pytest.mark.parametrize("case", sorted(API_MISTAKES))
def test_a_python_callers_mistake_is_a_one_line_user_error(case):
    change, message = API_MISTAKES[case]
    arguments = {"scenario": load_scenario("baseline"), "seed": 1, "scale": "county", "years": 1, **change}
    with pytest.raises(UserError) as raised:
        simulate(**arguments)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_a_unit_outside_the_model_is_refused_by_its_number():
    model = SupervisionModel(load_scenario("baseline"), seed=1, scale="county", years=1)
    assert model.unit(19) is model.unit_agents[19]
    for index in (20, -1, "7"):
        with pytest.raises(UserError, match=r"^unit: .* is not a unit of this county model; allowed: an integer from 0 "
                                             r"to 19$"):
            model.unit(index)


def test_an_override_mistake_in_python_names_the_overrides_not_the_command_line():
    with pytest.raises(UserError, match=r"^overrides: merge_rat: unknown lever or parameter; allowed: "):
        load_scenario("baseline", overrides={"merge_rat": 0.6})


def test_agents_made_on_first_read_are_the_constructors_agents_and_change_no_result():
    """The agents are made when first read (a run never reads them): whenever that is, a reader
    sees every issuer and unit, in the constructor's order with ids 1 to n, and the run's
    results are the same whether agents were read before it, during it or never."""
    scenario, n_units = load_scenario("baseline"), build_organisation("county").n_units
    quiet = SupervisionModel(scenario, seed=5, scale="county", years=1)
    quiet.run()
    read_first = SupervisionModel(scenario, seed=5, scale="county", years=1)
    agents = list(read_first.agents)
    assert [a.unique_id for a in agents] == list(range(1, len(agents) + 1))
    assert len(agents) == len(read_first.planner.sources) + n_units
    assert [a.index for a in agents if isinstance(a, GrassrootsUnit)] == list(range(n_units))
    assert read_first.unit(7) is agents[len(read_first.planner.sources) + 7]
    for _ in range(20):
        read_first.step()
    assert read_first.unit(3).integrity == read_first.units.integrity[3]
    read_first.run()
    assert pd.DataFrame(read_first.yearly).equals(pd.DataFrame(quiet.yearly))
    stepped = SupervisionModel(scenario, seed=5, scale="county", years=1)
    stepped.step()
    assert len(stepped.agents_by_type[GrassrootsUnit]) == n_units, "first read after a step sees them all"

def test_the_run_table_is_the_plain_constructors_frame_and_each_run_owns_its_own():
    """simulate() builds its table from column blocks (model.simulate.run_table) with string columns
    made once per process: the frame must be what pd.DataFrame gives for the same columns, and
    changing one run's table must not change another's."""
    scenario = load_scenario("baseline")
    model = SupervisionModel(scenario, seed=4, scale="county", years=2)
    yearly = model.run()
    columns = {"scenario": [scenario.name] * len(yearly), "seed": [4] * len(yearly), "scale": ["county"] * len(yearly)}
    columns.update({name: np.array([year[name] for year in yearly]) for name in yearly[0]})
    first, second = (run_table(scenario.name, 4, "county", yearly) for _ in range(2))
    pd.testing.assert_frame_equal(first, pd.DataFrame(columns), check_exact=True)
    first.loc[0, "scenario"], first.loc[1, "phase"], first.loc[2, "seed"] = "changed", "changed", -1
    pd.testing.assert_frame_equal(second, pd.DataFrame(columns), check_exact=True)
    assert run_table(scenario.name, 4, "county", yearly).equals(second)


def test_tags_are_columns_after_scale_as_insert_makes_them_and_bad_tags_are_refused():
    """A study's run carries its design point, replication and factor values as columns
    (simulate(tags=...)): the same frame, dtypes included, as inserting each tag after scale."""
    scenario = load_scenario("baseline")
    tags = (("point", 3), ("replication", 1), ("merge_rate", 0.6), ("pilot", True), ("arm", "b"),
            ("level", np.int32(2)))
    tagged = simulate(scenario, seed=2, scale="county", years=1, tags=tags)
    expected = simulate(scenario, seed=2, scale="county", years=1)
    for position, (name, value) in enumerate(tags):
        expected.insert(3 + position, name, value)
    pd.testing.assert_frame_equal(tagged, expected, check_exact=True)
    for bad, error in (((("x", None),), TypeError), ((("x", [1]),), TypeError), ((("year", 1),), ValueError),
                       ((("detection_rate", 0.1),), ValueError), ((("a", 1), ("a", 2)), ValueError)):
        with pytest.raises(error, match=f"tag {bad[0][0]}"):
            simulate(scenario, seed=2, scale="county", years=1, tags=bad)


def test_same_scenario_and_seed_give_identical_results_and_carry_provenance():
    scenario = load_scenario("packages/documents_reform")
    first = simulate(scenario, seed=11, scale="county", years=2)
    second = simulate(scenario, seed=11, scale="county", years=2)
    pd.testing.assert_frame_equal(first, second)
    assert first.attrs["code_version"] == code_version() and first.attrs["seed"] == 11
    assert (first["scenario"] == "documents_reform").all() and (first["seed"] == 11).all()
    assert list(first["phase"]) == ["burn_in", "burn_in", "policy", "policy"]
    assert list(first["year"]) == [2022, 2023, 2024, 2025]
    other = simulate(scenario, seed=12, scale="county", years=2)
    assert not first.drop(columns="seed").equals(other.drop(columns="seed"))


def test_a_runs_provenance_names_the_overrides_its_file_does_not_hold():
    scenario = apply_overrides(load_scenario("baseline", {"merge_rate": 0.4, "years": 1}),
                               {"levers.merge_rate": 0.5, "behaviour.detection_base": 0.3, "scale": "county"})
    frame = simulate(scenario, seed=5)
    assert frame.attrs["overrides"] == {"levers.merge_rate": 0.5, "years": 1, "behaviour.detection_base": 0.3,
                                        "scale": "county"}
    rerun = simulate(apply_overrides(load_scenario(frame.attrs["source"]), frame.attrs["overrides"]), seed=5)
    pd.testing.assert_frame_equal(frame, rerun)
    assert simulate(load_scenario("baseline"), seed=5, scale="county", years=1).attrs["overrides"] == {}


def test_detection_gain_measures_every_year_against_the_last_burn_in_year():
    scenario = apply_overrides(load_scenario("packages/documents_reform"), {"burn_in_years": 3, "years": 2})
    table = simulate(scenario, seed=4, scale="county")
    found = table["problems_found_per_unit_year"].to_numpy()
    reference = found[2]
    assert list(table["phase"]) == ["burn_in"] * 3 + ["policy"] * 2
    np.testing.assert_allclose(table["detection_gain"], found / reference - 1.0)
    assert table["detection_gain"].iloc[2] == 0.0 and table["detection_gain"].iloc[:2].ne(0.0).any()


def test_runs_continuing_from_a_burn_in_snapshot_equal_full_runs():
    """A lever-only study continues each replication from its burn-in snapshot; the tables must be
    the full runs' bit for bit, and a behaviour change must not pick up another burn-in."""
    seed = 21
    simulate(load_scenario("baseline"), seed, scale="city", years=2)  # leaves the snapshot
    for name in ("packages/documents_reform", "mechanisms/remote_inspection", "mechanisms/accountability"):
        scenario = load_scenario(name)
        continued = simulate(scenario, seed, scale="city", years=2)
        full = simulate(scenario, seed, scale="city", years=2, reuse_burn_in=False)
        pd.testing.assert_frame_equal(continued, full, check_exact=True)
    base = load_scenario("baseline")
    changed = dataclasses.replace(base, behaviour={**base.behaviour,
                                                   "problem_arrival": base.behaviour["problem_arrival"] * 1.5})
    burn_in = simulate(changed, seed, scale="city", years=2).query("phase == 'burn_in'")
    reference = simulate(base, seed, scale="city", years=2).query("phase == 'burn_in'")
    assert not burn_in.drop(columns="scenario").equals(reference.drop(columns="scenario"))
    pd.testing.assert_frame_equal(burn_in, simulate(changed, seed, scale="city", years=2, reuse_burn_in=False)
                                  .query("phase == 'burn_in'"), check_exact=True)
    county = SupervisionModel(base, seed, scale="county", years=2)
    county.run_burn_in()
    with pytest.raises(ValueError, match="another scale"):
        SupervisionModel(base, seed, scale="city", years=2, burn_in=county.snapshot())


@pytest.mark.parametrize("scale", ["county", "province"])
def test_a_snapshots_size_is_what_it_holds(scale):
    """The burn-in cache's limit counts each snapshot's footprint: its arrays' bytes and the rest,
    each object once, within a tenth of what the snapshot takes pickled (which it no longer pays
    to measure), for a run's snapshot and a stack's."""
    baseline = load_scenario("baseline")
    model = SupervisionModel(baseline, 3, scale=scale, years=1)
    model.run_burn_in()
    stack = ReplicationStack(baseline, [3, 4], scale=scale, years=1)
    stack.run_burn_in()
    for state in (model.snapshot(), *stack.snapshots()):
        assert abs(state.nbytes / len(pickle.dumps(state.parts, protocol=5)) - 1) < 0.1
    looped = [np.zeros(1000)]
    looped.append(looped)  # counted once, as pickle stores it once
    assert footprint([looped, looped[0]]) == footprint(looped) + sys.getsizeof([None, None])


@given(limit=st.integers(1, 300), operations=st.lists(
    st.tuples(st.sampled_from(["take", "keep"]), st.integers(0, 5), st.integers(1, 120)), max_size=40))
@example(limit=100, operations=[("keep", 0, 50), ("keep", 1, 50), ("keep", 0, 30), ("keep", 2, 21)])
def test_the_burn_in_cache_keeps_the_most_recent_snapshots_within_its_limit(limit, operations):
    """Against a plain reference: snapshots kept in order of last use, the oldest dropped while the
    total is over the limit (never the newest), and the running total the sum of what is kept."""
    cache, reference = BurnInCache(limit_bytes=limit), {}
    for operation, key, nbytes in operations:
        if operation == "take":
            state = cache.take((key,))
            assert (state.nbytes if state else None) == reference.pop(key, None)
        else:
            cache.keep((key,), BurnInState((), {}, (), 0, nbytes))
            reference.pop(key, None)
            reference[key] = nbytes
            while len(reference) > 1 and sum(reference.values()) > limit:
                del reference[next(iter(reference))]
        assert len(cache) == len(reference) and cache.nbytes == sum(reference.values())
    assert [cache.take((key,)).nbytes for key in list(reference)] == list(reference.values())


def test_results_do_not_depend_on_worker_count():
    scenario = load_scenario("baseline")
    specs = [RunSpec(scenario, seed, scale="county", years=1) for seed in replication_seeds(4)]
    serial = run_all(specs, workers=1, progress=False)
    parallel = run_all(specs, workers=2, progress=False)
    pd.testing.assert_frame_equal(serial, parallel)
    assert serial.attrs == parallel.attrs


def test_a_table_of_many_runs_names_each_scenarios_file_and_overrides():
    variant = dataclasses.replace(load_scenario("baseline", {"merge_rate": 0.5}), name="merging_half")
    frame = run_all([RunSpec(s, seed, scale="county", years=1) for s in (load_scenario("baseline"), variant)
                     for seed in (1, 2)], workers=1, progress=False)
    assert frame.attrs["code_version"] == code_version()
    assert frame.attrs["scenarios"]["merging_half"] == {"source": variant.source,
                                                        "overrides": {"levers.merge_rate": 0.5}}
    assert frame.attrs["scenarios"]["baseline"]["overrides"] == {}


def test_national_results_do_not_depend_on_threads_and_continue_from_snapshots():
    """A national run's 31 provinces draw from their own streams, so the thread count that runs
    them changes nothing; a snapshot carries every province's stream and calendars."""
    base, reform, seed = load_scenario("baseline"), load_scenario("packages/documents_reform"), 5
    one_thread = SupervisionModel(reform, seed, scale="national", years=1, threads=1)
    assert len(one_thread.provinces) == 31
    full = pd.DataFrame(one_thread.run())
    burn_in = SupervisionModel(base, seed, scale="national", years=1, threads=2)
    burn_in.run_burn_in()
    continued = SupervisionModel(reform, seed, scale="national", years=1, burn_in=burn_in.snapshot(), threads=2)
    pd.testing.assert_frame_equal(pd.DataFrame(continued.run()), full, check_exact=True)
    found = continued.accumulator.counters(INSPECTION_TOTALS)[0, INSPECTION_TOTALS.index("found_all")]
    assert found > 0 and continued.accumulator.source_found.sum() == found  # every province's share added in


def test_thread_count_comes_from_the_environment_and_bad_values_are_named(monkeypatch):
    from model.errors import UserError
    from model.threads import THREADS_VARIABLE, default_threads

    monkeypatch.setenv(THREADS_VARIABLE, "3")
    assert default_threads() == 3
    monkeypatch.setenv(THREADS_VARIABLE, "two")
    with pytest.raises(UserError, match=f"{THREADS_VARIABLE}='two' is not allowed; allowed: a whole number >= 1"):
        default_threads()


def test_every_metric_is_reported_and_none_is_constant_across_seeds():
    scenario = load_scenario("baseline")
    frame = run_all([RunSpec(scenario, s, scale="city", years=1) for s in replication_seeds(4)],
                    workers=2, progress=False)
    final = frame[frame["phase"] == "policy"]
    for metric in METRICS:
        assert metric in final, metric
        assert final[metric].notna().all(), metric
        if metric == CLOSED_FORM_METRIC:
            continue
        assert final[metric].round(9).nunique() > 1, f"{metric} is the same in every run: is it a constant?"
    # The one documented exception (README, Outcomes; ODD 7.7): the expected wait given data sharing.
    behaviour, sharing = scenario.behaviour, scenario.levers["data_sharing_rate"].final
    expected = expected_data_days(behaviour["data_departments"], 1 - sharing, behaviour["data_request_days"])
    assert final[CLOSED_FORM_METRIC].to_numpy() == pytest.approx(float(expected), rel=1e-6)


def test_stepping_week_by_week_equals_running_a_year_per_call():
    """run() hands a year at a time to the compiled schedule; step() a week. Same draws, same table."""
    scenario, seed = load_scenario("packages/documents_reform"), 5
    stepped = SupervisionModel(scenario, seed, scale="county", years=1)
    while stepped.running:
        stepped.step()
    whole = SupervisionModel(scenario, seed, scale="county", years=1)
    assert pd.DataFrame(whole.run()).equals(pd.DataFrame(stepped.yearly))
    assert whole.steps == stepped.steps == whole.total_weeks
    with pytest.raises(RuntimeError, match="the run has ended: its 156 weeks"):
        stepped.step()  # its calendars end with the run: a step beyond used to read past them
    assert pd.DataFrame(whole.yearly).equals(pd.DataFrame(stepped.yearly))


def test_a_lever_changed_at_a_year_start_takes_effect_that_year():
    """Years with the same weekly lever values share their parameter tables; a changed lever must not."""
    base = load_scenario("baseline")
    phased = Schedule(((0, base.status_quo["data_sharing_rate"]), (52, 1.0)))  # all data shared from policy year 2
    scenario = dataclasses.replace(base, levers={**base.levers, "data_sharing_rate": phased})
    policy = simulate(scenario, 3, scale="city", years=2).query("phase == 'policy'")
    waits = policy["data_acquisition_days"].to_numpy()
    assert waits[0] > 1.0 and waits[1] == 0.5  # with every department's data shared, no request waits


def test_parameter_tables_are_shared_read_only_and_follow_the_behaviour():
    """A process keeps a year's tables for the runs that share its levers and behaviour; nothing may
    write to them, and other behaviour gets its own."""
    base = load_scenario("baseline")
    first, second = SupervisionModel(base, 1, scale="county"), SupervisionModel(base, 2, scale="county")
    first.step(), second.step()
    assert first._tables is second._tables and not first._tables["detection"].flags.writeable
    other = dataclasses.replace(base, behaviour={**base.behaviour, "detection_base": 0.5})
    changed = SupervisionModel(other, 1, scale="county")
    changed.step()
    assert changed._tables["detection"][0, 2] == 0.5 != first._tables["detection"][0, 2]


def test_setting_long_lived_objects_aside_collects_garbage_first(monkeypatch):
    """After a process's first run, what exists is set aside from the cyclic collector once; what
    is garbage by then (the first run's model, which Mesa's agents keep in cycles) is freed first,
    never set aside for good."""
    simulate_module = sys.modules["model.simulate"]
    monkeypatch.setattr(simulate_module, "_FROZEN", False)

    class Cycle:
        pass

    garbage = Cycle()
    garbage.self = garbage
    alive_until_collected = weakref.ref(garbage)
    del garbage
    freezes = []
    freeze = gc.freeze
    monkeypatch.setattr(gc, "freeze", lambda: freezes.append(freeze()))
    frozen_before = gc.get_freeze_count()
    simulate_module._freeze_long_lived_objects_once()
    assert alive_until_collected() is None and gc.get_freeze_count() > frozen_before
    simulate_module._freeze_long_lived_objects_once()
    assert len(freezes) == 1  # once per process (counting calls: a frozen object may still be freed by
    # its last reference going, e.g. in another thread, so the frozen count can fall)


@settings(max_examples=15, deadline=None)
@given(departments=st.integers(1, 12), p_unshared=st.floats(0, 1), request_days=st.floats(0.5, 20),
       p_unclear=st.floats(0, 1), data_need=st.floats(0, 1), seed=st.integers(0, 2**32 - 1))
@example(departments=2, p_unshared=1.1125369292536007e-308, request_days=1.0, p_unclear=0.0, data_need=0.0, seed=0)
def test_data_and_task_times_are_the_means_of_the_drawn_times(departments, p_unshared, request_days, p_unclear,
                                                             data_need, seed):
    """The model adds expected times (ODD 7.7); they must be the means of the times the ODD's draws
    would give: the slowest of Binomial(departments, p) exponential requests (0.5 day when none),
    processing Exp(mean days sqrt(scarcity)), coordination with chance p_unclear, data if needed."""
    from model.inspection import _data_and_task_days, expected_data_days

    rng = np.random.default_rng(seed)
    work = np.array([0.2, 0.45, 0.7])
    unit = np.array([0, 1, 2, 2])
    reference_work, minimum_work, processing_days = 0.45, 0.05, 3.0
    totals = np.zeros((1, len(INSPECTION_TOTALS)))  # one replication's row
    tasks = (float(expected_data_days(departments, p_unshared, request_days)), reference_work, minimum_work,
             processing_days, p_unclear, data_need)
    _data_and_task_days(work.size, unit, work, tasks, totals)
    totals = totals[0]

    draws = 200_000
    unshared = rng.binomial(departments, p_unshared, draws)
    slowest = request_days * -np.log1p(-rng.random(draws) ** (1.0 / np.maximum(unshared, 1)))
    data_days = np.where(unshared > 0, slowest, 0.5)
    scarcity = reference_work / np.maximum(work[unit], minimum_work)
    mean_task = np.mean([processing_days * np.sqrt(s) * rng.exponential(1.0, draws).mean() for s in scarcity])
    coordination = processing_days * rng.exponential(1.0, draws) * (rng.random(draws) < p_unclear)
    task_days = mean_task + (coordination + (rng.random(draws) < data_need) * data_days).mean()
    assert totals[INSPECTION_TOTALS.index("inspections_with_data")] == unit.size
    assert totals[INSPECTION_TOTALS.index("tasks")] == unit.size
    data_mean = totals[INSPECTION_TOTALS.index("data_days")] / unit.size
    # 5 standard errors, and 0.2% for what the sample misses when a case is too rare to be drawn
    assert data_mean == pytest.approx(data_days.mean(), abs=5 * data_days.std() / np.sqrt(draws), rel=2e-3)
    task_mean = totals[INSPECTION_TOTALS.index("task_days")] / unit.size
    assert task_mean == pytest.approx(task_days, rel=0.02)


def test_cached_kernels_are_cleared_when_any_model_source_changes(tmp_path, monkeypatch):
    """numba checks a cached kernel against its own file only; a change to a kernel it calls in
    another file must still recompile it."""
    from model import kernel_cache

    (tmp_path / "schedule.py").write_text("caller")
    (tmp_path / "inspection.py").write_text("callee")
    cache = tmp_path / "__pycache__"
    monkeypatch.setattr(kernel_cache, "MODEL_DIR", tmp_path)
    monkeypatch.setattr(kernel_cache, "CACHE_DIR", cache)
    monkeypatch.setattr(kernel_cache, "STAMP", cache / "kernels.sha256")
    kernel_cache.clear_stale_kernels()
    compiled = cache / "schedule._run_weeks-1.py311.1.nbc"
    compiled.write_bytes(b"machine code")
    kernel_cache.clear_stale_kernels()
    assert compiled.exists(), "unchanged sources keep the cache"
    (tmp_path / "inspection.py").write_text("callee, changed")
    kernel_cache.clear_stale_kernels()
    assert not compiled.exists(), "a changed callee clears the caller's cached code"


@pytest.mark.parametrize("event", ["arrival", "self_fix", "eruption"])
def test_event_clocks_give_each_weeks_chance_as_a_fresh_trial_would(event):
    """Problems arise, heal and erupt by clocks (one draw per event, not per week): given the week's
    state, each unit's event must still happen with the week's chance, week after week, as real work
    changes. One event at a time; a clock not restarted after its event, or a wrong week's factor,
    moves a week's count far outside its binomial spread."""
    n, rng = 40_000, np.random.default_rng(8)
    rates = {"arrival": 0.19, "self_fix": 0.08, "eruption": 0.02}
    problems = np.array([rates["arrival"] if event == "arrival" else 0.0, 2.0, 0.45, 0.08,
                         rates["self_fix"] if event == "self_fix" else 0.0,
                         rates["eruption"] if event == "eruption" else 0.0])
    latent = np.zeros((n, WIDTH), np.int16)
    latent[:, 3], latent[:, 17] = rng.integers(0, 4, n), rng.integers(0, 3, n)
    latent[:, MAJOR] = rng.integers(0, 4, n)
    ordinary = latent[:, :MAJOR].sum(axis=1, dtype=np.int64)
    unresolved, erupted = latent.copy(), np.zeros(n, np.int64)
    clocks = tuple(1.0 / (1.0 - rng.random(n)) for _ in range(3))
    arrived = majors_arrived = 0
    for real_work in (0.1, 0.6, 0.3, 0.9, 0.2, 0.45):
        work = np.full(n, real_work)
        before = latent.copy()
        if event == "arrival":
            chance = np.full(n, min(0.95, 0.19 * np.exp(-2.0 * (real_work - 0.45))))
        elif event == "self_fix":
            chance = 1.0 - (1.0 - 0.08 * real_work) ** before[:, :MAJOR].sum(axis=1)
        else:
            chance = 1.0 - 0.98 ** before[:, MAJOR].astype(float)
        _arise_and_heal(List([rng]), n, latent, ordinary, unresolved, clocks, work, problems, erupted, np.empty((2, n)),
                        np.zeros((1, 8)))
        events = np.abs(latent.astype(int) - before).sum(axis=1)
        assert events.max() <= 1, "at most one event of a kind per unit and week"
        expected, spread = chance.sum(), np.sqrt((chance * (1 - chance)).sum())
        assert abs(events.sum() - expected) < 4.5 * spread, (real_work, events.sum(), expected)
        assert (ordinary == latent[:, :MAJOR].sum(axis=1)).all()
        arrived += int(events.sum())
        majors_arrived += int((latent[:, MAJOR] - before[:, MAJOR]).clip(0).sum())
    if event == "arrival":  # what an arrival is: major with chance major_share
        assert abs(majors_arrived - 0.08 * arrived) < 4.5 * np.sqrt(arrived * 0.08 * 0.92)


def test_a_counter_is_kept_in_one_block_only():
    """The year's totals take each counter from the one block that holds it, so a rule asking for
    a block that repeats another's counter is refused rather than counted once of two."""
    from model.metrics import YearAccumulator
    from model.units import QUARTER_TOTALS
    accumulator = YearAccumulator(n_units=3, n_sources=2)
    accumulator.counters(QUARTER_TOTALS)[0, 0] = 2.0
    assert accumulator.counters(QUARTER_TOTALS)[0, 0] == 2.0  # the same block again
    with pytest.raises(ValueError, match="in two blocks"):
        accumulator.counters(("tasks", "reports"))
    with pytest.raises(ValueError, match="twice in one"):
        accumulator.counters(("tasks", "tasks"))
