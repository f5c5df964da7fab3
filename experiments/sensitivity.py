"""Global sensitivity analysis of a stochastic model with SALib: Morris screening, Sobol' indices.

Each design point runs R replications with common random numbers (replication r has the same
seed at every point) and the indices are computed on the replicate means. Beside them go the
share of the means' variance that is replication noise, a convergence check (indices from the
first half of the trajectories or base samples against all of them) and flags for negative,
above-one, unstable or unconverged indices, so weak estimates are visible rather than hidden.

Tables (tidy, in the results folder's tables/):
    sensitivity_indices      method, outcome, factor, index, estimate, low, high, n, flag
    sensitivity_noise        outcome, noise_share, replications
    sensitivity_convergence  method, outcome, factor, index, estimate_half, estimate_full, abs_change
"""
from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from SALib.analyze import morris as salib_morris
from SALib.analyze import sobol as salib_sobol

from .designs import DesignSettings, block_size, salib_problem
from .evaluators import MODEL, Evaluator
from .spec import Experiment, load_experiment
from .sweep import Results, default_folder, final_outcomes, finish_folder, run_experiment

RESAMPLES = 1000   # bootstrap resamples of trajectories (Morris) or base samples (Sobol')
LEVEL = 0.95       # bootstrap interval level
TOLERANCE = 0.1    # on the index's scale: Sobol' indices as they are, Morris ones over the outcome's largest mu*
INDEX_COLUMNS = ["method", "outcome", "factor", "index", "estimate", "low", "high", "n", "flag"]
NOISE_COLUMNS = ["outcome", "noise_share", "replications"]
CONVERGENCE_COLUMNS = ["method", "outcome", "factor", "index", "estimate_half", "estimate_full", "abs_change"]
NO_EFFECT = 1e-12  # an index (or mu*) this small is floating-point rounding, not an effect
NOISE_LIMIT = 0.2  # above this noise share an outcome's indices mostly describe replication noise


def replicate_matrix(final: pd.DataFrame, outcome: str, points: int, replications: int) -> np.ndarray:
    """points x replications array of one outcome (NaN where a run has no value)."""
    values = np.full((points, replications), np.nan)
    values[final["point"].to_numpy(int), final["replication"].to_numpy(int)] = final[outcome].to_numpy(float)
    return values


def row_means(values: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a point without any value has a NaN mean
        return np.nanmean(values, axis=1)


def noise_share(values: np.ndarray) -> float:
    """Share of the variance of the replicate means that is replication noise: the mean over points
    of (within-point variance / replications) over the variance of the means. NaN with one
    replication; an upper bound under common random numbers, which cancel part of the noise."""
    counts = np.isfinite(values).sum(axis=1)
    usable = counts >= 2
    means = row_means(values)
    finite_means = means[np.isfinite(means)]
    if not usable.any() or finite_means.size < 2:
        return math.nan
    spread = float(np.var(finite_means, ddof=1))
    if spread == 0:
        return math.nan
    noise = float(np.mean(np.nanvar(values[usable], axis=1, ddof=1) / counts[usable]))
    return min(noise / spread, 1.0)


def _interval(resampled: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    tail = 100 * (1 - LEVEL) / 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanpercentile(resampled, tail, axis=0), np.nanpercentile(resampled, 100 - tail, axis=0)


def _trajectory_effects(problem: dict, inputs: np.ndarray, outputs: np.ndarray, levels: int) -> np.ndarray:
    """Elementary effects of one Morris trajectory, from SALib (its mu over a single trajectory)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # sigma of one trajectory is undefined; unused
        return np.asarray(salib_morris.analyze(salib_problem(problem), inputs, outputs, num_resamples=2,
                                               num_levels=levels, seed=1)["mu"], dtype=float)


def _morris_statistics(effects: np.ndarray) -> dict[str, np.ndarray]:
    """mu* and sigma as SALib defines them, over the first axis of elementary effects."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return {"mu_star": np.abs(effects).mean(axis=-2), "sigma": effects.std(axis=-2, ddof=1)}


def morris_indices(problem: dict, points: np.ndarray, means: np.ndarray, settings: DesignSettings,
                   seed: int) -> list[dict]:
    """mu* and sigma per factor with trajectory-bootstrap intervals; half = first half of trajectories."""
    size = block_size(settings, problem["num_vars"])
    trajectories = len(means) // size
    outputs = means.reshape(trajectories, size)
    inputs = points.reshape(trajectories, size, problem["num_vars"])
    complete = np.flatnonzero(np.isfinite(outputs).all(axis=1))
    effects = np.array([_trajectory_effects(problem, inputs[t], outputs[t], settings.levels) for t in complete])
    if not len(complete):  # no trajectory has the outcome throughout: every index is undefined
        effects = np.full((1, problem["num_vars"]), np.nan)
    full = _morris_statistics(effects)
    half = _morris_statistics(effects[:np.count_nonzero(complete < trajectories // 2)])
    rng = np.random.default_rng(seed)
    resampled = {key: [] for key in full}
    for _ in range(0, RESAMPLES, 100):  # chunks keep the resampled effects small
        draw = effects[rng.integers(0, len(effects), size=(100, len(effects)))]
        for key, value in _morris_statistics(draw).items():
            resampled[key].append(value)
    largest = np.nanmax(full["mu_star"]) if np.isfinite(full["mu_star"]).any() else math.nan
    rows = []
    for key in full:
        low, high = _interval(np.concatenate(resampled[key]))
        rows += _rows("morris", key, problem["names"], full[key], low, high, half[key], len(complete),
                      trajectories, scale=largest)
    return rows


def sobol_indices(problem: dict, points: np.ndarray, means: np.ndarray, settings: DesignSettings,
                  seed: int) -> list[dict]:
    """S1 and ST (and S2) with bootstrap intervals from SALib; half = first half of base samples."""
    names, dimension, second_order = problem["names"], problem["num_vars"], settings.second_order
    size = block_size(settings, dimension)
    samples = len(means) // size
    blocks = means.reshape(samples, size)
    complete = np.isfinite(blocks).all(axis=1)
    full = _sobol(problem, blocks[complete].ravel(), settings, RESAMPLES, seed)
    first_half = complete & (np.arange(samples) < samples // 2)
    half = _sobol(problem, blocks[first_half].ravel(), settings, 2, seed)
    used = int(complete.sum())
    rows = []
    for key in ("S1", "ST"):
        low, high = _interval(full[f"{key}_conf_all"])
        rows += _rows("sobol", key, names, full[key], low, high, half[key], used, samples, scale=1.0, signed=True)
    if second_order:
        pairs = [(j, k) for j in range(dimension) for k in range(j + 1, dimension)]
        estimate = np.array([full["S2"][j, k] for j, k in pairs])
        spread = np.array([full["S2_conf"][j, k] for j, k in pairs])
        rows += _rows("sobol", "S2", [f"{names[j]}|{names[k]}" for j, k in pairs], estimate, estimate - spread,
                      estimate + spread, np.array([half["S2"][j, k] for j, k in pairs]), used, samples, scale=1.0,
                      signed=True)
    return rows


def _sobol(problem: dict, outputs: np.ndarray, settings: DesignSettings, resamples: int, seed: int) -> dict:
    """SALib's Sobol' analysis, or NaN indices when the outcome is constant or too short to estimate."""
    dimension = problem["num_vars"]
    if outputs.size < 2 * block_size(settings, dimension) or np.ptp(outputs) == 0:
        return {"S1": np.full(dimension, np.nan), "ST": np.full(dimension, np.nan),
                "S1_conf_all": np.full((2, dimension), np.nan), "ST_conf_all": np.full((2, dimension), np.nan),
                "S2": np.full((dimension, dimension), np.nan), "S2_conf": np.full((dimension, dimension), np.nan)}
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return salib_sobol.analyze(salib_problem(problem), outputs, calc_second_order=settings.second_order,
                                   num_resamples=resamples, conf_level=LEVEL, keep_resamples=True, seed=seed)


def _rows(method: str, index: str, factors: list[str], estimate, low, high, half, used: int, planned: int,
          scale: float, signed: bool = False) -> list[dict]:
    """Index rows with their flags, each with its half-sample estimate for the convergence table."""
    rows = []
    for position, factor in enumerate(factors):
        value, value_low, value_high, value_half = (float(np.asarray(a)[position]) for a in (estimate, low, high, half))
        rows.append({"method": method, "factor": factor, "index": index, "estimate": value, "low": value_low,
                     "high": value_high, "n": used,
                     "flag": _flag(value, value_low, value_high, value_half, scale, signed, used < planned),
                     "estimate_half": value_half})
    return rows


def _flag(estimate: float, low: float, high: float, half: float, scale: float, signed: bool, incomplete: bool) -> str:
    """'' or a comma-separated list: undefined, incomplete, negative, above_one, unstable, not_converged."""
    if not math.isfinite(estimate):
        return "undefined"
    flags = ["incomplete"] if incomplete else []
    if signed and estimate < 0:
        flags.append("negative")
    if signed and estimate > 1:  # a share of variance cannot exceed 1: the estimator is off, not the factor
        flags.append("above_one")
    if math.isfinite(scale) and scale > 0:
        if not (math.isfinite(low) and math.isfinite(high)) or (high - low) / 2 > TOLERANCE * scale:
            flags.append("unstable")
        if not math.isfinite(half) or abs(estimate - half) > TOLERANCE * scale:
            flags.append("not_converged")
    return ",".join(flags)


ESTIMATORS = {"morris": morris_indices, "sobol": sobol_indices}  # one per sensitivity design, same shape


def analyse(experiment: Experiment, final: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The three sensitivity tables from each run's final-year outcomes."""
    method, points, replications = experiment.design.type, len(experiment.points), experiment.replications
    seed = experiment.seed + 1  # bootstrap stream; SALib treats seed 0 as "no seed"
    indices, noise = [], []
    for outcome in experiment.outcomes:
        values = replicate_matrix(final, outcome, points, replications)
        means = row_means(values)
        noise.append({"outcome": outcome, "noise_share": noise_share(values), "replications": replications})
        estimator = ESTIMATORS[method]
        rows = estimator(experiment.problem, experiment.points, means, experiment.design, seed)
        indices += [{"outcome": outcome, **row} for row in rows]
    table = pd.DataFrame(indices, columns=[*INDEX_COLUMNS, "estimate_half"])
    convergence = table.rename(columns={"estimate": "estimate_full"})
    convergence["abs_change"] = (convergence["estimate_full"] - convergence["estimate_half"]).abs()
    return {"sensitivity_indices": table[INDEX_COLUMNS].astype({"n": "int64"}),
            "sensitivity_noise": pd.DataFrame(noise, columns=NOISE_COLUMNS).astype({"replications": "int64"}),
            "sensitivity_convergence": convergence[CONVERGENCE_COLUMNS]}


def run_sensitivity(experiment: str | Path, *, method: str | None = None, n: int | None = None,
                    factors: list[str] | None = None, out: str | Path | None = None, workers: int | None = None,
                    scheduler: str | None = None, resume: bool = False, scale: str | None = None,
                    years: int | None = None, replications: int | None = None, progress: bool = True,
                    evaluator: Evaluator = MODEL) -> Results:
    """Run a Morris or Sobol' study (the CLI's `sensitivity`) and return its tables.

    method and n override the file's design; factors keeps only some of its factors (e.g. the
    survivors of a Morris screening, for a Sobol' study over the same ranges)."""
    chosen = load_experiment(experiment, evaluator, scale=scale, years=years, replications=replications,
                             method=method, n=n, factors=factors, sensitivity=True)
    folder = Path(out) if out is not None else default_folder(chosen)
    manifest = run_experiment(chosen, "sensitivity", folder, {"method": chosen.design.type}, workers, scheduler,
                              resume, progress)
    tables = analyse(chosen, final_outcomes(folder, chosen.outcomes))
    return Results(folder, finish_folder(folder, manifest, tables), tables)
