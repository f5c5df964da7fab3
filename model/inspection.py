"""Visits, detection, rectification and accountability (brief 3.5-3.7).

A visit finds each in-scope problem with a chance set by its depth, focus, the inspectors'
professionalism, data access and the unit's concealment. Each found problem opens a
rectification case whose course (genuine or surface fix, duration, acceptance, follow-up,
recheck, rebound, sanctions) is drawn when the case opens; the consequences reach the unit's
state at the weeks they happen through an event queue. Rectification metrics belong to the
year the problem was found (a cohort).
"""
from __future__ import annotations

import numpy as np

from .organisation import N_TOPICS
from .params import WEEKS_PER_YEAR
from .planning import ANNOUNCED, REMOTE, UNANNOUNCED
from .units import MAJOR, UnitState, falsification_catch_by_mode, perceived_accountability

TOPIC_SHIFTS = np.arange(N_TOPICS, dtype=np.int64)
RECHECK_WEEKS = 26
REBOUND_WINDOW_WEEKS = 52
DAYS_PER_WEEK = 7


class EventQueue:
    """Future changes to unit state, bucketed by absolute week; events past the run are dropped."""

    def __init__(self, horizon: int):
        self.horizon = horizon
        self.buckets: list[list] = [[] for _ in range(horizon)]

    def push(self, week: np.ndarray, *columns: np.ndarray) -> None:
        week = np.asarray(week, dtype=np.int64)
        inside = week < self.horizon
        if not inside.any():
            return
        week = week[inside]
        columns = [c[inside] for c in columns]
        order = np.argsort(week, kind="stable")
        week = week[order]
        bounds = np.flatnonzero(np.r_[True, week[1:] != week[:-1], True])
        for a, b in zip(bounds[:-1], bounds[1:]):
            self.buckets[week[a]].append(tuple(c[order[a:b]] for c in columns))

    def pop(self, week: int) -> list[np.ndarray] | None:
        parts = self.buckets[week]
        self.buckets[week] = []
        if not parts:
            return None
        return [np.concatenate(column) for column in zip(*parts)]


def hosting_load(mode, members, levers: dict, behaviour: dict) -> np.ndarray:
    """Unit-weeks of hosting each visit imposes; remote inspections without shared data make
    the unit compile the data itself."""
    factor = np.where(mode == ANNOUNCED, 1.0,
                      np.where(mode == UNANNOUNCED, behaviour["unannounced_hosting_factor"],
                               behaviour["remote_hosting_factor"]))
    load = behaviour["hosting_load"] * factor
    load = load + (mode == REMOTE) * behaviour["remote_data_compilation"] * (1 - levers["data_sharing_rate"])
    return load * (1 + behaviour["joint_member_load"] * (members - 1))


def professional_multiplier(levers: dict, behaviour: dict) -> float:
    share = levers["professional_share"]
    return (1 - share) + share * behaviour["professional_effect"]


def detection_probability(visit_mode, special, depth, unit, state: UnitState, levers, behaviour):
    """Per-problem chance a visit finds an in-scope problem."""
    intensity = depth * np.where(special, behaviour["special_depth"], 1.0) * professional_multiplier(levers, behaviour)
    skill = 1.0 - (1.0 - behaviour["detection_base"]) ** intensity
    preparedness = 0.5 + 0.5 * np.minimum(1.0, state.materials[unit] / 0.3)
    hidden = behaviour["concealment"] * (1 - state.integrity[unit]) * preparedness
    on_site = skill * (1 - hidden * np.where(visit_mode == UNANNOUNCED, behaviour["unannounced_concealment_factor"], 1.0))
    data = behaviour["quantifiable_share"] * behaviour["data_detection"] * levers["data_sharing_rate"]
    remote = data + (1 - behaviour["quantifiable_share"]) * 0.5 * skill * (1 - hidden)
    return np.where(visit_mode == REMOTE, remote, on_site)


def inspect_week(visits: dict, rounds: list[tuple[int, int]], state: UnitState, rng: np.random.Generator,
                 levers: dict, behaviour: dict, now: int, events: EventQueue, sanctions: EventQueue, acc) -> None:
    """Run this week's visits. Detection runs round by round (no unit twice in a round, so each
    round sees what earlier visits that week left); the consequences are drawn once for the week."""
    unit, mode, special = visits["unit"], visits["mode"], visits["special"]
    if unit.size == 0:
        return
    d = detection_probability(mode, special, visits["depth"], unit, state, levers, behaviour)
    d_major = 1.0 - (1.0 - d) ** behaviour["major_visibility"]
    major_share_in_scope = np.minimum(1.0, visits["n_topics"] / N_TOPICS)
    bits = ((visits["mask"][:, None] >> TOPIC_SHIFTS) & 1).astype(bool)
    scope = np.zeros(unit.size)
    found = np.zeros(unit.size)
    major_found = np.zeros(unit.size, dtype=np.int64)
    case_units, case_columns = [], []
    for start, stop in rounds:
        u = unit[start:stop]
        in_scope = np.where(bits[start:stop], state.latent[u, :MAJOR], 0)
        vi, ti = np.nonzero(in_scope)
        counts = in_scope[vi, ti]
        hits = rng.binomial(counts, d[start + vi])
        majors_in_scope = rng.binomial(state.latent[u, MAJOR], major_share_in_scope[start:stop])
        major_hits = rng.binomial(majors_in_scope, d_major[start:stop])
        state.latent[u[vi], ti] -= hits
        state.latent[u, MAJOR] -= major_hits
        scope[start:stop] = np.bincount(vi, weights=counts, minlength=u.size) + majors_in_scope
        found[start:stop] = np.bincount(vi, weights=hits, minlength=u.size) + major_hits
        major_found[start:stop] = major_hits
        case_units += [np.repeat(u[vi], hits), np.repeat(u, major_hits)]
        case_columns += [np.repeat(ti, hits), np.full(int(major_hits.sum()), MAJOR)]

    acc.record_detection(mode, special, scope, found, major_found)
    acc.record_unit_visits(unit, visits["duplicate"], found > 0)
    acc.record_source_found(visits["source"], found)
    state.visited_this_quarter[unit] = True
    open_cases(np.concatenate(case_units), np.concatenate(case_columns), now, state, rng, levers, behaviour,
               events, sanctions, acc)
    catch_falsification(unit, mode, state, rng, levers, behaviour, now, sanctions, acc)
    record_data_and_tasks(unit, state, rng, levers, behaviour, acc)


def catch_falsification(unit, mode, state, rng, levers, behaviour, now, sanctions, acc) -> None:
    liars = state.falsified[unit]
    if not liars.any():
        return
    p = falsification_catch_by_mode(levers, behaviour)[mode]
    caught = unit[liars & (rng.random(unit.size) < p)]
    caught = np.unique(caught)
    state.falsified[caught] = False
    sanction_p = min(1.0, behaviour["falsification_sanction_multiplier"] * levers["accountability_intensity"])
    sanctioned = rng.random(caught.size) < sanction_p
    sanctions.push(np.full(int(sanctioned.sum()), now), caught[sanctioned])
    acc.record_falsification_found(caught.size, int(sanctioned.sum()), caught[sanctioned])


def record_data_and_tasks(unit, state, rng, levers, behaviour, acc) -> None:
    """Data acquisition: the slowest of the unshared departments' requests; supervised tasks
    take processing time (longer when real work is short), coordination when responsibility is
    unclear, and data time when they need cross-department data."""
    n = unit.size
    draws = rng.random((4, n))
    unshared = rng.binomial(int(behaviour["data_departments"]), 1 - levers["data_sharing_rate"], n)
    slowest = -np.log1p(-draws[0] ** (1.0 / np.maximum(unshared, 1)))
    data_days = np.where(unshared > 0, behaviour["data_request_days"] * slowest, 0.5)
    scarcity = behaviour["reference_real_work"] / np.maximum(state.work[unit], behaviour["minimum_real_work"])
    processing = behaviour["task_processing_days"] * np.sqrt(scarcity) * -np.log1p(-draws[1])
    unclear = draws[2] < 1 - levers["responsibility_clarity"]
    coordination = unclear * behaviour["task_processing_days"] * -np.log1p(-draws[3])
    needs_data = rng.random(n) < behaviour["task_data_need"]
    acc.record_data_and_tasks(data_days, processing + coordination + needs_data * data_days)


def open_cases(unit, column, now, state, rng, levers, behaviour, events, sanctions, acc) -> None:
    """Draw each found problem's rectification course and schedule its consequences."""
    n = unit.size
    if n == 0:
        return
    b = behaviour
    major = column == MAJOR
    scarcity = b["reference_real_work"] / np.maximum(state.work[unit], b["minimum_real_work"])
    severity_factor = np.where(major, b["major_sanction_multiplier"], 1.0)
    catch_at_acceptance = 1 - (1 - b["acceptance_check"]) ** professional_multiplier(levers, b)
    catch_total = 1 - (1 - catch_at_acceptance) * (1 - levers["closed_loop"] * b["recheck_catch"])

    # The unit's choice: a surface fix saves the genuine fix's cost unless it is caught (then it
    # must be redone), against the sanction it expects (its perception, raised by past sanctions).
    saving = (1 - catch_total) - 1 / b["surface_cost_ratio"]
    benefit = b["genuine_fix_cost"] * saving * scarcity * np.where(major, 2.0, 1.0)
    expected_sanction = np.minimum(1.0, b["surface_sanction_multiplier"] * severity_factor
                                   * perceived_accountability(state, levers)[unit])
    penalty = catch_total * expected_sanction * levers["sanction_severity"] * b["sanction_cost"]
    moral = b["intrinsic_weight"] * state.integrity[unit]
    p_surface = 1.0 / (1.0 + np.exp(-(benefit - penalty - moral) / b["choice_noise"]))

    draws = rng.random((8, n))
    surface = draws[0] < p_surface
    unclear = draws[1] < 1 - levers["responsibility_clarity"]
    exogenous = draws[6] < b["exogenous_share"]
    mean_weeks = b["genuine_fix_weeks"] * np.sqrt(scarcity) * np.where(major, 1.5, 1.0)
    genuine_weeks = rng.gamma(2.0, mean_weeks / 2.0) + unclear * rng.exponential(b["unclear_delay_weeks"], n)
    weeks = np.where(surface, genuine_weeks / b["surface_cost_ratio"], genuine_weeks)
    deadline = b["deadline_weeks"]
    on_time = weeks <= deadline
    check_at = np.ceil(np.minimum(weeks, deadline)).astype(np.int64)
    caught_surface = surface & on_time & (draws[2] < catch_at_acceptance)
    quality_fail = ~surface & on_time & (draws[2] < b["quality_failure"])
    passed = on_time & ~caught_surface & ~quality_fail
    follow_up = ~passed & (draws[3] < levers["closed_loop"])
    redo_weeks = np.ceil(rng.gamma(2.0, b["genuine_fix_weeks"] / 2.0, n)).astype(np.int64)
    accepted = passed | follow_up
    accepted_at = np.where(passed, check_at, check_at + redo_weeks)
    hidden = surface & passed
    rebound_after = rng.geometric(np.where(hidden, b["rebound_surface"], b["rebound_genuine"]))
    rechecked = hidden & (draws[4] < levers["closed_loop"])
    caught_recheck = rechecked & (rebound_after > RECHECK_WEEKS) & (draws[5] < b["recheck_catch"])
    # A problem recurring more than a year after acceptance counts as a new problem, not a rebound.
    rebounds = accepted & ~caught_recheck & (rebound_after <= REBOUND_WINDOW_WEEKS)
    recheck_redo = np.ceil(rng.gamma(2.0, b["genuine_fix_weeks"] / 2.0, n)).astype(np.int64)

    # Sanctions: at finding, at a failed acceptance, at a recheck that catches a surface fix.
    accountability = levers["accountability_intensity"]
    surface_sanction = np.minimum(1.0, b["surface_sanction_multiplier"] * accountability * severity_factor)
    waived = np.where(exogenous, 1 - levers["tolerance"], 1.0)
    sanction_draws = rng.random((3, n))
    at_finding = sanction_draws[0] < np.minimum(1.0, accountability * severity_factor * waived)
    at_check = ~passed & (sanction_draws[1] < np.where(caught_surface, surface_sanction,
                                                       np.minimum(1.0, accountability * waived)))
    at_recheck = caught_recheck & (sanction_draws[2] < surface_sanction)
    sanction_week = np.where(at_finding, now, np.where(at_check, now + check_at, now + accepted_at + RECHECK_WEEKS))
    sanctioned = at_finding | at_check | at_recheck
    sanctions.push(sanction_week[sanctioned], unit[sanctioned])
    unfair = sanctioned & exogenous & (at_finding | (at_check & ~caught_surface))

    # Consequences for the unit's problems (latent: +1 returns it; unresolved: -1 fixes it).
    fixed_now = accepted & ~hidden
    genuine_rebound = fixed_now & rebounds
    fix_week = now + accepted_at
    dropped = ~accepted
    surface_rebound = hidden & rebounds
    recheck_fix_week = now + accepted_at + RECHECK_WEEKS + recheck_redo
    # Events: (week, selection, change to latent, change to unresolved).
    consequences = (
        (fix_week, fixed_now, 0, -1),  # genuinely fixed at acceptance
        (fix_week + rebound_after, genuine_rebound, 1, 1),  # ... and recurring within the year
        (now + check_at, dropped, 1, 0),  # failed and not followed up: the problem stays
        (fix_week + rebound_after, surface_rebound, 1, 0),  # surface fix wears off
        (recheck_fix_week, caught_recheck, 0, -1),  # caught at recheck and redone
    )
    weeks_all = np.concatenate([when[chosen] for when, chosen, _, _ in consequences])
    units_all = np.concatenate([unit[chosen] for _, chosen, _, _ in consequences])
    columns_all = np.concatenate([column[chosen] for _, chosen, _, _ in consequences])
    d_latent = np.concatenate([np.full(chosen.sum(), dl, np.int32) for _, chosen, dl, _ in consequences])
    d_unresolved = np.concatenate([np.full(chosen.sum(), du, np.int32) for _, chosen, _, du in consequences])
    events.push(weeks_all, units_all, columns_all, d_latent, d_unresolved)

    acc.record_cases(
        cases=n, surface=int(surface.sum()), passed=int(passed.sum()),
        completed=int((accepted & (accepted_at <= WEEKS_PER_YEAR)).sum()),
        within_6_months=int((accepted & (accepted_at <= 26)).sum()),
        accepted=int(accepted.sum()),
        rebounded=int(rebounds.sum()),
        days_to_accept=float((accepted_at[accepted] * DAYS_PER_WEEK).sum()),
        sanctioned=int(sanctioned.sum()), unfair_units=unit[unfair], sanctioned_units=unit[sanctioned],
    )


def apply_due_events(state: UnitState, events: EventQueue, sanctions: EventQueue, week: int,
                     severity: float) -> None:
    due = events.pop(week)
    if due is not None:
        unit, column, d_latent, d_unresolved = due
        np.add.at(state.latent, (unit, column), d_latent)
        np.add.at(state.unresolved, (unit, column), d_unresolved)
    due = sanctions.pop(week)
    if due is not None:
        np.add.at(state.sanction_memory, due[0], severity)
