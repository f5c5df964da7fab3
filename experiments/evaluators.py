"""Evaluators: how a design point becomes runs and rows of outcomes.

The sweep and sensitivity pipeline (design, seeds, parallel runs, storage, replicate means,
noise, indices) is the same for every evaluator. MODEL runs the agent-based model; ISHIGAMI is
an analytic function with known Sobol' indices, so tests check the whole pipeline against it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np
import pandas as pd

from model import BEHAVIOUR, LEVERS, METRICS, Scenario
from scenarios import apply_overrides

from .runner import RunSpec, run_one, run_stacked
from .spec import ExperimentError


@dataclass(frozen=True)
class Evaluator:
    """What an experiment runs.

    prepare(scenario, values, where) checks one design point and returns the scenario to run and
    the values as applied; base_value(scenario, name, where) is a factor's value when the design
    leaves it alone (both raise a UserError naming `where` for a bad name or value). run(spec) is
    a top-level function (so it can be sent to worker processes) returning rows with columns
    year, phase and the outcomes; run_many(specs), when given, those of several specs in order, the
    same rows made faster together. compiled: whether run uses the model's compiled kernels (a
    first run after a change of the model compiles them).
    """

    name: str
    outcomes: tuple[str, ...]
    prepare: Callable[[Scenario, Mapping[str, float], str], tuple[Scenario, dict[str, float]]]
    base_value: Callable[[Scenario, str, str], float]
    run: Callable[[RunSpec], pd.DataFrame]
    compiled: bool
    run_many: Callable[[list[RunSpec]], list[pd.DataFrame]] | None = None


def _model_parameter(name: str, where: str):
    """(section, parameter, spec) of a factor's dotted name; settings such as years are not factors."""
    section, _, parameter = name.rpartition(".")
    if section in ("", "levers") and parameter in LEVERS:
        return "levers", parameter, LEVERS[parameter]
    if section in ("", "behaviour") and parameter in BEHAVIOUR:
        return "behaviour", parameter, BEHAVIOUR[parameter]
    raise ExperimentError(f"{where}: {name}: not a lever or behavioural parameter; allowed: "
                          f"{', '.join(LEVERS)}, or behaviour.<name> for {', '.join(BEHAVIOUR)}")


def prepare_model_point(scenario: Scenario, values: Mapping[str, float], where: str):
    """Round integer parameters, then apply and validate the values with scenarios.apply_overrides."""
    applied, named = {}, {}
    for name, value in values.items():
        section, parameter, spec = _model_parameter(name, where)
        if (section, parameter) in named:
            raise ExperimentError(f"{where}: {name}: names the same parameter as {named[section, parameter]}; "
                                  "allowed: each parameter once")
        named[section, parameter] = name
        applied[name] = float(round(value)) if spec.integer and math.isfinite(value) else float(value)
    return apply_overrides(scenario, applied, where), applied


def model_base_value(scenario: Scenario, name: str, where: str) -> float:
    section, parameter, _ = _model_parameter(name, where)
    if section == "levers":
        return scenario.levers[parameter].final
    return scenario.behaviour[parameter]


MODEL = Evaluator("model", tuple(METRICS), prepare_model_point, model_base_value, run_one, True, run_stacked)


ISHIGAMI_FACTORS = ("x1", "x2", "x3")
ISHIGAMI_A, ISHIGAMI_B = 7.0, 0.1
ISHIGAMI_NOISE_SD = 0.5  # replication noise, so the noise estimate and replicate means are tested too


def ishigami_indices(a: float = ISHIGAMI_A, b: float = ISHIGAMI_B) -> dict[str, dict[str, float]]:
    """Exact first-order and total Sobol' indices of the Ishigami function on [-pi, pi]^3."""
    v1 = 0.5 * (1 + b * math.pi ** 4 / 5) ** 2
    v2 = a ** 2 / 8
    v13 = b ** 2 * math.pi ** 8 * (1 / 18 - 1 / 50)
    total = v1 + v2 + v13
    return {"S1": {"x1": v1 / total, "x2": v2 / total, "x3": 0.0},
            "ST": {"x1": (v1 + v13) / total, "x2": v2 / total, "x3": v13 / total}}


def prepare_ishigami_point(scenario: Scenario, values: Mapping[str, float], where: str):
    if set(values) != set(ISHIGAMI_FACTORS):
        raise ExperimentError(f"{where}: {', '.join(sorted(set(values) ^ set(ISHIGAMI_FACTORS)))}: the Ishigami "
                              f"function takes exactly its three inputs; allowed: {', '.join(ISHIGAMI_FACTORS)}")
    return scenario, {name: float(value) for name, value in values.items()}


def ishigami(spec: RunSpec) -> pd.DataFrame:
    """One noisy evaluation of y = sin x1 + a sin^2 x2 + b x3^4 sin x1. The noise depends on the
    seed and the point, so replications differ and the same run always gives the same value."""
    tags = dict(spec.tags)
    x1, x2, x3 = (float(tags[name]) for name in ISHIGAMI_FACTORS)
    noise = np.random.default_rng([spec.seed, *np.array([x1, x2, x3]).view(np.uint64).tolist()])
    y = math.sin(x1) + ISHIGAMI_A * math.sin(x2) ** 2 + ISHIGAMI_B * x3 ** 4 * math.sin(x1)
    row = {"scenario": spec.scenario.name, "seed": spec.seed, "scale": "analytic", **tags, "year": 1,
           "phase": "policy", "y": y + noise.normal(0.0, ISHIGAMI_NOISE_SD)}
    return pd.DataFrame([row])


def ishigami_base_value(scenario: Scenario, name: str, where: str) -> float:
    """The centre of the inputs' range, where one-at-a-time designs hold the other inputs."""
    return 0.0


ISHIGAMI = Evaluator("ishigami", ("y",), prepare_ishigami_point, ishigami_base_value, ishigami, False)
