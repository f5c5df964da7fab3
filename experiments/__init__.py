"""Experiments: many runs of the model (replications, sweeps, sensitivity designs) and their results.

    from experiments import run_sweep, run_sensitivity
    results = run_sweep("mechanism_sweep", scale="county", years=1, replications=2)
    results.tables["sweep_summary"]          # per design point and outcome: mean and 95% interval
    results.runs()                           # every run row (point, replication, factors, year, metrics)
"""
from .evaluators import ISHIGAMI, MODEL, Evaluator
from .runner import ROOT_SEED, RunSpec, execute, replication_seeds, run_all
from .sensitivity import run_sensitivity
from .spec import Experiment, ExperimentError, list_experiments, load_experiment
from .sweep import Results, run_sweep

__all__ = ["ISHIGAMI", "MODEL", "ROOT_SEED", "Evaluator", "Experiment", "ExperimentError", "Results", "RunSpec",
           "execute", "list_experiments", "load_experiment", "replication_seeds", "run_all", "run_sensitivity",
           "run_sweep"]
