"""Local worker processes, forked from a server that has imported the model and loaded its compiled
kernels (experiments/worker_preload.py): quick to start and safe in a threaded parent such as a
Jupyter kernel. (Importing mesa makes spawn the default, which re-imports everything in every
worker.) Only the standard library is imported here, so the command line can start the server
before it imports the model itself."""
from __future__ import annotations

import multiprocessing
import os

SERVER_PRELOAD = ["experiments.runner", "experiments.worker_preload"]


def process_context():
    """The multiprocessing context local pools use: the preloading fork server where there is one."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(SERVER_PRELOAD)
    return context


def start_server() -> None:
    """Start the fork server now. Its imports and first run take 1.5 to 2 s; started before the
    caller imports the model, both happen at once on two cores instead of one after the other
    (python run.py: 18.5 -> 17.2 s; a county sweep of 560 runs: 4.2 -> 3.3 s). A pool made later
    uses this server; if no pool is made, it ends with the caller."""
    if len(os.sched_getaffinity(0)) < 2:
        return  # one core: the server's imports would only slow the caller's
    if process_context().get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()
