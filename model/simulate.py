"""One run of one scenario, as a tidy table of yearly metrics."""
from __future__ import annotations

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
    frame.insert(0, "scenario", scenario.name)
    frame.insert(1, "seed", seed)
    frame.insert(2, "scale", model.scale)
    frame.attrs.update(scenario=scenario.name, seed=seed, scale=model.scale, years=model.years,
                       code_version=code_version(), source=scenario.source)
    return frame
