"""Threads for the parts of a run that its provinces do on their own (model.schedule, model.planning).

The compiled kernels release the GIL, so a national run's provinces can use every core. Each
province draws from its own random stream and the results are combined in province order, so the
number of threads never changes a result."""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Sequence, TypeVar

from .errors import UserError

THREADS_VARIABLE = "SUPERVISION_THREADS"

Item = TypeVar("Item")
Result = TypeVar("Result")


def usable_cores() -> int:
    """The cores this process may use (its CPU affinity where the system has one)."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def default_threads() -> int:
    """$SUPERVISION_THREADS if set (a sweep's worker processes set it to 1: the processes already use
    every core), else the cores this process may use."""
    value = os.environ.get(THREADS_VARIABLE, "").strip()
    if not value:
        return usable_cores()
    if not value.isdigit() or int(value) < 1:
        raise UserError(f"environment: {THREADS_VARIABLE}={value!r} is not allowed; allowed: a whole number >= 1")
    return int(value)


def map_in_threads(function: Callable[[Item], Result], items: Sequence[Item], threads: int) -> list[Result]:
    """[function(item) for item in items], in up to `threads` threads; results in the items' order.
    The threads are kept for the next call: starting two costs about 3 ms, and a national year
    makes three calls."""
    if threads <= 1 or len(items) <= 1:
        return [function(item) for item in items]
    workers = min(threads, len(items))
    if workers not in _POOLS:
        _POOLS[workers] = ThreadPoolExecutor(workers, thread_name_prefix="provinces")
    return list(_POOLS[workers].map(function, items))


_POOLS: dict[int, ThreadPoolExecutor] = {}
if hasattr(os, "register_at_fork"):  # POSIX: a forked process has none of its parent's threads
    os.register_at_fork(after_in_child=_POOLS.clear)
