"""Running many model runs: seeds, local process pools or a Dask cluster, progress.

Every run is a RunSpec (scenario, seed, scale, years, tags); its result is simulate()'s table
with the tags as extra columns. Results do not depend on the backend or the worker count:
each run's randomness comes only from its own seed.
"""
from __future__ import annotations

import math
import os
import signal
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from functools import partial
from itertools import islice
from typing import Callable, Iterable, Iterator

import numpy as np
import pandas as pd

from model import Scenario, code_version, simulate, simulate_replications
from model.errors import UserError
from model.kernel_cache import kernels_cached
from model.simulate import load_kernels
from model.threads import THREADS_VARIABLE, usable_cores

from .workers import process_context

ROOT_SEED = 20240101  # the plan's first day; one root for every experiment unless one is given
SCHEDULER_CONNECT_SECONDS = 10


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
    return simulate(spec.scenario, spec.seed, scale=spec.scale, years=spec.years, tags=spec.tags)


def run_stacked(specs: list[RunSpec]) -> list[pd.DataFrame]:
    """run_one's tables of the specs, in order, consecutive runs of one scenario (the same object),
    scale and years advancing together (model.simulate_replications): a study lists each design
    point's replications one after another, so a chunk of them is a stack."""
    results, start = [], 0
    while start < len(specs):
        first, stop = specs[start], start + 1
        while stop < len(specs) and stacks_with(first, specs[stop]):
            stop += 1
        group = specs[start:stop]
        results += simulate_replications(first.scenario, [spec.seed for spec in group], scale=first.scale,
                                         years=first.years, tags=[spec.tags for spec in group])
        start = stop
    return results


def stacks_with(spec: RunSpec, other: RunSpec) -> bool:
    """Whether two runs can advance together: one scenario (the same object), scale and length."""
    return other.scenario is spec.scenario and other.scale == spec.scale and other.years == spec.years


def default_workers() -> int:
    return usable_cores()


MAX_WORKERS = 1_024  # also run.py's limit for --workers


def check_workers(workers) -> None:
    """workers: None (all cores) or a whole number of processes, checked before a study writes anything
    (0 or a negative count reached the pool as a raw ValueError, with the study's folder half made)."""
    if workers is None:
        return
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or not 1 <= workers <= MAX_WORKERS:
        raise UserError(f"workers: {workers!r} is not a number of processes; allowed: a whole number from 1 to "
                        f"{MAX_WORKERS:,}, or None for all cores")


def execute(specs: Iterable[RunSpec], workers: int | None = None, scheduler: str | None = None,
            progress: bool = True, description: str = "model runs", *,
            evaluate: Callable[[RunSpec], pd.DataFrame] = run_one,
            evaluate_many: Callable[[list[RunSpec]], list[pd.DataFrame]] | None = None,
            total: int | None = None, compiled: bool | None = None) -> Iterator[tuple[int, pd.DataFrame]]:
    """Yield (index in specs, result) as runs finish.

    scheduler None: local processes (workers, default all cores; 1 runs in this process).
    scheduler "local": a Dask LocalCluster on loopback; otherwise the address of a Dask scheduler.
    specs may be a generator: only a few tasks per worker are submitted ahead (a task is one run,
    or a chunk of runs that takes about TASK_SECONDS), so memory stays flat however many runs
    there are. `evaluate` turns one spec into its table (a top-level function,
    so it can be sent to other processes), `evaluate_many` a chunk of specs into theirs, in order
    (default: run_stacked when evaluate is run_one; otherwise evaluate, spec by spec); `total`
    sizes the progress bar when specs has no len().
    `compiled`: whether evaluate uses the model's compiled kernels (default: when it is run_one);
    if they must be compiled first, that is done before the progress bar starts.
    """
    check_workers(workers)
    if total is None and hasattr(specs, "__len__"):
        total = len(specs)
    workers = workers or default_workers()
    compiled = evaluate is run_one if compiled is None else compiled
    if evaluate_many is None and evaluate is run_one:
        evaluate_many = run_stacked
    if progress and compiled and scheduler is None and not kernels_cached():
        # Compiled before the bar starts, so its rate and time left are the runs', not the compiler's.
        print("compiling the model's kernels (once after installing or changing the model, about 30 s)",
              file=sys.stderr, flush=True)
        load_kernels()
    bar = _progress_bar(total, description, progress)
    try:
        task = partial(run_chunk, evaluate, evaluate_many)
        if scheduler is not None:
            yield from _execute_dask(specs, workers, scheduler, bar, task)
        elif workers == 1 or (total is not None and total <= 1):
            chunker = _Chunker(specs)
            while chunk := chunker.next():
                yield from _finished_chunk(chunk, task([spec for _, spec in chunk]), chunker, bar)
        else:
            yield from _execute_processes(specs, workers, bar, task)
    finally:
        bar.close()


def _in_flight_limit(workers: int) -> int:
    """Tasks submitted ahead of their results: enough to keep every worker busy, few enough to stay small."""
    return 4 * workers


# A task is a chunk of consecutive runs, sized from the runs timed so far so that it takes about
# TASK_SECONDS: the pool costs about half a millisecond of the parent's time per task, as much as a
# county run, so county and city studies one run per task were bound by the parent (2 workers ran
# fewer county runs per second than 1). Runs of TASK_SECONDS or more stay one per task.
TASK_SECONDS = 0.05
MAX_CHUNK = 64


class _Chunker:
    """Cuts the specs into chunks: one run at first, then as many as take about TASK_SECONDS,
    from the time per run of the last chunk finished (not of all: a process's first run also
    loads the compiled kernels, a second and a half, which kept a study's mean high for dozens
    of runs). A chunk of short runs goes on to the
    end of its last design point's replications (up to MAX_CHUNK), so that run_stacked can
    advance them together instead of a few at each chunk's edge."""

    def __init__(self, specs: Iterable[RunSpec]):
        self.queue = enumerate(specs)
        self.ahead: list[tuple[int, RunSpec]] = []  # one spec read past the last chunk
        self.per_run: float | None = None  # seconds, of the last chunk finished

    def next(self) -> list[tuple[int, RunSpec]]:
        if self.per_run is None:
            return self._take(1)
        size = int(min(MAX_CHUNK, max(1.0, TASK_SECONDS / max(self.per_run, 1e-9))))
        chunk = self._take(size)
        if size > 1:
            while len(chunk) < MAX_CHUNK and (following := self._take(1)):
                if not stacks_with(chunk[-1][1], following[0][1]):
                    self.ahead = following
                    break
                chunk += following
        return chunk

    def _take(self, count: int) -> list[tuple[int, RunSpec]]:
        taken, self.ahead = self.ahead[:count], self.ahead[count:]
        return taken + list(islice(self.queue, count - len(taken)))

    def timed(self, runs: int, seconds: float) -> None:
        self.per_run = seconds / max(runs, 1)


def run_chunk(evaluate: Callable[[RunSpec], pd.DataFrame],
              evaluate_many: Callable[[list[RunSpec]], list[pd.DataFrame]] | None,
              specs: list[RunSpec]) -> tuple[list, float]:
    """A worker's task: the chunk's results in order, and its seconds. A failing run fails the task
    (the chunk's earlier runs, a few hundredths of a second, are run again on --resume)."""
    global _RUNNING_TASK, _STOPPED_AT
    _RUNNING_TASK = True  # before the check: an interrupt from now on stops this task itself
    try:
        if _IN_WORKER and time.monotonic() - _STOPPED_AT < INTERRUPT_GRACE_SECONDS:
            raise KeyboardInterrupt  # queued behind a task an interrupt stopped: its caller is stopping
        started = time.perf_counter()
        results = evaluate_many(specs) if evaluate_many is not None else [evaluate(spec) for spec in specs]
        return results, time.perf_counter() - started
    except KeyboardInterrupt:
        _STOPPED_AT = time.monotonic()
        raise
    finally:
        _RUNNING_TASK = False


# A worker's view of Ctrl-C (see _leave_interrupts_to_the_caller). A queued task is taken up within
# milliseconds of the one before it ending; a new call comes later than this.
INTERRUPT_GRACE_SECONDS = 0.5
_IN_WORKER = False
_STOPPED_AT = -math.inf
_RUNNING_TASK = False


def _finished_chunk(chunk: list[tuple[int, RunSpec]], outcome: tuple[list, float], chunker: _Chunker, bar):
    """Yield a finished chunk's (index, result) pairs, and time its runs for the next chunks' size."""
    results, seconds = outcome
    chunker.timed(len(results), seconds)
    for (index, _), result in zip(chunk, results):
        bar.update(1)
        yield index, result


def _execute_processes(specs, workers, bar, task):
    chunker = _Chunker(specs)
    pool = _worker_pool(workers)
    pending = {}
    finished = False

    def submit(count: int) -> None:
        for _ in range(count):
            chunk = chunker.next()
            if not chunk:
                return
            pending[pool.submit(task, [spec for _, spec in chunk])] = chunk

    try:
        submit(_in_flight_limit(workers))
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield from _finished_chunk(pending.pop(future), future.result(), chunker, bar)
            submit(len(done))
        finished = True
    finally:
        if not (finished and _keep(workers, pool)):
            # a failed run, a broken worker, an interrupt or a caller that stopped early: nothing is left running
            pool.shutdown(wait=True, cancel_futures=True)


def _worker_pool(workers: int) -> ProcessPoolExecutor:
    """The pool of `workers` local processes that the last call finished with, or a new one.
    Starting workers and their first runs (the fork's copy-on-write faults) cost about 0.14 s a
    call: a notebook's repeated short sweeps paid it every time, and 2 workers on a batch of 48
    province runs lost 0.03 of their parallel efficiency to it (docs/PERFORMANCE.md, round 16).
    A kept pool whose worker has died since (killed for memory, say) is replaced."""
    with _POOLS_LOCK:
        pool = _KEPT_POOLS.pop(workers, None)
    release_workers()  # a kept pool of another size
    if pool is not None and not _all_alive(pool):
        _shut_down(pool)
        pool = None
    return pool or ProcessPoolExecutor(max_workers=workers, mp_context=process_context(),
                                       initializer=_leave_interrupts_to_the_caller)


def _leave_interrupts_to_the_caller() -> None:
    """Ctrl-C (SIGINT, which a terminal or a notebook's "interrupt" sends to the whole process group)
    stops a worker's running task, and the tasks queued behind it that it takes up within
    INTERRUPT_GRACE_SECONDS of that, so the caller's pool shuts down at once; an idle worker ignores it. Idle
    kept workers used to die of it, each printing a KeyboardInterrupt traceback, and the next call
    started new ones. (Terminating the workers instead could leave the pool's queue feeder blocked
    on a full pipe, and its shutdown waiting forever.)"""
    global _IN_WORKER
    _IN_WORKER = True
    signal.signal(signal.SIGINT, _interrupted_worker)


def _interrupted_worker(signum, frame) -> None:
    if _RUNNING_TASK:
        raise KeyboardInterrupt


def _all_alive(pool: ProcessPoolExecutor) -> bool:
    # The executor has no public test: its own checks read _broken and its table of processes.
    return not pool._broken and all(process.is_alive() for process in (pool._processes or {}).values())


def _keep(workers: int, pool: ProcessPoolExecutor) -> bool:
    """Keep a finished call's pool unless another is kept already (calls from several threads)."""
    with _POOLS_LOCK:
        if _KEPT_POOLS:
            return False
        _KEPT_POOLS[workers] = pool
        return True


def release_workers() -> None:
    """End the worker processes kept for the next call. They end with this process anyway; until
    then each holds its burn-in snapshots (up to model.simulate.BURN_INS.limit_bytes)."""
    with _POOLS_LOCK:
        pools = list(_KEPT_POOLS.values())
        _KEPT_POOLS.clear()
    for pool in pools:
        _shut_down(pool)


def _shut_down(pool: ProcessPoolExecutor) -> None:
    """Stop a kept pool's workers. An idle worker waits for work holding the task queue's lock; if
    the one that died held it, the others can never take it again, not even to read the order to
    stop, and end only when terminated (the interpreter's exit used to wait for them forever)."""
    if not _all_alive(pool):
        for process in (pool._processes or {}).values():
            process.terminate()
    pool.shutdown(wait=True, cancel_futures=True)


def _forget_pools_in_child() -> None:
    """A forked process has none of its parent's workers, and no thread that could hold the lock."""
    global _POOLS_LOCK
    _POOLS_LOCK = threading.Lock()
    _KEPT_POOLS.clear()


_KEPT_POOLS: dict[int, ProcessPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()
if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_forget_pools_in_child)


def _execute_dask(specs, workers, scheduler, bar, task):
    from dask.distributed import Client, LocalCluster, as_completed as dask_completed

    if scheduler == "local":
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None, host="127.0.0.1",
                               env={THREADS_VARIABLE: "1"})  # the workers already use every core
        client = Client(cluster)
    else:
        cluster, client = None, _connect(Client, scheduler)
    try:
        chunker = _Chunker(specs)
        chunk_of = {}
        finished = dask_completed()

        def submit(count: int) -> None:
            for _ in range(count):
                chunk = chunker.next()
                if not chunk:
                    return
                future = client.submit(task, [spec for _, spec in chunk], pure=False)
                chunk_of[future.key] = chunk
                finished.add(future)

        submit(_in_flight_limit(max(workers, sum(client.nthreads().values()))))
        for future in finished:
            yield from _finished_chunk(chunk_of.pop(future.key), future.result(), chunker, bar)
            submit(1)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def check_scheduler(scheduler: str | None) -> None:
    """Refuse an unreachable scheduler address before a study writes anything for its runs."""
    if scheduler is None or scheduler == "local":
        return
    from dask.distributed import Client

    _connect(Client, scheduler).close()


def _connect(client_class, address: str):
    """A client of a running scheduler; an address that cannot be reached is the user's to fix."""
    try:
        return client_class(address, timeout=SCHEDULER_CONNECT_SECONDS)
    except (OSError, ValueError, TypeError) as error:
        raise UserError(f"--scheduler: cannot reach {address!r} within {SCHEDULER_CONNECT_SECONDS} s ({error}); "
                        "allowed: the address of a running Dask scheduler (tcp://host:8786), or local") from None


def _progress_bar(total: int, description: str, enabled: bool):
    """A progress bar on a terminal or in a notebook; written to a log file (stderr redirected), a
    line every 30 s instead of a carriage-return update every 0.1 s."""
    from tqdm.auto import tqdm

    to_log = not sys.stderr.isatty() and "notebook" not in tqdm.__module__
    return tqdm(total=total, desc=description, unit="run", disable=not enabled, dynamic_ncols=True,
                mininterval=30.0 if to_log else 0.1)


def run_all(specs: Iterable[RunSpec], **options) -> pd.DataFrame:
    """All results in one table, in spec order (whatever order the runs finished in). Its attrs
    carry the code version and each scenario's file and overrides (the rows carry the seeds), which
    concatenating the runs' own tables would drop."""
    specs = list(specs)
    results = dict(execute(specs, **options))
    frame = pd.concat([results[i] for i in sorted(results)], ignore_index=True)
    frame.attrs = {"code_version": code_version(),
                   "scenarios": {spec.scenario.name: {"source": spec.scenario.source,
                                                      "overrides": dict(spec.scenario.overrides)} for spec in specs}}
    return frame
