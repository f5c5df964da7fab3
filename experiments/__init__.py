"""Experiments: many runs of the model (replications, sweeps, sensitivity designs) and their results."""
from .runner import ROOT_SEED, RunSpec, execute, replication_seeds, run_all

__all__ = ["ROOT_SEED", "RunSpec", "execute", "replication_seeds", "run_all"]
