"""Imported once by the forkserver that starts local worker processes (see experiments.workers).

It imports the model and makes one short run, so the compiled kernels are loaded (or, on a
fresh checkout, compiled and cached) once, before any worker is forked: every worker then starts
with them instead of loading them itself. Each worker runs a national run's provinces in one
thread: the workers already use every core."""
import os

from model.simulate import load_kernels
from model.threads import THREADS_VARIABLE

os.environ[THREADS_VARIABLE] = "1"

load_kernels()
