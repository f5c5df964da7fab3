"""Summaries of replicated runs: means with 95% intervals, target attainment, paired effects.

Intervals are t-intervals of the mean over replications (the uncertainty of the scenario's
expected value); p_met is the share of replications whose value meets the target.
"""
from __future__ import annotations

import math
import operator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from experiments.intervals import mean_interval
from scenarios import load_document_figures

from .labels import value_kind

OPERATORS = {"<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt}


@dataclass(frozen=True)
class Target:
    metric: str
    op: str
    value: float
    note: str

    def met(self, values):
        return OPERATORS[self.op](np.asarray(values, dtype=float), self.value)


def document_targets() -> dict[str, Target]:
    figures = load_document_figures()
    return {name: Target(name, t["op"], float(t["value"]), t.get("note", ""))
            for name, t in figures["targets"].items()}


def document_baselines() -> dict[str, float]:
    figures = load_document_figures()
    return {name: b["value"] for name, b in figures["baselines"].items() if isinstance(b.get("value"), (int, float))}


def last_common_year(frame: pd.DataFrame, by: str = "scenario") -> int:
    """The last calendar year that every scenario (or group) simulated: runs of different lengths are
    compared, and paired, in one year, not each in its own last year."""
    return int(frame.groupby(by)["year"].max().min())


def final_year(frame: pd.DataFrame, year: int | None = None) -> pd.DataFrame:
    """Rows of one simulated year per run: the given calendar year, else the last year every
    scenario simulated. A scenario is known by its name, so two runs of one name and seed
    (variants of a scenario made with overrides, which keep its name) are refused rather than pooled."""
    chosen = frame[frame["year"] == (last_common_year(frame) if year is None else year)]
    if year is not None and chosen.empty:
        years = sorted(frame["year"].unique())
        raise ValueError(f"year {year} is not in the results; allowed: {years}")
    twice = chosen[chosen.duplicated(["scenario", "seed"])]
    if not twice.empty:
        first = twice.iloc[0]
        raise ValueError(f"scenario {first['scenario']!r} has more than one run of seed {first['seed']} in "
                         f"{first['year']}; allowed: one run per scenario name and seed (give each variant its "
                         "own name, e.g. dataclasses.replace(scenario, name=...))")
    return chosen


def level_interval(metric: str, values) -> tuple[float, float, float]:
    """Mean and 95% interval of a metric's level; a share's interval stops at 0 and 1, which a
    t-interval of a few replications near a bound would cross."""
    mean, low, high = mean_interval(values)
    if value_kind(metric) == "share":
        low, high = max(low, 0.0), min(high, 1.0)  # a nan bound (one replication) stays nan
    return mean, low, high


def summarise(frame: pd.DataFrame, metrics: list[str], year: int | None = None) -> pd.DataFrame:
    """Tidy table: scenario, metric, mean, low, high, n."""
    rows = []
    for scenario, group in final_year(frame, year).groupby("scenario", sort=False):
        for metric in metrics:
            mean, low, high = level_interval(metric, group[metric])
            rows.append({"scenario": scenario, "metric": metric, "mean": mean, "low": low, "high": high,
                         "n": int(group[metric].notna().sum())})
    return pd.DataFrame(rows)


def target_attainment(frame: pd.DataFrame, targets: dict[str, Target], year: int | None = None) -> pd.DataFrame:
    """Tidy table: scenario, metric, op, value, p_met (share of replications meeting the target)."""
    rows = []
    for scenario, group in final_year(frame, year).groupby("scenario", sort=False):
        for metric, target in targets.items():
            if metric not in group:
                continue
            values = group[metric].dropna()
            p_met = float(target.met(values).mean()) if len(values) else math.nan
            rows.append({"scenario": scenario, "metric": metric, "op": target.op, "value": target.value,
                         "p_met": p_met})
    return pd.DataFrame(rows)


# Target metrics that can come out as another one's number: nearly every accepted rectification is
# accepted within 26 weeks (ODD section 10), so the six-month share can equal completion.
TWIN_METRICS = (("rectified_within_6_months", "rectification_completion_rate"),)
SAME_NUMBER = 1e-3


def twin_metrics(rows: pd.DataFrame) -> dict[str, str]:
    """Each metric that is within SAME_NUMBER of its twin in every one of these rows (one year's),
    so that a reader is told its target is judged on the twin's number."""
    return {metric: twin for metric, twin in TWIN_METRICS if {metric, twin} <= set(rows.columns)
            and (rows[metric] - rows[twin]).abs().max() < SAME_NUMBER}


def paired_differences(frame: pd.DataFrame, reference: str, metrics: list[str],
                       year: int | None = None) -> pd.DataFrame:
    """Each scenario minus the reference scenario, paired by seed (common random numbers)."""
    rows_of_year = final_year(frame, year)
    base = rows_of_year.loc[rows_of_year["scenario"] == reference, ["seed", *metrics]]
    rows = []
    for scenario, group in rows_of_year.groupby("scenario", sort=False):
        if scenario == reference:
            continue
        paired = group[["seed", *metrics]].merge(base, on="seed", suffixes=("", "__reference"))
        for metric in metrics:
            differences = paired[metric] - paired[f"{metric}__reference"]
            diff, low, high = mean_interval(differences)
            rows.append({"scenario": scenario, "reference": reference, "metric": metric, "diff": diff,
                         "low": low, "high": high, "n": int(differences.notna().sum())})
    return pd.DataFrame(rows)
