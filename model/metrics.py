"""Yearly outcome metrics: counters the rules feed during a year, turned into rates at its end.

Every metric is a ratio of counted events or a mean of unit state; none is set from a lever.
METRICS gives each one-line definition (tests/test_docs.py holds the README's table to it).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from .reductions import pairwise_row_means
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

# Totals made of two counters, then the metrics: per unit, or a ratio of two totals (NaN when the
# denominator is 0); the rest are made in finish().
_SUMS = {"inspections": ("onsite", "remote"), "leads": ("found_all", "falsifications_found"),
         "supervision": ("hosting", "materials"), "major_outcomes": ("major_erupted", "major_found")}
_PER_UNIT_OF = {
    "inspections_per_unit_year": "inspections",
    "onsite_inspections_per_unit_year": "onsite",
    "remote_inspections_per_unit_year": "remote",
    "problems_found_per_unit_year": "leads",
}
_RATIO_OF = {
    "duplicate_inspection_share": ("duplicates", "inspections"),
    "hosting_time_share": ("hosting", "unit_weeks"),
    "material_hours_per_week": ("materials", "unit_weeks"),  # times WEEKLY_HOURS
    "supervision_time_share": ("supervision", "unit_weeks"),
    "detection_rate": ("found_all", "scope_all"),
    "detection_rate_comprehensive": ("found_comprehensive", "scope_comprehensive"),
    "detection_rate_special": ("found_special", "scope_special"),
    "major_problem_miss_rate": ("major_erupted", "major_outcomes"),
    "rectification_completion_rate": ("completed", "cases"),
    "rectification_acceptance_pass_rate": ("passed", "cases"),
    "surface_rectification_share": ("surface", "cases"),
    "rebound_rate": ("rebounded", "accepted"),
    "rectified_within_6_months": ("within_6_months", "cases"),
    "rectification_days": ("days_to_accept", "accepted"),
    "task_completion_days": ("task_days", "tasks"),
    "accountability_rate": ("sanctioned", "leads"),
    "falsification_rate": ("falsified_reports", "reports"),
    "documented_true_gap": ("gap", "reports"),
    "material_excess_share": ("excess", "unit_weeks"),
    "policy_implementation_rate": ("implementation", "reports"),
    "data_acquisition_days": ("data_days", "inspections_with_data"),
}
_FORMALISM_PARTS = ("material_excess_share", "surface_rectification_share", "falsification_rate",
                    "documented_true_gap")
# a year's row of metrics, in this order
_METRIC_ORDER = (
    "inspections_per_unit_year", "onsite_inspections_per_unit_year", "remote_inspections_per_unit_year",
    "duplicate_inspection_share", "hosting_time_share", "material_hours_per_week", "supervision_time_share",
    "detection_rate", "detection_rate_comprehensive", "detection_rate_special", "problems_found_per_unit_year",
    "detection_gain", "major_problem_miss_rate", "rectification_completion_rate",
    "rectification_acceptance_pass_rate", "surface_rectification_share", "rebound_rate", "rectified_within_6_months",
    "rectification_days", "task_completion_days", "accountability_rate", "falsification_rate", "documented_true_gap",
    "material_excess_share", "policy_implementation_rate", "latent_problems_per_unit", "data_acquisition_days",
    "formalism_index", "grassroots_recognition", "public_satisfaction")
_TOTALS = COUNTERS + tuple(_SUMS)
_TOTAL_COLUMN = {name: column for column, name in enumerate(_TOTALS)}
# columns and slots as index arrays (a list would be converted at every use)
_SUM_COLUMNS = np.array([_TOTAL_COLUMN[name] for name in _SUMS])
_SUMMED_FIRST = np.array([_TOTAL_COLUMN[first] for first, _ in _SUMS.values()])
_SUMMED_SECOND = np.array([_TOTAL_COLUMN[second] for _, second in _SUMS.values()])
_PER_UNIT_TOTALS = np.array([_TOTAL_COLUMN[total] for total in _PER_UNIT_OF.values()])
_RATIO_NUMERATORS = np.array([_TOTAL_COLUMN[numerator] for numerator, _ in _RATIO_OF.values()])
_RATIO_DENOMINATORS = np.array([_TOTAL_COLUMN[denominator] for _, denominator in _RATIO_OF.values()])
_SLOT = {name: slot for slot, name in enumerate(_METRIC_ORDER)}
_PER_UNIT_SLOTS = np.array([_SLOT[name] for name in _PER_UNIT_OF])
_RATIO_SLOTS = np.array([_SLOT[name] for name in _RATIO_OF])
_FORMALISM_SLOTS = np.array([_SLOT[name] for name in _FORMALISM_PARTS])
_SOFT_SLOTS = np.array([_SLOT[name] for name in SOFT_METRICS])


@lru_cache(maxsize=None)
def _total_columns(blocks: tuple[tuple[str, ...], ...]) -> np.ndarray:
    """The columns among the year's totals of these blocks of counters, one block after another."""
    return np.array([_TOTAL_COLUMN[name] for names in blocks for name in names])


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
        per run); each counter is in one block, from which the year's metrics take it."""
        if names not in self.blocks:
            unknown = set(names) - set(COUNTERS)
            if unknown:
                raise ValueError(f"not counters of the year: {sorted(unknown)}")
            counted = {name for block in self.blocks for name in block}
            if counted.intersection(names) or len(set(names)) < len(names):
                raise ValueError(f"a counter in two blocks, or twice in one: {names}")
            self.blocks[names] = np.zeros((self.replications, len(names)))
        return self.blocks[names]

    # -- the year's metrics --------------------------------------------------------------------
    def finish(self, behaviour: dict, implementation: np.ndarray, latent: np.ndarray,
               references: list[float | None]) -> list[dict]:
        """The year's metrics of each run, in run order (`implementation` and `latent` hold every
        run's units, run after run; references[r] is run r's reference year's leads per unit).
        All runs' metrics come from a few array operations, each element as one run's own numbers
        would give it (a row's mean is numpy's pairwise sum of that row, as of the run's array)."""
        runs, n = self.replications, self.n
        totals = np.zeros((runs, len(_TOTALS)))
        # each counter is in one block (counters()), so one assignment places them all
        totals[:, _total_columns(tuple(self.blocks))] = np.concatenate(tuple(self.blocks.values()), axis=1)
        totals[:, _SUM_COLUMNS] = totals[:, _SUMMED_FIRST] + totals[:, _SUMMED_SECOND]
        metrics = np.full((runs, len(_METRIC_ORDER)), np.nan)  # one row per run, columns in _METRIC_ORDER
        metrics[:, _PER_UNIT_SLOTS] = totals[:, _PER_UNIT_TOTALS] / n
        denominators = totals[:, _RATIO_DENOMINATORS]
        metrics[:, _RATIO_SLOTS] = np.divide(totals[:, _RATIO_NUMERATORS], denominators,
                                             out=np.full(denominators.shape, np.nan), where=denominators > 0)
        metrics[:, _SLOT["material_hours_per_week"]] *= WEEKLY_HOURS
        metrics[:, _SLOT["detection_gain"]] = [
            detection_gain(found, reference)
            for found, reference in zip(metrics[:, _SLOT["problems_found_per_unit_year"]].tolist(), references)]
        metrics[:, _SLOT["latent_problems_per_unit"]] = latent.reshape(runs, -1).sum(axis=1) / n
        metrics[:, _SLOT["formalism_index"]] = pairwise_row_means(metrics[:, _FORMALISM_SLOTS])
        metrics[:, _SOFT_SLOTS] = self._soft_outcomes(behaviour, implementation.reshape(runs, n),
                                                      totals[:, _TOTAL_COLUMN["unit_weeks"]])
        return [dict(zip(_METRIC_ORDER, row)) for row in metrics.tolist()]

    def _soft_outcomes(self, behaviour: dict, implementation: np.ndarray,
                       unit_weeks: np.ndarray) -> np.ndarray:
        """Softest outputs: simple logits, each term a share in [0, 1], fitted only by intercept.
        Arrays are (runs, units); returns (recognition, satisfaction) per run, one row each."""
        runs = self.replications
        per_run = lambda values: values.reshape(runs, self.n)  # noqa: E731
        weeks = np.maximum(unit_weeks / self.n, 1.0)[:, np.newaxis]
        visits = np.maximum(per_run(self.unit_visits), 1.0)
        burden = per_run(self.unit_supervision_share) / weeks
        duplicates = per_run(self.unit_duplicates) / visits
        usefulness = per_run(self.unit_useful) / visits
        unfair = per_run(self.unit_unfair) / np.maximum(per_run(self.unit_sanctions), 1.0)
        recognition_logit = (behaviour["recognition_intercept"] - 3.0 * burden - 2.0 * duplicates
                             + 2.0 * usefulness - 2.0 * unfair)
        satisfaction_logit = (behaviour["satisfaction_intercept"] + 4.0 * implementation
                              - 1.0 * np.minimum(per_run(self.unit_erupted), 3))
        sigmoid = lambda x: 1.0 / (1.0 + np.exp(-x))  # noqa: E731
        return np.stack([pairwise_row_means(sigmoid(recognition_logit)),
                         pairwise_row_means(sigmoid(satisfaction_logit))], axis=1)


def detection_gain(found_per_unit: float, reference_found: float | None) -> float:
    """Leads found per unit over the reference year's, minus 1: NaN before there is a reference or
    when the reference year found nothing (a change from nothing has no size)."""
    return found_per_unit / reference_found - 1.0 if reference_found else float("nan")
