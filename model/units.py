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
            score=np.zeros(n), item_load=np.full(n, REFERENCE_ITEM_LOAD),
            visited_this_quarter=np.zeros(n, dtype=bool), risk_signal=np.ones(n),
        )


def observability(levers: dict, behaviour: dict) -> float:
    """Chance an evaluation sees true outcomes: shared data, unannounced checks, third parties."""
    data = behaviour["quantifiable_share"] * levers["data_sharing_rate"]
    return 1.0 - (1.0 - data) * (1.0 - levers["unannounced_share"]) * (1.0 - levers["third_party_share"])


def perceived_accountability(state: UnitState, levers: dict, unit: np.ndarray | None = None) -> np.ndarray:
    """Accountability intensity as a unit feels it: raised for a while after its own sanction.
    With `unit`, only for those units (the same values as indexing the full result)."""
    memory = state.sanction_memory if unit is None else state.sanction_memory[unit]
    return levers["accountability_intensity"] * (1.0 + memory)


def host_visits(state: UnitState, load: np.ndarray, max_share: float) -> None:
    """Visits add to a hosting backlog; each week hosting takes what is owed, up to a cap."""
    state.hosting_backlog += load
    np.minimum(state.hosting_backlog, max_share, out=state.hosting)
    state.hosting_backlog -= state.hosting


def allocate_time(state: UnitState, levers: dict, behaviour: dict, phi: float) -> None:
    """Move the settled material share part-way to the multitask optimum; this week's materials
    are that share unless hosting leaves less room; real work takes the rest."""
    w, stake = levers["outcome_weight"], behaviour["evaluation_stake"]
    exposure = behaviour["defensive_weight"] * perceived_accountability(state, levers) * levers["sanction_severity"]
    value_materials = (stake * (1 - w) + stake * w * (1 - phi) * behaviour["embellishment"]
                       + exposure * (1 - levers["tolerance"]) * (1 - phi))
    value_outcome = stake * w + behaviour["intrinsic_weight"] * state.integrity + exposure * phi
    demand = (behaviour["material_demand"] * (1 - levers["material_reduction"])
              * (1 - behaviour["data_sharing_material_relief"] * levers["data_sharing_rate"])
              * (state.item_load / REFERENCE_ITEM_LOAD) ** behaviour["item_load_elasticity"])
    demand = np.maximum(demand, 1e-4)
    k = behaviour["productivity"]
    available = 1.0 - state.hosting
    optimum = (np.log(value_materials / (demand * value_outcome * k)) + k * available) / (k + 1.0 / demand)
    state.material_intent += behaviour["adjustment_speed"] * (np.maximum(optimum, 0.0) - state.material_intent)
    np.clip(state.material_intent, 0.0, np.maximum(available - behaviour["minimum_real_work"], 0.0),
            out=state.materials)
    np.subtract(available, state.materials, out=state.work)


def process_score(state: UnitState, levers: dict, behaviour: dict) -> np.ndarray:
    demand = behaviour["material_demand"] * (1 - levers["material_reduction"])
    return 1.0 - np.exp(-state.materials / max(demand, 1e-4))


def problems_arise_and_heal(state: UnitState, rng: np.random.Generator, behaviour: dict) -> np.ndarray:
    """New problems arrive faster when real work is short; units fix some themselves; latent
    major problems may erupt as incidents. Returns the units whose major problem erupted."""
    n = state.work.size
    latent, unresolved = flat(state.latent), flat(state.unresolved)  # cell = unit * WIDTH + column
    draws = rng.random((4, n))
    arrival = behaviour["problem_arrival"] * np.exp(
        -behaviour["arrival_work_sensitivity"] * (state.work - behaviour["reference_real_work"]))
    new = np.flatnonzero(draws[0] < np.minimum(arrival, 0.95))
    column = np.where(draws[1, new] < behaviour["major_share"], MAJOR,
                      (draws[2, new] * N_TOPICS).astype(np.int64))
    cell = new * WIDTH + column  # one cell per unit: plain fancy indexing adds once each
    latent[cell] += 1
    unresolved[cell] += 1

    ordinary = state.latent[:, :MAJOR]
    # Integer row sums, exact in any order; einsum is several times faster than .sum(axis=1) on
    # short rows.
    latent_ordinary = np.einsum("ij->i", ordinary).astype(np.int64)
    fix_p = 1.0 - (1.0 - behaviour["self_fix_rate"] * state.work) ** latent_ordinary
    fixing = np.flatnonzero(draws[3] < fix_p)
    if fixing.size:
        column = pick_columns(ordinary[fixing], rng.random(fixing.size))
        cell = fixing * WIDTH + column
        latent[cell] -= 1
        unresolved[cell] -= 1

    majors = state.latent[:, MAJOR]
    candidates = np.flatnonzero(majors != 0)
    erupt_p = 1.0 - (1.0 - behaviour["major_eruption"]) ** majors[candidates]
    erupted = candidates[rng.random(candidates.size) < erupt_p]
    cell = erupted * WIDTH + MAJOR
    latent[cell] -= 1
    unresolved[cell] -= 1
    return erupted


def pick_columns(counts: np.ndarray, uniform: np.ndarray) -> np.ndarray:
    """For each row of counts (k x MAJOR, non-negative), the column of its problem number
    pick = int(uniform * row total): the number of columns whose cumulative count is <= pick.
    Two exact ways to the same integers, the faster for the size."""
    k = counts.shape[0]
    if k < 500:
        # The rows laid end to end have one non-decreasing cumulative count, so one searchsorted
        # finds every row's column (capped at MAJOR, as the count of columns is).
        running = counts.ravel().cumsum()
        row_end = running[MAJOR - 1::MAJOR]
        row_base = np.empty_like(row_end)
        row_base[0] = 0
        row_base[1:] = row_end[:-1]
        pick = (uniform * (row_end - row_base)).astype(np.int64)
        row_start = np.arange(0, k * MAJOR, MAJOR)
        return np.minimum(np.searchsorted(running, row_base + pick, side="right") - row_start, MAJOR)
    # Many rows: cumulate column by column on the transposed counts (each step one vector add).
    cumulative = counts.T.astype(np.int64, order="C")  # (MAJOR, k)
    for j in range(1, MAJOR):
        cumulative[j] += cumulative[j - 1]
    pick = (uniform * cumulative[-1]).astype(np.int64)
    return np.count_nonzero(cumulative <= pick, axis=0)


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
