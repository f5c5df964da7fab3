"""Global sensitivity analysis of a stochastic model with SALib: Morris screening, Sobol' indices.

Each design point runs R replications (replication r has the same seed at every point) and the
indices are computed on the replicate means. Replication noise is measured, not assumed away: its
variance in a replicate mean (the within-point variance over R) is subtracted where it biases an
index (Sobol' ST and the variance the indices divide by; Morris sigma), and a Morris mu* that pure
noise would reach is flagged. Beside the indices go the share of the means' variance that is
replication noise, a convergence check (indices from the first half of the trajectories or base
samples against all of them) and flags for undefined, incomplete, negative, above-one, noise-level,
above-total (S1 > ST), unstable or unconverged indices, so weak estimates are visible rather than hidden.

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
NOISE_LIMIT = 0.2  # above this noise share an outcome's indices are imprecise: noise leaves their bias, not their spread


def replicate_matrix(final: pd.DataFrame, outcome: str, points: int, replications: int) -> np.ndarray:
    """points x replications array of one outcome (NaN where a run has no value)."""
    values = np.full((points, replications), np.nan)
    values[final["point"].to_numpy(int), final["replication"].to_numpy(int)] = final[outcome].to_numpy(float)
    return values


def row_means(values: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a point without any value has a NaN mean
        return np.nanmean(values, axis=1)


def mean_noise_variance(values: np.ndarray) -> float:
    """The variance a replicate mean owes to replication noise: the mean over points of (within-point
    variance / replications). NaN with one replication. Replications share seeds across points, but
    their noise hardly correlates between points (about 0.03 between the A and AB_j points of the
    shipped Sobol' study), so it is treated as independent from point to point."""
    counts = np.isfinite(values).sum(axis=1)
    usable = counts >= 2
    if not usable.any():
        return math.nan
    return float(np.mean(np.nanvar(values[usable], axis=1, ddof=1) / counts[usable]))


def noise_share(values: np.ndarray) -> float:
    """Share of the variance of the replicate means that is replication noise."""
    means = row_means(values)
    finite_means = means[np.isfinite(means)]
    noise = mean_noise_variance(values)
    if not math.isfinite(noise) or finite_means.size < 2:
        return math.nan
    spread = float(np.var(finite_means, ddof=1))
    if spread == 0:
        return math.nan
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


def morris_indices(problem: dict, points: np.ndarray, values: np.ndarray, settings: DesignSettings,
                   seed: int) -> list[dict]:
    """mu* and sigma per factor with trajectory-bootstrap intervals; half = first half of trajectories.

    values: points x replications. An elementary effect of replicate means carries noise of standard
    deviation sqrt(2 v) / delta (v: the means' noise variance, delta: the grid step as a share of the
    range), so sigma has that noise's variance taken out, and a mu* that an inert factor would reach
    by noise alone (its mean plus two standard errors over the trajectories) is flagged."""
    size = block_size(settings, problem["num_vars"])
    means, whole = row_means(values), np.isfinite(values).all(axis=1)
    trajectories = len(means) // size
    outputs = means.reshape(trajectories, size)
    inputs = points.reshape(trajectories, size, problem["num_vars"])
    complete = np.flatnonzero(np.isfinite(outputs).all(axis=1))
    effects = np.array([_trajectory_effects(problem, inputs[t], outputs[t], settings.levels) for t in complete])
    if not len(complete):  # no trajectory has the outcome throughout: every index is undefined
        effects = np.full((1, problem["num_vars"]), np.nan)
    noise_variance = mean_noise_variance(values)
    effect_noise = (math.sqrt(2 * noise_variance) / _grid_step(settings.levels) if math.isfinite(noise_variance)
                    else 0.0)

    def statistics(sample: np.ndarray) -> dict[str, np.ndarray]:
        found = _morris_statistics(sample)
        found["sigma"] = np.sqrt(np.maximum(found["sigma"] ** 2 - effect_noise ** 2, 0.0))
        return found

    full = statistics(effects)
    half = statistics(effects[:np.count_nonzero(complete < trajectories // 2)])
    rng = np.random.default_rng(seed)
    resampled = {key: [] for key in full}
    for _ in range(0, RESAMPLES, 100):  # chunks keep the resampled effects small
        draw = effects[rng.integers(0, len(effects), size=(100, len(effects)))]
        for key, value in statistics(draw).items():
            resampled[key].append(value)
    largest = np.nanmax(full["mu_star"]) if np.isfinite(full["mu_star"]).any() else math.nan
    # |N(0, s)| has mean s sqrt(2 / pi) and standard deviation s sqrt(1 - 2 / pi)
    noise_floor = effect_noise * (math.sqrt(2 / math.pi) + 2 * math.sqrt((1 - 2 / math.pi) / max(len(complete), 1)))
    short = bool((~whole.reshape(trajectories, size)[complete]).any())
    rows = []
    for key in full:
        low, high = _interval(np.concatenate(resampled[key]))
        rows += _rows("morris", key, problem["names"], full[key], low, high, half[key], len(complete),
                      trajectories, scale=largest, short=short, noise_floor=noise_floor if key == "mu_star" else 0.0)
    return rows


def _grid_step(levels: int) -> float:
    """SALib's Morris step as a share of each factor's range (elementary effects are divided by it)."""
    return levels / (2 * (levels - 1))


def sobol_indices(problem: dict, points: np.ndarray, values: np.ndarray, settings: DesignSettings,
                  seed: int) -> list[dict]:
    """S1 and ST (and S2) with bootstrap intervals from SALib, with the replication noise taken out
    (_without_noise); half = first half of base samples. values: points x replications."""
    names, dimension, second_order = problem["names"], problem["num_vars"], settings.second_order
    size = block_size(settings, dimension)
    means, whole = row_means(values), np.isfinite(values).all(axis=1)
    samples = len(means) // size
    blocks = means.reshape(samples, size)
    complete = np.isfinite(blocks).all(axis=1)
    noise_variance = mean_noise_variance(values)
    full = _without_noise(_sobol(problem, blocks[complete].ravel(), settings, RESAMPLES, seed), blocks[complete],
                          noise_variance)
    first_half = complete & (np.arange(samples) < samples // 2)
    half = _without_noise(_sobol(problem, blocks[first_half].ravel(), settings, 2, seed), blocks[first_half],
                          noise_variance)
    used = int(complete.sum())
    short = bool((~whole.reshape(samples, size)[complete]).any())
    rows = []
    # a factor cannot explain more alone than with its interactions: S1 above ST is estimation error
    with np.errstate(invalid="ignore"):
        above_total = np.asarray(full["S1"]) - np.asarray(full["ST"]) > TOLERANCE
    for key in ("S1", "ST"):
        low, high = _interval(full[f"{key}_conf_all"])
        rows += _rows("sobol", key, names, full[key], low, high, half[key], used, samples, scale=1.0, signed=True,
                      short=short, above_total=above_total if key == "S1" else None)
    if second_order:
        pairs = [(j, k) for j in range(dimension) for k in range(j + 1, dimension)]
        estimate = np.array([full["S2"][j, k] for j, k in pairs])
        spread = np.array([full["S2_conf"][j, k] for j, k in pairs])
        rows += _rows("sobol", "S2", [f"{names[j]}|{names[k]}" for j, k in pairs], estimate, estimate - spread,
                      estimate + spread, np.array([half["S2"][j, k] for j, k in pairs]), used, samples, scale=1.0,
                      signed=True, short=short)
    return rows


def _without_noise(result: dict, blocks: np.ndarray, noise_variance: float) -> dict:
    """SALib's indices with replication noise taken out. SALib divides by V, the variance of the A
    and B outputs (each block's first and last point), which holds the means' noise variance v; ST's
    numerator, half the mean squared change from A to AB_j, holds v too (two independent noises,
    halved); S1's and S2's numerators hold none (products of independent noises average to zero). So
    S1 and S2 are scaled by V / (V - v) and ST becomes (ST V - v) / (V - v). The bootstrap resamples
    get the same map with the full sample's V and v. An outcome whose V is all noise has no indices."""
    if not math.isfinite(noise_variance) or noise_variance <= 0 or not len(blocks):
        return result
    variance = float(np.var(np.r_[blocks[:, 0], blocks[:, -1]]))
    signal = variance - noise_variance
    if not signal > 0:
        return {key: np.full_like(np.asarray(value, dtype=float), np.nan) for key, value in result.items()}
    out, gain = dict(result), variance / signal
    for key in ("S1", "S1_conf_all", "S2", "S2_conf"):
        if key in out:
            out[key] = np.asarray(out[key]) * gain
    for key in ("ST", "ST_conf_all"):
        out[key] = (np.asarray(out[key]) * variance - noise_variance) / signal
    return out


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
          scale: float, signed: bool = False, short: bool = False, noise_floor: float = 0.0,
          above_total: np.ndarray | None = None) -> list[dict]:
    """Index rows with their flags, each with its half-sample estimate for the convergence table.
    short: some point used has fewer than all its replications; above_total: per factor, S1 exceeds
    ST by more than the tolerance."""
    rows = []
    for position, factor in enumerate(factors):
        value, value_low, value_high, value_half = (float(np.asarray(a)[position]) for a in (estimate, low, high, half))
        flag = _flag(value, value_low, value_high, value_half, scale, signed, used < planned or short, noise_floor)
        if above_total is not None and above_total[position]:
            flag = ",".join(filter(None, (flag, "above_total")))
        rows.append({"method": method, "factor": factor, "index": index, "estimate": value, "low": value_low,
                     "high": value_high, "n": used, "flag": flag, "estimate_half": value_half})
    return rows


def _flag(estimate: float, low: float, high: float, half: float, scale: float, signed: bool, incomplete: bool,
          noise_floor: float = 0.0) -> str:
    """'' or a comma-separated list: undefined, incomplete, negative, above_one, noise_level, unstable,
    not_converged. A share of variance is flagged negative or above one only when its whole interval is:
    an index near 0 or 1 whose interval spans the bound is the estimate's noise, not the estimator's
    fault. noise_level: a Morris mu* no larger than replication noise alone would give."""
    if not math.isfinite(estimate):
        return "undefined"
    flags = ["incomplete"] if incomplete else []
    if signed and high < 0:
        flags.append("negative")
    if signed and low > 1:  # a share of variance cannot exceed 1: the estimator is off, not the factor
        flags.append("above_one")
    if noise_floor > 0 and estimate <= noise_floor:
        flags.append("noise_level")
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
        noise.append({"outcome": outcome, "noise_share": noise_share(values), "replications": replications})
        estimator = ESTIMATORS[method]
        rows = estimator(experiment.problem, experiment.points, values, experiment.design, seed)
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
