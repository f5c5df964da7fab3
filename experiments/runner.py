"""Running many model runs: seeds, local process pools or a Dask cluster, progress.

Every run is a RunSpec (scenario, seed, scale, years, tags); its result is simulate()'s table
with the tags as extra columns. Results do not depend on the backend or the worker count:
each run's randomness comes only from its own seed.
"""
from __future__ import annotations

import multiprocessing
import sys
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from itertools import islice
from typing import Callable, Iterable, Iterator

import numpy as np
import pandas as pd

from model import Scenario, simulate
from model.threads import THREADS_VARIABLE, usable_cores

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
    return usable_cores()


def execute(specs: Iterable[RunSpec], workers: int | None = None, scheduler: str | None = None,
            progress: bool = True, description: str = "model runs", *,
            evaluate: Callable[[RunSpec], pd.DataFrame] = run_one,
            total: int | None = None) -> Iterator[tuple[int, pd.DataFrame]]:
    """Yield (index in specs, result) as runs finish.

    scheduler None: local processes (workers, default all cores; 1 runs in this process).
    scheduler "local": a Dask LocalCluster on loopback; otherwise the address of a Dask scheduler.
    specs may be a generator: only a few runs per worker are submitted ahead, so memory stays flat
    however many runs there are. `evaluate` turns one spec into its table (a top-level function,
    so it can be sent to other processes); `total` sizes the progress bar when specs has no len().
    """
    if total is None and hasattr(specs, "__len__"):
        total = len(specs)
    workers = workers or default_workers()
    bar = _progress_bar(total, description, progress)
    try:
        if scheduler is not None:
            yield from _execute_dask(specs, workers, scheduler, bar, evaluate)
        elif workers == 1 or (total is not None and total <= 1):
            for index, spec in enumerate(specs):
                result = evaluate(spec)
                bar.update(1)
                yield index, result
        else:
            yield from _execute_processes(specs, workers, bar, evaluate)
    finally:
        bar.close()


def _in_flight_limit(workers: int) -> int:
    """Runs submitted ahead of their results: enough to keep every worker busy, few enough to stay small."""
    return 4 * workers


def _process_context():
    """Worker processes forked from a server that has already imported the model and loaded its
    compiled kernels: quick to start and safe in a threaded parent such as a Jupyter kernel. (Importing mesa makes spawn the
    default, which re-imports everything in every worker.)"""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["experiments.runner", "experiments.worker_preload"])
    return context


def _execute_processes(specs, workers, bar, evaluate):
    queue = enumerate(specs)
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=_process_context())
    pending = {}

    def submit(count: int) -> None:
        for index, spec in islice(queue, count):
            pending[pool.submit(evaluate, spec)] = index

    try:
        submit(_in_flight_limit(workers))
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                index = pending.pop(future)
                bar.update(1)
                yield index, future.result()
            submit(len(done))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _execute_dask(specs, workers, scheduler, bar, evaluate):
    from dask.distributed import Client, LocalCluster, as_completed as dask_completed

    if scheduler == "local":
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None, host="127.0.0.1",
                               env={THREADS_VARIABLE: "1"})  # the workers already use every core
        client = Client(cluster)
    else:
        cluster, client = None, Client(scheduler)
    try:
        queue = enumerate(specs)
        index_of = {}
        finished = dask_completed()

        def submit(count: int) -> None:
            for index, spec in islice(queue, count):
                future = client.submit(evaluate, spec, pure=False)
                index_of[future.key] = index
                finished.add(future)

        submit(_in_flight_limit(max(workers, sum(client.nthreads().values()))))
        for future in finished:
            index = index_of.pop(future.key)
            bar.update(1)
            yield index, future.result()
            submit(1)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _progress_bar(total: int, description: str, enabled: bool):
    """A progress bar on a terminal or in a notebook; written to a log file (stderr redirected), a
    line every 30 s instead of a carriage-return update every 0.1 s."""
    from tqdm.auto import tqdm

    to_log = not sys.stderr.isatty() and "notebook" not in tqdm.__module__
    return tqdm(total=total, desc=description, unit="run", disable=not enabled, dynamic_ncols=True,
                mininterval=30.0 if to_log else 0.1)


def run_all(specs: Iterable[RunSpec], **options) -> pd.DataFrame:
    """All results in one table, in spec order (whatever order the runs finished in)."""
    results = dict(execute(specs, **options))
    return pd.concat([results[i] for i in sorted(results)], ignore_index=True)
