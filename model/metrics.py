"""Yearly outcome metrics: counters the rules feed during a year, turned into rates at its end.

Every metric is a ratio of counted events or a mean of unit state; none is set from a lever.
METRICS gives each one-line definition (tests/test_docs.py holds the README's table to it).
"""
from __future__ import annotations

import numpy as np

from .reductions import mean
from .units import WEEKLY_HOURS

METRICS: dict[str, str] = {
    "inspections_per_unit_year": "inspections of every kind (各类督查: on-site and off-site; a joint visit counts once) per unit per year",
    "onsite_inspections_per_unit_year": "on-site inspection visits (announced or unannounced) per unit per year",
    "remote_inspections_per_unit_year": "off-site (data-based) inspections per unit per year",
    "duplicate_inspection_share": "share of inspections whose every topic was already inspected at the unit earlier that year",
    "hosting_time_share": "share of units' working time spent hosting inspections (迎检), incl. compiling data for remote ones",
    "material_hours_per_week": "hours per 50-hour week spent on supervision materials and ledgers",
    "supervision_time_share": "hosting plus material time, as a share of working time",
    "detection_rate": "problems found / problems in scope, over all inspections",
    "detection_rate_comprehensive": "problems found / in scope on comprehensive on-site visits",
    "detection_rate_special": "problems found / in scope on special (single-topic) on-site visits",
    "problems_found_per_unit_year": "problem leads found (problems and falsified reports) per unit per year",
    "detection_gain": "problem leads found per unit this year over the burn-in (status quo) year, minus 1",
    "major_problem_miss_rate": "major problems that erupted as incidents before being found / (erupted + found)",
    "rectification_completion_rate": "share of problems found this year whose rectification was accepted within a year",
    "rectification_acceptance_pass_rate": "share of first acceptance checks passed (done on time, not caught as a surface fix)",
    "surface_rectification_share": "share of found problems given a surface or false rectification",
    "rebound_rate": "share of accepted rectifications whose problem recurs within a year of acceptance",
    "rectified_within_6_months": "share of problems found this year rectified and accepted within 26 weeks",
    "rectification_days": "mean days from finding to accepted rectification",
    "task_completion_days": "mean working days to close a supervised task (processing, coordination, data)",
    "accountability_rate": "problem leads that led to accountability / problem leads found",
    "falsification_rate": "share of quarterly reports with inflated progress",
    "documented_true_gap": "mean documented minus true implementation rate (reports vs reality)",
    "material_excess_share": "share of working time on materials beyond what documenting real work needs",
    "formalism_index": "mean of material_excess_share, surface_rectification_share, falsification_rate and documented_true_gap",
    "policy_implementation_rate": "share of units' policy tasks with no unresolved problem (true, not documented)",
    "latent_problems_per_unit": "problems not yet found per unit at the year's end (a state, used to start runs stationary)",
    "data_acquisition_days": "mean working days an inspection waits for data from other departments",
    "grassroots_recognition": "SOFT: share of units that value inspection (logit of burden, duplicates, usefulness, fairness)",
    "public_satisfaction": "SOFT: mean satisfaction (logit of true implementation and major incidents)",
}

SOFT_METRICS = ("grassroots_recognition", "public_satisfaction")


# The year's totals the metrics are made of; the compiled rules add to them in blocks (counters()).
COUNTERS = (
    "onsite", "remote", "duplicates", "hosting", "materials", "excess", "unit_weeks",
    "scope_comprehensive", "found_comprehensive", "scope_special", "found_special", "scope_all",
    "found_all", "major_found", "major_erupted", "cases", "surface", "passed", "completed",
    "within_6_months", "accepted", "rebounded", "days_to_accept", "sanctioned", "falsifications_found",
    "falsified_reports", "reports", "gap", "implementation", "data_days", "inspections_with_data",
    "task_days", "tasks")


_PER_UNIT = ("unit_visits", "unit_duplicates", "unit_useful", "unit_sanctions", "unit_unfair", "unit_erupted",
             "unit_supervision_share")


class YearAccumulator:
    """Counters for one simulated year of `replications` runs advanced together (model.schedule),
    each of n_units units: the per-unit counters hold the runs' units one run after another, the
    year's totals one row per run."""

    def __init__(self, n_units: int, n_sources: int, replications: int = 1):
        self.n = n_units
        self.replications = replications
        all_units = n_units * replications
        self.source_found = np.zeros((replications, n_sources))
        self.unit_visits = np.zeros(all_units)
        self.unit_duplicates = np.zeros(all_units)
        self.unit_useful = np.zeros(all_units)
        self.unit_sanctions = np.zeros(all_units)
        self.unit_unfair = np.zeros(all_units)
        self.unit_erupted = np.zeros(all_units)
        self.unit_supervision_share = np.zeros(all_units)
        self.blocks: dict[tuple[str, ...], np.ndarray] = {}

    def replication(self, r: int) -> "YearAccumulator":
        """Replication r's counters alone (a copy), as its own run would hold them."""
        one = YearAccumulator(self.n, self.source_found.shape[1])
        units = slice(r * self.n, (r + 1) * self.n)
        for name in _PER_UNIT:
            setattr(one, name, getattr(self, name)[units].copy())
        one.source_found = self.source_found[r:r + 1].copy()
        one.blocks = {names: values[r:r + 1].copy() for names, values in self.blocks.items()}
        return one

    @classmethod
    def stacked(cls, parts: list["YearAccumulator"]) -> "YearAccumulator":
        """Runs' counters as one stack's (copies), runs in the order given."""
        stack = cls(parts[0].n, parts[0].source_found.shape[1], len(parts))
        for name in _PER_UNIT:
            setattr(stack, name, np.concatenate([getattr(part, name) for part in parts]))
        stack.source_found = np.concatenate([part.source_found for part in parts])
        stack.blocks = {names: np.concatenate([part.blocks[names] for part in parts]) for names in parts[0].blocks}
        return stack

    # -- recording, called by the rules ------------------------------------------------------
    def counters(self, names: tuple[str, ...]) -> np.ndarray:
        """A block of counters that a compiled rule adds to all year (names[i] is column i, one row
        per run); the year's metrics add the blocks in."""
        if names not in self.blocks:
            unknown = set(names) - set(COUNTERS)
            if unknown:
                raise ValueError(f"not counters of the year: {sorted(unknown)}")
            self.blocks[names] = np.zeros((self.replications, len(names)))
        return self.blocks[names]

    # -- the year's metrics --------------------------------------------------------------------
    def finish(self, behaviour: dict, implementation: np.ndarray, latent: np.ndarray,
               reference_found: float | None, replication: int = 0) -> dict:
        """The year's metrics of one run (`implementation` and `latent` are its units' rows)."""
        c, n = dict.fromkeys(COUNTERS, 0.0), self.n
        for names, values in self.blocks.items():
            for name, value in zip(names, values[replication].tolist()):
                c[name] += value
        ratio = lambda a, b: float(a / b) if b > 0 else float("nan")  # noqa: E731
        inspections = c["onsite"] + c["remote"]
        leads = c["found_all"] + c["falsifications_found"]
        found_per_unit = leads / n
        m = {
            "inspections_per_unit_year": inspections / n,
            "onsite_inspections_per_unit_year": c["onsite"] / n,
            "remote_inspections_per_unit_year": c["remote"] / n,
            "duplicate_inspection_share": ratio(c["duplicates"], inspections),
            "hosting_time_share": ratio(c["hosting"], c["unit_weeks"]),
            "material_hours_per_week": ratio(c["materials"], c["unit_weeks"]) * WEEKLY_HOURS,
            "supervision_time_share": ratio(c["hosting"] + c["materials"], c["unit_weeks"]),
            "detection_rate": ratio(c["found_all"], c["scope_all"]),
            "detection_rate_comprehensive": ratio(c["found_comprehensive"], c["scope_comprehensive"]),
            "detection_rate_special": ratio(c["found_special"], c["scope_special"]),
            "problems_found_per_unit_year": found_per_unit,
            "detection_gain": detection_gain(found_per_unit, reference_found),
            "major_problem_miss_rate": ratio(c["major_erupted"], c["major_erupted"] + c["major_found"]),
            "rectification_completion_rate": ratio(c["completed"], c["cases"]),
            "rectification_acceptance_pass_rate": ratio(c["passed"], c["cases"]),
            "surface_rectification_share": ratio(c["surface"], c["cases"]),
            "rebound_rate": ratio(c["rebounded"], c["accepted"]),
            "rectified_within_6_months": ratio(c["within_6_months"], c["cases"]),
            "rectification_days": ratio(c["days_to_accept"], c["accepted"]),
            "task_completion_days": ratio(c["task_days"], c["tasks"]),
            "accountability_rate": ratio(c["sanctioned"], leads),
            "falsification_rate": ratio(c["falsified_reports"], c["reports"]),
            "documented_true_gap": ratio(c["gap"], c["reports"]),
            "material_excess_share": ratio(c["excess"], c["unit_weeks"]),
            "policy_implementation_rate": ratio(c["implementation"], c["reports"]),
            "latent_problems_per_unit": float(latent.sum() / n),
            "data_acquisition_days": ratio(c["data_days"], c["inspections_with_data"]),
        }
        m["formalism_index"] = float(mean(np.array([m["material_excess_share"], m["surface_rectification_share"],
                                               m["falsification_rate"], m["documented_true_gap"]])))
        m["grassroots_recognition"], m["public_satisfaction"] = self._soft_outcomes(
            behaviour, implementation, c["unit_weeks"], slice(replication * n, (replication + 1) * n))
        return m

    def _soft_outcomes(self, behaviour: dict, implementation: np.ndarray, unit_weeks: float,
                       units: slice) -> tuple[float, float]:
        """Softest outputs: simple logits, each term a share in [0, 1], fitted only by intercept."""
        weeks = max(unit_weeks / self.n, 1.0)
        visits = np.maximum(self.unit_visits[units], 1.0)
        burden = self.unit_supervision_share[units] / weeks
        duplicates = self.unit_duplicates[units] / visits
        usefulness = self.unit_useful[units] / visits
        unfair = self.unit_unfair[units] / np.maximum(self.unit_sanctions[units], 1.0)
        recognition_logit = (behaviour["recognition_intercept"] - 3.0 * burden - 2.0 * duplicates
                             + 2.0 * usefulness - 2.0 * unfair)
        satisfaction_logit = (behaviour["satisfaction_intercept"] + 4.0 * implementation
                              - 1.0 * np.minimum(self.unit_erupted[units], 3))
        sigmoid = lambda x: 1.0 / (1.0 + np.exp(-x))  # noqa: E731
        return float(mean(sigmoid(recognition_logit))), float(mean(sigmoid(satisfaction_logit)))


def detection_gain(found_per_unit: float, reference_found: float | None) -> float:
    """Leads found per unit over the reference year's, minus 1: NaN before there is a reference or
    when the reference year found nothing (a change from nothing has no size)."""
    return found_per_unit / reference_found - 1.0 if reference_found else float("nan")
