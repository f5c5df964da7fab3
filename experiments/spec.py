"""Experiment files: the base scenario, the factors and their ranges, the design, replications,
scale, years and outcomes of interest (the format is in docs/EXPERIMENTS.md).

load_experiment validates the whole file, command-line overrides included, and every design
point through the evaluator (for the model: scenarios.apply_overrides), so a bad file fails
with one line naming file and field before anything is written.
"""
from __future__ import annotations

import csv as csv_module
import math
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from model import BEHAVIOUR, SCALES, Scenario
from model.errors import UserError
from scenarios import ScenarioError, list_scenarios, load_scenario
from scenarios.loader import SETTINGS, read_yaml_mapping, resolve_named_file, resolve_path

from .designs import DESIGNS, LEVELLED, OPTIONS, SENSITIVITY_METHODS, DesignSettings, design_points, sample
from .runner import ROOT_SEED

EXPERIMENT_DIR = Path(__file__).resolve().parent
TOP_LEVEL_KEYS = ("name", "description", "scenario", "scale", "years", "replications", "seed", "factors", "design",
                  "outcomes")
DESIGN_KEYS = ("type", "n", "levels", "second_order", "path")
# distribution -> the fields it needs, in the order SALib takes them as bounds
DISTRIBUTIONS = {"uniform": ("low", "high"), "loguniform": ("low", "high"), "triangular": ("low", "high", "mode"),
                 "truncated_normal": ("low", "high", "mean", "sd"), "lognormal": ("mean", "sd")}
SALIB_DISTS = {"uniform": "unif", "loguniform": "logunif", "triangular": "triang", "truncated_normal": "truncnorm",
               "lognormal": "lognorm"}
FACTOR_KEYS = ("low", "high", "relative", "levels", "values", "distribution", "mode", "mean", "sd")
YEARS = SETTINGS["years"]  # the range a scenario file allows
DEFAULT_REPLICATIONS = 5
DEFAULT_N = {"latin": 64, "morris": 20, "sobol": 256}
MINIMUM_N = {"latin": 2, "morris": 4, "sobol": 16}  # morris and sobol: halves still estimate (convergence)
# Sizes a study can hold: beyond them the design alone would fill the memory before a run starts.
MAXIMUM_N = 2 ** 16
MAXIMUM_LEVELS = 1000
MAXIMUM_REPLICATIONS = 10_000
MAXIMUM_RUNS = 10_000_000


def plain_name(name: str) -> bool:
    """Letters of any script (研究一, अध्ययन with its vowel signs), digits, _ . -, starting with a
    letter, digit or _: it names the results folder, so not "." or ".." and no separator or newline."""
    return bool(name) and (name[0] == "_" or unicodedata.category(name[0])[0] in "LN") and all(
        character in "_.-" or unicodedata.category(character)[0] in "LMN" for character in name)


class ExperimentError(UserError):
    """A mistake in an experiment file or its command-line overrides; the message is one line."""


def _fail(where: str, field_name: str, problem: str, allowed: str):
    raise ExperimentError(f"{where}: {field_name}: {problem}; allowed: {allowed}")


@dataclass(frozen=True)
class Factor:
    """One factor: listed values (grid designs) or a distribution with its parameters (sampled
    designs); `relative` records a uniform range given as +-share of the base scenario's value."""

    name: str
    values: tuple[float, ...] | None = None
    distribution: str | None = None
    parameters: tuple[tuple[str, float], ...] = ()
    relative: float | None = None

    @property
    def settings(self) -> dict[str, float]:
        return dict(self.parameters)

    def salib(self) -> tuple[str, list[float]]:
        """SALib's distribution name and bounds list for this factor."""
        if self.values is not None:
            return "unif", [min(self.values), max(self.values)]
        settings = self.settings
        if self.distribution == "triangular":
            low, high = settings["low"], settings["high"]
            return "triang", [low, high, (settings["mode"] - low) / (high - low)]
        return SALIB_DISTS[self.distribution], [settings[key] for key in DISTRIBUTIONS[self.distribution]]

    def extremes(self) -> list[float]:
        """The values at the edge of the factor's range, checked against the parameter's bounds."""
        if self.values is not None:
            return [min(self.values), max(self.values)]
        settings = self.settings
        return [settings[key] for key in ("low", "high") if key in settings]

    def describe(self) -> dict:
        if self.values is not None:
            return {"name": self.name, "values": list(self.values)}
        relative = {} if self.relative is None else {"relative": self.relative}
        return {"name": self.name, "distribution": self.distribution, **self.settings, **relative}


@dataclass(frozen=True)
class Experiment:
    """A validated experiment: everything a sweep or a sensitivity study needs."""

    name: str
    source: str
    text: str
    description: str
    scenario: Scenario
    scale: str
    years: int
    replications: int
    seed: int
    factors: tuple[Factor, ...]
    design: DesignSettings
    outcomes: tuple[str, ...]
    evaluator: Any = field(compare=False)
    problem: dict = field(compare=False)
    points: np.ndarray = field(compare=False, repr=False)  # design points x factors, as sampled

    @property
    def factor_names(self) -> list[str]:
        return [factor.name for factor in self.factors]


def list_experiments() -> list[str]:
    return sorted(path.stem for path in EXPERIMENT_DIR.glob("*.yaml"))


def resolve_experiment(name_or_path: str | Path) -> Path:
    return resolve_named_file(name_or_path, EXPERIMENT_DIR, "experiment", list_experiments(), ExperimentError)


def _read(path: Path) -> tuple[dict, str]:
    data, text = read_yaml_mapping(path, ExperimentError, TOP_LEVEL_KEYS)
    unknown = sorted(set(data) - set(TOP_LEVEL_KEYS))
    if unknown:
        _fail(str(path), unknown[0], "unknown field", ", ".join(TOP_LEVEL_KEYS))
    return data, text


def _number(where: str, field_name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        _fail(where, field_name, f"{value!r} is not a number", "a finite number")
    return float(value)


def _whole(where: str, field_name: str, value: Any, low: int, high: int | None = None) -> int:
    allowed = f"a whole number >= {low}" if high is None else f"a whole number in [{low}, {high}]"
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        _fail(where, field_name, f"{value!r} is not {allowed}", allowed)
    return value


def _scenario(where: str, value: Any, folder: Path) -> Scenario:
    if not isinstance(value, str) or not value:
        _fail(where, "scenario", f"{value!r} is not a scenario name or file", "e.g. baseline or a path to a .yaml file")
    local = folder / value
    try:
        path = resolve_path(local if local.suffix in (".yaml", ".yml") and local.is_file() else value)
    except ScenarioError:
        _fail(where, "scenario", f"{value!r} is not a scenario name or file",
              f"a path to a .yaml file (relative to the experiment file) or one of {', '.join(list_scenarios())}")
    return load_scenario(path)


def _refuse(where: str, field_name: str, raw: dict, keys: tuple[str, ...], problem: str, allowed: str) -> None:
    """The first of `keys` the factor has is an error: this design cannot use it."""
    for key in keys:
        if key in raw:
            _fail(where, f"{field_name}.{key}", problem, allowed)


def _levelled_factor(where: str, name: str, raw: dict, design: str, base: Callable[[str], float]) -> Factor:
    field_name = f"factors.{name}"
    _refuse(where, field_name, raw, ("distribution", "relative"),
            f"a {design} design runs listed values, not a distribution", "values: [...], or low, high and levels")
    if "values" in raw:
        if set(raw) != {"values"}:
            _fail(where, field_name, "values comes with other fields", "values alone, or low, high and levels")
        values = raw["values"]
        if not isinstance(values, list) or not values:
            _fail(where, f"{field_name}.values", f"{values!r} is not a non-empty list", "a list of numbers")
        numbers = tuple(_number(where, f"{field_name}.values[{i}]", v) for i, v in enumerate(values))
        if len(set(numbers)) != len(numbers):
            _fail(where, f"{field_name}.values", "repeats a value", "distinct numbers")
        return Factor(name, values=numbers)
    if set(raw) != {"low", "high", "levels"}:
        _fail(where, field_name, f"has {', '.join(sorted(raw)) or 'no fields'}",
              "values: [...], or low, high and levels")
    low, high = _number(where, f"{field_name}.low", raw["low"]), _number(where, f"{field_name}.high", raw["high"])
    levels = _whole(where, f"{field_name}.levels", raw["levels"], 2, MAXIMUM_LEVELS)
    if not low < high:
        _fail(where, field_name, f"empty range [{low:g}, {high:g}]", "low < high")
    return Factor(name, values=tuple(float(v) for v in np.linspace(low, high, levels)))


def _relative_factor(where: str, name: str, raw: dict, base: Callable[[str], float]) -> Factor:
    """A uniform range of +-relative around the base scenario's value (stays centred on it when the
    model is recalibrated)."""
    field_name = f"factors.{name}"
    if set(raw) - {"relative", "distribution"} or raw.get("distribution", "uniform") != "uniform":
        _fail(where, field_name, "relative comes with other fields", "relative alone (a uniform range)")
    share = _number(where, f"{field_name}.relative", raw["relative"])
    if share <= 0:
        _fail(where, f"{field_name}.relative", f"{share:g} is not above 0", "a share > 0, e.g. 0.3 for +-30%")
    value = base(name)
    low, high = sorted((value * (1 - share), value * (1 + share)))
    if not low < high:
        _fail(where, field_name, f"empty range: the base value is {value:g}", "low and high")
    return Factor(name, distribution="uniform", parameters=(("low", low), ("high", high)), relative=share)


def _sampled_factor(where: str, name: str, raw: dict, design: str, base: Callable[[str], float]) -> Factor:
    field_name = f"factors.{name}"
    _refuse(where, field_name, raw, ("values", "levels"), f"a {design} design samples ranges, not listed values",
            "low and high, relative, or a distribution with its parameters")
    if "relative" in raw:
        return _relative_factor(where, name, raw, base)
    distribution = raw.get("distribution", "uniform")
    if not isinstance(distribution, str) or distribution not in DISTRIBUTIONS:
        _fail(where, f"{field_name}.distribution", f"{distribution!r} is not a distribution", ", ".join(DISTRIBUTIONS))
    needed = DISTRIBUTIONS[distribution]
    if design == "morris" and "low" not in needed:
        bounded = [name for name, fields in DISTRIBUTIONS.items() if "low" in fields]
        _fail(where, f"{field_name}.distribution", f"a Morris grid runs each factor from its 0% to its 100% quantile, "
              f"which for a {distribution} distribution is 0 to infinity", f"for morris, {', '.join(bounded)}")
    given = set(raw) - {"distribution"}
    if given != set(needed):
        _fail(where, field_name, f"a {distribution} distribution needs {', '.join(needed)}",
              f"exactly {', '.join(needed)}")
    settings = {key: _number(where, f"{field_name}.{key}", raw[key]) for key in needed}
    if "low" in settings and not settings["low"] < settings["high"]:
        _fail(where, field_name, f"empty range [{settings['low']:g}, {settings['high']:g}]", "low < high")
    if distribution == "loguniform" and settings["low"] <= 0:
        _fail(where, f"{field_name}.low", f"{settings['low']:g} is not above 0",
              "low > 0 for a loguniform distribution")
    if distribution == "triangular" and not settings["low"] <= settings["mode"] < settings["high"]:
        _fail(where, f"{field_name}.mode", f"{settings['mode']:g} is outside the range", "low <= mode < high")
    if "sd" in settings and settings["sd"] <= 0:
        _fail(where, f"{field_name}.sd", f"{settings['sd']:g} is not above 0", "sd > 0")
    return Factor(name, distribution=distribution, parameters=tuple(settings.items()))


def _factors(where: str, raw: Any, design: str, base: Callable[[str], float]) -> tuple[Factor, ...]:
    if not isinstance(raw, dict) or not raw:
        problem = "is missing or empty" if not raw else f"is a {type(raw).__name__}, not a mapping"
        _fail(where, "factors", problem, "a mapping of lever or behaviour.<parameter> names to ranges")
    factors = []
    for name, spec in raw.items():
        if not isinstance(spec, dict):
            _fail(where, f"factors.{name}", f"{spec!r} is not a mapping",
                  "{low: a, high: b}, {values: [...]} or {distribution: ..., ...}")
        unknown = sorted(set(spec) - set(FACTOR_KEYS))
        if unknown:
            _fail(where, f"factors.{name}.{unknown[0]}", "unknown field", ", ".join(FACTOR_KEYS))
        build = _levelled_factor if design in LEVELLED else _sampled_factor
        factors.append(build(where, str(name), spec, design, base))
    return tuple(factors)


def _csv_points(where: str, path_text: Any, folder: Path) -> tuple[Path, list[str], np.ndarray]:
    if not isinstance(path_text, str) or not path_text:
        _fail(where, "design.path", f"{path_text!r} is not a file name", "a CSV file, relative to the experiment file")
    path = (folder / path_text).resolve()
    if not path.is_file():
        _fail(where, "design.path", f"{path} does not exist", "a CSV file, relative to the experiment file")
    try:  # utf-8-sig: Excel's "CSV UTF-8" starts with a byte-order mark, which would join the first name
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv_module.reader(handle))
    except UnicodeDecodeError as error:
        _fail(str(path), "encoding", f"byte {error.start} is not UTF-8 text", "a CSV file saved as UTF-8 (in Excel: "
              "CSV UTF-8)")
    if len(rows) < 2 or not all(name.strip() for name in rows[0]):
        _fail(str(path), "header", "no header of factor names or no points", "a header row of factor names, then one "
              "row of numbers per point")
    names = [name.strip() for name in rows[0]]
    if len(set(names)) != len(names):
        _fail(str(path), "header", "repeats a factor name", "each factor once")
    points = []
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(names):
            _fail(str(path), f"row {number}", f"has {len(row)} values for {len(names)} factors", "one value per factor")
        try:
            values = [float(value) for value in row]
        except ValueError:
            _fail(str(path), f"row {number}", "has a value that is not a number", "numbers")
        if not all(math.isfinite(value) for value in values):
            _fail(str(path), f"row {number}", "has a value that is not finite", "finite numbers")
        points.append(values)
    return path, names, np.array(points, dtype=float)


def _design(where: str, raw: Any, folder: Path, method: str | None, n: int | None,
            sensitivity: bool, seed: int) -> DesignSettings:
    if not isinstance(raw, dict):
        _fail(where, "design", f"{raw!r} is not a mapping", "{type: " + " | ".join(DESIGNS) + ", ...}")
    unknown = sorted(set(raw) - set(DESIGN_KEYS))
    if unknown:
        _fail(where, f"design.{unknown[0]}", "unknown field", ", ".join(DESIGN_KEYS))
    kind = raw.get("type")
    if not isinstance(kind, str) or kind not in DESIGNS:
        _fail(where, "design.type", f"{kind!r} is not a design", ", ".join(DESIGNS))
    for key in sorted(set(raw) - {"type"} - set(OPTIONS[kind])):
        _fail(where, f"design.{key}", f"not an option of a {kind} design", ", ".join(OPTIONS[kind]) or "no options")
    if sensitivity:
        if method is None and kind not in SENSITIVITY_METHODS:
            _fail(where, "design.type", f"{kind!r} is not a sensitivity design",
                  f"{', '.join(SENSITIVITY_METHODS)} (or give --method)")
        if method is not None and method != kind:
            raw, kind = {"type": method}, method   # the command line chose another method: its defaults
    n_field = "--n" if n is not None else "design.n"
    if n is not None:
        if "n" not in OPTIONS[kind]:
            _fail(where, "--n", f"a {kind} design has no size", ", ".join(k for k, o in OPTIONS.items() if "n" in o))
        raw = {**raw, "n": n}
    settings = {"type": kind, "seed": seed}
    if "n" in OPTIONS[kind]:
        size = raw.get("n", DEFAULT_N[kind])
        if isinstance(size, bool) or not isinstance(size, int) or not MINIMUM_N[kind] <= size <= MAXIMUM_N:
            problem = (f"{size!r} is not a whole number" if isinstance(size, bool) or not isinstance(size, int) else
                       f"{size} is too few samples" if size < MINIMUM_N[kind] else f"{size} is more samples than a "
                       "study can hold")
            _fail(where, n_field, f"{problem} for a {kind} design",
                  f"a whole number from {MINIMUM_N[kind]} to {MAXIMUM_N}" + (", a power of 2" if kind == "sobol" else ""))
        if kind == "sobol" and size & (size - 1):
            _fail(where, n_field, f"{size} is not a power of 2 (Sobol' sequences balance at powers of 2)",
                  f"a power of 2, at least {MINIMUM_N['sobol']}")
        settings["n"] = size
    if kind == "morris":
        levels = _whole(where, "design.levels", raw.get("levels", 4), 2, MAXIMUM_LEVELS)
        if levels % 2:
            _fail(where, "design.levels", f"{levels} is odd (Morris steps need an even number of levels)",
                  "an even whole number >= 2")
        settings["levels"] = levels
    if kind == "sobol":
        second_order = raw.get("second_order", False)
        if not isinstance(second_order, bool):
            _fail(where, "design.second_order", f"{second_order!r} is not true or false", "true or false")
        settings["second_order"] = second_order
    if kind == "csv":
        path, header, points = _csv_points(where, raw.get("path"), folder)
        settings.update(path=str(path), header=tuple(header), points=points)
    return DesignSettings(**settings)


def _outcomes(where: str, raw: Any, allowed: Sequence[str]) -> tuple[str, ...]:
    if raw is None:
        return tuple(allowed)
    if not isinstance(raw, list) or not raw:
        _fail(where, "outcomes", f"{raw!r} is not a non-empty list", "a list of " + ", ".join(allowed))
    for index, name in enumerate(raw):
        if name not in allowed:
            _fail(where, f"outcomes[{index}]", f"{name!r} is not an outcome", ", ".join(allowed))
    if len(set(raw)) != len(raw):
        _fail(where, "outcomes", "repeats an outcome", "each outcome once")
    return tuple(raw)


def _check_points(experiment: Experiment, where: str) -> None:
    """Every design point, and every factor at the extremes of its range, through the evaluator
    (a CSV's points are its range: an error names the row)."""
    prepare, scenario, names = experiment.evaluator.prepare, experiment.scenario, experiment.factor_names
    csv_rows = experiment.design.type == "csv"
    first = dict(zip(names, experiment.points[0]))
    for factor in () if csv_rows else experiment.factors:
        for value in factor.extremes():
            prepare(scenario, {**first, factor.name: value}, where)
    for index, row in enumerate(experiment.points):
        prepare(scenario, dict(zip(names, row)), f"{experiment.design.path}: row {index + 2}" if csv_rows else where)


def load_experiment(name_or_path: str | Path, evaluator, *, scale: str | None = None, years: int | None = None,
                    replications: int | None = None, method: str | None = None, n: int | None = None,
                    factors: Sequence[str] | None = None, sensitivity: bool = False) -> Experiment:
    """Load and fully validate an experiment; keyword arguments override the file (as on the
    command line). sensitivity=True requires a Morris or Sobol design (`method` replaces the
    file's); `factors` keeps only those of the file's factors (e.g. the survivors of a screening)."""
    path = resolve_experiment(name_or_path)
    where, folder = str(path), path.parent
    data, text = _read(path)
    name = data.get("name", path.stem)
    if not isinstance(name, str) or not plain_name(name):
        _fail(where, "name", f"{name!r} is not a plain name",
              "letters (of any script), digits, _ . -, starting with a letter, digit or _ (it names the results folder)")
    scenario = _scenario(where, data.get("scenario", "baseline"), folder)
    chosen_scale = scale if scale is not None else data.get("scale", scenario.scale)
    if not isinstance(chosen_scale, str) or chosen_scale not in SCALES:
        _fail(where, "--scale" if scale is not None else "scale", f"{chosen_scale!r} is not a scale", ", ".join(SCALES))
    chosen_years = _whole(where, "--years" if years is not None else "years",
                          years if years is not None else data.get("years", scenario.years), *YEARS)
    chosen_replications = _whole(where, "--replications" if replications is not None else "replications",
                                 replications if replications is not None
                                 else data.get("replications", DEFAULT_REPLICATIONS), 1, MAXIMUM_REPLICATIONS)
    seed = _whole(where, "seed", data.get("seed", ROOT_SEED), 0)
    if method is not None and (not isinstance(method, str) or method not in SENSITIVITY_METHODS):
        _fail(where, "--method", f"{method!r} is not a sensitivity method", ", ".join(SENSITIVITY_METHODS))
    design = _design(where, data.get("design"), folder, method, n, sensitivity, seed)
    if design.type == "csv":
        if "factors" in data:
            _fail(where, "factors", "given with a csv design", "no factors: the CSV header names them")
        factor_where = f"{design.path}: header"
        chosen = tuple(Factor(name, distribution="uniform", parameters=(("low", float(column.min())),
                                                                         ("high", float(column.max()))))
                       for name, column in zip(design.header, design.points.T))
    else:
        factor_where = f"{where}: factors"
        chosen = _factors(where, data.get("factors"), design.type,
                          lambda name: evaluator.base_value(scenario, name, factor_where))
    if factors is not None:
        chosen = _select(where, chosen, factors, design.type)
    _check_whole_levels(factor_where, chosen, design)
    outcomes = _outcomes(where, data.get("outcomes"), evaluator.outcomes)
    salib = [factor.salib() for factor in chosen]
    problem = {"num_vars": len(chosen), "names": [factor.name for factor in chosen],
               "bounds": [bounds for _, bounds in salib], "dists": [dist for dist, _ in salib],
               "values": [list(factor.values) if factor.values is not None else None for factor in chosen],
               "base": [evaluator.base_value(scenario, factor.name, factor_where) for factor in chosen]}
    _check_study_size(where, problem, design, chosen_replications)
    experiment = Experiment(name=name, source=where, text=text, description=str(data.get("description", "")),
                            scenario=scenario, scale=chosen_scale, years=chosen_years,
                            replications=chosen_replications, seed=seed, factors=chosen, design=design,
                            outcomes=outcomes, evaluator=evaluator, problem=problem,
                            points=sample(problem, design))
    _check_points(experiment, factor_where)
    return experiment


def _check_study_size(where: str, problem: dict, design: DesignSettings, replications: int) -> None:
    points = design_points(problem, design)
    if points * replications > MAXIMUM_RUNS:
        _fail(where, "design", f"{points:,} points x {replications:,} replications is more runs than a study can hold",
              f"at most {MAXIMUM_RUNS:,} runs (fewer levels, samples or replications)")


def _check_whole_levels(where: str, factors: tuple[Factor, ...], design: DesignSettings) -> None:
    """A whole-number parameter runs rounded; on a Morris grid, rounded levels would make its steps
    differ from the step its elementary effects are divided by, so its levels must be whole."""
    if design.type != "morris":
        return
    for factor in factors:
        section, _, name = factor.name.rpartition(".")
        if section not in ("", "behaviour") or name not in BEHAVIOUR or not BEHAVIOUR[name].integer:
            continue
        if factor.distribution != "uniform":
            _fail(where, f"{factor.name}.distribution", f"a whole-number parameter on a Morris grid at the "
                  f"{factor.distribution} distribution's quantiles would run rounded levels", "uniform (low and high)")
        low, high = factor.settings["low"], factor.settings["high"]
        grid = np.linspace(low, high, design.levels)
        if not np.allclose(grid, np.round(grid)):
            step = math.ceil((high - low) / (design.levels - 1))
            levels = ", ".join(f"{v:g}" for v in grid)
            _fail(where, factor.name, f"its {design.levels} Morris levels {levels} are not whole numbers (the runs "
                  "would round them)", f"low and high {design.levels - 1} whole steps apart, e.g. low {low:g} and "
                  f"high {low + step * (design.levels - 1):g}")


def _select(where: str, factors: tuple[Factor, ...], names: Sequence[str], design: str) -> tuple[Factor, ...]:
    """Only the named factors (the others stay at their base-scenario values)."""
    known = [factor.name for factor in factors]
    if design == "csv":
        _fail(where, "factors", "a csv design runs its points as they are", "no factor selection")
    for name in names:
        if name not in known:
            _fail(where, "factors", f"{name!r} is not a factor of this experiment", ", ".join(known))
    if not names:
        _fail(where, "factors", "the selection is empty", ", ".join(known))
    return tuple(factor for factor in factors if factor.name in names)
