"""Annual inspection plan: items pass down the levels and become visits to units (brief 3.1-3.2).

Each year every supervision body and department issues items (topic set x target units) in its
jurisdictions; lower levels relay upper items and add their own (layer-by-layer escalation).
The negative list strikes unnecessary items, bodies thin their plan to capacity, joint
inspection folds visits at a unit within a quarter into one entry, merging folds items whose
topics were already inspected at the unit, and what repeats earlier topics is a duplicate.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .organisation import (
    BODY_KINDS, BODY_ITEMS_PER_YEAR, COVERAGE_BY_LEVEL, DEPARTMENT_ITEMS_PER_YEAR, DEPARTMENT_KINDS,
    N_TOPICS, TOPICS_PER_DEPARTMENT, UNNECESSARY_SHARE_BODY, UNNECESSARY_SHARE_DEPARTMENT, Organisation,
)
from .params import WEEKS_PER_YEAR

ANNOUNCED, UNANNOUNCED, REMOTE = 0, 1, 2
COMPREHENSIVE_TOPIC_DRAWS = 4
RELAY_LAG_WEEKS = 4
JOINT_WINDOW_WEEKS = 26  # joint teams are planned per half-year: visits in one half-year share an entry
INSPECTOR_DAYS = {"comprehensive": 3.0, "special": 2.0, "remote": 1.0}
TOPIC_BITS = 1 << np.arange(N_TOPICS, dtype=np.int64)


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
class Items:
    source: np.ndarray
    jurisdiction: np.ndarray
    mask: np.ndarray
    special: np.ndarray
    week: np.ndarray

    def take(self, keep: np.ndarray) -> "Items":
        return Items(*(getattr(self, f)[keep] for f in ("source", "jurisdiction", "mask", "special", "week")))

    @staticmethod
    def concat(parts: list["Items"]) -> "Items":
        return Items(*(np.concatenate([getattr(p, f) for p in parts]) for f in
                       ("source", "jurisdiction", "mask", "special", "week")))


@dataclass
class YearPlan:
    """The year's visits, sorted by week and round; week_start[w]:week_start[w+1] are week w's."""

    unit: np.ndarray
    week: np.ndarray
    mode: np.ndarray
    special: np.ndarray
    mask: np.ndarray
    n_topics: np.ndarray
    members: np.ndarray
    depth: np.ndarray
    duplicate: np.ndarray
    source: np.ndarray
    week_start: np.ndarray
    round_bounds: np.ndarray  # boundaries of (week, round) runs; a round never repeats a unit
    topic_start: np.ndarray  # topic_start[v]:topic_start[v+1] are visit v's entries in topic
    topic: np.ndarray  # each visit's topics in ascending order, visit after visit (int8)
    item_load: np.ndarray  # per unit: items whose ledgers the unit keeps this year
    demand_by_source: np.ndarray  # inspector-days per (source, jurisdiction), flattened per source
    merged: int
    joined_away: int
    struck: int


def lowest_topic(mask: np.ndarray) -> np.ndarray:
    """Index of the lowest topic bit in each mask (masks are never empty)."""
    return popcount((mask & -mask) - 1).astype(np.int64)


def popcount(mask: np.ndarray) -> np.ndarray:
    return np.bitwise_count(mask.astype(np.uint64)).astype(np.int8)


def topic_lists(mask: np.ndarray, n_topics: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The topics of each mask as (start, topic): topic[start[v]:start[v+1]] are mask v's set bits
    in ascending order. The same (visit, topic) pairs, in the same row-major order, as
    np.nonzero of the visits x topics bit matrix, without building that matrix."""
    if n_topics is None:
        n_topics = popcount(mask)
    start = np.zeros(mask.size + 1, dtype=np.int64)
    np.cumsum(n_topics, out=start[1:])
    topic = np.empty(int(start[-1]), dtype=np.int8)
    left = mask != 0
    m = mask[left].astype(np.int64)  # masks use the low N_TOPICS bits only
    at = start[:-1][left]  # where each mask's next topic goes
    while m.size:  # one pass per topic, over the masks that still have topics left
        low = m & -m  # lowest set bit
        m ^= low
        low -= 1
        topic[at] = np.bitwise_count(low)
        left = m != 0
        m = m[left]
        at = at[left]
        at += 1
    return start, topic


class Planner:
    """Builds each year's plan; holds the staffing fixed at the status quo (burn-in) workload."""

    def __init__(self, organisation: Organisation, behaviour: dict):
        self.org = organisation
        self.behaviour = behaviour
        self.sources = build_sources()
        self.staffing: np.ndarray | None = None  # inspector-days per unit of jurisdiction, per source
        rank = np.arange(1, N_TOPICS + 1, dtype=float)
        weights = rank ** -behaviour["topic_concentration"]
        self.topic_weights = weights / weights.sum()
        self._children = []
        for level in range(len(organisation.n_jurisdictions) - 1):
            parent = organisation.jurisdiction_parent[level + 1]
            count = np.bincount(parent, minlength=organisation.n_jurisdictions[level])
            start = np.concatenate(([0], np.cumsum(count)[:-1]))
            self._children.append((start, count))
        self._relay_target = np.full(len(self.sources), -1, dtype=np.int16)
        for source in self.sources:
            for other in self.sources:
                if other.name == source.name and other.level == source.level + 1:
                    self._relay_target[source.index] = other.index
        self._unnecessary_share = np.array([s.unnecessary_share for s in self.sources])
        self._risk_targeting = np.array([s.risk_targeting for s in self.sources])
        self._level_of_source = np.array([s.level for s in self.sources])
        self._key_offset = np.concatenate(
            ([0], np.cumsum([organisation.n_jurisdictions[s.level] for s in self.sources])[:-1])).astype(np.int64)
        self._key_source = np.concatenate(
            [np.full(organisation.n_jurisdictions[s.level], s.index) for s in self.sources])
        self._key_units = np.concatenate(
            [organisation.jurisdiction_size[s.level] for s in self.sources]).astype(float)
        self._unit_jurisdiction = np.array(organisation.unit_jurisdiction)

    # -- items ------------------------------------------------------------------------------
    def _own_items(self, rng, source: Source, levers_week, escalation: float) -> Items:
        n_jur = self.org.n_jurisdictions[source.level]
        rate = source.items_per_year * self.behaviour["items_scale"] * (1 + escalation) ** max(source.level - 1, 0)
        counts = rng.poisson(rate, n_jur)
        total = int(counts.sum())
        jurisdiction = np.repeat(np.arange(n_jur, dtype=np.int32), counts)
        week = rng.integers(0, WEEKS_PER_YEAR, total).astype(np.int16)
        if source.is_body:
            special = rng.random(total) < levers_week["special_inspection_share"][week]
            draws = rng.choice(N_TOPICS, size=(total, COMPREHENSIVE_TOPIC_DRAWS), p=self.topic_weights)
            comprehensive_mask = np.bitwise_or.reduce(TOPIC_BITS[draws], axis=1)
            mask = np.where(special, TOPIC_BITS[draws[:, 0]], comprehensive_mask)
        else:
            special = np.ones(total, dtype=bool)
            mask = TOPIC_BITS[np.asarray(source.topics)[rng.integers(0, len(source.topics), total)]]
        return Items(np.full(total, source.index, np.int16), jurisdiction, mask.astype(np.int64), special, week)

    def _relay(self, rng, items: Items, level: int) -> Items:
        start, count = self._children[level]
        n_children = count[items.jurisdiction]
        parent = np.repeat(np.arange(len(items.source)), n_children)
        offset = np.arange(parent.size) - np.repeat(np.cumsum(n_children) - n_children, n_children)
        child = (start[items.jurisdiction][parent] + offset).astype(np.int32)
        relayed = rng.random(parent.size) < self.behaviour["relay_probability"]
        parent, child = parent[relayed], child[relayed]
        week = (items.week[parent] + rng.integers(0, RELAY_LAG_WEEKS + 1, parent.size)) % WEEKS_PER_YEAR
        return Items(self._relay_target[items.source[parent]], child, items.mask[parent], items.special[parent], week.astype(np.int16))

    def _strike_negative_list(self, rng, items: Items, levers_week) -> tuple[Items, int]:
        unnecessary = rng.random(items.source.size) < self._unnecessary_share[items.source]
        struck = unnecessary & (rng.random(items.source.size) < levers_week["negative_list_share"][items.week])
        return items.take(~struck), int(struck.sum())

    # -- visits -----------------------------------------------------------------------------
    def _expand(self, rng, items: Items, level: int, risk_cumulative: dict) -> tuple[np.ndarray, np.ndarray]:
        """Systematic PPS sampling of each item's target units within its jurisdiction."""
        start = self.org.jurisdiction_start[level][items.jurisdiction]
        size = self.org.jurisdiction_size[level][items.jurisdiction]
        k = rng.binomial(size, COVERAGE_BY_LEVEL[level])
        item_of_visit = np.repeat(np.arange(items.source.size), k)
        position = np.arange(item_of_visit.size) - np.repeat(np.cumsum(k) - k, k)
        offset = rng.random(items.source.size)
        risk = self._risk_targeting[items.source]
        unit = np.empty(item_of_visit.size, dtype=np.int64)
        for rho, cumulative in risk_cumulative.items():
            chosen = (risk == rho)[item_of_visit] if len(risk_cumulative) > 1 else slice(None)
            it = item_of_visit[chosen]
            low, high = cumulative[start[it]], cumulative[start[it] + size[it]]
            points = low + (offset[it] + position[chosen]) * (high - low) / k[it]
            unit[chosen] = np.searchsorted(cumulative, points, side="right") - 1
        unit = np.clip(unit, start[item_of_visit], start[item_of_visit] + size[item_of_visit] - 1)
        first_of_item = np.ones(unit.size, dtype=bool)  # PPS repeats a unit only when its weight is huge
        first_of_item[1:] = (item_of_visit[1:] != item_of_visit[:-1]) | (unit[1:] != unit[:-1])
        return item_of_visit[first_of_item], unit[first_of_item]

    def plan_year(self, rng, levers_week: dict[str, np.ndarray], risk: np.ndarray) -> YearPlan:
        """levers_week maps each lever to its 52 weekly values for this year."""
        escalation = float(levers_week["escalation_per_level"].mean())
        risk_cumulative = {}
        mean_risk = risk.mean() if risk.mean() > 0 else 1.0
        for rho in sorted({s.risk_targeting for s in self.sources}):
            weight = (1 - rho) + rho * risk / mean_risk
            risk_cumulative[rho] = np.concatenate(([0.0], np.cumsum(weight)))

        visit_parts, struck_total, carried = [], 0, None
        for level in range(len(self.org.n_jurisdictions)):
            parts = [self._own_items(rng, s, levers_week, escalation) for s in self.sources if s.level == level]
            if carried is not None:
                parts.append(carried)
            items, struck = self._strike_negative_list(rng, Items.concat(parts), levers_week)
            struck_total += struck
            item_of_visit, unit = self._expand(rng, items, level, risk_cumulative)
            visit_parts.append((items.take(item_of_visit), unit))
            if level + 1 < len(self.org.n_jurisdictions):
                carried = self._relay(rng, items.take(self._relay_target[items.source] >= 0), level)

        visit_items = Items.concat([p[0] for p in visit_parts])
        unit = np.concatenate([p[1] for p in visit_parts]).astype(np.int32)
        week = (visit_items.week + rng.integers(0, RELAY_LAG_WEEKS, unit.size)) % WEEKS_PER_YEAR
        remote = rng.random(unit.size) < levers_week["remote_share"][week]
        unannounced = ~remote & (rng.random(unit.size) < levers_week["unannounced_share"][week])
        mode = np.where(remote, REMOTE, np.where(unannounced, UNANNOUNCED, ANNOUNCED)).astype(np.int8)
        source = visit_items.source
        source_jurisdiction = self._unit_jurisdiction[self._level_of_source[source], unit]
        days = np.where(remote, INSPECTOR_DAYS["remote"],
                        np.where(visit_items.special, INSPECTOR_DAYS["special"], INSPECTOR_DAYS["comprehensive"]))

        # Capacity: staffing is fixed by the first (status quo) year's workload.
        key = self._key_offset[source] + source_jurisdiction
        n_keys = self._key_source.size
        demand = np.bincount(key, weights=days, minlength=n_keys)
        if self.staffing is None:
            self.staffing = self._staffing_from(demand)
        capacity = self._capacity(levers_week)
        keep = rng.random(unit.size) < np.minimum(1.0, capacity / np.maximum(demand, 1e-9))[key]
        unit, week, mode, source, key, days = unit[keep], week[keep], mode[keep], source[keep], key[keep], days[keep]
        mask, special = visit_items.mask[keep], visit_items.special[keep]
        planned_days = np.bincount(key, weights=days, minlength=n_keys)
        items_per_unit = np.bincount(unit, minlength=self.org.n_units).astype(float)

        # Joint inspection: joinable on-site visits to a unit in the same policy area within a
        # half-year become one entry (joint teams are formed around a theme: one entry, several bodies).
        joinable = (mode != REMOTE) & (rng.random(unit.size) < levers_week["joint_inspection_share"][week])
        members = np.ones(unit.size, dtype=np.int8)
        joined_away = np.zeros(unit.size, dtype=bool)
        if joinable.any():
            idx = np.flatnonzero(joinable)
            idx = idx[np.lexsort((week[idx], unit[idx]))]
            area = lowest_topic(mask[idx]) // TOPICS_PER_DEPARTMENT
            window = week[idx] // JOINT_WINDOW_WEEKS
            group_key = (unit[idx].astype(np.int64) * 2 + window) * len(DEPARTMENT_KINDS) + area
            first = np.r_[True, group_key[1:] != group_key[:-1]]
            starts = np.flatnonzero(first)
            leaders = idx[starts]
            mask[leaders] = np.bitwise_or.reduceat(mask[idx], starts)
            members[leaders] = np.diff(np.r_[starts, idx.size]).astype(np.int8)
            special[leaders] = popcount(mask[leaders]) == 1
            joined_away[idx[~first]] = True
        survivors = ~joined_away
        unit, week, mode, source, key, days = (a[survivors] for a in (unit, week, mode, source, key, days))
        mask, special, members, joinable = mask[survivors], special[survivors], members[survivors], joinable[survivors]

        merged, duplicate = self._merge_and_mark_duplicates(rng, unit, week, mask, joinable, levers_week)
        used = planned_days - np.bincount(key[merged], weights=days[merged], minlength=n_keys)
        keep = ~merged
        unit, week, mode, source, key, days = (a[keep] for a in (unit, week, mode, source, key, days))
        mask, special, members, duplicate = mask[keep], special[keep], members[keep], duplicate[keep]

        # Freed capacity buys depth: bodies spend their inspector-days on fewer, deeper visits.
        depth = np.clip(capacity / np.maximum(used, 1e-9), 1.0, self.behaviour["max_depth"])[key]

        folded = np.bincount(unit, minlength=self.org.n_units).astype(float)
        item_load = folded + self.behaviour["folded_item_ledger_share"] * (items_per_unit - folded)

        order, round_bounds = visit_rounds(unit, week, self.org.n_units)
        week_sorted = week[order]
        mask_sorted = mask[order]
        n_topics = popcount(mask_sorted)
        topic_start, topic = topic_lists(mask_sorted, n_topics)
        return YearPlan(
            unit=unit[order], week=week_sorted, mode=mode[order], special=special[order], mask=mask_sorted,
            n_topics=n_topics, members=members[order], depth=depth[order].astype(np.float64),
            duplicate=duplicate[order], source=source[order],
            week_start=np.searchsorted(week_sorted, np.arange(WEEKS_PER_YEAR + 1)),
            round_bounds=round_bounds, topic_start=topic_start, topic=topic,
            item_load=item_load, demand_by_source=used,
            merged=int(merged.sum()), joined_away=int(joined_away.sum()), struck=struck_total,
        )

    # -- helpers ----------------------------------------------------------------------------
    def _staffing_from(self, demand: np.ndarray) -> np.ndarray:
        per_source_days = np.bincount(self._key_source, weights=demand, minlength=len(self.sources))
        per_source_units = np.bincount(self._key_source, weights=self._key_units, minlength=len(self.sources))
        return per_source_days / np.maximum(per_source_units, 1)

    def _capacity(self, levers_week) -> np.ndarray:
        multiplier = float(levers_week["inspection_capacity"].mean())
        return multiplier * self.staffing[self._key_source] * self._key_units

    def _merge_and_mark_duplicates(self, rng, unit, week, mask, coordinated, levers_week):
        """Scan the year in order; a visit whose topics were all inspected before at the unit is
        folded into the earlier item with probability merge_rate, or always when its body is in the
        joint system (results are shared and recognised), else it is a duplicate."""
        order, bounds = visit_rounds(unit, week, self.org.n_units)
        merge_draw = (rng.random(unit.size) < levers_week["merge_rate"][week]) | coordinated
        # Scan in round order on permuted copies (slices are views), then put results back. A
        # folded visit's topics are all in `seen` already, so adding them changes nothing: `seen`
        # is the union of all earlier visits' topics, and folding can be decided after the scan.
        unit_o, mask_o = unit[order], mask[order]
        seen = np.zeros(self.org.n_units, dtype=np.int64)
        covered_o = np.empty(unit.size, dtype=bool)
        for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
            u, m = unit_o[a:b], mask_o[a:b]
            before = seen[u]
            covered_o[a:b] = (before & m) == m
            seen[u] = before | m
        covered = np.empty(unit.size, dtype=bool)
        covered[order] = covered_o
        merged = covered & merge_draw
        return merged, covered & ~merged


def visit_rounds(unit: np.ndarray, week: np.ndarray, n_units: int) -> tuple[np.ndarray, np.ndarray]:
    """Order visits by week and, within a week, by rounds in which no unit appears twice, so
    each round can update unit state with plain fancy indexing. Returns (order, round bounds).

    A visit's round is its rank among the visits to its unit in its week, in plan order; the
    order is (week, round, position in the plan)."""
    size = unit.size
    key = week.astype(np.int64) * n_units + unit
    rank = np.zeros(size, dtype=np.int64)
    shared = np.flatnonzero(np.bincount(key)[key] > 1)  # visits sharing their (week, unit)
    if shared.size:
        # Shared visits in (week, unit, position) order. Key and position together are unique,
        # so the fast default sort gives the order a stable sort of the key would.
        by_key = shared[np.argsort(key[shared] * size + shared)]
        k = key[by_key]
        first = np.r_[True, k[1:] != k[:-1]]
        group_start = np.maximum.accumulate(np.where(first, np.arange(k.size), 0))
        rank[by_key] = np.arange(k.size) - group_start
    top = int(rank.max()) if size else 0
    if top < 1024:
        # (week, rank) packed densely; any key increasing in (week, rank) gives the same stable order
        round_key = week.astype(np.int64) * (top + 1) + rank
        if (int(week.max()) + 1 if size else 1) * (top + 1) <= np.iinfo(np.int16).max:
            round_key = round_key.astype(np.int16)  # a stable sort of 16-bit keys is a radix sort
    else:
        round_key = week.astype(np.int64) * 1024 + rank
    order = np.argsort(round_key, kind="stable")
    sorted_key = round_key[order]
    bounds = np.flatnonzero(np.r_[True, sorted_key[1:] != sorted_key[:-1], True])
    return order, bounds
