"""One run of one scenario, as a tidy table of yearly metrics."""
from __future__ import annotations

import mesa
import pandas as pd

from .model import SupervisionModel
from .params import Scenario
from .version import code_version


def simulate(scenario: Scenario, seed: int, scale: str | None = None, years: int | None = None) -> pd.DataFrame:
    """Run `scenario` with `seed`; one row per simulated year (burn-in included, phase says which).

    The same scenario, seed, scale and years give the same table in any process.
    """
    model = SupervisionModel(scenario, seed, scale=scale, years=years)
    frame = pd.DataFrame(model.run())
    release(model)
    frame.insert(0, "scenario", scenario.name)
    frame.insert(1, "seed", seed)
    frame.insert(2, "scale", model.scale)
    frame.attrs.update(scenario=scenario.name, seed=seed, scale=model.scale, years=model.years,
                       code_version=code_version(), source=scenario.source)
    return frame


def release(model: mesa.Model) -> None:
    """Let a finished model be garbage-collected. Mesa 3.3 keeps every model alive through the
    class attribute Agent._ids (its agent id counters, keyed by model; mesa issue #3179, fixed by
    mesa PR #3180), so a process that runs many models grows by each one's arrays (3 to 6 MiB
    per province run). Call only when no agent will be added to the model any more."""
    ids = getattr(mesa.Agent, "_ids", None)
    if isinstance(ids, dict):
        ids.pop(model, None)
