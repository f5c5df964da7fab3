"""Everything a briefing needs, computed from one results folder's tidy tables.

A study is a results folder read through experiments.store and turned into analysis tables:
the target scorecard, mechanism effects, trade-offs, time paths, the status-quo calibration check
and the sensitivity summaries. It never runs the model; reports/ turns these tables into charts
and text.

Runs are grouped into the things being compared: scenarios for a `run` folder, design points for
a `sweep` or `sensitivity` folder (labelled by their factor values).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from experiments.store import RUNS, ResultsError, load_results
from model import METRICS
from scenarios import load_document_figures, parse_assignment

from .comparison import NOT_MODEL_OUTCOMES
from .labels import format_value, lever_name, pick, scenario_name
from .measures import HEADLINE_METRICS, HEADLINES, lower_is_better
from .sensitivity import read_sensitivity
from .summary import (Target, document_baselines, document_targets, last_common_year, level_interval,
                      mean_interval)

REQUIRED_COLUMNS = ("scenario", "seed", "year", "phase")
REFERENCE = "baseline"
PACKAGE_NAME = "documents_reform"
MAX_TIME_PATH_GROUPS = 4
PHASE_SPAN = re.compile(r"(\d{4})-(\d{1,2}) to (\d{4})-(\d{1,2})")


@dataclass
class Study:
    folder: Path
    manifest: dict
    kind: str
    runs: pd.DataFrame                     # the run rows, with a `group` column
    groups: list[str]                      # the compared groups, in the order they were run
    year: int                              # the calendar year targets are judged and groups compared in
    factors: list[str]                     # factor columns of a sweep or sensitivity design
    reference: str | None                  # the group effects are measured from (run folders)
    packages: list[str]                    # reform packages among the groups
    scorecard: pd.DataFrame
    effects: pd.DataFrame
    tradeoffs: pd.DataFrame
    time_paths: pd.DataFrame
    calibration: pd.DataFrame
    sensitivity: pd.DataFrame | None = None
    noise: pd.DataFrame | None = None
    point_factors: dict[str, dict[str, float]] = field(default_factory=dict)
    changed_baseline_levers: list[str] = field(default_factory=list)  # a run's `baseline` off the status quo

    @property
    def seeds_per_group(self) -> int:
        return int(self.runs.groupby("group")["seed"].nunique().min())

    @property
    def time_path_groups(self) -> list[str]:
        """The reference and the reform packages; without packages, the first few groups."""
        if self.kind != "run":
            return []
        chosen = [self.reference, *self.packages] if self.packages else self.groups
        return list(dict.fromkeys(g for g in chosen if g is not None))[:MAX_TIME_PATH_GROUPS]  # a package can be the reference

    @property
    def overrides(self) -> dict[str, object]:
        """Values the runs took from the command line (`run --set`) or the experiment's base scenario
        rather than the scenario files, by dotted name."""
        if self.kind == "run":
            return dict(parse_assignment(text) for text in self.manifest.get("overrides") or [])
        return dict((self.manifest.get("scenario") or {}).get("overrides") or {})

    @property
    def reference_is_status_quo(self) -> bool:
        return self.reference == REFERENCE and not self.changed_baseline_levers

    @property
    def document_phases(self) -> list[tuple[str, float, float]]:
        """The documents' reform phases (calendar dates), for time charts beside a reform package,
        when they fall in the runs' policy period: a package that starts later (its own start year)
        would have its burn-in years shaded as the documents' pilot."""
        phases = reform_phases() if self.packages else []
        policy = self.runs.loc[(self.runs["phase"] == "policy") & self.runs["group"].isin(self.packages), "year"]
        if not phases or policy.empty or min(start for _, start, _ in phases) < int(policy.min()):
            return []
        return phases

    @property
    def year_is_final(self) -> bool:
        """Whether the judged year is the last one every group simulated (not one chosen earlier)."""
        return self.year == last_common_year(self.runs, by="group")

    def year_label(self, lang: str, separator: str = " ") -> str:
        """The judged year as charts and text name it: the final year, or a year chosen with --year."""
        if self.year_is_final:
            return pick(f"{self.year}年（最后一年）", f"final year {self.year}", lang, separator)
        return pick(f"{self.year}年（指定年份）", f"year {self.year} (chosen with --year)", lang, separator)

    def reference_name(self, lang: str, separator: str = " ") -> str:
        """What the effects are measured from: the status quo when the baseline was run, else the
        first scenario run, by its name."""
        if self.reference_is_status_quo:
            return pick("现状", "the status quo", lang, separator)
        return self.group_name(self.reference, lang, separator)

    def group_name(self, group: str, lang: str, separator: str = " ", joiner: str = " / ") -> str:
        """A scenario's label, or a design point's number and its distinctive factor settings."""
        if self.kind == "run":
            if group == REFERENCE and self.changed_baseline_levers:
                return pick("baseline（杠杆已偏离现状）", "baseline (levers changed from the status quo)", lang, separator)
            return scenario_name(group, lang, separator)
        settings = self.point_factors.get(group, {})
        shown = joiner.join(f"{lever_name(f, lang, separator)} {format_value(f, v)}" for f, v in settings.items())
        return f"#{group.removeprefix('P')} " + (shown or pick("基准值", "base values", lang, separator))


def load_study(folder: str | Path, year: int | None = None) -> Study:
    """Read a finished results folder of any kind and compute its analysis tables, judged in `year`
    (default: the year `run --year` asked for, as the manifest records it, else the last year every
    group simulated)."""
    folder = Path(folder)
    manifest, runs = load_results(folder)
    kind = manifest["kind"]
    _check_columns(folder, runs, kind)
    factors = design_factors(manifest, runs)
    runs = runs.copy()
    point_factors: dict[str, dict[str, float]] = {}
    if kind == "run":
        runs["group"] = runs["scenario"].astype(str)
    else:
        runs = runs.sort_values(["point", "seed", "year"], kind="stable", ignore_index=True)
        runs["group"] = "P" + runs["point"].astype(int).astype(str)
        point_factors = distinctive_settings(runs.drop_duplicates("group").set_index("group")[factors])
    groups = list(dict.fromkeys(runs["group"]))
    if year is not None and kind == "sensitivity":
        raise ResultsError(f"{folder}: --year: {year}: a sensitivity study's indices are of each run's final year; "
                           "allowed: --year with a run or sweep folder")
    year = judged_year(folder, runs, manifest.get("year") if year is None else year)
    metrics = [m for m in METRICS if m in runs.columns]
    reference = (REFERENCE if REFERENCE in groups else groups[0]) if kind == "run" else None
    changed_baseline_levers = levers_off_status_quo(manifest, REFERENCE) if REFERENCE in groups and kind == "run" else []
    packages = _packages(manifest, groups) if kind == "run" else []
    targets = evaluated_targets(metrics)
    sensitivity, noise = read_sensitivity(folder) if kind == "sensitivity" else (None, None)
    compared = kind in ("run", "sweep")
    return Study(
        folder=folder, manifest=manifest, kind=kind, runs=runs, groups=groups, year=year, factors=factors,
        reference=reference, packages=packages,
        scorecard=target_scorecard(runs, groups, targets, year) if compared else pd.DataFrame(),
        effects=mechanism_effects(runs, reference, groups, metrics, year) if kind == "run" else pd.DataFrame(),
        tradeoffs=trade_offs(runs, groups, year) if compared else pd.DataFrame(),
        time_paths=time_paths(runs, groups) if kind == "run" else pd.DataFrame(),
        calibration=calibration_check(runs, reference, metrics) if kind == "run" else pd.DataFrame(),
        sensitivity=sensitivity, noise=noise, point_factors=point_factors,
        changed_baseline_levers=changed_baseline_levers)


def _check_columns(folder: Path, runs: pd.DataFrame, kind: str) -> None:
    required = REQUIRED_COLUMNS + (("point",) if kind != "run" else ())
    missing = [c for c in required if c not in runs.columns]
    if missing:
        raise ResultsError(f"{folder / RUNS}: column {missing[0]}: missing from the run rows; allowed: tidy rows "
                           f"with columns {', '.join(required)} and metrics")
    absent = [m for m in HEADLINE_METRICS if m not in runs.columns]
    if kind == "run" and absent:
        raise ResultsError(f"{folder / RUNS}: column {absent[0]}: missing from the run rows; allowed: rows written "
                           "by the model's runners, with the metrics burden, detection and formalism are read from")


def levers_off_status_quo(manifest: dict, scenario: str) -> list[str]:
    """The levers a run folder's scenario sets, at some time, off their status-quo values, as its
    manifest records the scenario resolved. A scenario is the status quo by what it sets, not by its
    name: a user's own baseline.yaml, or baseline with --set, may move levers."""
    resolved = next((s for s in manifest.get("scenarios_resolved") or [] if s.get("name") == scenario), None)
    if resolved is None:  # a folder that does not record it: the name is all there is to go by
        return []
    status_quo = resolved.get("status_quo") or {}
    return [name for name, steps in (resolved.get("levers") or {}).items()
            if any(value != status_quo.get(name) for _, value in steps)]


def design_factors(manifest: dict, runs: pd.DataFrame) -> list[str]:
    """The factor columns of a sweep or sensitivity design, as the manifest names them."""
    named = [f.get("name") if isinstance(f, dict) else f for f in manifest.get("factors") or []]
    return [str(name) for name in named if name in runs.columns]


def distinctive_settings(points: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Each design point's factor values worth naming it by. A factor that sits at one value in
    most points (a one-at-a-time design's base) is named only where it differs from that value;
    factors of a grid or a sampled design are always named."""
    usual = {}
    for factor in points.columns:
        counts = points[factor].value_counts()
        if len(counts) and counts.iloc[0] > len(points) / 2:
            usual[factor] = counts.index[0]
    return {group: {f: float(v) for f, v in row.items() if f not in usual or v != usual[f]}
            for group, row in points.iterrows()}


def _packages(manifest: dict, groups: list[str]) -> list[str]:
    """Scenarios loaded from scenarios/packages/ (by the manifest's files), else the documents' package."""
    files = dict(zip(manifest.get("scenarios", []), manifest.get("scenario_files", [])))
    found = [g for g in groups if "packages" in Path(str(files.get(g, ""))).parts]
    return found or [g for g in groups if g == PACKAGE_NAME]


def evaluated_targets(metrics: list[str]) -> dict[str, Target]:
    """The documents' targets that the model has an outcome for."""
    return {m: t for m, t in document_targets().items() if m in metrics and m not in NOT_MODEL_OUTCOMES}


def judged_year(folder: Path, runs: pd.DataFrame, asked: int | None) -> int:
    """The year targets are judged and groups compared in: the one asked for, which every group
    must have simulated, else the end of the policy period, the last year every group simulated."""
    if asked is None:
        return last_common_year(runs, by="group")
    simulated = sorted(set.intersection(*(set(years) for years in runs.groupby("group")["year"].unique())))
    if isinstance(asked, bool) or not isinstance(asked, (int, np.integer)) or asked not in simulated:
        allowed = f"{simulated[0]} to {simulated[-1]}" if simulated else "none (the groups share no year)"
        raise ResultsError(f"{folder}: --year: {asked} is not a year every group simulated; allowed: {allowed}")
    return int(asked)


def final_rows(runs: pd.DataFrame, year: int) -> pd.DataFrame:
    return runs[runs["year"] == year]


def wilson_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Interval of a share of replications; sensible even at 0% or 100% with few seeds."""
    if n == 0:
        return (math.nan, math.nan)
    z = float(stats.norm.ppf(0.5 + level / 2))
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    # none or all met: the bound is exactly 0 or 1 (the formula gives it up to rounding, e.g. 6e-17)
    return (0.0 if successes == 0 else max(0.0, centre - half), 1.0 if successes == n else min(1.0, centre + half))


def _shortfall(target: Target, value: float) -> float:
    """How far a value is from meeting the target; positive = still short of it."""
    return value - target.value if target.op in ("<", "<=") else target.value - value


def target_scorecard(runs: pd.DataFrame, groups: list[str], targets: dict[str, Target], year: int) -> pd.DataFrame:
    """group, metric, op, target, mean, low, high, n, p_met (share of replications meeting the
    target) with its interval, and the gap to the target (positive = short of it) with its interval."""
    final = final_rows(runs, year)
    rows = []
    for group in groups:
        rows_of_group = final[final["group"] == group]
        for metric, target in targets.items():
            values = rows_of_group[metric].dropna().to_numpy(dtype=float)
            mean, low, high = level_interval(metric, values)
            met = int(target.met(values).sum())
            p_low, p_high = wilson_interval(met, values.size)
            gaps = sorted((_shortfall(target, low), _shortfall(target, high)))
            rows.append({"group": group, "metric": metric, "op": target.op, "target": target.value,
                         "mean": mean, "low": low, "high": high, "n": int(values.size),
                         "p_met": met / values.size if values.size else math.nan, "p_low": p_low, "p_high": p_high,
                         "gap": _shortfall(target, mean), "gap_low": gaps[0], "gap_high": gaps[1]})
    return pd.DataFrame(rows)


def mechanism_effects(runs: pd.DataFrame, reference: str, groups: list[str], metrics: list[str],
                      year: int) -> pd.DataFrame:
    """Each group minus the reference in `year`, paired by seed (common random numbers).

    verdict: 'better' or 'worse' when the 95% interval excludes zero and the metric has a
    direction, 'unclear' when it includes zero, '' when the metric has no better direction."""
    final = final_rows(runs, year)
    base = final.loc[final["group"] == reference, ["seed", *metrics]]
    rows = []
    for group in groups:
        if group == reference:
            continue
        paired = final.loc[final["group"] == group, ["seed", *metrics]].merge(base, on="seed",
                                                                             suffixes=("", "__reference"))
        for metric in metrics:
            differences = paired[metric] - paired[f"{metric}__reference"]
            defined = differences.notna()  # a pair with an undefined value on either side is left out whole
            diff, low, high = mean_interval(differences)
            reference_mean = float(paired.loc[defined, f"{metric}__reference"].mean()) if defined.any() else math.nan
            rows.append({"group": group, "reference": reference, "metric": metric, "diff": diff, "low": low,
                         "high": high, "n": int(defined.sum()), "reference_mean": reference_mean,
                         "verdict": _verdict(metric, low, high)})
    return pd.DataFrame(rows, columns=["group", "reference", "metric", "diff", "low", "high", "n",
                                       "reference_mean", "verdict"])


def _verdict(metric: str, low: float, high: float) -> str:
    lower = lower_is_better(metric)
    if lower is None:
        return ""
    if not (math.isfinite(low) and math.isfinite(high)) or low <= 0 <= high:
        return "unclear"
    improved = high < 0 if lower else low > 0
    return "better" if improved else "worse"


def trade_offs(runs: pd.DataFrame, groups: list[str], year: int) -> pd.DataFrame:
    """Burden, detection and formalism of each group (in `year`, mean and 95% interval), with the
    non-dominated set marked: no other group is at least as good on all three and better on one."""
    if not all(h.metric in runs.columns for h in HEADLINES.values()):
        return pd.DataFrame()
    final = final_rows(runs, year)
    rows = []
    for group in groups:
        row = {"group": group}
        for measure, headline in HEADLINES.items():
            values = final.loc[final["group"] == group, headline.metric]
            mean, low, high = level_interval(headline.metric, values)
            row.update({measure: mean, f"{measure}_low": low, f"{measure}_high": high})
        rows.append(row)
    table = pd.DataFrame(rows)
    table["non_dominated"] = non_dominated(table)
    return table


def non_dominated(table: pd.DataFrame) -> np.ndarray:
    """Pareto set over the headline measures' means, each oriented so that smaller is better."""
    oriented = np.column_stack([table[m].to_numpy(dtype=float) * (1 if h.lower_is_better else -1)
                                for m, h in HEADLINES.items()])
    keep = np.ones(len(table), dtype=bool)
    for i, point in enumerate(oriented):
        if not np.isfinite(point).all():
            keep[i] = False
            continue
        others = np.delete(oriented, i, axis=0)
        others = others[np.isfinite(others).all(axis=1)]
        keep[i] = not ((others <= point).all(axis=1) & (others < point).any(axis=1)).any()
    return keep


def time_paths(runs: pd.DataFrame, groups: list[str]) -> pd.DataFrame:
    """group, year, phase, measure, metric, mean, low, high, n: the headline measures year by year."""
    rows = []
    for group in groups:
        rows_of_group = runs[runs["group"] == group]
        for year, by_year in rows_of_group.groupby("year", sort=True):
            for measure, headline in HEADLINES.items():
                mean, low, high = level_interval(headline.metric, by_year[headline.metric])
                rows.append({"group": group, "year": int(year), "phase": str(by_year["phase"].iloc[0]),
                             "measure": measure, "metric": headline.metric, "mean": mean, "low": low, "high": high,
                             "n": int(by_year[headline.metric].notna().sum())})
    return pd.DataFrame(rows)


def calibration_check(runs: pd.DataFrame, reference: str, metrics: list[str]) -> pd.DataFrame:
    """The reference's last status-quo (burn-in) year against the documents' baseline figures."""
    burn_in = runs[(runs["group"] == reference) & (runs["phase"] == "burn_in")]
    rows = []
    if burn_in.empty:
        return pd.DataFrame(rows, columns=["metric", "document", "mean", "low", "high", "relative_gap"])
    status_quo = burn_in[burn_in["year"] == burn_in["year"].max()]
    for metric, document in document_baselines().items():
        if metric not in metrics:
            continue
        mean, low, high = level_interval(metric, status_quo[metric])
        rows.append({"metric": metric, "document": float(document), "mean": mean, "low": low, "high": high,
                     "relative_gap": (mean - document) / document if document else math.nan})
    return pd.DataFrame(rows, columns=["metric", "document", "mean", "low", "high", "relative_gap"])


def reform_phases() -> list[tuple[str, float, float]]:
    """(phase, start, end) in fractional calendar years, from the documents' phase plan (D1 8)."""
    phases = []
    for name, text in load_document_figures()["levers"]["phases"].items():
        match = PHASE_SPAN.match(str(text))
        if match:
            start_year, start_month, end_year, end_month = (int(g) for g in match.groups())
            phases.append((name, start_year + (start_month - 1) / 12, end_year + end_month / 12))
    return phases
