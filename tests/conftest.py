"""Shared fixtures: runs are cached per session so several tests can read one set of runs."""
from __future__ import annotations

import sys
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@lru_cache(maxsize=None)
def paired_runs(scale: str, seeds: int, years: int, variants: tuple) -> pd.DataFrame:
    """Runs of named variants (name, scenario file, overrides) over the same seeds."""
    from experiments import RunSpec, replication_seeds, run_all
    from scenarios import load_scenario

    specs = []
    for name, scenario_name, overrides in variants:
        scenario = load_scenario(scenario_name, dict(overrides))
        scenario = replace(scenario, name=name)
        specs += [RunSpec(scenario, seed, scale=scale, years=years) for seed in replication_seeds(seeds)]
    return run_all(specs, workers=2, progress=False)


@pytest.fixture(scope="session")
def run_variants():
    return paired_runs
