"""Experimental designs: which factor values to run.

Every design is one function with the same shape, as in SALib: `design(problem, settings) ->
array (points x factors)` in the factors' own units. `problem` is SALib's problem dict
(num_vars, names, bounds, dists) plus, for the grid designs, `values` (each factor's levels) and
`base` (each factor's value in the base scenario). The sampling designs call SALib, so the
analysis in experiments.sensitivity can pair each design with its estimator.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from SALib.sample import latin as salib_latin
from SALib.sample import morris as salib_morris
from SALib.sample import sobol as salib_sobol


@dataclass(frozen=True)
class DesignSettings:
    """A design's name and options; fields a design does not use stay at their defaults."""

    type: str
    n: int | None = None            # latin: points; morris: trajectories; sobol: base samples
    levels: int = 4                 # morris: grid levels
    second_order: bool = False      # sobol: also estimate S2 (needs N (2D + 2) runs, not N (D + 2))
    seed: int = 0                   # sampling seed of latin, morris and sobol
    points: np.ndarray | None = None  # csv: the points read from the file
    header: tuple[str, ...] = ()    # csv: the factor names in its header
    path: str | None = None         # csv: the file they came from

    def describe(self) -> dict:
        """The settings as a manifest entry (only the options this design uses)."""
        used = {"type": self.type, **{key: getattr(self, key) for key in OPTIONS[self.type]}}
        if self.type in SAMPLED:
            used["seed"] = self.seed
        return used


def salib_problem(problem: dict) -> dict:
    """A copy with only SALib's keys (SALib adds keys to the dict it is given)."""
    keys = ("num_vars", "names", "bounds", "dists")
    return {key: list(problem[key]) if isinstance(problem[key], list) else problem[key]
            for key in keys if key in problem}


def grid(problem: dict, settings: DesignSettings) -> np.ndarray:
    """Full factorial: every combination of every factor's levels."""
    return np.array(list(itertools.product(*problem["values"])), dtype=float)


def one_at_a_time(problem: dict, settings: DesignSettings) -> np.ndarray:
    """The base scenario (point 0), then each factor through its levels in turn, the others at
    their base-scenario values."""
    rows = [list(problem["base"])]
    for column, levels in enumerate(problem["values"]):
        for value in levels:
            row = list(problem["base"])
            row[column] = value
            rows.append(row)
    return np.array(rows, dtype=float)


def latin(problem: dict, settings: DesignSettings) -> np.ndarray:
    """Latin hypercube of n points over the factors' ranges or distributions."""
    return salib_latin.sample(salib_problem(problem), settings.n, seed=settings.seed)


def csv(problem: dict, settings: DesignSettings) -> np.ndarray:
    """The points of a CSV file, one row each (read and checked when the experiment loads)."""
    return np.array(settings.points, dtype=float)


def morris(problem: dict, settings: DesignSettings) -> np.ndarray:
    """Morris trajectories: n trajectories of num_vars + 1 points on a `levels`-level grid."""
    return salib_morris.sample(salib_problem(problem), settings.n, num_levels=settings.levels, seed=settings.seed)


def sobol(problem: dict, settings: DesignSettings) -> np.ndarray:
    """Saltelli's extension of a scrambled Sobol' sequence: n blocks of num_vars + 2 points
    (2 num_vars + 2 with second order); block i only uses base sample i."""
    return salib_sobol.sample(salib_problem(problem), settings.n, calc_second_order=settings.second_order,
                              seed=settings.seed)


DESIGNS = {"grid": grid, "one_at_a_time": one_at_a_time, "latin": latin, "csv": csv, "morris": morris,
           "sobol": sobol}
OPTIONS = {"grid": (), "one_at_a_time": (), "latin": ("n",), "csv": ("path",), "morris": ("n", "levels"),
           "sobol": ("n", "second_order")}
SAMPLED = ("latin", "morris", "sobol")      # factors need ranges or distributions
LEVELLED = ("grid", "one_at_a_time")        # factors need lists of values (or low, high, levels)
SENSITIVITY_METHODS = ("morris", "sobol")


def block_size(settings: DesignSettings, num_vars: int) -> int:
    """Points per Morris trajectory or Sobol block: the unit the estimators resample."""
    if settings.type == "morris":
        return num_vars + 1
    return 2 * num_vars + 2 if settings.second_order else num_vars + 2


def design_points(problem: dict, settings: DesignSettings) -> int:
    """How many points sample() will make, counted before making them (a grid can be astronomical)."""
    if settings.type == "grid":
        return math.prod(len(values) for values in problem["values"])
    if settings.type == "one_at_a_time":
        return 1 + sum(len(values) for values in problem["values"])
    if settings.type == "csv":
        return len(settings.points)
    if settings.type == "latin":
        return settings.n
    return settings.n * block_size(settings, problem["num_vars"])


def sample(problem: dict, settings: DesignSettings) -> np.ndarray:
    return DESIGNS[settings.type](problem, settings)
