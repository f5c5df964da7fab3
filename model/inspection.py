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
from .planning import ANNOUNCED, REMOTE, UNANNOUNCED, topic_lists
from .units import MAJOR, WIDTH, UnitState, falsification_catch_by_mode, flat, perceived_accountability

TOPIC_SHIFTS = np.arange(N_TOPICS, dtype=np.int64)
RECHECK_WEEKS = 26
REBOUND_WINDOW_WEEKS = 52
DAYS_PER_WEEK = 7
# Change to latent and to unresolved of each kind of consequence, in open_cases' order. Queued
# events are stored compactly (int8 columns and changes): the sums they feed are the same.
CONSEQUENCE_D_LATENT = np.array([0, 1, 1, 1, 0], dtype=np.int8)
CONSEQUENCE_D_UNRESOLVED = np.array([-1, 1, 0, 0, -1], dtype=np.int8)


class EventQueue:
    """Future changes to unit state, bucketed by absolute week; events past the run are dropped.

    A calendar: one row per week of the run in each column's array, filled from the left
    (`fill` counts each week's events). A push writes all its events with a few array operations,
    whatever the number of weeks they fall in; the arrays widen when a week's row is full. pop
    returns a week's events in the order they were pushed."""

    def __init__(self, horizon: int):
        self.horizon = horizon
        self.fill = np.zeros(horizon, dtype=np.int64)
        self.columns: list[np.ndarray] | None = None  # (horizon, capacity) per pushed column

    def push(self, week: np.ndarray, *columns: np.ndarray) -> None:
        week = np.asarray(week, dtype=np.int64)
        if week.size == 0:
            return
        inside = week < self.horizon
        if not inside.all():
            if not inside.any():
                return
            week = week[inside]
            columns = tuple(c[inside] for c in columns)
        size = week.size
        order = np.argsort(week, kind="stable")
        week = week[order]
        # Runs of equal weeks; each run goes to its week's row, after what is there already.
        last = np.empty(size, dtype=bool)
        np.not_equal(week[1:], week[:-1], out=last[:-1])
        last[-1] = True
        last = np.flatnonzero(last)
        run_start = np.empty_like(last)
        run_start[0] = 0
        run_start[1:] = last[:-1] + 1
        run_week = week[last]
        run_end = self.fill[run_week] + (last + 1 - run_start)  # each week's new fill
        needed = int(run_end.max())
        if self.columns is None or needed > self.columns[0].shape[1] or any(
                not np.can_cast(c.dtype, store.dtype) for c, store in zip(columns, self.columns)):
            self._widen(columns, needed)
        capacity = self.columns[0].shape[1]
        # flat position: week row, then the run's first free slot plus the event's place in its run
        target = np.arange(size) + np.repeat(run_week * capacity + self.fill[run_week] - run_start,
                                             last + 1 - run_start)
        for store, column in zip(self.columns, columns):
            store.reshape(-1)[target] = column[order]
        self.fill[run_week] = run_end

    def _widen(self, columns, needed: int) -> None:
        if self.columns is None:
            self.columns = [np.zeros((self.horizon, max(64, 2 * needed)), dtype=c.dtype) for c in columns]
            return
        old_capacity = self.columns[0].shape[1]
        capacity = max(2 * old_capacity, needed) if needed > old_capacity else old_capacity
        grown = []
        for old, c in zip(self.columns, columns):
            wider = np.zeros((self.horizon, capacity), dtype=np.promote_types(old.dtype, c.dtype))
            wider[:, :old_capacity] = old
            grown.append(wider)
        self.columns = grown

    def pop(self, week: int) -> list[np.ndarray] | None:
        size = int(self.fill[week])
        if size == 0:
            return None
        self.fill[week] = 0
        return [store[week, :size] for store in self.columns]


def hosting_load(mode, members, levers: dict, behaviour: dict) -> np.ndarray:
    """Unit-weeks of hosting each visit imposes; remote inspections without shared data make
    the unit compile the data itself."""
    by_mode = np.empty(3)  # the same scalar arithmetic as per visit, once per mode
    by_mode[ANNOUNCED] = behaviour["hosting_load"] * 1.0
    by_mode[UNANNOUNCED] = behaviour["hosting_load"] * behaviour["unannounced_hosting_factor"]
    by_mode[REMOTE] = (behaviour["hosting_load"] * behaviour["remote_hosting_factor"]
                       + behaviour["remote_data_compilation"] * (1 - levers["data_sharing_rate"]))
    return by_mode[mode] * (1 + behaviour["joint_member_load"] * (members - 1))


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
    # The visits' (visit, topic) pairs in row-major order: what np.nonzero of the visits x topics
    # scope matrix would give, so the in-scope problems (and the draws) come in the same order.
    if "topic" in visits:
        topic_start, topic = visits["topic_start"], visits["topic"]
    else:
        topic_start, topic = topic_lists(visits["mask"], visits["n_topics"])
    visit_of_pair = np.repeat(np.arange(unit.size), np.diff(topic_start))
    # Cells of the flat problem matrix (unit * WIDTH + column): each pair's topic, each visit's
    # major problems. A round has each unit once, so its cells are distinct.
    latent = flat(state.latent)
    major_cell = unit.astype(np.int64) * WIDTH + MAJOR
    pair_cell = major_cell[visit_of_pair] + (topic - MAJOR)
    scope = np.zeros(unit.size)
    found = np.zeros(unit.size)
    major_found = np.zeros(unit.size, dtype=np.int64)
    case_cells, case_counts = [], []
    for start, stop in rounds:
        a, b = topic_start[start], topic_start[stop]
        round_cells = pair_cell[a:b]
        in_scope = latent[round_cells]
        nz = np.flatnonzero(in_scope)
        counts, hit_cell, hit_visit = in_scope[nz], round_cells[nz], visit_of_pair[a:b][nz]
        round_major = major_cell[start:stop]
        # The topic problems found, then the major problems in scope, in one call: a Generator
        # draws array elements one after another, so this is the same stream as two calls.
        drawn = rng.binomial(np.concatenate((counts, latent[round_major])),
                             np.concatenate((d[hit_visit], major_share_in_scope[start:stop])))
        hits, majors_in_scope = drawn[:counts.size], drawn[counts.size:]
        major_hits = rng.binomial(majors_in_scope, d_major[start:stop])
        latent[hit_cell] -= hits
        latent[round_major] -= major_hits
        vi = hit_visit - start
        scope[start:stop] = np.bincount(vi, weights=counts, minlength=stop - start) + majors_in_scope
        found[start:stop] = np.bincount(vi, weights=hits, minlength=stop - start) + major_hits
        major_found[start:stop] = major_hits
        case_cells += [hit_cell, round_major]
        case_counts += [hits, major_hits]
    # one case per problem found, round by round: the topics' problems, then the major ones
    case_cells = np.repeat(np.concatenate(case_cells), np.concatenate(case_counts))
    case_units, case_columns = np.divmod(case_cells, WIDTH)

    acc.record_detection(mode, special, scope, found, major_found)
    acc.record_unit_visits(unit, visits["duplicate"], found > 0)
    acc.record_source_found(visits["source"], found)
    state.visited_this_quarter[unit] = True
    open_cases(case_units.astype(unit.dtype), case_columns, now, state, rng, levers, behaviour, events,
               sanctions, acc)
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
    sanctioned_units = caught[sanctioned]
    sanctions.push(np.full(sanctioned_units.size, now), sanctioned_units)
    acc.record_falsification_found(caught.size, sanctioned_units.size, sanctioned_units)


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
                                   * perceived_accountability(state, levers, unit))
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
    rebound_week = fix_week + rebound_after
    consequences = np.stack((
        fixed_now,  # genuinely fixed at acceptance
        genuine_rebound,  # ... and recurring within the year
        dropped,  # failed and not followed up: the problem stays
        surface_rebound,  # surface fix wears off
        caught_recheck,  # caught at recheck and redone
    ))
    when = np.stack((fix_week, rebound_week, now + check_at, rebound_week, recheck_fix_week))
    kind, case = np.nonzero(consequences)  # kind by kind, cases in order within each
    weeks_all = when[kind, case]
    units_all = unit[case]
    columns_all = column[case].astype(np.int8)
    d_latent = CONSEQUENCE_D_LATENT[kind]
    d_unresolved = CONSEQUENCE_D_UNRESOLVED[kind]
    events.push(weeks_all, units_all, columns_all, d_latent, d_unresolved)

    acc.record_cases(
        cases=n, surface=np.count_nonzero(surface), passed=np.count_nonzero(passed),
        completed=np.count_nonzero(accepted & (accepted_at <= WEEKS_PER_YEAR)),
        within_6_months=np.count_nonzero(accepted & (accepted_at <= 26)),
        accepted=np.count_nonzero(accepted),
        rebounded=np.count_nonzero(rebounds),
        days_to_accept=float((accepted_at[accepted] * DAYS_PER_WEEK).sum()),
        sanctioned=np.count_nonzero(sanctioned), unfair_units=unit[unfair], sanctioned_units=unit[sanctioned],
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
