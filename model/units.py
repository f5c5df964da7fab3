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

MAJOR = N_TOPICS  # column of the problem matrices holding major (cross-cutting) problems
WIDTH = N_TOPICS + 1  # columns of the problem matrices
REFERENCE_ITEM_LOAD = 28.3  # items a unit carries today (D1 1.3); normalises material demand
WEEKLY_HOURS = 50.0  # D2 2.3.3: 20 hours of materials are 40% of a cadre's week


@dataclass
class UnitState:
    integrity: np.ndarray
    belief_inspected: np.ndarray  # believed chance of at least one visit in a quarter
    hosting: np.ndarray  # shares of this week's working time
    material_intent: np.ndarray  # the material share a unit has settled on (adjusts slowly)
    materials: np.ndarray
    work: np.ndarray
    hosting_backlog: np.ndarray  # unit-weeks of hosting still owed to announced visits
    sanction_memory: np.ndarray
    latent: np.ndarray  # (n, topics + 1) problems not yet found
    unresolved: np.ndarray  # (n, topics + 1) problems not genuinely fixed (latent, in rectification, hidden)
    falsified: np.ndarray  # last report inflated
    implementation: np.ndarray  # true share of policy tasks implemented as intended
    documented: np.ndarray
    score: np.ndarray
    item_load: np.ndarray
    load_factor: np.ndarray  # material demand relative to the reference item load (set with item_load)
    visited_this_quarter: np.ndarray
    risk_signal: np.ndarray

    @classmethod
    def initial(cls, n: int, rng: np.random.Generator, behaviour: dict, initial_problems: float) -> "UnitState":
        latent = np.zeros((n, N_TOPICS + 1), dtype=np.int32)
        counts = rng.poisson(initial_problems, n)
        unit = np.repeat(np.arange(n), counts)
        major = rng.random(unit.size) < behaviour["major_share"]
        column = np.where(major, MAJOR, rng.integers(0, N_TOPICS, unit.size))
        np.add.at(latent, (unit, column), 1)
        work = np.full(n, behaviour["reference_real_work"])
        return cls(
            integrity=rng.beta(behaviour["integrity_a"], behaviour["integrity_b"], n),
            belief_inspected=np.full(n, 0.9),
            hosting=np.zeros(n), material_intent=np.full(n, 0.3), materials=np.full(n, 0.3), work=work,
            hosting_backlog=np.zeros(n), sanction_memory=np.zeros(n),
            latent=latent, unresolved=latent.copy(),
            falsified=np.zeros(n, dtype=bool), implementation=np.ones(n), documented=np.ones(n),
            score=np.zeros(n), item_load=np.full(n, REFERENCE_ITEM_LOAD), load_factor=np.ones(n),
            visited_this_quarter=np.zeros(n, dtype=bool), risk_signal=np.ones(n),
        )


def set_item_load(state: UnitState, item_load: np.ndarray, elasticity: float) -> None:
    """The items whose ledgers a unit keeps this year, and the material demand they make."""
    state.item_load = item_load
    state.load_factor = (item_load / REFERENCE_ITEM_LOAD) ** elasticity


def observability(levers: dict, behaviour: dict) -> float:
    """Chance an evaluation sees true outcomes: shared data, unannounced checks, third parties."""
    data = behaviour["quantifiable_share"] * levers["data_sharing_rate"]
    return 1.0 - (1.0 - data) * (1.0 - levers["unannounced_share"]) * (1.0 - levers["third_party_share"])


def perceived_accountability(state: UnitState, levers: dict, unit: np.ndarray | None = None) -> np.ndarray:
    """Accountability intensity as a unit feels it: raised for a while after its own sanction.
    With `unit`, only for those units (the same values as indexing the full result)."""
    memory = state.sanction_memory if unit is None else state.sanction_memory[unit]
    return levers["accountability_intensity"] * (1.0 + memory)


def unit_week(state: UnitState, rng: np.random.Generator, visit_unit: np.ndarray, visit_load: np.ndarray,
              levers: dict, behaviour: dict, phi: float, acc) -> None:
    """A week of the units' own rules, in order: visits add hosting, units allocate their time,
    problems arise, heal and erupt. One compiled call (handing the Generator to compiled code
    costs about 9 microseconds a call); the week's totals go to the year's counters."""
    b = behaviour
    w, stake = levers["outcome_weight"], b["evaluation_stake"]
    exposure = b["defensive_weight"] * levers["accountability_intensity"] * levers["sanction_severity"]
    demand = (b["material_demand"] * (1 - levers["material_reduction"])
              * (1 - b["data_sharing_material_relief"] * levers["data_sharing_rate"]))
    allocation = np.array([
        stake * (1 - w) + stake * w * (1 - phi) * b["embellishment"], exposure * (1 - levers["tolerance"]) * (1 - phi),
        stake * w, b["intrinsic_weight"], exposure * phi, demand, b["productivity"], b["adjustment_speed"],
        b["minimum_real_work"]])
    problems = np.array([b["problem_arrival"], b["arrival_work_sensitivity"], b["reference_real_work"],
                         b["major_share"], b["self_fix_rate"], b["major_eruption"]])
    totals = _unit_week(rng, state.hosting_backlog, state.hosting, state.material_intent, state.materials, state.work,
                        state.sanction_memory, state.integrity, state.load_factor, state.latent, state.unresolved,
                        visit_unit, visit_load, b["max_hosting_share"], allocation, problems, b["material_need"],
                        acc.unit_supervision_share, acc.unit_erupted)
    acc.add(UNIT_WEEK_TOTALS, totals)


UNIT_WEEK_TOTALS = ("hosting", "materials", "excess", "unit_weeks", "major_erupted")


@njit(cache=True)
def _unit_week(rng, backlog, hosting, intent, materials, work, sanction_memory, integrity, load_factor, latent,
               unresolved, visit_unit, visit_load, max_hosting, allocation, problems, material_need,
               supervision_share, erupted):
    _host(backlog, hosting, visit_unit, visit_load, max_hosting)
    _allocate(intent, materials, work, hosting, sanction_memory, integrity, load_factor, allocation)
    totals = np.zeros(5)
    for u in range(work.size):
        totals[0] += hosting[u]
        totals[1] += materials[u]
        totals[2] += max(materials[u] - material_need, 0.0)
        supervision_share[u] += hosting[u] + materials[u]
    totals[3] = work.size
    totals[4] = _arise_and_heal(rng, latent, unresolved, work, problems, erupted)
    return totals


@njit(cache=True)
def _host(backlog, hosting, visit_unit, visit_load, max_share):
    """Visits add to a hosting backlog; each week hosting takes what is owed, up to a cap."""
    for v in range(visit_unit.size):
        backlog[visit_unit[v]] += visit_load[v]
    for u in range(backlog.size):
        hosting[u] = min(backlog[u], max_share)
        backlog[u] -= hosting[u]


@njit(cache=True)
def _allocate(intent, materials, work, hosting, sanction_memory, integrity, load_factor, p):
    """Move the settled material share part-way to the multitask optimum (Holmstrom and Milgrom):
    materials pay through the process score, embellishment and, where truth is unseen, protection
    against blame; real work through outcomes, integrity and seen accountability. Exposure to
    blame scales with perceived accountability (1 + the unit's sanction memory); material demand
    with the unit's item load. This week's materials are the settled share unless hosting leaves
    less room; real work takes the rest."""
    process_value, blame_value, outcome_value, intrinsic, seen_value, demand_base, k, speed, minimum_work = p
    for u in range(intent.size):
        felt = 1.0 + sanction_memory[u]
        value_materials = process_value + blame_value * felt
        value_outcome = outcome_value + intrinsic * integrity[u] + seen_value * felt
        demand = max(demand_base * load_factor[u], 1e-4)
        available = 1.0 - hosting[u]
        optimum = (np.log(value_materials / (demand * value_outcome * k)) + k * available) / (k + 1.0 / demand)
        intent[u] += speed * (max(optimum, 0.0) - intent[u])
        materials[u] = min(max(intent[u], 0.0), max(available - minimum_work, 0.0))
        work[u] = available - materials[u]


def process_score(state: UnitState, levers: dict, behaviour: dict) -> np.ndarray:
    demand = behaviour["material_demand"] * (1 - levers["material_reduction"])
    return 1.0 - np.exp(-state.materials / max(demand, 1e-4))


@njit(cache=True)
def _arise_and_heal(rng, latent, unresolved, work, problems, erupted):
    """New problems arrive faster when real work is short; units fix some themselves; latent
    major problems may erupt as incidents (counted per unit in `erupted`; returns how many).
    Four uniforms per unit (arrival, major or not, topic, self-fix), then one per fixing unit
    (which problem: the k-th in column order, k uniform), then one per unit holding major problems."""
    arrival_rate, work_sensitivity, reference_work, major_share, self_fix_rate, eruption = problems
    n = work.size
    draws = np.empty((4, n))
    for i in range(4):
        for u in range(n):
            draws[i, u] = rng.random()
    for u in range(n):
        arrival = arrival_rate * np.exp(-work_sensitivity * (work[u] - reference_work))
        if draws[0, u] < min(arrival, 0.95):
            column = MAJOR if draws[1, u] < major_share else np.int64(draws[2, u] * N_TOPICS)
            latent[u, column] += 1
            unresolved[u, column] += 1
    for u in range(n):
        ordinary = 0
        for c in range(MAJOR):
            ordinary += latent[u, c]
        if draws[3, u] < 1.0 - (1.0 - self_fix_rate * work[u]) ** ordinary:
            pick = np.int64(rng.random() * ordinary)
            column, running = 0, latent[u, 0]
            while running <= pick and column < MAJOR - 1:
                column += 1
                running += latent[u, column]
            latent[u, column] -= 1
            unresolved[u, column] -= 1
    n_erupted = 0
    for u in range(n):
        majors = latent[u, MAJOR]
        if majors != 0 and rng.random() < 1.0 - (1.0 - eruption) ** majors:
            latent[u, MAJOR] -= 1
            unresolved[u, MAJOR] -= 1
            erupted[u] += 1
            n_erupted += 1
    return n_erupted


def flat(matrix: np.ndarray) -> np.ndarray:
    """A 1-D view of a C-contiguous matrix, so that writes through it reach the matrix."""
    if not matrix.flags.c_contiguous:
        raise ValueError("flat() needs a C-contiguous matrix; reshaping would copy it")
    return matrix.reshape(-1)


def true_implementation(state: UnitState) -> np.ndarray:
    """Share of a unit's policy tasks with no unresolved problem; a major problem fails one task."""
    failing = np.count_nonzero(state.unresolved[:, :MAJOR], axis=1) + state.unresolved[:, MAJOR]
    return 1.0 - np.minimum(failing, N_TOPICS) / N_TOPICS


def falsification_catch_by_mode(levers: dict, behaviour: dict) -> np.ndarray:
    """Chance one visit uncovers a falsified report: announced, unannounced, remote (from data)."""
    base = behaviour["falsification_detection"]
    return np.array([base, min(1.0, base * behaviour["unannounced_falsification_factor"]),
                     min(1.0, base * behaviour["data_falsification_factor"]) * levers["data_sharing_rate"]])


def falsification_catch_per_visit(levers: dict, behaviour: dict) -> float:
    """Expected chance one visit uncovers a falsified report, given the announced mode mix."""
    remote, unannounced = levers["remote_share"], levers["unannounced_share"]
    mix = np.array([(1 - remote) * (1 - unannounced), (1 - remote) * unannounced, remote])
    return float(mix @ falsification_catch_by_mode(levers, behaviour))


def evaluate_quarter(state: UnitState, rng: np.random.Generator, levers: dict, behaviour: dict,
                     phi: float, target: float) -> None:
    """Quarterly report and evaluation: decide falsification, document, score, update beliefs."""
    n = state.work.size
    state.implementation = true_implementation(state)
    gap = np.maximum(target - state.implementation, 0.0)
    w = levers["outcome_weight"]
    gain = behaviour["evaluation_stake"] * behaviour["falsification_gain"] * gap * (1 - w * phi)
    sanction = np.minimum(1.0, behaviour["falsification_sanction_multiplier"] * perceived_accountability(state, levers))
    expected_penalty = (state.belief_inspected * falsification_catch_per_visit(levers, behaviour) * sanction
                        * levers["sanction_severity"] * behaviour["sanction_cost"])
    utility = (gain - expected_penalty - behaviour["intrinsic_weight"] * state.integrity * gap
               - behaviour["falsification_cost"])
    draws = rng.random((2, n))
    p_falsify = 1.0 / (1.0 + np.exp(-utility / behaviour["choice_noise"]))
    state.falsified = (gap > 0) & (draws[0] < p_falsify)
    processes = process_score(state, levers, behaviour)
    dressed = behaviour["embellishment"] * processes * (1 - state.implementation) * 0.5
    state.documented = np.minimum(1.0, state.implementation + dressed + np.where(state.falsified, gap, 0.0))
    observed_truly = draws[1] < phi
    outcome_seen = np.where(observed_truly, state.implementation, state.documented)
    state.score = w * outcome_seen + (1 - w) * processes
    eta = behaviour["belief_learning_rate"]
    state.belief_inspected = (1 - eta) * state.belief_inspected + eta * state.visited_this_quarter
    state.visited_this_quarter[:] = False
