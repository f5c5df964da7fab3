"""Bit-identity check for optimisations: record simulate() tables, change the code, compare exactly.

    python -m benchmarks.identity record DIR [--big]   # before the change (e.g. on a clean checkout)
    python -m benchmarks.identity check DIR [--big]    # after it: every table must be identical

The runs are five scenarios at county and city scale, six replication seeds each, three policy
years (60 runs, about 15 s); --big adds two seeds at province scale for each scenario and one
national run of baseline and of the reform package (about 40 s more). Tables are compared with
pandas.testing.assert_frame_equal(check_exact=True), or with --rtol to within a relative
tolerance: compiled kernels (numba) compute exp, log and powers with other last-bit rounding than
numpy's vectorised loops, so their floats may differ in the last bits while every draw and count
is the same. The recorded file is one pickle in DIR.
tests/test_equivalence.py is the lighter, always-on guard; this is the tool to use while optimising.
"""
from __future__ import annotations

import argparse
import pickle
import sys
import time
from pathlib import Path

SCENARIOS = ("baseline", "packages/documents_reform", "mechanisms/joint_inspection", "mechanisms/merge_items",
             "mechanisms/remote_inspection")


def cases(big: bool) -> list[tuple[str, str, int, int]]:
    from experiments.runner import replication_seeds

    runs = [(name, scale, seed, 3) for name in SCENARIOS for scale in ("county", "city")
            for seed in replication_seeds(6)]
    if big:
        runs += [(name, "province", seed, 2) for name in SCENARIOS for seed in replication_seeds(2)]
        runs += [(name, "national", replication_seeds(1)[0], 1) for name in SCENARIOS[:2]]
    return runs


def run(case):
    from model import simulate
    from scenarios import load_scenario

    name, scale, seed, years = case
    return simulate(load_scenario(name), seed, scale=scale, years=years)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.identity", description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=("record", "check"))
    parser.add_argument("directory", type=Path)
    parser.add_argument("--big", action="store_true", help="add province and national runs")
    parser.add_argument("--rtol", type=float, default=0.0,
                        help="relative tolerance for floats (default 0: bit-identical)")
    args = parser.parse_args(argv)
    path = args.directory / ("identity_big.pkl" if args.big else "identity.pkl")
    started = time.perf_counter()
    if args.action == "record":
        tables = {case: run(case) for case in cases(args.big)}
        args.directory.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pickle.dumps(tables))
        print(f"recorded {len(tables)} runs in {path} ({time.perf_counter() - started:.0f} s)")
        return 0

    import pandas as pd

    recorded = pickle.loads(path.read_bytes())
    mismatches = 0
    for case in cases(args.big):
        try:
            if args.rtol:
                pd.testing.assert_frame_equal(run(case), recorded[case], check_exact=False, rtol=args.rtol,
                                              atol=0.0)
            else:
                pd.testing.assert_frame_equal(run(case), recorded[case], check_exact=True)
        except AssertionError as error:
            mismatches += 1
            print(f"MISMATCH {case}: {str(error).splitlines()[0]}")
    print(f"checked {len(recorded)} runs against {path}: {mismatches} mismatches "
          f"({time.perf_counter() - started:.0f} s)")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
