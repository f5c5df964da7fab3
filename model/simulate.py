"""One run of one scenario, as a tidy table of yearly metrics."""
from __future__ import annotations

import gc
from collections import OrderedDict
from functools import lru_cache
from operator import itemgetter

import mesa
import numpy as np
import pandas as pd
from pandas.api.internals import create_dataframe_from_blocks

from .errors import UserError
from .metrics import METRICS
from .model import BurnInState, ReplicationStack, SupervisionModel, check_run_arguments
from .organisation import build_organisation
from .params import Scenario, default_scenario
from .version import code_version


def simulate(scenario: Scenario, seed: int, scale: str | None = None, years: int | None = None,
             reuse_burn_in: bool = True, threads: int | None = None,
             tags: tuple[tuple[str, object], ...] = ()) -> pd.DataFrame:
    """Run `scenario` with `seed`; one row per simulated year (burn-in included, phase says which).
    `tags` are (name, value) pairs that identify the run within a study (design point, replication,
    factor values): constant columns after `scale`, each as DataFrame.insert would make it.

    The same scenario, seed, scale and years give the same table in any process. With
    reuse_burn_in, the run continues from this process's snapshot of an identical burn-in when
    it has one (same table, bit for bit; a study that varies only levers, with common random
    numbers, simulates each replication's burn-in once per worker). `threads` run a national
    run's provinces in parallel (default: model.threads.default_threads()); the table does not
    depend on it.
    """
    check_run_arguments("simulate", scenario, seed, scale, years)
    check_tags(tags)
    scale = scale or scenario.scale
    years = years if years is not None else scenario.years
    key = burn_in_key(scenario, seed, scale, years)
    state = BURN_INS.take(key) if reuse_burn_in else None
    model = SupervisionModel(scenario, seed, scale=scale, years=years, burn_in=state, threads=threads)
    if reuse_burn_in:
        if state is None:
            model.run_burn_in()
            state = model.snapshot()
        BURN_INS.keep(key, state)
    yearly = model.run()
    release(model)
    del model
    _freeze_long_lived_objects_once()
    return _finished_table(scenario, seed, scale, years, yearly, tags)


def simulate_replications(scenario: Scenario, seeds: list[int], scale: str | None = None, years: int | None = None,
                          reuse_burn_in: bool = True, threads: int | None = None,
                          tags: list[tuple[tuple[str, object], ...]] | None = None) -> list[pd.DataFrame]:
    """simulate() of `scenario` for each seed (with tags[r] for seeds[r]): the same tables, bit for
    bit, and the same burn-in snapshots kept and reused. At county, city and province scale the
    runs advance together (model.model.ReplicationStack), which makes a county run in a stack of 10
    about half as dear; national runs are made one after another."""
    if not isinstance(seeds, (list, tuple)) or not seeds:
        raise UserError(f"simulate_replications: seeds: {seeds!r} is not a list of seeds; allowed: a non-empty list "
                        "of integers >= 0")
    tags = [()] * len(seeds) if tags is None else list(tags)
    if len(tags) != len(seeds):
        raise UserError(f"simulate_replications: tags: {len(tags)} for {len(seeds)} seeds; allowed: one tuple of "
                        "(name, value) pairs per seed")
    for seed, tag in zip(seeds, tags):
        check_run_arguments("simulate_replications", scenario, seed, scale, years)
        check_tags(tag)
    scale = scale or scenario.scale
    if len(seeds) < 2 or not stackable(scale):
        return [simulate(scenario, seed, scale=scale, years=years, reuse_burn_in=reuse_burn_in, threads=threads,
                         tags=tag) for seed, tag in zip(seeds, tags)]
    years = years if years is not None else scenario.years
    stack = None
    if not reuse_burn_in:
        stack = ReplicationStack(scenario, list(seeds), scale=scale, years=years, threads=threads)
    else:
        keys = [burn_in_key(scenario, seed, scale, years) for seed in seeds]
        states = [BURN_INS.take(key) for key in keys]
        missing = [r for r, state in enumerate(states) if state is None]
        if missing:  # their burn-ins, together; when it is every seed's, that stack goes on
            burn_in = ReplicationStack(scenario, [seeds[r] for r in missing], scale=scale, years=years,
                                       threads=threads)
            burn_in.run_burn_in()
            for r, state in zip(missing, burn_in.snapshots()):
                states[r] = state
            stack = burn_in if len(missing) == len(seeds) else None
        for key, state in zip(keys, states):
            BURN_INS.keep(key, state)
        if stack is None:
            stack = ReplicationStack(scenario, list(seeds), scale=scale, years=years, threads=threads, burn_ins=states)
    stack.run()
    release(stack)
    _freeze_long_lived_objects_once()
    return [_finished_table(scenario, seed, scale, years, yearly, tag)
            for seed, yearly, tag in zip(seeds, stack.replication_yearly, tags)]


def stackable(scale: str) -> bool:
    """Whether runs at this scale can advance together: one province (ReplicationStack)."""
    return build_organisation(scale).jurisdiction_start[1].size == 1


def _finished_table(scenario: Scenario, seed: int, scale: str, years: int, yearly: list[dict],
                    tags: tuple[tuple[str, object], ...]) -> pd.DataFrame:
    frame = run_table(scenario.name, seed, scale, yearly, tags)
    frame.attrs.update(scenario=scenario.name, seed=seed, scale=scale, years=years,
                       code_version=code_version(), source=scenario.source,
                       overrides=dict(scenario.overrides))
    return frame


def load_kernels() -> None:
    """Load the compiled kernels, or compile and cache them on first use, with one short run."""
    simulate(default_scenario(), seed=0, scale="county", years=1, reuse_burn_in=False)


def run_table(scenario_name: str, seed: int, scale: str, yearly: list[dict],
              tags: tuple[tuple[str, object], ...] = ()) -> pd.DataFrame:
    """The run's table (columns scenario, seed, scale, the tags, year, phase, then the metrics in
    the order the years give them), built from its column blocks: the same frame as
    pd.DataFrame(columns) with each tag inserted after scale, whose checks of each column took
    0.9 ms of a 5 ms county run, and inserting a study's dozen tags one by one 1.6 ms more. The
    column labels and the string columns repeat from run to run, so they are made once (each run
    gets its own copy of a string column: the table is the caller's to change)."""
    rows, names = len(yearly), tuple(yearly[0])
    columns, metrics_of, float_at, int_at, string_at, tag_at = _table_layout(names, tuple(name for name, _ in tags))
    blocks = [(np.ascontiguousarray(np.array([metrics_of(year) for year in yearly], dtype=np.float64).T), float_at),
              (np.array([[seed] * rows, [year["year"] for year in yearly]], dtype=np.int64), int_at)]
    for values, at in zip(((scenario_name,) * rows, (scale,) * rows, tuple(year["phase"] for year in yearly)),
                          string_at):
        blocks.append((_string_column(values).copy(), at))
    for (_, value), at in zip(tags, tag_at):
        blocks.append((_tag_column(value, rows), at))
    return create_dataframe_from_blocks(blocks, index=pd.RangeIndex(rows), columns=columns)


def _tag_column(value, rows: int):
    """A tag's column: a number or boolean in its own numpy type (a Python int as int64, a float as
    float64), a string in pandas' string type."""
    if isinstance(value, str):
        return _string_column((value,) * rows).copy()
    return np.full((1, rows), value)


def check_tags(tags: tuple[tuple[str, object], ...]) -> None:
    """Tags must be numbers, booleans or strings under names that are not the table's own."""
    names = [name for name, _ in tags]
    for name, value in tags:
        if not isinstance(value, (str, bool, int, float, np.bool_, np.integer, np.floating)):
            raise TypeError(f"tag {name}: a value of type {type(value).__name__}; allowed: a number, a boolean "
                            "or a string")
        if name in _RESERVED_COLUMNS or names.count(name) > 1:
            raise ValueError(f"tag {name}: names a column the table already has; allowed: a name other than "
                             "scenario, seed, scale, year, phase, a metric or another tag")


_RESERVED_COLUMNS = frozenset(("scenario", "seed", "scale", "year", "phase", *METRICS))


@lru_cache(maxsize=None)
def _table_layout(names: tuple[str, ...], tag_names: tuple[str, ...]) -> tuple:
    """The columns of a run's table whose years have these keys ("year", "phase", the metrics) and
    these tags, what reads a year's metrics, and where its blocks go: the metrics, then (seed, year),
    then scenario, scale and phase, then each tag."""
    if names[:2] != ("year", "phase"):
        raise ValueError(f"a year's record starts with year and phase, not {names[:2]}")
    after_tags = 3 + len(tag_names)
    columns = pd.Index(["scenario", "seed", "scale", *tag_names, *names])
    return (columns, itemgetter(*names[2:]), np.arange(after_tags + 2, len(columns)), np.array([1, after_tags]),
            (np.array([0]), np.array([2]), np.array([after_tags + 1])),
            tuple(np.array([3 + k]) for k in range(len(tag_names))))


@lru_cache(maxsize=1024)
def _string_column(values: tuple[str, ...]):
    return pd.array(list(values), dtype="str")


class BurnInCache:
    """Burn-in snapshots by burn_in_key, least recently used first, up to `limit_bytes` of their
    footprint (always the newest one). The total is kept as they come and go: summing it at every
    insertion walked every kept snapshot, so a study of many seeds slowed as it went
    (docs/PERFORMANCE.md, round 15)."""

    def __init__(self, limit_bytes: int):
        self.limit_bytes = limit_bytes
        self.nbytes = 0
        self._states: OrderedDict[tuple, BurnInState] = OrderedDict()

    def __len__(self) -> int:
        return len(self._states)

    def take(self, key: tuple) -> BurnInState | None:
        """The snapshot kept under `key`, removed (keep() it again once used), or None."""
        state = self._states.pop(key, None)
        if state is not None:
            self.nbytes -= state.nbytes
        return state

    def keep(self, key: tuple, state: BurnInState) -> None:
        """Keep `state` as the most recently used, dropping the least recently used ones beyond the limit."""
        self.take(key)
        self._states[key] = state
        self.nbytes += state.nbytes
        while len(self._states) > 1 and self.nbytes > self.limit_bytes:
            self.nbytes -= self._states.popitem(last=False)[1].nbytes


# This process's snapshots: a province snapshot takes about 1 MiB, so a 20-seed study keeps them
# all; a national one 29 MiB.
BURN_INS = BurnInCache(limit_bytes=256 * 2**20)


def _freeze_long_lived_objects_once() -> None:
    """After a process's first run, set aside what exists then from the cyclic garbage collector.

    The imports and the kernels' first loading make about 200,000 objects that live as long as the
    process, and each full pass of the collector scanned them all: 33 ms a pass, every ten or so
    province runs (the agents of each run are what triggers a pass), 4% of the runs' time. The first
    run's own garbage is collected first, so nothing that is garbage is set aside."""
    global _FROZEN
    if not _FROZEN:
        gc.collect()
        gc.freeze()
        _FROZEN = True


_FROZEN = False


def burn_in_key(scenario: Scenario, seed: int, scale: str, years: int) -> tuple:
    """What the burn-in depends on: not the scenario's levers, which start with the policy years.
    The run's length is included because consequences due after the run's end are not kept."""
    return (scale, seed, scenario.burn_in_years, scenario.start_year, years,
            tuple(sorted(scenario.behaviour.items())), tuple(sorted(scenario.status_quo.items())))


def release(model: mesa.Model) -> None:
    """Let a finished model be garbage-collected. Mesa 3.3 keeps every model alive through the
    class attribute Agent._ids (its agent id counters, keyed by model; mesa issue #3179, fixed by
    mesa PR #3180), so a process that runs many models grows by each one's arrays (3 to 6 MiB
    per province run). Call only when no agent will be added to the model any more."""
    ids = getattr(mesa.Agent, "_ids", None)
    if isinstance(ids, dict):
        ids.pop(model, None)
