"""The weekly schedule (brief 3; ODD 'process overview'), compiled: a stretch of weeks in one call.

Each week, in this order: visits add hosting, units allocate their time, problems arise and heal
(units._unit_week); visits detect problems and falsified reports and found problems open cases
(inspection._inspect); the consequences due this week land; sanction memory fades; at a
quarter's end, reports and evaluation (units._evaluate_quarter). A stretch never crosses a year
end: the year's plan and parameter tables are built before it, its metrics after.

Why one call: numba unboxes the Generator in about 9 microseconds per call, and a week's Python
costs about 30 more; a county week's own work is a few microseconds. The model runs a year per
call; a week per call when stepped by hand, with the same draws in the same order.

Provinces: within a year, nothing a unit does reaches a unit of another province (visits, cases,
sanctions and evaluations are each about one unit; the plan that links them is made at the
year's start). So each province runs its weeks in its own call, from its own random stream,
with its own calendars and counters, and a national run's 31 provinces can run in parallel
threads. Sums over provinces are taken in province order, so the results are the same whatever
the number of threads.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from .draws import kernel_stream
from .inspection import INSPECTION_TOTALS, _apply_events, _apply_sanctions, _inspect
from .params import QUARTER_WEEKS, WEEKS_PER_YEAR
from .threads import map_in_threads
from .units import QUARTER_TOTALS, UNIT_WEEK_TOTALS, _evaluate_quarter, _unit_week


class EventQueue:
    """Future changes to unit state, bucketed by absolute week; events past the run are dropped.

    A calendar: one row per week of the run, filled from the left (`fill` counts each week's
    events). Each event is one int64 code (what it changes, packed by the caller), so a push is one
    compiled pass whatever the number of weeks it touches; the rows widen when one is full. What a
    week's events do is a sum of whole numbers (or of equal amounts), so their order is free."""

    def __init__(self, horizon: int):
        self.fill = np.zeros(horizon, dtype=np.int64)
        self.codes = np.zeros((horizon, 8), dtype=np.int64)  # widened as rows fill (_calendar_push)

    def split(self, codes_per_part: int, parts: int) -> list["EventQueue"]:
        """The calendar as `parts` calendars: part r holds the events whose codes lie in
        r * codes_per_part:(r + 1) * codes_per_part, renumbered from 0, in the order this one holds
        them (events with codes outside every part are dropped): each replication's calendar out of
        a ReplicationStack's (model.model), the inverse of joined. All parts from one sort of the
        events, not a scan of the whole calendar per part (docs/PERFORMANCE.md, round 15)."""
        week, code = self._entries()
        part = code // codes_per_part
        order = np.argsort(part, kind="stable")
        bounds = np.searchsorted(part[order], np.arange(parts + 1))
        return [EventQueue._of(self.fill.size, week[order[a:b]], code[order[a:b]] - r * codes_per_part)
                for r, (a, b) in enumerate(zip(bounds[:-1], bounds[1:]))]

    @classmethod
    def joined(cls, queues: list["EventQueue"], code_offsets: list[int]) -> "EventQueue":
        """The replications' calendars as one, each one's codes moved up by its offset; within a
        week, the first replication's events first."""
        entries = [queue._entries() for queue in queues]
        week = np.concatenate([week for week, _ in entries])
        code = np.concatenate([code + offset for (_, code), offset in zip(entries, code_offsets)])
        order = np.argsort(week, kind="stable")
        return cls._of(queues[0].fill.size, week[order], code[order])

    def _entries(self) -> tuple[np.ndarray, np.ndarray]:
        """(week, code) of every pending event, week by week, each week's in its row's order."""
        held = np.arange(self.codes.shape[1]) < self.fill[:, None]
        return np.nonzero(held)[0], self.codes[held]

    @classmethod
    def _of(cls, horizon: int, week: np.ndarray, code: np.ndarray) -> "EventQueue":
        """A calendar holding these events (week ascending), each week's in the order given."""
        queue = cls(horizon)
        queue.fill = np.bincount(week, minlength=horizon).astype(np.int64)
        queue.codes = np.zeros((horizon, max(8, int(queue.fill.max(initial=0)))), dtype=np.int64)
        first = np.cumsum(queue.fill) - queue.fill
        queue.codes[week, np.arange(week.size) - first[week]] = code
        return queue


@dataclass
class Province:
    """A province's units (first_unit:stop_unit), the random stream its weeks and the scheduling and
    thinning of its visits draw from, and its calendars of due consequences and sanctions (cells and
    units numbered from first_unit). Replications run together are one Province whose stream holds
    one Generator per replication (blocks of block_size units)."""

    index: int
    first_unit: int
    stop_unit: int
    rng: np.random.Generator
    stream: object  # rng as the kernels take it (model.draws.kernel_stream)
    events: EventQueue
    sanctions: EventQueue
    block_size: int  # units per replication (model.model.ReplicationStack); a province alone: all its units
    counters: tuple = ()  # in a run of several provinces, its own part of the year's shared counters


def provinces(organisation, rng: np.random.Generator, stream, seed_sequence: np.random.SeedSequence,
              horizon: int) -> list[Province]:
    """One Province per province of the organisation. A single province draws from the run's
    Generator (rng, and `stream`, its kernels' form); several provinces each draw from their own,
    spawned from the run's SeedSequence, so a run's results do not depend on how many threads run
    its provinces."""
    starts = organisation.jurisdiction_start[1]
    stops = np.append(starts[1:], organisation.n_units)
    if starts.size == 1:
        generators, streams = [rng], [stream]
    else:
        generators = [np.random.Generator(np.random.PCG64(child)) for child in seed_sequence.spawn(starts.size)]
        streams = [kernel_stream(generator) for generator in generators]
    return [Province(index, int(a), int(b), generator, province_stream, EventQueue(horizon), EventQueue(horizon),
                     int(b - a))
            for index, (a, b, generator, province_stream) in enumerate(zip(starts, stops, generators, streams))]


def run_weeks(now: int, weeks: int, units, plan, tables: dict, behaviour: dict, memory_decay: float,
              provinces: list[Province], acc, threads: int) -> None:
    """Run `weeks` weeks from absolute week `now`, within the year whose plan and parameter tables
    are given; the provinces in up to `threads` threads (the kernel releases the GIL)."""
    shared = (acc.counters(UNIT_WEEK_TOTALS), acc.counters(INSPECTION_TOTALS), acc.counters(QUARTER_TOTALS),
              acc.source_found)  # the year's counters every province adds to (the rest are per unit)
    if len(provinces) == 1:
        _run_province(provinces[0], now, weeks, units, plan, tables, behaviour, memory_decay, shared, acc)
        return
    # Each province adds to its own part all year (threads share no array); the year's counters are
    # the parts' sum in province order, so they come out the same whatever the threads and however
    # the year is cut into calls (a week per step() or a year per run()).
    if now % WEEKS_PER_YEAR == 0:
        for province in provinces:
            province.counters = tuple(np.zeros_like(block) for block in shared)
    map_in_threads(lambda province: _run_province(province, now, weeks, units, plan, tables, behaviour,
                                                  memory_decay, province.counters, acc), provinces, threads)
    for k, total in enumerate(shared):
        total[:] = provinces[0].counters[k]
        for province in provinces[1:]:
            total += province.counters[k]


def _run_province(p: Province, now: int, weeks: int, units, plan, tables: dict, behaviour: dict,
                  memory_decay: float, shared: tuple, acc) -> None:
    b, part, visits = behaviour, slice(p.first_unit, p.stop_unit), plan.provinces[p.index]
    week_of_year = now % WEEKS_PER_YEAR
    p.events.codes, p.sanctions.codes = _run_weeks(
        p.stream, p.block_size, now, week_of_year, weeks,
        (units.hosting_backlog[part], units.hosting[part], units.material_intent[part], units.materials[part],
         units.ledgers[part], units.work[part], units.sanction_memory[part], units.integrity[part],
         units.item_ratio[part], units.load_factor[part],
         units.latent[part], units.latent_ordinary[part], units.unresolved[part],
         (units.arrival_clock[part], units.fix_clock[part], units.eruption_clock[part]), units.falsified[part],
         units.visited_this_quarter[part], units.implementation[part], units.documented[part], units.score[part],
         units.belief_inspected[part]),
        (visits.unit, visits.mode, visits.members, visits.duplicate, visits.special, visits.depth, visits.n_topics,
         visits.source, visits.mask, visits.round_bounds, visits.block_start, visits.block_stop, visits.round_first,
         visits.round_last),
        (tables["load_by_mode"], tables["allocation"], tables["problems"], tables["detection"],
         tables["case_behaviour"], tables["case_levers"], tables["catch_by_mode"], tables["falsification_sanction"],
         tables["tasks"], tables["sanction_severity"], tables["evaluation"]),
        (b["joint_member_load"], b["max_hosting_share"], b["material_need"], memory_decay),
        (p.events.codes, p.events.fill, p.sanctions.codes, p.sanctions.fill),
        shared + (acc.unit_supervision_share[part], acc.unit_erupted[part], acc.unit_visits[part],
                  acc.unit_duplicates[part], acc.unit_useful[part], acc.unit_sanctions[part], acc.unit_unfair[part]))


@njit(cache=True, nogil=True, error_model="numpy")
def _run_weeks(streams, block_size, now, week_of_year, weeks, units, plan, tables, constants, calendars, acc):
    """One province's weeks, or the weeks of replications run together: blocks of `block_size`
    units, block b drawing from streams[b] and counting in row b of the year's counters. Returns
    the event and sanction calendars' code tables (new ones when a row had to widen)."""
    (backlog, hosting, intent, materials, ledgers, work, sanction_memory, integrity, item_ratio, load_factor, latent,
     latent_ordinary, unresolved, clocks, falsified, visited, implementation, documented, score, belief) = units
    (plan_unit, mode, members, duplicate, special, depth, n_topics, source, mask, round_bounds, block_start,
     block_stop, round_first, round_last) = plan
    (load_by_mode, allocation, problems, detection, case_behaviour, case_levers, catch_by_mode,
     falsification_sanction, tasks, sanction_severity, evaluation) = tables
    joint_member_load, max_hosting, material_need, memory_decay = constants
    event_codes, event_fill, sanction_codes, sanction_fill = calendars
    (unit_week_totals, inspection_totals, quarter_totals, source_found, supervision_share, erupted, unit_visits,
     unit_duplicates, unit_useful, unit_sanctions, unit_unfair) = acc
    latent_cells, unresolved_cells = latent.reshape(latent.size), unresolved.reshape(unresolved.size)
    scratch = np.empty((2, work.size))  # per-unit space for the units' weekly rules
    for w in range(week_of_year, week_of_year + weeks):
        start, stop = block_start[w], block_stop[w]
        unit = plan_unit[start:stop]
        _unit_week(streams, block_size, backlog, hosting, intent, materials, ledgers, work, sanction_memory, integrity, item_ratio,
                   load_factor, latent, latent_ordinary, unresolved, clocks, unit, mode[start:stop],
                   members[start:stop], duplicate[start:stop], load_by_mode[w], joint_member_load, max_hosting, allocation[w], problems,
                   material_need, unit_week_totals, supervision_share, erupted, scratch)
        if stop > start:
            event_week, event_code, sanction_week, sanction_unit = _inspect(
                streams, block_size, latent_cells, latent_ordinary, materials, integrity, work, sanction_memory, falsified, visited,
                unit, mode, special, depth, n_topics, duplicate, source, mask, start, stop,
                round_bounds[round_first[w]:round_last[w]], detection[w], case_behaviour, case_levers[w],
                catch_by_mode[w], falsification_sanction[w], tasks[w], now, inspection_totals, unit_visits,
                unit_duplicates, unit_useful, source_found, unit_sanctions, unit_unfair)
            event_codes = _calendar_push(event_codes, event_fill, event_week, event_code)
            sanction_codes = _calendar_push(sanction_codes, sanction_fill, sanction_week, sanction_unit)
        _apply_events(latent_cells, latent_ordinary, unresolved_cells, event_codes[now, :event_fill[now]])
        event_fill[now] = 0
        _apply_sanctions(sanction_memory, sanction_codes[now, :sanction_fill[now]], sanction_severity[w])
        sanction_fill[now] = 0
        for u in range(sanction_memory.size):
            sanction_memory[u] *= memory_decay
        if (w + 1) % QUARTER_WEEKS == 0:
            _evaluate_quarter(streams, block_size, unresolved, implementation, falsified, documented, score, belief, visited,
                              sanction_memory, integrity, materials, ledgers, load_factor, evaluation[w],
                              quarter_totals)
        now += 1
    return event_codes, sanction_codes


@njit(cache=True, error_model="numpy")
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
