"""The three kinds of agent. Their state lives in the model's arrays so that a week of thousands
of units is a handful of vectorised operations; the agents are how a researcher reads it.

- SupervisionBody: one kind of supervision body at one level (e.g. the city audit bureaus),
  issuing items and visiting units in every jurisdiction of its level.
- Department: one line department kind at one level, owning policy topics and issuing its own
  line inspections.
- GrassrootsUnit: one township-level unit, a view onto row `index` of the unit arrays.
"""
from __future__ import annotations

import mesa
import numpy as np

from .organisation import BODY_KINDS, DEPARTMENT_KINDS, LEVEL_NAMES
from .planning import Source
from .units import MAJOR, WEEKLY_HOURS

_ZH = {k.name: k.zh for k in (*BODY_KINDS, *DEPARTMENT_KINDS)}


class _Issuer(mesa.Agent):
    def __init__(self, model, source: Source):
        super().__init__(model)
        self.source = source

    @property
    def kind(self) -> str:
        return self.source.name

    @property
    def kind_zh(self) -> str:
        return _ZH[self.source.name]

    @property
    def level(self) -> str:
        return LEVEL_NAMES[self.source.level]

    @property
    def visits_this_year(self) -> int:
        """Visits this issuer leads in the current year's plan (after merging and joint visits)."""
        return int(np.count_nonzero(self.model.plan.source == self.source.index))

    @property
    def problems_found_this_year(self) -> float:
        return float(self.model.accumulator.source_found[0, self.source.index])

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.level} {self.kind}>"


class SupervisionBody(_Issuer):
    """Party and government inspection offices, discipline inspection, audit, inspection tours."""

    @property
    def risk_targeting(self) -> float:
        return self.source.risk_targeting


class Department(_Issuer):
    """A line department: owns policy topics, assigns tasks on them and inspects them itself."""

    @property
    def topics(self) -> tuple[int, ...]:
        return self.source.topics


class GrassrootsUnit(mesa.Agent):
    """A township-level unit; every attribute reads the model's arrays at `index`."""

    def __init__(self, model, index: int):
        super().__init__(model)
        self.index = index

    def _state(self):
        return self.model.units

    @property
    def county(self) -> int:
        return int(self.model.organisation.unit_jurisdiction[3][self.index])

    @property
    def integrity(self) -> float:
        return float(self._state().integrity[self.index])

    @property
    def time_shares(self) -> dict[str, float]:
        s = self._state()
        return {"real_work": float(s.work[self.index]), "materials": float(s.materials[self.index]),
                "hosting": float(s.hosting[self.index])}

    @property
    def material_hours_per_week(self) -> float:
        return float(self._state().materials[self.index] * WEEKLY_HOURS)

    @property
    def ledger_hours_per_week(self) -> float:
        """The part of the material hours owed to the ledgers of the unit's items."""
        return float(self._state().ledgers[self.index] * WEEKLY_HOURS)

    @property
    def latent_problems(self) -> int:
        return int(self._state().latent[self.index].sum())

    @property
    def latent_major_problems(self) -> int:
        return int(self._state().latent[self.index, MAJOR])

    @property
    def unresolved_problems(self) -> int:
        return int(self._state().unresolved[self.index].sum())

    @property
    def implementation(self) -> float:
        return float(self._state().implementation[self.index])

    @property
    def documented_implementation(self) -> float:
        return float(self._state().documented[self.index])

    @property
    def falsified_last_report(self) -> bool:
        return bool(self._state().falsified[self.index])

    @property
    def belief_inspected(self) -> float:
        return float(self._state().belief_inspected[self.index])

    @property
    def evaluation_score(self) -> float:
        return float(self._state().score[self.index])

    def __repr__(self) -> str:
        return f"<GrassrootsUnit {self.index} county {self.county}>"
