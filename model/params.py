"""Parameter schema: every lever, behavioural and structural parameter the model reads.

The schema is data, so the scenario loader, the experiment designs and docs/ODD.md all read
the same names, bounds and defaults. Lever values may follow a schedule over the run.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

WEEKS_PER_YEAR = 52
YEARS_ALLOWED = (1, 50)  # policy years a run may simulate, in a scenario file or a call
QUARTER_WEEKS = 13


def weekly_columns(*values) -> np.ndarray:
    """A year's parameter table, one row per week: each value is a constant or 52 weekly values
    (levers are held as 52 weekly values per year); one row when all are constants. Built once a
    year, read by the weekly kernels."""
    columns = [np.asarray(v, dtype=np.float64) for v in values]
    table = np.empty((max((c.size for c in columns if c.ndim), default=1), len(columns)))
    for j, column in enumerate(columns):
        table[:, j] = column
    return table


@dataclass(frozen=True)
class Spec:
    default: float
    low: float
    high: float | None  # None: unbounded above
    doc: str
    low_open: bool = False  # True when the value must be strictly above `low`
    integer: bool = False

    def allowed(self) -> str:
        left = "(" if self.low_open else "["
        right = "inf)" if self.high is None else f"{self.high:g}]"
        kind = "integer in " if self.integer else ""
        return f"{kind}{left}{self.low:g}, {right}"

    def accepts(self, value: float) -> bool:
        if self.integer and float(value) != int(value):
            return False
        if self.low_open and not value > self.low:
            return False
        if not self.low_open and value < self.low:
            return False
        return self.high is None or value <= self.high


# Policy levers. Defaults are the status quo; scenarios/baseline.yaml cites where each comes from.
LEVERS: dict[str, Spec] = {
    "joint_inspection_share": Spec(0.10, 0, 1, "share of on-site visits coordinated in the joint system: one entry per policy area and half-year, results shared"),
    "merge_rate": Spec(0.0, 0, 1, "share of fully overlapping inspection items folded into an earlier item at the same unit"),
    "outcome_weight": Spec(0.30, 0, 1, "weight of outcome (result) indicators in evaluation; the rest is process indicators"),
    "accountability_intensity": Spec(0.02, 0, 1, "probability that a sanctionable finding is pursued for accountability"),
    "sanction_severity": Spec(1.0, 0, None, "severity of a sanction, in units of one standard sanction", low_open=True),
    "tolerance": Spec(0.20, 0, 1, "容错纠错: share of sanctions waived for problems from causes beyond the unit's control"),
    "unannounced_share": Spec(0.10, 0, 1, "share of on-site visits that are unannounced (四不两直)"),
    "remote_share": Spec(0.08, 0, 1, "share of inspections done off site from data (非现场督查)"),
    "data_sharing_rate": Spec(0.583, 0, 1, "share of departments' supervision data available through sharing"),
    "negative_list_share": Spec(0.0, 0, 1, "share of items in unnecessary (negative-list) categories that are struck out"),
    "closed_loop": Spec(0.325, 0, 1, "share of rectifications under rectify-accept-recheck with follow-up of failures"),
    "third_party_share": Spec(0.10, 0, 1, "share of evaluations done by an independent third party"),
    "material_reduction": Spec(0.0, 0, 1, "cut in material and ledger demands per item (paperless inspection)"),
    "escalation_per_level": Spec(0.08, 0, 1, "layer-by-layer escalation: extra items and target inflation per administrative level"),
    "special_inspection_share": Spec(0.30, 0, 1, "share of supervision bodies' items that are focused special inspections"),
    "professional_share": Spec(0.50, 0, 1, "share of inspectors with a professional (law, economics, engineering) background"),
    "responsibility_clarity": Spec(0.588, 0, 1, "share of supervised items with one clear responsible subject"),
    "inspection_capacity": Spec(1.0, 0, 10, "inspector-days relative to the staffing of the status quo", low_open=True),
}

# Behavioural and technical parameters. `calibrated` ones are fitted by `run.py calibrate`.
BEHAVIOUR: dict[str, Spec] = {
    # planning and burden
    "items_scale": Spec(1.0, 0, None, "multiplier on the number of items every body and department issues a year", low_open=True),
    "topic_concentration": Spec(1.0, 0, 4, "Zipf exponent of how bodies' items concentrate on priority topics"),
    "relay_probability": Spec(0.60, 0, 1, "probability a lower level re-issues an upper-level item in its jurisdiction (D1 2.1: 60% overlap)"),
    "hosting_load": Spec(0.40, 0, 1, "unit-weeks of hosting work one announced on-site visit imposes"),
    "unannounced_hosting_factor": Spec(0.40, 0, 1, "hosting of an unannounced visit relative to an announced one (no preparation)"),
    "remote_hosting_factor": Spec(0.10, 0, 1, "hosting of a remote inspection relative to an announced visit when data are shared"),
    "remote_data_compilation": Spec(0.15, 0, 1, "unit-weeks of data compilation a remote inspection needs when data are not shared"),
    "joint_member_load": Spec(0.25, 0, 1, "extra hosting per additional body in a joint visit"),
    "max_hosting_share": Spec(0.50, 0, 1, "most of a week that hosting can take (the rest of the load waits)"),
    "material_demand": Spec(0.12, 0, None, "chosen material time at which the process score reaches 63%, at today's item load", low_open=True),
    "item_load_elasticity": Spec(1.0, 0, 1, "elasticity of material demand to the number of items a unit carries"),
    "ledger_share": Spec(0.25, 0, 0.6, "share of the working week kept on ledgers at today's item load, before material cuts and data sharing"),
    "folded_item_ledger_share": Spec(0.5, 0, 1, "share of a merged or joined item's ledgers that remain to be kept"),
    "data_sharing_material_relief": Spec(0.4, 0, 1, "cut in material demand when all data are shared"),
    "minimum_real_work": Spec(0.10, 0, 1, "least share of time left for real task work"),
    "adjustment_speed": Spec(0.15, 0, 1, "weekly partial adjustment of the settled material share toward its optimum"),
    "productivity": Spec(3.0, 0, None, "curvature of true outcome in real work, O(r) = 1 - exp(-k r)", low_open=True),
    "evaluation_stake": Spec(1.0, 0, None, "weight units put on the evaluation score"),
    "embellishment": Spec(0.4, 0, 1, "how far materials dress up documented outcome"),
    "intrinsic_weight": Spec(0.5, 0, None, "weight of integrity on true outcome in the unit's objective"),
    "defensive_weight": Spec(4.0, 0, None, "weight of expected accountability in effort choice (blame avoidance)"),
    "material_need": Spec(0.05, 0, 1, "material time a unit needs to document real work (the formalism baseline)"),
    "integrity_a": Spec(4.0, 0, None, "Beta(a, b) integrity distribution, a", low_open=True),
    "integrity_b": Spec(3.0, 0, None, "Beta(a, b) integrity distribution, b", low_open=True),
    # problems
    "initial_problems": Spec(4.0, 0, None, "latent problems per unit at the start; calibration sets the status quo's stationary level"),
    "problem_arrival": Spec(0.20, 0, 1, "weekly probability a unit gets a new implementation problem at reference real work"),
    "arrival_work_sensitivity": Spec(2.0, 0, None, "how fast problem arrival falls with real work, exp(-s (r - r_ref))"),
    "reference_real_work": Spec(0.45, 0, 1, "real-work share at which problem arrival equals problem_arrival"),
    "self_fix_rate": Spec(0.08, 0, 1, "weekly chance a unit notices and fixes a latent problem itself, per problem and unit of real work"),
    "major_share": Spec(0.08, 0, 1, "share of new problems that are major"),
    "major_eruption": Spec(0.02, 0, 1, "weekly hazard a latent major problem erupts (an incident: missed by supervision)"),
    "exogenous_share": Spec(0.30, 0, 1, "share of problems from causes beyond the unit's control"),
    # detection
    "detection_base": Spec(0.30, 0, 1, "per-problem detection of an announced comprehensive visit by lay inspectors, at depth 1"),
    "special_depth": Spec(2.5, 0, None, "depth multiplier of a special (one-topic) inspection", low_open=True),
    "professional_effect": Spec(1.6, 0, None, "depth multiplier of a professional inspector", low_open=True),
    "concealment": Spec(0.90, 0, 1, "share of problems an announced, fully prepared low-integrity unit hides"),
    "unannounced_concealment_factor": Spec(0.20, 0, 1, "concealment on unannounced visits relative to announced"),
    "data_detection": Spec(0.75, 0, 1, "detection of quantifiable problems from shared data (literature 0.6-0.9)"),
    "quantifiable_share": Spec(0.50, 0, 1, "share of problems visible in data"),
    "major_visibility": Spec(1.5, 0, None, "major problems are detected as if inspected this many times more deeply", low_open=True),
    "max_depth": Spec(2.0, 1, None, "most depth freed capacity can buy per visit"),
    "falsification_detection": Spec(0.30, 0, 1, "chance an announced visit uncovers a falsified report"),
    "unannounced_falsification_factor": Spec(2.5, 0, None, "how much likelier an unannounced visit uncovers falsification"),
    "data_falsification_factor": Spec(3.0, 0, None, "how much likelier a data-based check uncovers falsification, with all data shared"),
    # rectification and accountability
    "genuine_fix_weeks": Spec(4.0, 0, None, "mean weeks of a genuine rectification with clear responsibility", low_open=True),
    "unclear_delay_weeks": Spec(4.0, 0, None, "mean extra weeks when responsibility is unclear"),
    "surface_cost_ratio": Spec(5.0, 1, None, "genuine fix cost over surface fix cost (literature 3-10)"),
    "genuine_fix_cost": Spec(1.0, 0, None, "time cost of a genuine fix, in the units of the rectification choice"),
    "choice_noise": Spec(0.15, 0, None, "logistic noise scale of rectification and falsification choices", low_open=True),
    "acceptance_check": Spec(0.50, 0, 1, "chance an acceptance check by lay inspectors catches a surface fix"),
    "recheck_catch": Spec(0.7, 0, 1, "chance a closed-loop recheck catches a surface fix that has not yet rebounded"),
    "quality_failure": Spec(0.05, 0, 1, "chance a genuine fix, a closed-loop redo included, still fails acceptance (incomplete, below standard)"),
    "deadline_weeks": Spec(13, 1, 52, "rectification deadline before acceptance", integer=True),
    "rebound_surface": Spec(0.03, 0, 1, "weekly rebound probability of a surface fix (literature 1-5%)"),
    "rebound_genuine": Spec(0.003, 0, 1, "weekly rebound probability of a genuine fix (literature 0.1-0.5%)"),
    "surface_sanction_multiplier": Spec(3.0, 0, None, "accountability multiplier for a caught surface fix"),
    "falsification_sanction_multiplier": Spec(4.0, 0, None, "accountability multiplier for caught falsification"),
    "major_sanction_multiplier": Spec(2.0, 0, None, "accountability multiplier for a major problem"),
    "sanction_memory_weeks": Spec(26, 1, None, "weeks over which a sanction's deterrent memory decays by 63%"),
    "belief_learning_rate": Spec(0.2, 0, 1, "quarterly learning rate of the belief of being inspected (literature 0.1-0.3)"),
    "falsification_gain": Spec(1.0, 0, None, "score value of closing one unit of target gap on paper"),
    "sanction_cost": Spec(3.0, 0, None, "how much a unit dreads one sanction, on the scale of its evaluation score"),
    "falsification_cost": Spec(0.5, 0, None, "fixed effort and moral cost of falsifying one report"),
    "target_base": Spec(0.75, 0, 1, "implementation target before escalation (three levels inflate it)"),
    # data and tasks
    "data_departments": Spec(8, 1, 30, "departments an inspection needs data from (D1 2.4)", integer=True),
    "data_request_days": Spec(8.0, 0, None, "mean working days one unshared data request takes", low_open=True),
    "task_processing_days": Spec(8.0, 0, None, "mean working days to process a supervised task at reference real work", low_open=True),
    "task_data_need": Spec(0.5, 0, 1, "share of supervised tasks that need cross-department data"),
    # soft outcomes
    "recognition_intercept": Spec(0.0, -10, 10, "intercept of the grassroots-recognition logit"),
    "satisfaction_intercept": Spec(0.0, -10, 10, "intercept of the public-satisfaction logit"),
}

# Behavioural parameters `run.py calibrate` fits to the documents' baseline figures.
CALIBRATED = (
    "items_scale", "topic_concentration", "hosting_load", "ledger_share", "material_demand", "detection_base",
    "special_depth", "genuine_fix_cost", "quality_failure", "problem_arrival", "falsification_cost",
    "genuine_fix_weeks", "data_request_days", "task_processing_days", "recognition_intercept",
    "satisfaction_intercept", "initial_problems",
)

SCALES: dict[str, tuple[int, int, int, int]] = {
    # provinces, cities per province, counties per city, units per county
    "county": (1, 1, 1, 20),
    "city": (1, 1, 10, 15),
    "province": (1, 10, 10, 15),
    "national": (31, 9, 9, 15),
}


@dataclass(frozen=True)
class Schedule:
    """A lever's values over the policy period: (first week, value) steps, weeks from policy start."""

    steps: tuple[tuple[int, float], ...]

    @classmethod
    def constant(cls, value: float) -> "Schedule":
        return cls(((0, float(value)),))

    def value_at(self, week: int) -> float:
        return float(self.values_at(np.array([week]))[0])

    def values_at(self, weeks: np.ndarray) -> np.ndarray:
        """The value in force at each week: that of the last step started by then (the first before any)."""
        values = np.full(weeks.shape, float(self.steps[0][1]))
        for start, value in self.steps:
            values[weeks >= start] = value
        return values

    @property
    def final(self) -> float:
        return self.steps[-1][1]


@dataclass(frozen=True)
class Scenario:
    """A validated scenario: everything one model run needs, with where it came from."""

    name: str
    source: str
    levers: Mapping[str, Schedule]
    status_quo: Mapping[str, float]
    behaviour: Mapping[str, float]
    scale: str = "province"
    years: int = 3
    burn_in_years: int = 1
    start_year: int = 2024
    description: str = ""
    notes: Mapping[str, str] = field(default_factory=dict)
    # Dotted-name overrides applied after the file was read (--set, load_scenario(overrides=...), a
    # study's design point), in order: the file alone does not reproduce a run without them.
    overrides: Mapping[str, object] = field(default_factory=dict)
    _lever_tables: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def calendar_years(self, years: int | None = None) -> range:
        """The calendar years a run simulates: burn-in, then `years` (default: the scenario's) policy years."""
        return range(self.start_year - self.burn_in_years, self.start_year + (years or self.years))

    def steps_after_the_run(self, years: int | None = None) -> list[tuple[str, int]]:
        """(lever, calendar year) of schedule steps that start after the run's last policy year:
        they never take effect in a run of `years` (default: the scenario's) policy years."""
        horizon = (years or self.years) * WEEKS_PER_YEAR
        return [(name, self.start_year + start // WEEKS_PER_YEAR) for name, schedule in self.levers.items()
                for start, _ in schedule.steps if start >= horizon]

    def lever_weeks(self, first_policy_week: int, weeks: int) -> dict[str, np.ndarray]:
        """Each lever's values in force over `weeks` weeks; negative weeks are the burn-in, at the status quo.
        The values are rows of one read-only table (lever_table), so a year's levers compare and
        hash as one block of bytes."""
        table = self.lever_table(first_policy_week, weeks)
        return dict(zip(self.levers, table))

    def lever_table(self, first_policy_week: int, weeks: int) -> np.ndarray:
        """The levers' weekly values, one row per lever in the order of `levers`, read-only; kept
        with the scenario (a run asks for each of its years)."""
        key = (first_policy_week, weeks)
        if key not in self._lever_tables:
            self._lever_tables[key] = self._build_lever_table(first_policy_week, weeks)
        return self._lever_tables[key]

    def _build_lever_table(self, first_policy_week: int, weeks: int) -> np.ndarray:
        table = np.empty((len(self.levers), weeks))
        policy_from = min(max(-first_policy_week, 0), weeks)  # the window's first policy week
        for row, (name, schedule) in zip(table, self.levers.items()):
            row[:policy_from] = self.status_quo[name]
            row[policy_from:] = schedule.steps[0][1]
            for start, value in schedule.steps:
                row[min(max(start - first_policy_week, policy_from), weeks):] = value
        table.setflags(write=False)
        return table


def default_scenario(**changes) -> Scenario:
    """The schema defaults as a scenario; tests and benchmarks use it when no file is wanted."""
    levers = {name: Schedule.constant(spec.default) for name, spec in LEVERS.items()}
    status_quo = {name: spec.default for name, spec in LEVERS.items()}
    behaviour = {name: spec.default for name, spec in BEHAVIOUR.items()}
    base = dict(name="defaults", source="model.params", levers=levers, status_quo=status_quo, behaviour=behaviour)
    base.update(changes)
    return Scenario(**base)
