"""Running many model runs: seeds, local process pools or a Dask cluster, progress.

Every run is a RunSpec (scenario, seed, scale, years, tags); its result is simulate()'s table
with the tags as extra columns. Results do not depend on the backend or the worker count:
each run's randomness comes only from its own seed.
"""
from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Iterable, Iterator

import numpy as np
import pandas as pd

from model import Scenario, simulate

ROOT_SEED = 20240101  # the plan's first day; one root for every experiment unless one is given


@dataclass(frozen=True)
class RunSpec:
    scenario: Scenario
    seed: int
    scale: str | None = None
    years: int | None = None
    tags: tuple[tuple[str, object], ...] = field(default_factory=tuple)


def replication_seeds(count: int, root: int = ROOT_SEED) -> list[int]:
    """Seeds for replications 0..count-1, spawned from one SeedSequence. Replication r gets the
    same seed in every scenario and design point: common random numbers."""
    children = np.random.SeedSequence(root).spawn(count)
    return [int(child.generate_state(1, dtype=np.uint32)[0]) for child in children]


def run_one(spec: RunSpec) -> pd.DataFrame:
    frame = simulate(spec.scenario, spec.seed, scale=spec.scale, years=spec.years)
    for position, (name, value) in enumerate(spec.tags):
        frame.insert(3 + position, name, value)
    return frame


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def execute(specs: Iterable[RunSpec], workers: int | None = None, scheduler: str | None = None,
            progress: bool = True, description: str = "model runs") -> Iterator[tuple[int, pd.DataFrame]]:
    """Yield (index in specs, result) as runs finish.

    scheduler None: local processes (workers, default all cores; 1 runs in this process).
    scheduler "local": a Dask LocalCluster on loopback; otherwise the address of a Dask scheduler.
    """
    specs = list(specs)
    workers = workers or default_workers()
    bar = _progress_bar(len(specs), description, progress)
    try:
        if scheduler is not None:
            yield from _execute_dask(specs, workers, scheduler, bar)
        elif workers == 1 or len(specs) <= 1:
            for index, spec in enumerate(specs):
                result = run_one(spec)
                bar.update(1)
                yield index, result
        else:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                futures = {pool.submit(run_one, spec): index for index, spec in enumerate(specs)}
                for future in as_completed(futures):
                    bar.update(1)
                    yield futures[future], future.result()
    finally:
        bar.close()


def _execute_dask(specs, workers, scheduler, bar):
    from dask.distributed import Client, LocalCluster, as_completed as dask_completed

    if scheduler == "local":
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None, host="127.0.0.1")
        client = Client(cluster)
    else:
        cluster, client = None, Client(scheduler)
    try:
        futures = client.map(run_one, specs, pure=False)
        index_of = {future.key: index for index, future in enumerate(futures)}
        for future in dask_completed(futures):
            bar.update(1)
            yield index_of[future.key], future.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _progress_bar(total: int, description: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=description, unit="run", disable=not enabled, dynamic_ncols=True)


def run_all(specs: Iterable[RunSpec], **options) -> pd.DataFrame:
    """All results in one table, in spec order (whatever order the runs finished in)."""
    results = dict(execute(specs, **options))
    return pd.concat([results[i] for i in sorted(results)], ignore_index=True)
