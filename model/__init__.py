"""Agent-based model of supervision and inspection policy (see docs/ODD.md)."""
from .kernel_cache import clear_stale_kernels

clear_stale_kernels()  # before any kernel is loaded from the cache

from .agents import Department, GrassrootsUnit, SupervisionBody
from .metrics import METRICS, SOFT_METRICS
from .model import ReplicationStack, SupervisionModel
from .params import BEHAVIOUR, CALIBRATED, LEVERS, SCALES, Scenario, Schedule, default_scenario
from .simulate import simulate, simulate_replications
from .version import code_version

__all__ = ["BEHAVIOUR", "CALIBRATED", "LEVERS", "METRICS", "SCALES", "SOFT_METRICS", "Department",
           "GrassrootsUnit", "ReplicationStack", "Scenario", "Schedule", "SupervisionBody", "SupervisionModel",
           "code_version", "default_scenario", "simulate", "simulate_replications"]
