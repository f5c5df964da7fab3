"""SupervisionModel: the Mesa model that runs the weekly process of the brief (section 3).

Year start: issuers' items become the year's visit plan. Each week: visits impose hosting, units
allocate time, problems arise and heal, visits detect problems and falsified reports, found
problems enter rectification, due consequences land. Each quarter: reports and evaluation.
Each year end: the year's metrics.
"""
from __future__ import annotations

import copy
import gc
import sys
import types
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass

import mesa
import numpy as np
from numba.typed import List

from .agents import Department, GrassrootsUnit, SupervisionBody
from .draws import kernel_stream
from .inspection import EVENT_CODES_PER_UNIT, inspection_tables
from .metrics import YearAccumulator, detection_gain
from .organisation import build_organisation
from .errors import UserError
from .params import SCALES, WEEKS_PER_YEAR, YEARS_ALLOWED, Scenario
from .planning import Planner, YearPlan
from .schedule import EventQueue, Province, provinces, run_weeks
from .threads import default_threads
from .units import UnitState, observability, set_item_load, unit_tables


@contextmanager
def collector_paused():
    """Each agent Mesa registers makes objects (weak references) that count towards the cyclic
    garbage collector's next pass, and its full passes scan the whole heap: a national run's agents
    took 0.23 s instead of 0.10 s. None of them is garbage, so the collector waits until they exist.
    (benchmarks.kernel_profile pauses it around its timed runs too.)"""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def year_tables(levers: dict[str, np.ndarray], behaviour: dict, key: tuple) -> dict[str, np.ndarray]:
    """The weekly parameter tables of a year with these levers (52 weekly values each) and this
    behaviour; `key` identifies both. Kept per process, read-only, for the last few keys: the
    burn-in years share them, as do a constant scenario's years and the runs of a study's seeds."""
    tables = _YEAR_TABLES.pop(key, None)
    if tables is None:
        phi = observability(levers, behaviour)
        tables = {"phi": phi, "sanction_severity": levers["sanction_severity"],
                  **unit_tables(levers, behaviour, phi), **inspection_tables(levers, behaviour)}
        for table in tables.values():
            table.setflags(write=False)
    _YEAR_TABLES[key] = tables  # most recently used last
    while len(_YEAR_TABLES) > YEAR_TABLES_KEPT:
        _YEAR_TABLES.popitem(last=False)
    return tables


YEAR_TABLES_KEPT = 16
_YEAR_TABLES: OrderedDict = OrderedDict()


def check_run_arguments(where: str, scenario, seed, scale, years) -> None:
    """A run's arguments as a Python caller gives them, refused in one line as the command line
    refuses its own (a bad scale or seed would otherwise fail deep inside numpy or the organisation)."""
    if not isinstance(scenario, Scenario):
        raise UserError(f"{where}: scenario: {scenario!r} is a {type(scenario).__name__}, not a Scenario; allowed: "
                        "scenarios.load_scenario(name or path)")
    if not _whole(seed) or seed < 0:
        raise UserError(f"{where}: seed: {seed!r} is not a whole number >= 0; allowed: an integer >= 0")
    if scale is not None and scale not in SCALES:
        raise UserError(f"{where}: scale: {scale!r} is not a scale; allowed: {', '.join(SCALES)}")
    low, high = YEARS_ALLOWED
    if years is not None and not (_whole(years) and low <= years <= high):
        raise UserError(f"{where}: years: {years!r} is not a number of policy years; allowed: an integer in "
                        f"[{low}, {high}]")


def _whole(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


@dataclass(frozen=True)
class BurnInState:
    parts: tuple
    rng_state: dict
    province_rng_states: tuple
    steps: int
    nbytes: int  # what keeping it costs (footprint)


def footprint(value, seen: set | None = None) -> int:
    """Bytes held by `value`: its arrays' data and Python's own size of everything else, through
    containers and objects' attributes, each object counted once. Cheaper than pickling a
    snapshot to size it (a unit state is two dozen small arrays; docs/PERFORMANCE.md, round 15)."""
    seen = set() if seen is None else seen
    if id(value) in seen:
        return 0
    seen.add(id(value))
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, dict):
        return sys.getsizeof(value) + sum(footprint(item, seen) for item in value.values())  # keys: shared names
    if isinstance(value, (list, tuple, set, frozenset)):
        return sys.getsizeof(value) + sum(footprint(item, seen) for item in value)
    if isinstance(value, (type, types.ModuleType)) or not hasattr(value, "__dict__"):
        return sys.getsizeof(value)
    return footprint(vars(value), seen)


class SupervisionModel(mesa.Model):
    """One run of one scenario. All randomness comes from one SeedSequence(seed): its Generator, and
    in a run of several provinces one Generator per province spawned from it (model.schedule)."""

    def __init__(self, scenario: Scenario, seed: int, scale: str | None = None, years: int | None = None,
                 burn_in: BurnInState | None = None, threads: int | None = None):
        """With `burn_in` (a snapshot of a run with the same burn-in; see snapshot()), the model
        starts at the end of the burn-in, as that run was. `threads` run the provinces' weeks
        (default: model.threads.default_threads()); the results do not depend on it."""
        check_run_arguments("SupervisionModel", scenario, seed, scale, years)
        seed_sequence = np.random.SeedSequence(seed)
        super().__init__(rng=np.random.Generator(np.random.PCG64(seed_sequence)))
        self._set_up(scenario, (seed,), [self.rng], scale, years, threads, initial_units=burn_in is None)
        self.stream = kernel_stream(self.rng)
        self.provinces = provinces(self.organisation, self.rng, self.stream, seed_sequence, self.total_weeks)
        if burn_in is not None:
            self._restore(burn_in)

    def _set_up(self, scenario: Scenario, seeds: tuple, rngs: list, scale: str | None, years: int | None,
                threads: int | None, initial_units: bool) -> None:
        """What a run of these seeds (one per replication, each with its Generator) needs before its
        provinces; every replication's units drawn from its own Generator, in seed order."""
        self.threads = default_threads() if threads is None else threads
        self.scenario = scenario
        self.seed, self.seeds, self.replications = seeds[0], seeds, len(seeds)
        self.scale = scale or scenario.scale
        self.years = years if years is not None else scenario.years
        self.behaviour = dict(scenario.behaviour)
        self.organisation = build_organisation(self.scale)
        self.planner = Planner(self.organisation, self.behaviour)  # staffing one row per replication
        n = self.organisation.n_units
        if initial_units:
            self.units = UnitState.initial(n, rngs, self.behaviour, self.behaviour["initial_problems"])
        self._unit_agents: list[GrassrootsUnit] = []
        self._agents_pending = True  # see _create_agents

        self.burn_in_weeks = scenario.burn_in_years * WEEKS_PER_YEAR
        self.total_weeks = self.burn_in_weeks + self.years * WEEKS_PER_YEAR
        self.week = 0
        self.plan: YearPlan | None = None
        self._behaviour_key = tuple(sorted(self.behaviour.items()))
        self.accumulator = YearAccumulator(n, len(self.planner.sources), self.replications)
        self.references: list[float | None] = [None] * self.replications  # each replication's reference year
        self.replication_yearly: list[list[dict]] = [[] for _ in seeds]
        self._memory_decay = float(np.exp(-1.0 / self.behaviour["sanction_memory_weeks"]))

    @property
    def yearly(self) -> list[dict]:
        """The run's yearly metrics so far (of the first replication, in a ReplicationStack)."""
        return self.replication_yearly[0]

    @property
    def reference_found(self) -> float | None:
        return self.references[0]

    # -- agents -------------------------------------------------------------------------------
    # The agents are views onto the model's arrays: the rules never read them, a study never does.
    # So they are made when something first reads, adds or removes agents through Mesa's accessors
    # below, all at once and in the constructor's order (issuers, then units): unique ids 1 to n,
    # unless another agent was made for this model before that (it takes its id first). Made at
    # construction, a province run's 1,544 agents cost 5 ms (about 5% of the run) plus the garbage
    # collector's passes over them; a national run's 37,709, 0.1 s.
    def _create_agents(self) -> None:
        if not self.__dict__.get("_agents_pending"):
            return
        self._agents_pending = False
        with collector_paused():
            for source in self.planner.sources:
                (SupervisionBody if source.is_body else Department)(self, source)
            self._unit_agents = [GrassrootsUnit(self, i) for i in range(self.organisation.n_units)]

    @property
    def agents(self) -> mesa.agent.AgentSet:
        self._create_agents()
        return super().agents

    @property
    def agent_types(self) -> list[type]:
        self._create_agents()
        return super().agent_types

    @property
    def agents_by_type(self) -> dict[type, mesa.agent.AgentSet]:
        self._create_agents()
        return super().agents_by_type

    def register_agent(self, agent) -> None:
        self._create_agents()  # the model's own agents first, as if made by the constructor
        super().register_agent(agent)

    def deregister_agent(self, agent) -> None:
        self._create_agents()
        super().deregister_agent(agent)

    def remove_all_agents(self) -> None:
        self._create_agents()
        super().remove_all_agents()

    @property
    def unit_agents(self) -> list[GrassrootsUnit]:
        self._create_agents()
        return self._unit_agents

    # -- reading ------------------------------------------------------------------------------
    @property
    def bodies(self) -> mesa.agent.AgentSet:
        return self.agents_by_type[SupervisionBody]

    @property
    def departments(self) -> mesa.agent.AgentSet:
        return self.agents_by_type[Department]

    def unit(self, index: int) -> GrassrootsUnit:
        """The grassroots unit numbered `index` (0 to n_units - 1, in the organisation's order)."""
        n = self.organisation.n_units
        if not _whole(index) or not 0 <= index < n:
            raise UserError(f"unit: {index!r} is not a unit of this {self.scale} model; allowed: an integer from 0 "
                            f"to {n - 1}")
        return self.unit_agents[index]

    @property
    def calendar_year(self) -> int:
        return self.scenario.start_year - self.scenario.burn_in_years + self.week // WEEKS_PER_YEAR

    # -- running ------------------------------------------------------------------------------
    def run(self) -> list[dict]:
        """Run to the end: the same weeks, draws and results as stepping week by week."""
        self._run_until(self.total_weeks)
        return self.yearly

    def run_burn_in(self) -> None:
        self._run_until(self.burn_in_weeks)

    def _run_until(self, week: int) -> None:
        """Advance to `week` a year (or what is left of it) per call of the compiled schedule,
        without a week's Python and Generator hand-over; Mesa's step count as if stepped."""
        while self.running and self.week < week:
            weeks = min(WEEKS_PER_YEAR - self.week % WEEKS_PER_YEAR, week - self.week)
            self._advance(weeks)
            self.steps += weeks

    def snapshot(self) -> BurnInState:
        """Everything the policy years depend on, taken at the end of the burn-in. The burn-in runs
        at the status quo whatever the scenario's levers, so runs that share behaviour, status quo,
        scale, seed and horizon can all continue from one snapshot."""
        if self.week != self.burn_in_weeks:
            raise RuntimeError("snapshot() is taken at the end of the burn-in")
        calendars = [(p.events, p.sanctions) for p in self.provinces]
        staffing = None if self.planner.staffing is None else self.planner.staffing[0]  # None before a first year
        parts = copy.deepcopy((self.units, calendars, staffing, self.accumulator, self.references,
                               self.replication_yearly))
        return BurnInState(parts, self.rng.bit_generator.state,
                           tuple(p.rng.bit_generator.state for p in self.provinces), self.steps,
                           footprint(parts))

    def _restore(self, state: BurnInState) -> None:
        units, calendars = state.parts[0], state.parts[1]
        if units.work.size != self.organisation.n_units or calendars[0][0].fill.size != self.total_weeks:
            raise ValueError("this burn-in snapshot is of a run at another scale or of another length")
        (self.units, calendars, staffing, self.accumulator, self.references,
         self.replication_yearly) = copy.deepcopy(state.parts)
        self.planner.staffing = None if staffing is None else staffing[np.newaxis]
        self.rng.bit_generator.state = state.rng_state
        for province, (events, sanctions), rng_state in zip(self.provinces, calendars, state.province_rng_states):
            province.events, province.sanctions = events, sanctions
            province.rng.bit_generator.state = rng_state
        self.steps = state.steps
        self.week = self.burn_in_weeks

    def step(self) -> None:
        """One week (model.schedule gives the week's order). The run's calendars end with its last
        week, so a step after it is refused rather than run on arrays that stop there."""
        if not self.running:
            raise RuntimeError(f"the run has ended: its {self.total_weeks} weeks ({self.scenario.burn_in_years} burn-in "
                               f"and {self.years} policy years) are done; step while model.running, or make a model "
                               "with more years")
        self._advance(1)

    def _advance(self, weeks: int) -> None:
        """Run `weeks` weeks, at most to the end of the current year."""
        if self.week % WEEKS_PER_YEAR == 0:
            self._start_year()
        run_weeks(self.week, weeks, self.units, self.plan, self._tables, self.behaviour, self._memory_decay,
                  self.provinces, self.accumulator, self.threads)
        self.week += weeks
        if self.week % WEEKS_PER_YEAR == 0:
            self._end_year()
        if self.week >= self.total_weeks:
            self.running = False

    def _start_year(self) -> None:
        first_policy_week = self.week - self.burn_in_weeks
        levers = self.scenario.lever_weeks(first_policy_week, WEEKS_PER_YEAR)
        lever_values = self.scenario.lever_table(first_policy_week, WEEKS_PER_YEAR).tobytes()
        self._tables = year_tables(levers, self.behaviour, (lever_values, self._behaviour_key))
        risk = self._risk_signal(float(levers["data_sharing_rate"][0]))
        self.accumulator = YearAccumulator(self.organisation.n_units, len(self.planner.sources), self.replications)
        self.plan = self.planner.plan_year(self.stream, levers, risk, [p.stream for p in self.provinces], self.threads)
        set_item_load(self.units, self.plan.item_load, self.behaviour["item_load_elasticity"])

    def _risk_signal(self, data_sharing: float) -> np.ndarray:
        """What risk-based targeting sees: last year's findings and, through shared data, anomalies."""
        anomalies = data_sharing * self.behaviour["quantifiable_share"] * self.units.latent_ordinary
        return 1.0 + self.accumulator.unit_useful + anomalies

    def _end_year(self) -> None:
        in_burn_in = self.week <= self.burn_in_weeks
        all_metrics = self.accumulator.finish(self.behaviour, self.units.implementation, self.units.latent,
                                              self.references)
        for r, (yearly, metrics) in enumerate(zip(self.replication_yearly, all_metrics)):
            yearly.append({"year": self.calendar_year - 1, "phase": "burn_in" if in_burn_in else "policy", **metrics})
            if in_burn_in:
                # The last burn-in year is the reference; earlier ones are measured against it too, so a
                # burn-in year's gain shows how far the status quo still drifts.
                self.references[r] = metrics["problems_found_per_unit_year"]
                for year in yearly:
                    year["detection_gain"] = detection_gain(year["problems_found_per_unit_year"], self.references[r])


class ReplicationStack(SupervisionModel):
    """Replications of one scenario (one seed each) at a single-province scale, advanced together:
    their units are one set of arrays, replication after replication, and each week's rules run
    once for all of them in the compiled kernels, each replication drawing from its own Generator
    in the order it would alone. So replication r's yearly metrics are, bit for bit, those of
    SupervisionModel(scenario, seeds[r]); a county run is small enough that the kernels' and the
    year's fixed costs, shared here, are most of its time (docs/PERFORMANCE.md, stacked
    replications). It makes no agents. Its burn-in snapshots are one per replication, each one a
    SupervisionModel of that seed can continue from, and a stack can start from any runs' snapshots."""

    def __init__(self, scenario: Scenario, seeds: list[int], scale: str | None = None, years: int | None = None,
                 threads: int | None = None, burn_ins: list[BurnInState] | None = None):
        """With `burn_ins` (one snapshot per seed, of runs with the same burn-in as this one's; see
        snapshots()), the stack starts at the end of the burn-in, as those runs were."""
        if not isinstance(seeds, (list, tuple)) or not seeds:
            raise UserError(f"ReplicationStack: seeds: {seeds!r} is not a list of seeds; allowed: a non-empty list of "
                            "integers >= 0")
        for seed in seeds:
            check_run_arguments("ReplicationStack", scenario, seed, scale, years)
        if build_organisation(scale or scenario.scale).jurisdiction_start[1].size != 1:
            raise UserError(f"ReplicationStack: scale: {scale or scenario.scale} has several provinces, which run "
                            "apart; allowed: county, city, province")
        rngs = [np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed))) for seed in seeds]
        super(SupervisionModel, self).__init__(rng=rngs[0])
        for rng in rngs[1:]:
            _as_mesa_seeds(rng)
        self._set_up(scenario, tuple(seeds), rngs, scale, years, threads, initial_units=burn_ins is None)
        n = self.organisation.n_units
        self.stream = List(rngs)  # every replication's Generator, as the kernels take them (stream[0]: the first's)
        self.provinces = [Province(0, 0, n * len(seeds), rngs[0], self.stream, EventQueue(self.total_weeks),
                                   EventQueue(self.total_weeks), block_size=n)]
        self._rngs = rngs
        self._agents_pending = False
        if burn_ins is not None:
            self._restore_replications(burn_ins)

    def run(self) -> list[list[dict]]:
        """Run to the end; each replication's yearly metrics, in seed order."""
        self._run_until(self.total_weeks)
        return self.replication_yearly

    def snapshots(self) -> list[BurnInState]:
        """Each replication's burn-in snapshot (see SupervisionModel.snapshot), taken at its end."""
        if self.week != self.burn_in_weeks:
            raise RuntimeError("snapshots() are taken at the end of the burn-in")
        n, calendars = self.organisation.n_units, self.provinces[0]
        all_events = calendars.events.split(n * EVENT_CODES_PER_UNIT, self.replications)
        all_sanctions = calendars.sanctions.split(n, self.replications)
        states = []
        for r, (rng, events, sanctions) in enumerate(zip(self._rngs, all_events, all_sanctions)):
            units = self.units.part(r * n, (r + 1) * n)
            parts = (units, [(events, sanctions)], self.planner.staffing[r].copy(), self.accumulator.replication(r),
                     [self.references[r]], [copy.deepcopy(self.replication_yearly[r])])
            rng_state = rng.bit_generator.state
            states.append(BurnInState(parts, rng_state, (rng_state,), self.steps, footprint(parts)))
        return states

    def snapshot(self) -> BurnInState:
        raise RuntimeError("a ReplicationStack takes one snapshot per replication: snapshots()")

    def _restore_replications(self, states: list[BurnInState]) -> None:
        n = self.organisation.n_units
        if not isinstance(states, (list, tuple)) or len(states) != self.replications:
            raise UserError(f"ReplicationStack: burn_ins: {len(states) if isinstance(states, (list, tuple)) else states!r}"
                            f" for {self.replications} seeds; allowed: a list of one burn-in snapshot per seed")
        for state in states:
            units, calendars = state.parts[0], state.parts[1]
            if (units.work.size != n or len(calendars) != 1 or calendars[0][0].fill.size != self.total_weeks
                    or state.steps != states[0].steps):
                raise ValueError("a burn-in snapshot is of a run at another scale or of another length")
        self.units = UnitState.stacked([copy.deepcopy(state.parts[0]) for state in states])
        calendars = [state.parts[1][0] for state in states]
        self.provinces[0].events = EventQueue.joined([events for events, _ in calendars],
                                                     [r * n * EVENT_CODES_PER_UNIT for r in range(len(states))])
        self.provinces[0].sanctions = EventQueue.joined([sanctions for _, sanctions in calendars],
                                                        [r * n for r in range(len(states))])
        self.planner.staffing = np.stack([state.parts[2] for state in states])
        self.accumulator = YearAccumulator.stacked([state.parts[3] for state in states])
        self.references = [state.parts[4][0] for state in states]
        self.replication_yearly = [copy.deepcopy(state.parts[5][0]) for state in states]
        for rng, state in zip(self._rngs, states):
            rng.bit_generator.state = state.rng_state
        self.steps = states[0].steps
        self.week = self.burn_in_weeks

    def _create_agents(self) -> None:
        raise RuntimeError("a ReplicationStack makes no agents; read them from a SupervisionModel of one seed")



def _as_mesa_seeds(rng: np.random.Generator) -> None:
    """The draw Mesa 3.3's Model.__init__ makes from the Generator it is given (to seed its
    random.Random), made for each replication after the first, so that every replication's
    Generator stands where a SupervisionModel's would (tests/test_stack.py checks the result)."""
    rng.integers(np.iinfo(np.int32).max)
