"""Imported once by the forkserver that starts local worker processes (see runner._process_context).

It imports the model and makes one short run, so the compiled kernels are loaded (or, on a
fresh checkout, compiled and cached) once, before any worker is forked: every worker then starts
with them instead of loading them itself."""
from model import default_scenario, simulate

simulate(default_scenario(), seed=0, scale="county", years=1, reuse_burn_in=False)
