"""Experiments: many runs of the model (replications, sweeps, sensitivity designs) and their results.

    from experiments import run_sweep, run_sensitivity
    results = run_sweep("mechanism_sweep", scale="county", years=1, replications=2)
    results.tables["sweep_summary"]          # per design point and outcome: mean and 95% interval
    results.runs()                           # every run row (point, replication, factors, year, metrics)

The names below are imported from their modules when first used, so that importing
experiments.workers (the command line starts its worker processes first, see that module) does
not import the model.
"""
from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

_MODULE_OF = {
    "ISHIGAMI": "evaluators", "MODEL": "evaluators", "Evaluator": "evaluators",
    "ROOT_SEED": "runner", "RunSpec": "runner", "execute": "runner", "replication_seeds": "runner",
    "run_all": "runner", "run_sensitivity": "sensitivity", "Experiment": "spec", "ExperimentError": "spec",
    "list_experiments": "spec", "load_experiment": "spec", "Results": "sweep", "run_sweep": "sweep",
}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str):
    if name in _MODULE_OF:
        value = getattr(import_module(f".{_MODULE_OF[name]}", __name__), name)
    else:
        try:
            value = import_module(f".{name}", __name__)  # a submodule, as `import experiments.name` gives it
        except ModuleNotFoundError as error:
            if error.name != f"{__name__}.{name}":
                raise  # the submodule exists; something it imports is missing
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_MODULE_OF})


if TYPE_CHECKING:
    from .evaluators import ISHIGAMI, MODEL, Evaluator
    from .runner import ROOT_SEED, RunSpec, execute, replication_seeds, run_all
    from .sensitivity import run_sensitivity
    from .spec import Experiment, ExperimentError, list_experiments, load_experiment
    from .sweep import Results, run_sweep
