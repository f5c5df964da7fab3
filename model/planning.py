"""Annual inspection plan: items pass down the levels and become visits to units (brief 3.1-3.2).

Each year every supervision body and department issues items (topic set x target units) in its
jurisdictions; lower levels relay upper items and add their own (layer-by-layer escalation).
The negative list strikes unnecessary items, bodies thin their plan to capacity, joint
inspection folds visits at a unit within a quarter into one entry, merging folds items whose
topics were already inspected at the unit, and what repeats earlier topics is a duplicate.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from types import SimpleNamespace

import numpy as np
from numba import njit

from .organisation import (
    BODY_KINDS, BODY_ITEMS_PER_YEAR, COVERAGE_BY_LEVEL, DEPARTMENT_ITEMS_PER_YEAR, DEPARTMENT_KINDS,
    N_TOPICS, TOPICS_PER_DEPARTMENT, UNNECESSARY_SHARE_BODY, UNNECESSARY_SHARE_DEPARTMENT, Organisation,
    build_organisation,
)
from .draws import binomial_counts, bounded_integer, chance, poisson
from .params import WEEKS_PER_YEAR
from .reductions import mean, pairwise_row_means
from .threads import map_in_threads

ANNOUNCED, UNANNOUNCED, REMOTE = 0, 1, 2
COMPREHENSIVE_TOPIC_DRAWS = 4
RELAY_LAG_WEEKS = 4
JOINT_WINDOW_WEEKS = 26  # joint teams are planned per half-year: visits in one half-year share an entry
INSPECTOR_DAYS = {"comprehensive": 3.0, "special": 2.0, "remote": 1.0}
N_AREAS = len(DEPARTMENT_KINDS)  # policy areas: joint teams form per area


@dataclass(frozen=True)
class Source:
    """One issuer of items: a body kind or department kind at one level."""

    index: int
    name: str
    is_body: bool
    level: int
    items_per_year: float
    unnecessary_share: float
    risk_targeting: float
    topics: tuple[int, ...]  # departments' own topics; empty for bodies (they use all topics)


def build_sources() -> list[Source]:
    sources: list[Source] = []
    for kind in BODY_KINDS:
        for level in kind.levels:
            sources.append(Source(len(sources), kind.name, True, level, BODY_ITEMS_PER_YEAR * kind.item_weight,
                                  UNNECESSARY_SHARE_BODY, kind.risk_targeting, ()))
    for kind in DEPARTMENT_KINDS:
        for level in kind.levels:
            sources.append(Source(len(sources), kind.name, False, level, DEPARTMENT_ITEMS_PER_YEAR,
                                  UNNECESSARY_SHARE_DEPARTMENT, 0.2, kind.topics))
    return sources


@dataclass
class ProvincePlan:
    """One province's visits of the year, sorted by week and round, its units numbered from the
    province's first unit (the compiled planners return its fields in this order). Week w's visits are positions block_start[w]:block_stop[w], and
    round_bounds[round_first[w]:round_last[w]] bound their rounds."""

    unit: np.ndarray
    week: np.ndarray
    mode: np.ndarray
    special: np.ndarray
    mask: np.ndarray  # the topics a visit covers, one bit each (bit t: topic t)
    n_topics: np.ndarray
    members: np.ndarray
    depth: np.ndarray
    duplicate: np.ndarray
    source: np.ndarray
    round_bounds: np.ndarray  # boundaries of (week, round) runs; a round never repeats a unit
    block_start: np.ndarray  # per week
    block_stop: np.ndarray
    round_first: np.ndarray  # per week
    round_last: np.ndarray


@dataclass
class YearPlan:
    """The year's visits, province by province (the weekly rules run each province's own)."""

    provinces: list[ProvincePlan]
    first_unit: np.ndarray  # per province
    item_load: np.ndarray  # per unit: items whose ledgers the unit keeps this year
    struck: int  # items the negative list struck

    @cached_property
    def unit(self) -> np.ndarray:
        """Every visit's unit, numbered in the whole organisation, province after province."""
        return np.concatenate([p.unit + np.int32(first) for p, first in zip(self.provinces, self.first_unit)])

    @cached_property
    def source(self) -> np.ndarray:
        """Every visit's leading issuer, in the order of `unit`."""
        return np.concatenate([p.source for p in self.provinces])


@lru_cache(maxsize=None)
def _planner_tables(scale: str, topic_concentration: float) -> dict:
    """What a Planner reads and never changes: the issuers and the organisation's index tables,
    built once per process for a scale and topic concentration (read-only arrays, shared by the
    process's models)."""
    organisation = build_organisation(scale)
    t = SimpleNamespace()
    t.sources = build_sources()
    rank = np.arange(1, N_TOPICS + 1, dtype=float)
    weights = rank ** -topic_concentration
    t.topic_weights = weights / weights.sum()
    t._topic_cdf = t.topic_weights.cumsum()  # what rng.choice(p=topic_weights) searches
    t._topic_cdf /= t._topic_cdf[-1]
    t._topic_table = np.zeros((len(t.sources), max(len(s.topics) for s in t.sources)), np.int64)
    for s in t.sources:  # departments' own topics, row by issuer
        t._topic_table[s.index, :len(s.topics)] = s.topics
    # each jurisdiction's children at the level below (first, count), levels but the last, flattened
    levels = range(len(organisation.n_jurisdictions))
    child_start, child_count = [], []
    for level in levels[:-1]:
        count = np.bincount(organisation.jurisdiction_parent[level + 1],
                            minlength=organisation.n_jurisdictions[level])
        child_start.append(np.concatenate(([0], np.cumsum(count)[:-1])))
        child_count.append(count)
    t._child_start = np.concatenate(child_start).astype(np.int64)
    t._child_count = np.concatenate(child_count).astype(np.int64)
    index_of = {(source.name, source.level): source.index for source in t.sources}
    t._relay_target = np.array([index_of.get((source.name, source.level + 1), -1) for source in t.sources],
                               dtype=np.int16)  # the same issuer one level down, if any
    t._unnecessary_share = np.array([s.unnecessary_share for s in t.sources])
    items_per_year = np.array([s.items_per_year for s in t.sources])
    t._is_body = np.array([s.is_body for s in t.sources])
    t._n_source_topics = np.array([len(s.topics) for s in t.sources])
    sources_at = [np.array([s.index for s in t.sources if s.level == level], np.int64) for level in levels]
    # Per-level tables flattened for the compiled level loop: level l's rows start at its offset.
    t._level_source_start = np.cumsum([0] + [a.size for a in sources_at]).astype(np.int64)
    t._level_sources = np.concatenate(sources_at)
    t._level_items_per_year = items_per_year[t._level_sources]
    level = np.repeat(np.arange(len(organisation.n_jurisdictions)), np.diff(t._level_source_start))
    t._levels_below_province = np.maximum(level - 1, 0)  # the escalation's exponent, per row
    t._jurisdiction_offset = np.cumsum((0, *organisation.n_jurisdictions)).astype(np.int64)
    t._jurisdiction_start = np.concatenate(organisation.jurisdiction_start)
    t._jurisdiction_size = np.concatenate(organisation.jurisdiction_size)
    t._risk_levels = sorted({s.risk_targeting for s in t.sources})
    t._risk_level_of_source = np.array([t._risk_levels.index(s.risk_targeting) for s in t.sources])
    t._risk_levels_array = np.array(t._risk_levels)
    t._level_of_source = np.array([s.level for s in t.sources])
    t._key_offset = np.concatenate(
        ([0], np.cumsum([organisation.n_jurisdictions[s.level] for s in t.sources])[:-1])).astype(np.int64)
    t._key_source = np.concatenate(
        [np.full(organisation.n_jurisdictions[s.level], s.index) for s in t.sources])
    t._key_units = np.concatenate(
        [organisation.jurisdiction_size[s.level] for s in t.sources]).astype(float)
    t._unit_jurisdiction = np.array(organisation.unit_jurisdiction)
    t._unit_province = organisation.unit_jurisdiction[1].astype(np.int64)
    # the jurisdictions (first, stop) of each level that an issuing call covers: all of them, or a province's
    t._all_jurisdictions = (np.zeros(len(levels), np.int64), np.array(organisation.n_jurisdictions, np.int64))
    province_start = organisation.jurisdiction_start[1]
    province_stop = np.append(province_start[1:], organisation.n_units)
    t._province_jurisdictions = [
        tuple(np.array([np.searchsorted(organisation.jurisdiction_start[level], bound) for level in levels])
              for bound in (first_unit, stop_unit))
        for first_unit, stop_unit in zip(province_start, province_stop)]
    t._inspector_days = np.array([INSPECTOR_DAYS[kind] for kind in ("comprehensive", "special", "remote")])
    _read_only(vars(t))
    return vars(t)


def _read_only(value) -> None:
    if isinstance(value, np.ndarray):
        value.setflags(write=False)
    elif isinstance(value, (dict, list, tuple)):
        for part in (value.values() if isinstance(value, dict) else value):
            _read_only(part)


class Planner:
    """Builds each year's plan; holds the staffing fixed at the status quo (burn-in) workload.

    The hot loops are numba kernels that draw from the run's Generator themselves, each as numpy
    would have drawn it: numba's own poisson is not numpy's, so a port of numpy's is used (see
    model.draws), and so is numpy's bounded-integer draw for one element (draws.bounded_integer:
    numba's rng.integers allocates an array even for one). A run of one province, or a stack of its
    replications, plans its year in one compiled call (_plan_replications: issue and sample,
    schedule, thin-join-merge per replication); a run of several provinces issues the central
    level's items first, then each province's levels, schedule and thinning in its own calls and
    stream, in threads."""

    def __init__(self, organisation: Organisation, behaviour: dict):
        self.org = organisation
        self.behaviour = behaviour
        # inspector-days per unit of jurisdiction, per source: one row per replication (see plan_year)
        self.staffing: np.ndarray | None = None
        vars(self).update(_planner_tables(organisation.scale, behaviour["topic_concentration"]))

    # -- the plan ---------------------------------------------------------------------------
    def plan_year(self, stream, levers_week: dict[str, np.ndarray], risk: np.ndarray, province_streams: list,
                  threads: int) -> YearPlan:
        """levers_week maps each lever to its 52 weekly values for this year; stream is the run's random
        stream (the central level's items draw from it when there are several provinces) and
        province_streams the provinces' (model.schedule.provinces), each as the kernels take it
        (model.draws.kernel_stream); the provinces run in up to `threads` threads. At a scale of one
        province, province_streams[0] holds one Generator per replication (model.model.ReplicationStack)
        and `risk` their units one replication after another."""
        escalation = float(mean(levers_week["escalation_per_level"]))
        level_rate = (self._level_items_per_year * self.behaviour["items_scale"]
                      * (1 + escalation) ** self._levels_below_province)
        tables = (self._level_sources, self._level_source_start, level_rate, self._is_body, self._topic_table,
                  self._n_source_topics, levers_week["special_inspection_share"], self._topic_cdf,
                  self._unnecessary_share, levers_week["negative_list_share"], self._jurisdiction_offset,
                  self._jurisdiction_start, self._jurisdiction_size, COVERAGE_BY_LEVEL, self._risk_level_of_source,
                  self._relay_target, self._child_start, self._child_count, self.behaviour["relay_probability"])
        schedule_tables = (levers_week["remote_share"], levers_week["unannounced_share"], self._inspector_days,
                           self._key_offset, self._level_of_source, self._unit_jurisdiction, self._key_source.size)
        capacity_terms = (float(mean(levers_week["inspection_capacity"])), self._key_source, self._key_units,
                          len(self.sources))
        thin_levers = (levers_week["joint_inspection_share"], levers_week["merge_rate"])
        n = self.org.n_units
        replications = risk.size // n
        mean_risk = pairwise_row_means(risk.reshape(replications, n))
        mean_risk[~(mean_risk > 0)] = 1.0
        if len(province_streams) > 1:
            return self._plan_provinces(stream, tables, schedule_tables, capacity_terms, thin_levers,
                                        _risk_cumulative(self._risk_levels_array, risk, mean_risk[0]),
                                        province_streams, threads)
        known = self.staffing is not None
        staffing = self.staffing if known else np.zeros((replications, len(self.sources)))
        visits, item_load, struck = _plan_replications(
            province_streams[0], risk, mean_risk, self._risk_levels_array, self._all_jurisdictions, _NO_ITEMS, tables,
            schedule_tables, capacity_terms, staffing, known, thin_levers, self._depth_and_ledgers, n)
        self.staffing = staffing
        return YearPlan(provinces=[ProvincePlan(*visits)], first_unit=np.zeros(1, np.int64), item_load=item_load,
                        struck=struck)

    def _plan_provinces(self, stream, tables: tuple, schedule_tables: tuple, capacity_terms: tuple,
                        thin_levers: tuple, risk_cumulative: np.ndarray, province_streams: list,
                        threads: int) -> YearPlan:
        """A run of several provinces: the central level's items sample units across provinces (the
        run's stream); what lies below, each province issues, schedules and thins from its own
        stream, in parallel threads."""
        n_levels, n_provinces = self._jurisdiction_offset.size - 1, len(province_streams)
        first_unit, province_units = self.org.jurisdiction_start[1], self.org.jurisdiction_size[1]
        central, central_item, central_unit, struck, relayed = _issue_and_sample(
            stream, 0, 0, 1, *self._all_jurisdictions, _NO_ITEMS, risk_cumulative, *tables)
        visits_to = _by_province(self._unit_province[central_unit], n_provinces)
        relayed_to = _by_province(relayed[1], n_provinces)

        def issue_below(p: int) -> tuple:
            carried = tuple(column[relayed_to[p]] for column in relayed)
            own, own_item, own_unit, own_struck, _ = _issue_and_sample(province_streams[p], 0, 1, n_levels,
                                                           *self._province_jurisdictions[p], carried,
                                                           risk_cumulative, *tables)
            items = tuple(np.concatenate(pair) for pair in zip(central, own))
            item = np.concatenate((central_item[visits_to[p]], own_item + central[0].size))
            unit = np.concatenate((central_unit[visits_to[p]], own_unit)).astype(np.int32)
            return items, item, unit, own_struck

        # issued[p]: province p's items (source, mask, special, week), its candidate visits' items and
        # units, and how many items it struck
        issued = map_in_threads(issue_below, range(n_provinces), threads)
        struck += sum(own_struck for *_, own_struck in issued)  # in province order

        def schedule(p: int) -> tuple:
            (source, _, item_special, item_week), item_p, unit_p, _ = issued[p]
            return _schedule_visits(province_streams[p], 0, item_p, unit_p, source, item_special, item_week,
                                    *schedule_tables)

        scheduled = map_in_threads(schedule, range(n_provinces), threads)
        demand = _in_province_order([province_demand for *_, province_demand in scheduled])
        # Capacity: staffing is fixed by the first (status quo) year's workload.
        if self.staffing is None:
            self.staffing = _staffing_from(demand, *capacity_terms[1:])[np.newaxis]
        capacity = _capacity(self.staffing[0], *capacity_terms[:3])
        keep_probability = _keep_probability(capacity, demand)

        def thin(p: int) -> tuple:
            (source, item_mask, item_special, _), item_p, unit_p, _ = issued[p]
            week, mode, key, days, _ = scheduled[p]
            return _thin_join_merge(
                province_streams[p], 0, keep_probability, item_p, unit_p - np.int32(first_unit[p]), week, mode, key,
                days, source, item_mask, item_special, *thin_levers, int(province_units[p]), self._key_source.size)

        visits, totals = zip(*map_in_threads(thin, range(n_provinces), threads))
        planned_days, merged_days, visits_per_unit, items_per_unit = zip(*totals)
        depth_by_key = _depth(capacity, _in_province_order(planned_days) - _in_province_order(merged_days),
                              self._depth_and_ledgers[0])
        return YearPlan(
            provinces=[_province_plan(province, depth_by_key) for province in visits], first_unit=first_unit,
            item_load=_item_load(np.concatenate(visits_per_unit), np.concatenate(items_per_unit), self._depth_and_ledgers[1]),
            struck=struck)

    @property
    def _depth_and_ledgers(self) -> tuple[float, float]:
        """(the deepest a visit gets with freed capacity, the share of a folded item's ledgers a unit keeps)"""
        return self.behaviour["max_depth"], self.behaviour["folded_item_ledger_share"]


def _in_province_order(parts: list[np.ndarray]) -> np.ndarray:
    """The provinces' arrays summed in province order (so whatever the threads, the same sums),
    as sum(parts) would, without its first array's copy for one province."""
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total


# -- capacity, depth and ledgers: numpy's arithmetic element by element, shared by a run of several
# provinces (called from Python) and the compiled plan of one province's replications

@njit(cache=True, error_model="numpy")
def _staffing_from(demand, key_source, key_units, n_sources):
    """Inspector-days per unit of jurisdiction, per source: the status quo's demand over its units
    (the sums np.bincount(key_source, weights) makes, in the same order)."""
    days = np.zeros(n_sources)
    units = np.zeros(n_sources)
    for k in range(key_source.size):
        days[key_source[k]] += demand[k]
        units[key_source[k]] += key_units[k]
    return days / np.maximum(units, 1)


@njit(cache=True, error_model="numpy")
def _capacity(staffing, multiplier, key_source, key_units):
    """Inspector-days per (source, jurisdiction) key this year: staffing is fixed by the first
    (status quo) year's workload, scaled by the capacity lever."""
    return multiplier * staffing[key_source] * key_units


@njit(cache=True, error_model="numpy")
def _keep_probability(capacity, demand):
    return np.minimum(1.0, capacity / np.maximum(demand, 1e-9))


@njit(cache=True, error_model="numpy")
def _depth(capacity, used, max_depth):
    """Freed capacity buys depth: bodies spend their inspector-days on fewer, deeper visits."""
    return np.minimum(np.maximum(capacity / np.maximum(used, 1e-9), 1.0), max_depth)


@njit(cache=True, error_model="numpy")
def _item_load(visits, items, folded_share):
    """A unit keeps a ledger per visit, and part of one per item folded into another item's visit."""
    return visits + folded_share * (items - visits)


@njit(cache=True, error_model="numpy")
def _risk_cumulative(rho, risk, mean_risk):
    """Row r: 0, then the running sum of each unit's weight (1 - rho[r]) + rho[r] * risk / mean_risk,
    the weights risk-based targeting samples units by (_pps_sample); numpy's arithmetic, element by
    element (a dozen small array calls took 28 microseconds of a county year)."""
    out = np.zeros((rho.size, risk.size + 1))
    for r in range(rho.size):
        running = 0.0
        for u in range(risk.size):
            running += (1 - rho[r]) + rho[r] * risk[u] / mean_risk
            out[r, u + 1] = running
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def _plan_replications(streams, risk, mean_risk, risk_levels, jurisdictions, no_items, tables, schedule_tables,
                       capacity_terms, staffing, staffing_known, thin_levers, depth_and_ledgers, n_units):
    """The year's plan of each replication of a one-province run (replication r: units
    r * n_units onwards, Generator streams[r], staffing row r), as one ProvincePlan's fields whose
    units are numbered replication after replication, every unit's item load and the items struck.
    One compiled call a year for all of them replaces three calls per replication, each of which
    handed over a Generator and two dozen arguments: those and the Python around them took a fifth
    of a stacked county run's time (docs/PERFORMANCE.md, round 14)."""
    replications = len(streams)
    n_levels = jurisdictions[0].size
    n_keys = schedule_tables[-1]
    parts = []
    item_load = np.empty(replications * n_units)
    struck = 0
    for r in range(replications):
        risk_cumulative = _risk_cumulative(risk_levels, risk[r * n_units:(r + 1) * n_units], mean_risk[r])
        (source, mask, special, item_week), item, unit, replication_struck, _ = _issue_and_sample(
            streams, r, 0, n_levels, jurisdictions[0], jurisdictions[1], no_items, risk_cumulative, *tables)
        struck += replication_struck
        unit = unit.astype(np.int32)
        week, mode, key, days, demand = _schedule_visits(streams, r, item, unit, source, special, item_week,
                                                         *schedule_tables)
        if not staffing_known:
            staffing[r] = _staffing_from(demand, *capacity_terms[1:])
        capacity = _capacity(staffing[r], *capacity_terms[:3])
        visits, totals = _thin_join_merge(streams, r, _keep_probability(capacity, demand), item, unit, week, mode,
                                          key, days, source, mask, special, *thin_levers, n_units, n_keys)
        planned_days, merged_days, visits_per_unit, items_per_unit = totals
        depth = _depth(capacity, planned_days - merged_days, depth_and_ledgers[0])[visits[_VISIT_KEY]]
        item_load[r * n_units:(r + 1) * n_units] = _item_load(visits_per_unit, items_per_unit, depth_and_ledgers[1])
        parts.append((visits, depth))
    if replications == 1:
        plan = _plan_fields(*parts[0])
    else:
        plan = _stacked_visits(parts, n_units)
    return plan, item_load, struck  # (the calls above, not in the return: benchmarks.kernel_profile times them)


@njit(cache=True, error_model="numpy")
def _plan_fields(visits, depth):
    """A ProvincePlan's fields, in its order, from the visits _thin_join_merge returns and their depth."""
    unit, week, mode, special, mask, n_topics, members, duplicate, source, _, round_bounds = visits
    return ((unit, week, mode, special, mask, n_topics, members, depth, duplicate, source, round_bounds)
            + _week_blocks(week, round_bounds))


@njit(cache=True, error_model="numpy")
def _stacked_visits(parts, n_units):
    """The replications' visits as one plan's (a ProvincePlan's fields, in order): each week's round k
    holds every replication's round-k visits, replication after replication, each in its own order,
    so the weekly kernels meet each replication's visits, and make its draws, as they would alone."""
    replications = len(parts)
    offsets = np.zeros(replications + 1, np.int64)
    bounds_offsets = np.zeros(replications + 1, np.int64)
    round_first = np.empty((replications, WEEKS_PER_YEAR), np.int64)
    round_last = np.empty((replications, WEEKS_PER_YEAR), np.int64)
    for r in range(replications):
        visits = parts[r][0]
        offsets[r + 1] = offsets[r] + visits[_VISIT_WEEK].size
        bounds_offsets[r + 1] = bounds_offsets[r] + visits[_VISIT_ROUNDS].size
        _, _, round_first[r], round_last[r] = _week_blocks(visits[_VISIT_WEEK], visits[_VISIT_ROUNDS])
    round_bounds = np.empty(bounds_offsets[-1], np.int64)
    for r in range(replications):
        round_bounds[bounds_offsets[r]:bounds_offsets[r + 1]] = parts[r][0][_VISIT_ROUNDS]
    order, stacked_bounds = _stacked_order(offsets, round_first, round_last, round_bounds, bounds_offsets)
    n = offsets[-1]
    position = np.empty(n, np.int64)  # where each replication's visit goes
    for at in range(n):
        position[order[at]] = at
    unit = np.empty(n, np.int32)
    week = np.empty(n, np.int64)
    mode = np.empty(n, np.int8)
    special = np.empty(n, np.bool_)
    mask = np.empty(n, np.int64)
    n_topics = np.empty(n, np.int8)
    members = np.empty(n, np.int8)
    depth = np.empty(n)
    duplicate = np.empty(n, np.bool_)
    source = np.empty(n, np.int16)
    for r in range(replications):
        (p_unit, p_week, p_mode, p_special, p_mask, p_n_topics, p_members, p_duplicate, p_source, _, _), p_depth = \
            parts[r]
        first_unit = np.int32(r * n_units)
        for i in range(p_unit.size):
            at = position[offsets[r] + i]
            unit[at] = p_unit[i] + first_unit
            week[at], mode[at], special[at], mask[at] = p_week[i], p_mode[i], p_special[i], p_mask[i]
            n_topics[at], members[at], depth[at] = p_n_topics[i], p_members[i], p_depth[i]
            duplicate[at], source[at] = p_duplicate[i], p_source[i]
    return ((unit, week, mode, special, mask, n_topics, members, depth, duplicate, source, stacked_bounds)
            + _week_blocks(week, stacked_bounds))


# -- kernels ----------------------------------------------------------------------------------
# Kernels given the run's Generator draw one element at a time, in the order the vectorised calls
# did (rng.random(n) gives what n calls of rng.random() give), so a seed keeps its stream.

@njit(cache=True, error_model="numpy")
def _build_own_items(rng, rate, first_jurisdiction, stop_jurisdiction, source_index, is_body, topic_table,
                     n_source_topics, special_share, topic_cdf):
    """(source, jurisdiction, mask, special, week) of the issuers' items in jurisdictions
    first_jurisdiction:stop_jurisdiction of their level. Issuer s draws in turn as numpy's
    rng.poisson(rate[s], n_jur) (its counts per jurisdiction), rng.integers(0, WEEKS_PER_YEAR,
    total) and, for a body, rng.random((1 + COMPREHENSIVE_TOPIC_DRAWS) * total) (a uniform for special,
    then the topic uniforms per item, searched in the topic cdf as rng.choice would; special items keep
    the first), for a department rng.integers(0, its topic count, total). Each element is drawn in
    its turn straight into the items' arrays, which grow when an issuer's count overflows them: an
    array per issuer and draw cost a county year's issuing a third of its time."""
    n_jur = stop_jurisdiction - first_jurisdiction
    counts = np.empty(n_jur, np.int64)
    capacity = int(rate.sum() * n_jur) + 1  # the expected count: about one level in two grows once
    source = np.empty(capacity, np.int16)
    jurisdiction = np.empty(capacity, np.int32)
    mask = np.empty(capacity, np.int64)
    special = np.empty(capacity, np.bool_)
    week = np.empty(capacity, np.int16)
    at = 0
    for s in range(rate.size):
        n = 0
        for j in range(n_jur):
            counts[j] = poisson(rng, rate[s])
            n += counts[j]
        if at + n > source.size:
            size = max(2 * source.size, at + n)
            source, jurisdiction = _grown(source, at, size), _grown(jurisdiction, at, size)
            mask, special, week = _grown(mask, at, size), _grown(special, at, size), _grown(week, at, size)
        first_item = at
        for j in range(n_jur):
            jurisdiction[at:at + counts[j]] = first_jurisdiction + j
            at += counts[j]
        source[first_item:at] = source_index[s]
        for i in range(first_item, at):
            week[i] = bounded_integer(rng, WEEKS_PER_YEAR)
        if is_body[s]:
            for i in range(first_item, at):
                special[i] = rng.random() < special_share[week[i]]
            for i in range(first_item, at):
                topics = np.int64(1) << np.searchsorted(topic_cdf, rng.random(), side="right")
                for _ in range(COMPREHENSIVE_TOPIC_DRAWS - 1):
                    further = rng.random()
                    if not special[i]:  # a special item keeps its first topic only
                        topics |= np.int64(1) << np.searchsorted(topic_cdf, further, side="right")
                mask[i] = topics
        else:
            own_topics = topic_table[source_index[s]]
            for i in range(first_item, at):
                special[i] = True
                mask[i] = np.int64(1) << own_topics[bounded_integer(rng, n_source_topics[s])]
    return source[:at], jurisdiction[:at], mask[:at], special[:at], week[:at]


@njit(cache=True, error_model="numpy")
def _grown(values, used, size):
    """values with room for `size` elements, its first `used` kept."""
    out = np.empty(size, values.dtype)
    out[:used] = values[:used]
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def _issue_and_sample(stream, block, first_level, stop_level, jurisdiction_first, jurisdiction_stop, carried,
                      risk_cumulative, level_sources, level_source_start, level_rate, is_body, topic_table,
                      n_source_topics, special_share, topic_cdf, unnecessary_share, negative_list_share,
                      jurisdiction_offset, jurisdiction_start, jurisdiction_size, coverage, risk_level, relay_target,
                      child_start, child_count, relay_probability):
    """Items and their target units, level by level from first_level down to stop_level (not
    included), in each level's jurisdictions jurisdiction_first[level]:jurisdiction_stop[level]: the
    level's issuers' own items and the items relayed from above (`carried`: source, jurisdiction,
    mask, special, week); the negative list strikes some; each item's units are sampled; the level's
    items are relayed to the level below; all drawn from stream[block]. Returns the items (source,
    mask, special, week), each visit's item and unit, how many items were struck, and the items
    relayed below stop_level."""
    rng = stream[block]
    source = np.empty(0, np.int16)
    mask = np.empty(0, np.int64)
    special = np.empty(0, np.bool_)
    week = np.empty(0, np.int16)
    carried_source, carried_jurisdiction, carried_mask, carried_special, carried_week = carried
    item, unit = np.empty(0, np.int64), np.empty(0, np.int64)
    struck = 0
    for level in range(first_level, stop_level):
        first, last = level_source_start[level], level_source_start[level + 1]
        sources = level_sources[first:last]
        j0 = jurisdiction_offset[level]
        own_source, own_jurisdiction, own_mask, own_special, own_week = _build_own_items(
            rng, level_rate[first:last], jurisdiction_first[level], jurisdiction_stop[level], sources,
            is_body[sources], topic_table, n_source_topics[sources], special_share, topic_cdf)
        level_source = np.concatenate((own_source, carried_source))
        level_week = np.concatenate((own_week, carried_week))
        # An item's category does not change as it is relayed down: only the level's own items
        # face the negative list; relayed copies passed it where they were issued.
        keep = np.ones(level_source.size, np.bool_)
        keep[:own_source.size] = _negative_list_keep(rng, own_source, own_week, unnecessary_share,
                                                     negative_list_share)
        struck += keep.size - np.count_nonzero(keep)
        level_source, level_week = level_source[keep], level_week[keep]
        level_jurisdiction = np.concatenate((own_jurisdiction, carried_jurisdiction))[keep]
        level_mask = np.concatenate((own_mask, carried_mask))[keep]
        level_special = np.concatenate((own_special, carried_special))[keep]
        cell = j0 + level_jurisdiction
        level_item, level_unit = _pps_sample(rng, jurisdiction_start[cell], jurisdiction_size[cell], coverage[level],
                                             risk_level[level_source], risk_cumulative)
        item = np.concatenate((item, level_item + source.size))
        unit = np.concatenate((unit, level_unit))
        source = np.concatenate((source, level_source))
        mask = np.concatenate((mask, level_mask))
        special = np.concatenate((special, level_special))
        week = np.concatenate((week, level_week))
        if level + 2 < jurisdiction_offset.size:
            parent, carried_jurisdiction, carried_week = _relay_pairs(
                rng, level_source, level_jurisdiction, level_week, relay_target, child_start[j0:], child_count[j0:],
                relay_probability)
            carried_source = relay_target[level_source[parent]]
            carried_mask, carried_special = level_mask[parent], level_special[parent]
        else:
            carried_source, carried_jurisdiction, carried_mask, carried_special, carried_week = (
                carried_source[:0], carried_jurisdiction[:0], carried_mask[:0], carried_special[:0], carried_week[:0])
    return ((source, mask, special, week), item, unit, struck,
            (carried_source, carried_jurisdiction, carried_mask, carried_special, carried_week))


@njit(cache=True, error_model="numpy")
def _negative_list_keep(rng, source, week, unnecessary_share, negative_list_share):
    """Items the negative list leaves: an item is struck if it is 'unnecessary' and the list covers
    it that week. All 'unnecessary' trials come first, then the strike trials of unnecessary items."""
    n = source.size
    unnecessary = np.empty(n, np.bool_)
    for i in range(n):
        unnecessary[i] = chance(rng, unnecessary_share[source[i]])
    keep = np.empty(n, np.bool_)
    for i in range(n):
        keep[i] = not (unnecessary[i] and chance(rng, negative_list_share[week[i]]))
    return keep


@njit(cache=True, error_model="numpy")
def _pps_sample(rng, start, size, coverage, risk_level, risk_cumulative):
    """(item, unit) of each visit: k[i] ~ Binomial(size[i], coverage) systematic PPS points over
    item i's jurisdiction on its risk level's cumulative weights, a unit hit twice in a row by one
    item visited once.

    A point's unit is np.searchsorted(cumulative, point, "right") - 1 clipped to the jurisdiction.
    Weights are non-negative and an item's points ascend, so a walk from the last unit finds it."""
    k = binomial_counts(rng, size, coverage)
    n = k.size
    offset = np.empty(n)
    for i in range(n):
        offset[i] = rng.random()
    item = np.empty(k.sum(), np.int64)
    unit = np.empty(k.sum(), np.int64)
    at = 0
    for i in range(n):
        cumulative = risk_cumulative[risk_level[i]]
        first, end = start[i], start[i] + size[i]
        low, high = cumulative[first], cumulative[end]
        u = first  # the last index in first..end whose cumulative weight is at most the point
        for position in range(k[i]):
            point = low + (offset[i] + position) * (high - low) / k[i]
            while u < end and cumulative[u + 1] <= point:
                u += 1
            chosen = min(u, end - 1)
            if position == 0 or chosen != unit[at - 1]:
                item[at], unit[at] = i, chosen
                at += 1
    return item[:at], unit[:at]


@njit(cache=True, error_model="numpy")
def _relay_pairs(rng, source, jurisdiction, week, relay_target, child_start, child_count, probability):
    """(item, child jurisdiction, week) of each relay: one draw per relaying item and child, then
    each relay's lag."""
    pairs = 0
    for i in range(source.size):
        if relay_target[source[i]] >= 0:
            pairs += child_count[jurisdiction[i]]
    parent = np.empty(pairs, np.int64)
    child = np.empty(pairs, np.int32)
    at = 0
    for i in range(source.size):
        if relay_target[source[i]] >= 0:
            for c in range(child_count[jurisdiction[i]]):
                if chance(rng, probability):
                    parent[at], child[at] = i, child_start[jurisdiction[i]] + c
                    at += 1
    lag = rng.integers(0, RELAY_LAG_WEEKS + 1, at)
    relay_week = np.empty(at, np.int16)
    for r in range(at):
        relay_week[r] = (week[parent[r]] + lag[r]) % WEEKS_PER_YEAR
    return parent[:at], child[:at], relay_week


@njit(cache=True, nogil=True, error_model="numpy")
def _schedule_visits(stream, block, item, unit, item_source, item_special, item_week, remote_share, unannounced_share,
                     inspector_days, key_offset, level_of_source, unit_jurisdiction, n_keys):
    """Each visit's week (its item's week plus a lag) and mode, its (source, jurisdiction) capacity key,
    inspector-days, and the inspector-days demanded per key; drawn from stream[block]."""
    rng = stream[block]
    n = unit.size
    lag = rng.integers(0, RELAY_LAG_WEEKS, n)
    week = np.empty(n, np.int64)
    for v in range(n):
        week[v] = (item_week[item[v]] + lag[v]) % WEEKS_PER_YEAR
    remote = np.empty(n, np.bool_)
    for v in range(n):
        remote[v] = chance(rng, remote_share[week[v]])
    mode = np.empty(n, np.int8)
    key = np.empty(n, np.int64)
    days = np.empty(n)
    demand = np.zeros(n_keys)
    for v in range(n):
        mode[v] = REMOTE if remote[v] else (UNANNOUNCED if chance(rng, unannounced_share[week[v]]) else ANNOUNCED)
        source = item_source[item[v]]
        key[v] = key_offset[source] + unit_jurisdiction[level_of_source[source], unit[v]]
        days[v] = inspector_days[2] if remote[v] else inspector_days[1] if item_special[item[v]] else inspector_days[0]
        demand[key[v]] += days[v]
    return week, mode, key, days, demand


@njit(cache=True, nogil=True, error_model="numpy")
def _thin_join_merge(stream, block, keep_probability, item, unit, week, mode, key, days, item_source, item_mask, item_special,
                     joint_share, merge_rate, n_units, n_keys):
    """Thin visits to capacity, fold joint visits into their group's leader, fold or mark visits
    whose topics were all inspected at the unit before, and return the rest in round order.

    Keep and joint trials go in plan order; the scans run on copies in (week, plan position) order,
    the order the joint groups, the merge scan (with its merge trial for each covered visit) and
    the rounds all follow for each unit's own visits. A trial whose outcome is certain draws nothing.
    Drawn from stream[block]."""
    rng = stream[block]
    n = unit.size
    kept = np.empty(n, np.bool_)
    planned_days = np.zeros(n_keys)
    items_per_unit = np.zeros(n_units)
    start = np.zeros(WEEKS_PER_YEAR + 1, np.int64)
    for v in range(n):
        kept[v] = chance(rng, keep_probability[key[v]])
        if kept[v]:
            planned_days[key[v]] += days[v]
            items_per_unit[unit[v]] += 1.0
            start[week[v] + 1] += 1
    start = np.cumsum(start)
    m = start[-1]
    # Kept visits by week, in plan order within a week (`at` is the plan position); each week's
    # block is written sequentially, so the copies stream.
    at = np.empty(m, np.int64)
    unit_w = np.empty(m, unit.dtype)
    week_w = np.empty(m, week.dtype)
    mode_w = np.empty(m, mode.dtype)
    key_w = np.empty(m, key.dtype)
    source_w = np.empty(m, item_source.dtype)
    mask_w = np.empty(m, item_mask.dtype)
    special_w = np.empty(m, np.bool_)
    joinable_w = np.empty(m, np.bool_)
    for v in range(n):
        if kept[v]:
            joinable = mode[v] != REMOTE and chance(rng, joint_share[week[v]])
            i = start[week[v]]
            start[week[v]] += 1
            at[i], unit_w[i], week_w[i], mode_w[i], key_w[i] = v, unit[v], week[v], mode[v], key[v]
            source_w[i], mask_w[i], special_w[i] = item_source[item[v]], item_mask[item[v]], item_special[item[v]]
            joinable_w[i] = joinable

    # Joint inspection: joinable on-site visits to a unit in the same policy area within a
    # half-year become one entry (joint teams are formed around a theme: one entry, several bodies),
    # led by the first of them in week order.
    members_w = np.ones(m, np.int8)
    joined_w = np.zeros(m, np.bool_)
    half_year = np.full((n_units, N_AREAS), -1, np.int64)  # of each unit's and area's current group
    leader = np.empty((n_units, N_AREAS), np.int64)
    for i in range(m):
        if joinable_w[i]:
            u, area, half = unit_w[i], _lowest_bit(mask_w[i]) // TOPICS_PER_DEPARTMENT, week_w[i] // JOINT_WINDOW_WEEKS
            if half == half_year[u, area]:
                first = leader[u, area]
                mask_w[first] |= mask_w[i]
                members_w[first] += 1  # wraps like the int8 cast of the group size did
                joined_w[i] = True
            else:
                half_year[u, area], leader[u, area] = half, i
    for i in range(m):
        if joinable_w[i] and not joined_w[i]:
            special_w[i] = _popcount(mask_w[i]) == 1
    joined = np.zeros(n, np.bool_)
    for i in range(m):
        joined[at[i]] = joined_w[i]

    # Merging: scan the year in order; a visit whose topics were all inspected before at the unit
    # is folded into the earlier item with probability merge_rate, or always when it is in the
    # joint system and joint-system visits inspected those topics (their results are shared and
    # recognised), else it is a duplicate.
    seen = np.zeros(n_units, np.int64)
    seen_jointly = np.zeros(n_units, np.int64)
    covered_w = np.zeros(m, np.bool_)
    final_w = np.empty(m, np.int64)
    n_final = 0
    merged = np.zeros(n, np.bool_)
    for i in range(m):
        if not joined_w[i]:
            u = unit_w[i]
            covered_w[i] = (seen[u] & mask_w[i]) == mask_w[i]
            shared = joinable_w[i] and (seen_jointly[u] & mask_w[i]) == mask_w[i]
            seen[u] |= mask_w[i]
            if joinable_w[i]:
                seen_jointly[u] |= mask_w[i]
            if covered_w[i] and (shared or chance(rng, merge_rate[week_w[i]])):
                merged[at[i]] = True
            else:
                final_w[n_final] = i
                n_final += 1
    merged_days = np.zeros(n_keys)
    for v in range(n):
        if merged[v]:
            merged_days[key[v]] += days[v]

    out, round_bounds = _round_order_sorted(final_w[:n_final], week_w, unit_w, n_units)
    mask_out = mask_w[out]
    n_topics = np.empty(n_final, np.int8)
    for f in range(n_final):
        n_topics[f] = _popcount(mask_out[f])
    visits_per_unit = np.zeros(n_units)
    for i in out:
        visits_per_unit[unit_w[i]] += 1.0
    visits = (unit_w[out], week_w[out], mode_w[out], special_w[out], mask_out, n_topics, members_w[out],
              covered_w[out], source_w[out], key_w[out], round_bounds)
    return visits, (planned_days, merged_days, visits_per_unit, items_per_unit)


# positions in the visits tuple _thin_join_merge returns (unit, week, mode, special, mask, n_topics, members,
# duplicate, source, key, round bounds)
_VISIT_WEEK, _VISIT_KEY, _VISIT_ROUNDS = 1, 9, 10
# no items relayed from above (source, jurisdiction, mask, special, week), as _issue_and_sample takes them
_NO_ITEMS = (np.empty(0, np.int16), np.empty(0, np.int32), np.empty(0, np.int64), np.empty(0, np.bool_),
             np.empty(0, np.int16))


def _by_province(province: np.ndarray, n_provinces: int) -> list[np.ndarray]:
    """The positions of each province's entries, in their order."""
    order = np.argsort(province, kind="stable")
    bounds = np.searchsorted(province[order], np.arange(n_provinces + 1))
    return [order[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def _province_plan(visits: tuple, depth_by_key: np.ndarray) -> ProvincePlan:
    """A province's plan from the visits _thin_join_merge returns, with each week's blocks and rounds."""
    return ProvincePlan(*_plan_fields(visits, depth_by_key[visits[_VISIT_KEY]]))


@njit(cache=True, error_model="numpy")
def _stacked_order(offsets, round_first, round_last, round_bounds, bounds_offsets):
    """_stacked_visits's order of the replications' visits (positions in their concatenation) and the
    bounds of its (week, round) runs, as _round_order_sorted gives them for one plan."""
    n = offsets[-1]
    if n == 0:
        return np.zeros(0, np.int64), np.array([0, 1])
    replications = round_first.shape[0]
    order = np.empty(n, np.int64)
    bounds = np.empty(n + 1, np.int64)
    at = n_bounds = 0
    for w in range(WEEKS_PER_YEAR):
        most = 0
        for r in range(replications):
            if round_last[r, w] > round_first[r, w]:
                most = max(most, round_last[r, w] - round_first[r, w] - 1)
        for k in range(most):
            bounds[n_bounds] = at
            n_bounds += 1
            for r in range(replications):
                rounds = round_last[r, w] - round_first[r, w] - 1
                if k < rounds:
                    first = bounds_offsets[r] + round_first[r, w] + k
                    for v in range(round_bounds[first], round_bounds[first + 1]):
                        order[at] = offsets[r] + v
                        at += 1
    bounds[n_bounds] = n
    return order, bounds[:n_bounds + 1].copy()


@njit(cache=True, error_model="numpy")
def _week_blocks(week, round_bounds):
    """Each week's first and last visit (week is sorted) and the bounds of its rounds among
    round_bounds, by np.searchsorted in one compiled call (three numpy calls took 12 microseconds)."""
    block = np.searchsorted(week, np.arange(WEEKS_PER_YEAR + 1))
    block_start, block_stop = block[:-1], block[1:]
    return (block_start, block_stop, np.searchsorted(round_bounds, block_start),
            np.searchsorted(round_bounds, block_stop, side="right"))


@njit(cache=True, error_model="numpy")
def _stable_order(value, n_values):
    """The order that stably sorts small non-negative integers (a counting sort)."""
    start = np.zeros(n_values + 1, np.int64)
    for x in value:
        start[x + 1] += 1
    for x in range(n_values):
        start[x + 1] += start[x]
    order = np.empty(value.size, np.int64)
    for i in range(value.size):
        order[start[value[i]]] = i
        start[value[i]] += 1
    return order


@njit(cache=True, error_model="numpy")
def _round_order_sorted(index, week, unit, n_units):
    """Visits `index` (in week, plan position order) reordered within each week by round, the
    visit's rank among the week's visits to its unit; and the bounds of the (week, round) runs."""
    n = index.size
    if n == 0:
        return np.zeros(0, np.int64), np.array([0, 1])  # what the bounds of no visits have always been
    rank = np.empty(n, np.int64)
    count = np.zeros(n_units, np.int64)
    order = np.empty(n, np.int64)
    bounds = np.empty(n + 1, np.int64)
    n_bounds = 0
    a = 0
    while a < n:
        b = a
        while b < n and week[index[b]] == week[index[a]]:
            b += 1
        top = 0
        for i in range(a, b):
            rank[i] = count[unit[index[i]]]
            count[unit[index[i]]] += 1
            top = max(top, rank[i])
        for i in range(a, b):
            count[unit[index[i]]] = 0
        within = _stable_order(rank[a:b], top + 1)
        for r in range(b - a):
            order[a + r] = index[a + within[r]]
            if r == 0 or rank[a + within[r]] != rank[a + within[r - 1]]:
                bounds[n_bounds] = a + r
                n_bounds += 1
        a = b
    bounds[n_bounds] = n
    return order, bounds[:n_bounds + 1].copy()


@njit(cache=True, error_model="numpy")
def _popcount(m):
    count = 0
    while m:
        m &= m - 1
        count += 1
    return count


_DE_BRUIJN = np.uint64(0x03F79D71B4CA8B09)  # each 6-bit window of it is distinct
_DE_BRUIJN_BIT = np.zeros(64, dtype=np.int8)
_DE_BRUIJN_BIT[(_DE_BRUIJN << np.arange(64, dtype=np.uint64)) >> np.uint64(58)] = np.arange(64)


@njit(cache=True, error_model="numpy")
def _lowest_bit(m):
    """Index of the lowest set bit of a non-empty mask, by a de Bruijn multiplication."""
    low = np.uint64(m & -m)
    return _DE_BRUIJN_BIT[(low * _DE_BRUIJN) >> np.uint64(58)]
