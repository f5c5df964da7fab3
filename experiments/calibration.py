"""Calibration of the free behavioural parameters to the documents' baseline figures only.

Method: iterative moment matching (a diagonal method of simulated moments). Each free parameter
is paired with the baseline figure it mainly drives; every round runs the baseline with the same
seeds (common random numbers) and moves each parameter by a damped secant step toward its
figure. The initial problem stock is set, each round, to the stock the status quo sustains, so
the baseline starts stationary. One figure is a response, not a level: material time grew 42%
while upper-level items grew 68% (2020 to 2023), an elasticity of ln 1.42 / ln 1.68. Each seed
runs again with a 2020 item load (`items_scale` / 1.68) and the pair gives the model's elasticity
of material hours to the inspections it realises (about 1.74 times as many, not exactly 1.68:
thinning to capacity is not proportional). The fit is then checked on fresh seeds and written,
with the fitted values, into scenarios/baseline.yaml and docs/calibration.md.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import numpy as np

from experiments.intervals import mean_interval
from model import BEHAVIOUR, LEVERS
from model.errors import UserError
from scenarios import SCENARIO_DIR, apply_overrides, load_document_figures, load_scenario

from .runner import RunSpec, replication_seeds, run_all

DOCS = Path(__file__).resolve().parent.parent / "docs"
CHECK_SEEDS = 20
FIT_YEARS = 2  # policy years per evaluation (after the burn-in); moments from the final one
STATIONARITY_PASSES = 2  # re-start the chosen fit from its own sustained stock
TOLERANCE = 0.015  # stop when figures are within 1.5% (root mean square) of the documents'
DAMPING = 0.5  # share of the secant step taken each round: parameters interact, full steps overshoot
CALIBRATION_ROOT_SEED = 7  # separate from the experiments' root, so the check uses fresh seeds


@dataclass(frozen=True)
class Moment:
    parameter: str  # dotted: behaviour.X or levers.X
    metric: str
    target: float
    band: tuple[float, float] | None  # the validity band the calibrated baseline must land in
    sign: int  # expected sign of d metric / d parameter
    source: str
    logit: bool = False  # parameter is an intercept on the logit scale


def moments() -> list[Moment]:
    """The pairs, with the document figures read from document_figures.yaml."""
    base = {k: v for k, v in load_document_figures()["baselines"].items()}
    value = lambda key: float(base[key]["value"])  # noqa: E731
    return [
        Moment("behaviour.items_scale", "inspections_per_unit_year", value("inspections_per_unit_year"), (20, 40), +1, "D1 1.3"),
        Moment("behaviour.topic_concentration", "duplicate_inspection_share", value("duplicate_inspection_share"), (0.28, 0.43), +1, "D1 1.3; D2 2.1.2"),
        Moment("behaviour.hosting_load", "hosting_time_share", value("hosting_time_share"), (0.15, 0.35), +1, "D1 6.4"),
        Moment("behaviour.ledger_share", "material_hours_per_week", value("material_hours_per_week"), (12, 24), +1, "D2 2.3.3"),
        Moment("behaviour.material_demand", MATERIAL_ELASTICITY,
               math.log1p(value("material_prep_time_growth_2020_2023")) / math.log1p(items_growth()), (0.45, 0.9), -1,
               "D1 1.3 (material time +42%) with D1 2.1 (items +68%), 2020 to 2023: ln 1.42 / ln 1.68"),
        Moment("behaviour.detection_base", "detection_rate_comprehensive", value("detection_rate_comprehensive"), (0.25, 0.40), +1, "D1 2.2"),
        Moment("behaviour.special_depth", "detection_rate_special", value("detection_rate_special"), (0.48, 0.68), +1, "D1 2.2"),
        Moment("behaviour.genuine_fix_cost", "surface_rectification_share", value("surface_rectification_share"), (0.12, 0.25), +1, "D1 2.3"),
        Moment("behaviour.quality_failure", RECTIFICATION_MEAN, value("rectification_acceptance_pass_rate"), None, -1,
               "D1 2.3, 9.2 (76% for both pass and completion: their mean is fitted)"),
        Moment("behaviour.problem_arrival", "policy_implementation_rate", value("policy_implementation_rate"), (0.70, 0.86), -1, "D1 9.1; D2 9.1"),
        Moment("levers.accountability_intensity", "accountability_rate", value("accountability_rate"), (0.01, 0.04), +1, "D2 2.3.2"),
        Moment("behaviour.genuine_fix_weeks", "rectification_days", value("rectification_days"), None, +1, "D1 2.3"),
        Moment("behaviour.falsification_cost", "falsification_rate", 0.28, None, -1, "D1 2.5 (28% of units provide materials selectively)"),
        Moment("behaviour.data_request_days", "data_acquisition_days", value("data_acquisition_days"), None, +1, "D1 2.4"),
        Moment("behaviour.task_processing_days", "task_completion_days", value("task_completion_days"), None, +1, "D2 8.2, 9.1"),
        Moment("behaviour.recognition_intercept", "grassroots_recognition", 1 - value("grassroots_view_fault_finding"), None, +1, "D1 2.5 (42% see fault-finding)", logit=True),
        Moment("behaviour.satisfaction_intercept", "public_satisfaction", 0.683, None, +1, "D2 2.4.3 (independent satisfaction 68.3%)", logit=True),
    ]


RECTIFICATION_MEAN = "mean of rectification_acceptance_pass_rate and rectification_completion_rate"
MATERIAL_ELASTICITY = "elasticity of material_hours_per_week to inspections_per_unit_year, against a 2020 item load"


def items_growth() -> float:
    return float(load_document_figures()["baselines"]["upper_level_items_growth"]["value"])

# Bands the issue sets without a calibrated parameter of their own.
EXTRA_CHECKS = {"rectification_acceptance_pass_rate": (0.76, (0.68, 0.84), "D1 2.3, 9.2"),
                "rectification_completion_rate": (0.76, (0.68, 0.84), "D1 2.3, 9.2"),
                "documented_true_gap": (None, (0.0, math.inf), "D2 2.4.3 (self-assessed 'excellent' vs 68.3%)")}


def _current(scenario, parameter: str) -> float:
    section, name = parameter.split(".")
    return scenario.behaviour[name] if section == "behaviour" else scenario.levers[name].final


def _bounds(parameter: str) -> tuple[float, float]:
    section, name = parameter.split(".")
    spec = (BEHAVIOUR if section == "behaviour" else LEVERS)[name]
    low = spec.low + (1e-6 if spec.low_open else 0.0)
    return low, spec.high if spec.high is not None else math.inf


def evaluate_figures(scenario, seeds, scale, workers) -> "dict[str, np.ndarray]":
    """The fitted figures per seed; each seed also runs with the 2020 item load (same seed), for
    material time's elasticity to the items since."""
    items_2020 = scenario.behaviour["items_scale"] / (1 + items_growth())
    earlier = with_parameters(scenario, {"behaviour.items_scale": items_2020})
    specs = [RunSpec(s, seed, scale=scale, years=FIT_YEARS) for s in (scenario, earlier) for seed in seeds]
    frame = run_all(specs, workers=workers, progress=False)
    final = frame[frame["year"] == frame["year"].max()]
    now, then = final.iloc[:len(seeds)], final.iloc[len(seeds):]
    observed = {column: now[column].to_numpy(dtype=float) for column in now.columns
                if column not in ("scenario", "seed", "scale", "year", "phase")}
    observed[RECTIFICATION_MEAN] = (observed["rectification_acceptance_pass_rate"]
                                    + observed["rectification_completion_rate"]) / 2
    ratio = {m: observed[m] / then[m].to_numpy(dtype=float)
             for m in ("material_hours_per_week", "inspections_per_unit_year")}
    observed[MATERIAL_ELASTICITY] = np.log(ratio["material_hours_per_week"]) / np.log(ratio["inspections_per_unit_year"])
    return observed


def _logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


def _step(m: Moment, value: float, observed: float, history: list[tuple[float, float]]) -> float:
    """Damped secant step toward the target, or a multiplicative step when no usable slope."""
    low, high = _bounds(m.parameter)
    if m.logit:
        return float(np.clip(value + DAMPING * (_logit(m.target) - _logit(observed)), low, high))
    if len(history) >= 2:
        (p0, y0), (p1, y1) = history[-2], history[-1]
        if p1 != p0:
            slope = (y1 - y0) / (p1 - p0)
            if slope * m.sign > 0:
                proposal = p1 + DAMPING * (m.target - y1) / slope
                return float(np.clip(proposal, max(low, 0.5 * p1), min(high, 2.0 * p1 if p1 > 0 else high)))
    ratio = (m.target / observed) if observed > 0 else 2.0
    return float(np.clip(value * ratio ** (DAMPING * m.sign), low, high))


class CalibrationError(UserError):
    """The fit did not reach the tolerance: nothing is written."""


def with_parameters(scenario, values: dict):
    """The scenario with fitted values: a lever is the status quo's value, so the burn-in runs it
    too (an override alone would start it at the policy period, after a burn-in at the file's value)."""
    scenario = apply_overrides(scenario, values, where="calibrate")
    levers = {name.split(".", 1)[1]: value for name, value in values.items() if name.startswith("levers.")}
    return replace(scenario, status_quo={**scenario.status_quo, **levers}) if levers else scenario


def distance_to_documents(pairs: list[Moment], observed: dict) -> float:
    """Root mean squared relative distance of the fitted figures from the documents'."""
    gaps = [((float(np.nanmean(observed[m.metric])) - m.target) / (abs(m.target) or 1.0)) ** 2 for m in pairs]
    return math.sqrt(sum(gaps) / len(pairs))


IDENTIFICATION_STEP = 0.2  # relative step (absolute on the logit scale) of the identification check


def identification(scenario, pairs: list[Moment], seeds: list[int], scale: str, workers) -> np.ndarray:
    """How each fitted figure moves with each fitted parameter at the fit: central differences with
    common random numbers, as elasticities (d figure / figure's document value per relative change
    of the parameter; per unit on the logit scale). Rows are figures, columns parameters, both in
    the moments' order: a dominant diagonal and a moderate condition number mean the documents'
    figures pin the parameters down one by one."""
    matrix = np.empty((len(pairs), len(pairs)))
    for j, m in enumerate(pairs):
        value = _current(scenario, m.parameter)
        step = IDENTIFICATION_STEP if m.logit else IDENTIFICATION_STEP * abs(value)
        low, high = _bounds(m.parameter)
        up, down = min(value + step, high), max(value - step, low)
        moved = [evaluate_figures(with_parameters(scenario, {m.parameter: x}), seeds, scale, workers)
                 for x in (up, down)]
        per_unit = 1.0 if m.logit else abs(value)
        for i, figure in enumerate(pairs):
            change = float(np.nanmean(moved[0][figure.metric]) - np.nanmean(moved[1][figure.metric]))
            matrix[i, j] = change / (up - down) * per_unit / (abs(figure.target) or 1.0)
    return matrix


def format_identification(pairs: list[Moment], matrix: np.ndarray) -> str:
    """Each parameter's effect on its own figure beside its largest effect on another one."""
    lines = ["| parameter | its figure | effect on it | largest effect on another figure |", "|---|---|---|---|"]
    for j, m in enumerate(pairs):
        others = [(abs(matrix[i, j]), i) for i in range(len(pairs)) if i != j]
        size, i = max(others)
        lines.append(f"| {m.parameter} | {m.metric} | {matrix[j, j]:+.2f} | {pairs[i].metric} {matrix[i, j]:+.2f} |")
    singular = np.linalg.svd(matrix, compute_uv=False)
    lines += ["", f"Condition number of the whole matrix: {singular[0] / singular[-1]:.0f} (singular values "
              f"{singular[-1]:.3f} to {singular[0]:.2f}). Effects are elasticities: the change of a figure, as a "
              f"share of its document value, per relative change of the parameter ({IDENTIFICATION_STEP:.0%} up and "
              "down, common random numbers; per unit for the two logit intercepts)."]
    return "\n".join(lines)


def calibrate(seeds: int = 4, scale: str = "province", iterations: int = 6, workers: int | None = None,
              write: bool = True, echo=print) -> dict:
    """Fit, check on fresh seeds, and write only a fit that reached the tolerance."""
    pairs = moments()
    scenario = load_scenario("baseline")
    fit_seeds = replication_seeds(seeds, root=CALIBRATION_ROOT_SEED)
    history: dict[str, list[tuple[float, float]]] = {m.parameter: [] for m in pairs}
    best = (math.inf, scenario, 0)
    for round_number in range(1, iterations + 1):
        observed = evaluate_figures(scenario, fit_seeds, scale, workers)
        distance = distance_to_documents(pairs, observed)
        updates = {}
        for m in pairs:
            value, mean = _current(scenario, m.parameter), float(np.nanmean(observed[m.metric]))
            history[m.parameter].append((value, mean))
            updates[m.parameter] = _step(m, value, mean, history[m.parameter])
        echo(f"round {round_number}: root mean squared relative distance {distance:.3f}")
        if distance < best[0]:
            best = (distance, scenario, round_number)
        if distance < TOLERANCE:
            break
        # Start the next round from the stock the status quo sustains, so the baseline is stationary.
        updates["behaviour.initial_problems"] = float(np.mean(observed["latent_problems_per_unit"]))
        scenario = with_parameters(scenario, updates)

    distance, scenario, kept_round = best
    for _ in range(STATIONARITY_PASSES):
        stock = evaluate_figures(scenario, fit_seeds, scale, workers)["latent_problems_per_unit"]
        scenario = with_parameters(scenario, {"behaviour.initial_problems": float(np.mean(stock))})
    fitted = {m.parameter: _current(scenario, m.parameter) for m in pairs}
    fitted["behaviour.initial_problems"] = scenario.behaviour["initial_problems"]
    check = evaluate_figures(scenario, replication_seeds(CHECK_SEEDS, root=CALIBRATION_ROOT_SEED + 1), scale, workers)
    table = fit_table(pairs, check)
    fit = {"rounds": round_number, "kept_round": kept_round, "distance": distance,
           "check_distance": distance_to_documents(pairs, check), "converged": distance < TOLERANCE,
           "identification": format_identification(pairs, identification(scenario, pairs, fit_seeds, scale, workers))}
    echo(format_fit(table))
    echo(fit["identification"])
    echo(f"kept round {kept_round} of {round_number}: distance {distance:.3f} on the fitting seeds (tolerance "
         f"{TOLERANCE}), {fit['check_distance']:.3f} on {CHECK_SEEDS} fresh seeds")
    if write:
        if not fit["converged"]:
            raise CalibrationError(f"calibrate: distance {distance:.3f} after {round_number} rounds is above the "
                                   f"tolerance {TOLERANCE}; nothing written; allowed: more --iterations or --seeds")
        write_baseline(fitted)
        write_report(table, fitted, seeds, scale, fit)
        echo(f"wrote {SCENARIO_DIR / 'baseline.yaml'} and {DOCS / 'calibration.md'}")
    elif not fit["converged"]:
        echo(f"warning: the fit did not reach the tolerance {TOLERANCE} in {round_number} rounds")
    return {"fitted": fitted, "table": table, **fit}


def fit_table(pairs: list[Moment], observed: dict) -> list[dict]:
    rows = []
    for m in pairs:
        mean, low, high = mean_interval(observed[m.metric])
        rows.append({"metric": m.metric, "document": m.target, "band": m.band, "mean": mean, "low": low,
                     "high": high, "parameter": m.parameter, "source": m.source,
                     "inside": None if m.band is None else m.band[0] <= mean <= m.band[1]})
    for metric, (figure, band, source) in EXTRA_CHECKS.items():
        mean, low, high = mean_interval(observed[metric])
        rows.append({"metric": metric, "document": figure, "band": band, "mean": mean, "low": low, "high": high,
                     "parameter": "(emergent)", "source": source, "inside": band[0] <= mean <= band[1]})
    return rows


def _fmt(x) -> str:
    if x is None:
        return "-"
    if isinstance(x, tuple):
        return f"{_fmt(x[0])}-{_fmt(x[1])}" if math.isfinite(x[1]) else f"> {_fmt(x[0])}"
    return f"{x:.3g}"


def format_fit(rows: list[dict]) -> str:
    lines = ["| figure | document | band | model mean | 95% interval | fitted by | source |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        mark = "" if r["inside"] in (None, True) else " (outside band)"
        lines.append(f"| {r['metric']} | {_fmt(r['document'])} | {_fmt(r['band'])} | {_fmt(r['mean'])}{mark} | "
                     f"{_fmt(r['low'])}-{_fmt(r['high'])} | {r['parameter']} | {r['source']} |")
    return "\n".join(lines)


ODD_BLOCK = re.compile(r"(<!-- calibration fit: begin[^\n]*\n)(.*?)(<!-- calibration fit: end -->)", re.S)
BLOCK = re.compile(r"(  # --- calibrated: begin[^\n]*\n)(.*?)(  # --- calibrated: end[^\n]*\n)", re.S)


def write_baseline(fitted: dict) -> None:
    """Replace the calibrated block of baseline.yaml and the fitted lever line; comments elsewhere stay."""
    path = SCENARIO_DIR / "baseline.yaml"
    text = path.read_text(encoding="utf-8")
    behaviour = "".join(f"  {name.split('.')[1]}: {value:.6g}\n" for name, value in fitted.items()
                        if name.startswith("behaviour."))
    text, count = BLOCK.subn(lambda match: match.group(1) + behaviour + match.group(3), text)
    if count != 1:
        raise RuntimeError(f"{path}: the calibrated block markers are missing")
    for name, value in fitted.items():
        if name.startswith("levers."):
            lever = name.split(".")[1]
            text, count = re.subn(rf"^(  {lever}: )[^ #\n]+", lambda m: f"{m.group(1)}{value:.6g}", text, flags=re.M)
            if count != 1:
                raise RuntimeError(f"{path}: no line for lever {lever}")
    path.write_text(text, encoding="utf-8")


def write_report(rows: list[dict], fitted: dict, seeds: int, scale: str, fit: dict) -> None:
    rounds = fit["rounds"]
    lines = ["# Calibration fit", "",
             f"Written by `python run.py calibrate` on {date.today().isoformat()}: {rounds} "
             f"round{'s' if rounds != 1 else ''} of moment "
             f"matching at {scale} scale with {seeds} seeds (common random numbers), then checked on "
             f"{CHECK_SEEDS} fresh seeds (year {FIT_YEARS} of the policy period after the status-quo burn-in, "
             "levers at the status quo throughout). Only the documents' baseline figures are used; no reform "
             f"effect is a target. Round {fit['kept_round']} was kept: root mean squared relative distance "
             f"from the documents' figures {fit['distance']:.3f} on the fitting seeds (tolerance {TOLERANCE}), "
             f"{fit['check_distance']:.3f} on the fresh seeds.", "",
             format_fit(rows), "", "Identification at the fit: how each fitted parameter moves its own figure and the "
             "others (the procedure pairs one parameter with one figure; large effects off the pair mean the fit "
             "rests on the figures jointly).", "", fit["identification"], "", "Fitted values:", ""]
    lines += [f"- `{name}` = {value:.6g}" for name, value in fitted.items()]
    DOCS.mkdir(exist_ok=True)
    (DOCS / "calibration.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    odd = DOCS / "ODD.md"
    if odd.is_file():
        text, count = ODD_BLOCK.subn(lambda m: m.group(1) + "\n".join(lines[2:]) + "\n" + m.group(3),
                                     odd.read_text(encoding="utf-8"))
        if count == 1:
            odd.write_text(text, encoding="utf-8")
