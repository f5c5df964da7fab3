"""The weekly schedule (brief 3; ODD 'process overview'), compiled: a stretch of weeks in one call.

Each week, in this order: visits add hosting, units allocate their time, problems arise and heal
(units._unit_week); visits detect problems and falsified reports and found problems open cases
(inspection._inspect); the consequences due this week land; sanction memory fades; at a
quarter's end, reports and evaluation (units._evaluate_quarter). A stretch never crosses a year
end: the year's plan and parameter tables are built before it, its metrics after.

Why one call: numba unboxes the Generator in about 9 microseconds per call, and a week's Python
costs about 30 more; a county week's own work is a few microseconds. The model runs a year per
call; a week per call when stepped by hand, with the same draws in the same order.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .inspection import INSPECTION_TOTALS, _apply_events, _apply_sanctions, _inspect
from .params import QUARTER_WEEKS, WEEKS_PER_YEAR
from .units import QUARTER_TOTALS, UNIT_WEEK_TOTALS, _evaluate_quarter, _unit_week


class EventQueue:
    """Future changes to unit state, bucketed by absolute week; events past the run are dropped.

    A calendar: one row per week of the run, filled from the left (`fill` counts each week's
    events). Each event is one int64 code (what it changes, packed by the caller), so a push is one
    compiled pass whatever the number of weeks it touches; the rows widen when one is full. What a
    week's events do is a sum of whole numbers (or of equal amounts), so their order is free."""

    def __init__(self, horizon: int):
        self.fill = np.zeros(horizon, dtype=np.int64)
        self.codes = np.zeros((horizon, 64), dtype=np.int64)


def run_weeks(rng, now: int, weeks: int, units, plan, round_first: np.ndarray, round_last: np.ndarray,
              tables: dict, behaviour: dict, memory_decay: float, events: EventQueue, sanctions: EventQueue,
              acc) -> None:
    """Run `weeks` weeks from absolute week `now`, within the year whose plan, rounds (per week w,
    plan.round_bounds[round_first[w]:round_last[w]]) and parameter tables are given."""
    b = behaviour
    events.codes, sanctions.codes = _run_weeks(
        rng, now, now % WEEKS_PER_YEAR, weeks,
        (units.hosting_backlog, units.hosting, units.material_intent, units.materials, units.work,
         units.sanction_memory, units.integrity, units.load_factor, units.latent, units.unresolved, units.falsified,
         units.visited_this_quarter, units.implementation, units.documented, units.score, units.belief_inspected),
        (plan.unit, plan.mode, plan.members, plan.duplicate, plan.special, plan.depth, plan.n_topics, plan.source,
         plan.topic_start, plan.topic, plan.week_start, plan.round_bounds, round_first, round_last),
        (tables["load_by_mode"], tables["allocation"], tables["problems"], tables["detection"],
         tables["case_behaviour"], tables["case_levers"], tables["catch_by_mode"], tables["falsification_sanction"],
         tables["tasks"], tables["sanction_severity"], tables["evaluation"]),
        (b["joint_member_load"], b["max_hosting_share"], b["material_need"], memory_decay),
        (events.codes, events.fill, sanctions.codes, sanctions.fill),
        (acc.counters(UNIT_WEEK_TOTALS), acc.counters(INSPECTION_TOTALS), acc.counters(QUARTER_TOTALS),
         acc.unit_supervision_share, acc.unit_erupted, acc.unit_visits, acc.unit_duplicates, acc.unit_useful,
         acc.source_found, acc.unit_sanctions, acc.unit_unfair))


@njit(cache=True)
def _run_weeks(rng, now, week_of_year, weeks, units, plan, tables, constants, calendars, acc):
    """Returns the event and sanction calendars' code tables (new ones when a row had to widen)."""
    (backlog, hosting, intent, materials, work, sanction_memory, integrity, load_factor, latent, unresolved,
     falsified, visited, implementation, documented, score, belief) = units
    (unit, mode, members, duplicate, special, depth, n_topics, source, topic_start, topic, week_start, round_bounds,
     round_first, round_last) = plan
    (load_by_mode, allocation, problems, detection, case_behaviour, case_levers, catch_by_mode,
     falsification_sanction, tasks, sanction_severity, evaluation) = tables
    joint_member_load, max_hosting, material_need, memory_decay = constants
    event_codes, event_fill, sanction_codes, sanction_fill = calendars
    (unit_week_totals, inspection_totals, quarter_totals, supervision_share, erupted, unit_visits, unit_duplicates,
     unit_useful, source_found, unit_sanctions, unit_unfair) = acc
    latent_cells, unresolved_cells = latent.reshape(latent.size), unresolved.reshape(unresolved.size)
    for w in range(week_of_year, week_of_year + weeks):
        start, stop = week_start[w], week_start[w + 1]
        _unit_week(rng, backlog, hosting, intent, materials, work, sanction_memory, integrity, load_factor, latent,
                   unresolved, unit, mode, members, duplicate, start, stop, load_by_mode[w], joint_member_load,
                   max_hosting, allocation[w], problems, material_need, unit_week_totals, supervision_share, erupted)
        if stop > start:
            event_week, event_code, sanction_week, sanction_unit = _inspect(
                rng, latent_cells, materials, integrity, work, sanction_memory, falsified, visited, unit, mode,
                special, depth, n_topics, duplicate, source, topic_start, topic, start, stop,
                round_bounds[round_first[w]:round_last[w]], detection[w], case_behaviour, case_levers[w],
                catch_by_mode[w], falsification_sanction[w], tasks[w], now, inspection_totals, unit_visits,
                unit_duplicates, unit_useful, source_found, unit_sanctions, unit_unfair)
            event_codes = _calendar_push(event_codes, event_fill, event_week, event_code)
            sanction_codes = _calendar_push(sanction_codes, sanction_fill, sanction_week, sanction_unit)
        _apply_events(latent_cells, unresolved_cells, event_codes[now, :event_fill[now]])
        event_fill[now] = 0
        _apply_sanctions(sanction_memory, sanction_codes[now, :sanction_fill[now]], sanction_severity[w])
        sanction_fill[now] = 0
        for u in range(sanction_memory.size):
            sanction_memory[u] *= memory_decay
        if (w + 1) % QUARTER_WEEKS == 0:
            _evaluate_quarter(rng, unresolved, implementation, falsified, documented, score, belief, visited,
                              sanction_memory, integrity, materials, evaluation[w], quarter_totals)
        now += 1
    return event_codes, sanction_codes


@njit(cache=True)
def _calendar_push(codes, fill, week, code):
    """Append each event to its week's row, widening every row when one is full. Touches only the
    weeks pushed to: a week's calls are many and small."""
    horizon, capacity = codes.shape
    needed = 0
    for w in week:
        if w < horizon:
            fill[w] += 1
            needed = max(needed, fill[w])
    for w in week:
        if w < horizon:
            fill[w] -= 1
    if needed > capacity:
        wider = np.zeros((horizon, max(2 * capacity, needed)), dtype=np.int64)
        wider[:, :capacity] = codes
        codes = wider
    for i in range(week.size):
        w = week[i]
        if w < horizon:
            codes[w, fill[w]] = code[i]
            fill[w] += 1
    return codes
