"""Grassroots units: state in arrays, and the rules units follow each week (brief 3.3-3.4, 3.8).

Units split their week between hosting (imposed by visits), materials and real work. Materials
are chosen by a multitask trade-off (Holmstrom and Milgrom 1991): they raise the process score,
dress up documented outcomes and protect against blame when truth is not observed; real work
raises the true outcome, which counts through outcome indicators, integrity and, where truth is
observed, through accountability. Falsification follows Becker (1968) and Allingham and Sandmo
(1972): reported progress is inflated when the target gap is large and the expected penalty small.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from .organisation import N_TOPICS
from .draws import block_of, new_clock, uniforms
from .params import QUARTER_WEEKS, WEEKS_PER_YEAR, weekly_columns
from .planning import REMOTE

MAJOR = N_TOPICS  # column of the problem matrices holding major (cross-cutting) problems
WIDTH = N_TOPICS + 1  # columns of the problem matrices
REFERENCE_ITEM_LOAD = 28.3  # items a unit carries today (D1 1.3); normalises material demand
WEEKLY_HOURS = 50.0  # D2 2.3.3: 20 hours of materials are 40% of a cadre's week


@dataclass
class UnitState:
    integrity: np.ndarray
    belief_inspected: np.ndarray  # believed chance of at least one visit in a quarter
    hosting: np.ndarray  # shares of this week's working time
    material_intent: np.ndarray  # the share a unit has settled on preparing beyond its ledgers (adjusts slowly)
    materials: np.ndarray  # ledgers plus what the unit chose to prepare
    ledgers: np.ndarray  # this week's share kept on the ledgers its items demand
    work: np.ndarray
    hosting_backlog: np.ndarray  # unit-weeks of hosting still owed to announced visits
    sanction_memory: np.ndarray
    latent: np.ndarray  # (n, topics + 1) problems not yet found
    latent_ordinary: np.ndarray  # row sums of latent's topic columns, kept by every rule that changes latent
    # the clocks of the units' own events (_arise_and_heal): a new problem, a self-fix, an eruption
    arrival_clock: np.ndarray
    fix_clock: np.ndarray
    eruption_clock: np.ndarray
    unresolved: np.ndarray  # (n, topics + 1) problems not genuinely fixed (latent, in rectification, hidden)
    falsified: np.ndarray  # last report inflated
    implementation: np.ndarray  # true share of policy tasks implemented as intended
    documented: np.ndarray
    score: np.ndarray
    item_load: np.ndarray
    item_ratio: np.ndarray  # item load relative to the reference (set with item_load); ledgers follow it
    load_factor: np.ndarray  # material demand relative to the reference item load (set with item_load)
    visited_this_quarter: np.ndarray
    risk_signal: np.ndarray

    @classmethod
    def initial(cls, n: int, rngs: list[np.random.Generator], behaviour: dict,
                initial_problems: float) -> "UnitState":
        """The units' state before the burn-in: n units per Generator (one per replication, model.model.
        ReplicationStack), replication after replication, each replication's drawn from its own Generator
        in the order a run alone draws them."""
        counts, columns, clocks, integrity = [], [], [], []
        for rng in rngs:
            counts.append(rng.poisson(initial_problems, n))
            problems = int(counts[-1].sum())
            major = rng.random(problems) < behaviour["major_share"]
            columns.append(np.where(major, MAJOR, rng.integers(0, N_TOPICS, problems)))
            clocks.append(1.0 / (1.0 - rng.random((3, n))))  # new_clock's, per unit: arrival, fix, eruption
            integrity.append(rng.beta(behaviour["integrity_a"], behaviour["integrity_b"], n))
        units = n * len(rngs)
        unit = np.repeat(np.arange(units), np.concatenate(counts))
        # counts per cell (a bincount: np.add.at took 0.8 ms for a province's 17,000 problems); int16,
        # as counts stay small: half the memory traffic of int32
        latent = (np.bincount(unit * WIDTH + np.concatenate(columns), minlength=units * WIDTH)
                  .astype(np.int16).reshape(units, WIDTH))
        arrival_clock, fix_clock, eruption_clock = np.concatenate(clocks, axis=1)
        return cls(
            integrity=np.concatenate(integrity),
            belief_inspected=np.full(units, 0.9),
            hosting=np.zeros(units), material_intent=np.full(units, 0.3), materials=np.full(units, 0.3),
            ledgers=np.zeros(units), work=np.full(units, behaviour["reference_real_work"]),
            hosting_backlog=np.zeros(units), sanction_memory=np.zeros(units),
            latent=latent, latent_ordinary=latent[:, :MAJOR].sum(axis=1, dtype=np.int64), unresolved=latent.copy(),
            arrival_clock=arrival_clock, fix_clock=fix_clock, eruption_clock=eruption_clock,
            falsified=np.zeros(units, dtype=bool), implementation=np.ones(units), documented=np.ones(units),
            score=np.zeros(units), item_load=np.full(units, REFERENCE_ITEM_LOAD),
            item_ratio=np.ones(units), load_factor=np.ones(units),
            visited_this_quarter=np.zeros(units, dtype=bool), risk_signal=np.ones(units),
        )

    @classmethod
    def stacked(cls, states: list["UnitState"]) -> "UnitState":
        """Replications' states as one, their units one replication after another."""
        if len(states) == 1:
            return states[0]
        return cls(**{name: np.concatenate([getattr(state, name) for state in states])
                      for name in cls.__dataclass_fields__})

    def part(self, first: int, stop: int) -> "UnitState":
        """Units first:stop as a state of their own (copies): one replication's, the inverse of stacked."""
        return UnitState(**{name: getattr(self, name)[first:stop].copy() for name in self.__dataclass_fields__})


def set_item_load(state: UnitState, item_load: np.ndarray, elasticity: float) -> None:
    """The items whose ledgers a unit keeps this year, and the material demand they make."""
    state.item_load = item_load
    state.item_ratio = item_load / REFERENCE_ITEM_LOAD
    state.load_factor = state.item_ratio ** elasticity


def observability(levers: dict, behaviour: dict) -> float:
    """Chance an evaluation sees true outcomes: shared data, unannounced checks, third parties.
    Unannounced checks are a share of on-site visits, so off-site inspection leaves fewer of them."""
    data = behaviour["quantifiable_share"] * levers["data_sharing_rate"]
    unannounced = levers["unannounced_share"] * (1.0 - levers["remote_share"])
    return 1.0 - (1.0 - data) * (1.0 - unannounced) * (1.0 - levers["third_party_share"])


def material_relief(levers: dict, behaviour: dict):
    """What paperless inspection and shared data leave of every material and ledger demand (levers
    as numbers or weekly arrays)."""
    shared = behaviour["data_sharing_material_relief"] * levers["data_sharing_rate"]
    return (1 - levers["material_reduction"]) * (1 - shared)


def material_demand(levers: dict, behaviour: dict):
    """The process score's scale before a unit's item load: what allocation optimises against and
    evaluation scores with (levers as numbers or weekly arrays)."""
    return behaviour["material_demand"] * material_relief(levers, behaviour)


def unit_tables(levers: dict, behaviour: dict, phi: np.ndarray) -> dict[str, np.ndarray]:
    """The year's weekly parameters of the units' rules (levers and phi as 52 weekly values)."""
    b = behaviour
    w, stake = levers["outcome_weight"], b["evaluation_stake"]
    exposure = b["defensive_weight"] * levers["accountability_intensity"] * levers["sanction_severity"]
    demand = material_demand(levers, b)
    ledgers = b["ledger_share"] * material_relief(levers, b)
    return {
        # the multitask values of materials and of real work, split into what perceived
        # accountability (1 + sanction memory) scales and what it does not; see _allocate
        "allocation": weekly_columns(
            stake * (1 - w) + stake * w * (1 - phi) * b["embellishment"],
            exposure * (1 - levers["tolerance"] * b["exogenous_share"]) * (1 - phi), stake * w,
            b["intrinsic_weight"], exposure * phi,
            demand, b["productivity"], b["adjustment_speed"], b["minimum_real_work"], ledgers),
        "problems": weekly_columns(b["problem_arrival"], b["arrival_work_sensitivity"], b["reference_real_work"],
                                   b["major_share"], b["self_fix_rate"], b["major_eruption"])[0],
        "evaluation": evaluation_table(levers, behaviour, phi),
    }


UNIT_WEEK_TOTALS = ("hosting", "materials", "excess", "unit_weeks", "major_erupted", "onsite", "remote", "duplicates")


@njit(cache=True, error_model="numpy")
def _unit_week(streams, block_size, backlog, hosting, intent, materials, ledgers, work, sanction_memory, integrity,
               item_ratio, load_factor, latent, latent_ordinary, unresolved, clocks, visit_unit, visit_mode,
               visit_members, visit_duplicate, load_by_mode, joint_member_load, max_hosting, allocation, problems,
               material_need, totals, supervision_share, erupted, scratch):
    """A week of the units' own rules, in order: this week's visits add hosting, units allocate
    their time, problems arise, heal and erupt. The units are blocks of `block_size` (replications
    run together, model.schedule), block b drawing from streams[b] and adding to totals[b].
    `scratch` is two rows of per-unit space the caller keeps between weeks."""
    _host(backlog, hosting, visit_unit, visit_mode, visit_members, load_by_mode, joint_member_load, max_hosting)
    _allocate(intent, materials, ledgers, work, hosting, sanction_memory, integrity, item_ratio, load_factor,
              allocation)
    for b in range(totals.shape[0]):
        block_totals = totals[b]
        for u in range(b * block_size, (b + 1) * block_size):
            block_totals[0] += hosting[u]
            block_totals[1] += materials[u]
            block_totals[2] += max(materials[u] - material_need, 0.0)
            supervision_share[u] += hosting[u] + materials[u]
        block_totals[3] += block_size
    _arise_and_heal(streams, block_size, latent, latent_ordinary, unresolved, clocks, work, problems, erupted,
                    scratch, totals)
    for v in range(visit_unit.size):
        b = block_of(visit_unit[v], block_size, totals.shape[0])
        totals[b, 6 if visit_mode[v] == REMOTE else 5] += 1
        totals[b, 7] += visit_duplicate[v]


@njit(cache=True, error_model="numpy")
def _host(backlog, hosting, visit_unit, visit_mode, visit_members, load_by_mode, joint_member_load, max_share):
    """Visits add to a hosting backlog (joint teams add load per member); each week hosting
    takes what is owed, up to a cap."""
    for v in range(visit_unit.size):
        backlog[visit_unit[v]] += load_by_mode[visit_mode[v]] * (1 + joint_member_load * (visit_members[v] - 1))
    for u in range(backlog.size):
        hosting[u] = min(backlog[u], max_share)
        backlog[u] -= hosting[u]


@njit(cache=True, error_model="numpy")
def _unit_demand(demand_base: float, load_factor: float) -> float:
    """A unit's material demand: the year's base scaled by its item load (never zero: it divides)."""
    return max(demand_base * load_factor, 1e-4)


@njit(cache=True, error_model="numpy")
def _allocate(intent, materials, ledgers, work, hosting, sanction_memory, integrity, item_ratio, load_factor, p):
    """Keep the ledgers the unit's items demand (D2 2.3.3: ten kinds per supervised task), as far as
    hosting leaves room, then move the settled share of chosen materials part-way to the multitask
    optimum (Holmstrom and Milgrom) for the time left: chosen materials pay through the process
    score, embellishment and, where truth is unseen, protection against blame; real work through
    outcomes, integrity and seen accountability. Ledgers are owed per item whatever they earn, so
    they are not part of the choice. Exposure to blame scales with perceived accountability (1 +
    the unit's sanction memory); material demand with the unit's item load. This week's chosen
    materials are the settled share unless hosting and ledgers leave less room; real work takes
    the rest."""
    process_value, blame_value, outcome_value, intrinsic, seen_value, demand_base, k, speed, minimum_work, \
        ledger_base = p
    for u in range(intent.size):
        felt = 1.0 + sanction_memory[u]
        value_materials = process_value + blame_value * felt
        value_outcome = outcome_value + intrinsic * integrity[u] + seen_value * felt
        demand = _unit_demand(demand_base, load_factor[u])
        ledgers[u] = min(ledger_base * item_ratio[u], max(1.0 - hosting[u] - minimum_work, 0.0))
        available = 1.0 - hosting[u] - ledgers[u]
        optimum = (np.log(value_materials / (demand * value_outcome * k)) + k * available) / (k + 1.0 / demand)
        intent[u] += speed * (max(optimum, 0.0) - intent[u])
        chosen = min(max(intent[u], 0.0), max(available - minimum_work, 0.0))
        materials[u] = ledgers[u] + chosen
        work[u] = available - chosen


@njit(cache=True, error_model="numpy")
def _arise_and_heal(streams, block_size, latent, latent_ordinary, unresolved, clocks, work, problems, erupted,
                    scratch, totals):
    """New problems arrive faster when real work is short; units fix some themselves; latent
    major problems may erupt as incidents (counted per unit in `erupted`, per block in totals[b, 4]).
    Block b's units (b * block_size on) draw from streams[b], in unit order.

    Each of the three is a weekly trial whose chance changes with the unit's state. It is drawn
    by inverting its survival: a unit's clock starts at 1 / V (V uniform on (0, 1]) and each week
    is multiplied by the week's chance of no event; the event happens in the week the clock falls
    below 1. Given no event before, that happens with exactly the week's chance, as a fresh trial
    would, and where in the week's interval V fell is a fresh uniform that picks what the event
    is (major or a topic; which problem is fixed). A unit draws only when an event happens (a new
    V), instead of two or three uniforms every week.

    Each week's chances are computed for all units first, in loops without branches (into the two
    rows of `scratch`), then the clocks advance: the same arithmetic, 20% faster than with the
    `exp` and the power inside the branching loops (53 -> 41 ns per unit at province)."""
    arrival_rate, work_sensitivity, reference_work, major_share, self_fix_rate, eruption = problems
    arrival_clock, fix_clock, eruption_clock = clocks
    n = work.size
    arrival, fix_factor = scratch[0], scratch[1]
    for u in range(n):
        arrival[u] = min(arrival_rate * np.exp(-work_sensitivity * (work[u] - reference_work)), 0.95)
    for b in range(totals.shape[0]):
        _arrivals(streams[b], b * block_size, (b + 1) * block_size, arrival_clock, arrival, major_share, latent,
                  latent_ordinary, unresolved)
    for u in range(n):
        fix_factor[u] = (1.0 - self_fix_rate * work[u]) ** latent_ordinary[u]
    for b in range(totals.shape[0]):
        _self_fixes(streams[b], b * block_size, (b + 1) * block_size, fix_clock, fix_factor, latent, latent_ordinary,
                    unresolved)
    for b in range(totals.shape[0]):
        totals[b, 4] += _eruptions(streams[b], b * block_size, (b + 1) * block_size, eruption_clock, eruption,
                                   latent, unresolved, erupted)


# The three event loops of _arise_and_heal, each over one replication's units (first:stop) with its
# Generator as an argument: the loops compile as they did before replications were stacked (drawing
# from a Generator fetched out of the list inside the loops made them a fifth slower).
@njit(cache=True, error_model="numpy")
def _arrivals(rng, first, stop, arrival_clock, arrival, major_share, latent, latent_ordinary, unresolved):
    for u in range(first, stop):
        before = arrival_clock[u]
        arrival_clock[u] = before * (1.0 - arrival[u])
        if arrival_clock[u] < 1.0:
            kind = (1.0 - arrival_clock[u]) / (before - arrival_clock[u])
            if kind < major_share:
                column = MAJOR
            else:
                column = min(np.int64((kind - major_share) / (1.0 - major_share) * N_TOPICS), N_TOPICS - 1)
                latent_ordinary[u] += 1
            latent[u, column] += 1
            unresolved[u, column] += 1
            arrival_clock[u] = new_clock(rng)


@njit(cache=True, error_model="numpy")
def _self_fixes(rng, first, stop, fix_clock, fix_factor, latent, latent_ordinary, unresolved):
    for u in range(first, stop):
        ordinary = latent_ordinary[u]
        if ordinary == 0:
            continue
        before = fix_clock[u]
        fix_clock[u] = before * fix_factor[u]
        if fix_clock[u] < 1.0:
            pick = min(np.int64((1.0 - fix_clock[u]) / (before - fix_clock[u]) * ordinary), ordinary - 1)
            column, running = 0, latent[u, 0]
            while running <= pick and column < MAJOR - 1:
                column += 1
                running += latent[u, column]
            latent[u, column] -= 1
            latent_ordinary[u] -= 1
            unresolved[u, column] -= 1
            fix_clock[u] = new_clock(rng)


@njit(cache=True, error_model="numpy")
def _eruptions(rng, first, stop, eruption_clock, eruption, latent, unresolved, erupted):
    n_erupted = 0
    for u in range(first, stop):
        majors = latent[u, MAJOR]
        if majors == 0:
            continue
        eruption_clock[u] *= (1.0 - eruption) ** majors
        if eruption_clock[u] < 1.0:
            latent[u, MAJOR] -= 1
            unresolved[u, MAJOR] -= 1
            erupted[u] += 1
            n_erupted += 1
            eruption_clock[u] = new_clock(rng)
    return n_erupted


def falsification_catch_by_mode(levers: dict, behaviour: dict) -> np.ndarray:
    """Chance one visit uncovers a falsified report: announced, unannounced, remote (from data);
    one row per week when the levers hold a year's weekly values, one row for a week's."""
    base = behaviour["falsification_detection"]
    return weekly_columns(base, min(1.0, base * behaviour["unannounced_falsification_factor"]),
                          min(1.0, base * behaviour["data_falsification_factor"]) * levers["data_sharing_rate"])


def falsification_catch_per_visit(levers: dict, behaviour: dict) -> float:
    """Expected chance one visit uncovers a falsified report, given the announced mode mix."""
    remote, unannounced = levers["remote_share"], levers["unannounced_share"]
    mix = np.array([(1 - remote) * (1 - unannounced), (1 - remote) * unannounced, remote])
    return float(mix @ falsification_catch_by_mode(levers, behaviour)[0])


def evaluation_table(levers: dict, behaviour: dict, phi: np.ndarray) -> np.ndarray:
    """The parameters of each quarter's report and evaluation (_evaluate_quarter), in the row of
    the quarter's last week, from that week's levers (levers and phi as 52 weekly values)."""
    b = behaviour
    table = np.zeros((WEEKS_PER_YEAR, 12))
    for w in range(QUARTER_WEEKS - 1, WEEKS_PER_YEAR, QUARTER_WEEKS):
        week = {name: values[w] for name, values in levers.items()}
        target = min(1.0, b["target_base"] * (1 + week["escalation_per_level"]) ** 3)
        table[w] = [target, week["outcome_weight"], float(phi[w]), b["evaluation_stake"] * b["falsification_gain"],
                    b["falsification_sanction_multiplier"] * week["accountability_intensity"],
                    falsification_catch_per_visit(week, b) * week["sanction_severity"] * b["sanction_cost"],
                    b["intrinsic_weight"], b["falsification_cost"], b["choice_noise"], b["embellishment"],
                    material_demand(week, b), b["belief_learning_rate"]]
    return table


QUARTER_TOTALS = ("falsified_reports", "reports", "gap", "implementation")


@njit(cache=True, error_model="numpy")
def _evaluate_quarter(streams, block_size, unresolved, implementation, falsified, documented, score, belief, visited,
                      sanction_memory, integrity, materials, ledgers, load_factor, p, totals):
    """Quarterly report and evaluation: decide falsification (Becker; Allingham and Sandmo: when
    the target gap is large and the expected penalty small), document, score, update beliefs.
    A task fails while it has an unresolved problem; a major problem fails one more. Block b's
    units draw their table from streams[b] and add to totals[b]."""
    target, w, phi, gain_per_gap, sanction_per_felt, penalty_per_sanction, intrinsic, cost, noise, embellishment, \
        demand, eta = p
    for b in range(totals.shape[0]):
        draws = uniforms(streams[b], 2, block_size)
        block_totals = totals[b]
        first = b * block_size
        for u in range(first, first + block_size):
            failing = unresolved[u, MAJOR]
            for c in range(MAJOR):
                failing += unresolved[u, c] != 0
            implementation[u] = 1.0 - min(failing, N_TOPICS) / N_TOPICS
            gap = max(target - implementation[u], 0.0)
            sanction = min(1.0, sanction_per_felt * (1.0 + sanction_memory[u]))
            utility = (gain_per_gap * gap * (1 - w * phi) - belief[u] * penalty_per_sanction * sanction
                       - intrinsic * integrity[u] * gap - cost)
            falsified[u] = gap > 0 and draws[0, u - first] < 1.0 / (1.0 + np.exp(-utility / noise))
            process = 1.0 - np.exp(-(materials[u] - ledgers[u]) / _unit_demand(demand, load_factor[u]))
            dressed = embellishment * process * (1 - implementation[u]) * 0.5
            documented[u] = min(1.0, implementation[u] + dressed + (gap if falsified[u] else 0.0))
            seen = implementation[u] if draws[1, u - first] < phi else documented[u]
            score[u] = w * seen + (1 - w) * process
            belief[u] = (1 - eta) * belief[u] + eta * visited[u]
            visited[u] = False
            block_totals[0] += falsified[u]
            block_totals[2] += documented[u] - implementation[u]
            block_totals[3] += implementation[u]
        block_totals[1] += block_size
