"""Law check for changes that move the random streams: many seeds before and after, as distributions.

    python -m benchmarks.law record DIR [--seeds 1000] [--province-seeds 200] [--provinces-seeds 300]
    python -m benchmarks.law record DIR2 ...                                      # on the code after
    python -m benchmarks.law compare DIR DIR2 [--expect METRIC ...]

A change that draws the same law from fewer or other random numbers (round 6 in
docs/PERFORMANCE.md) cannot pass the run-by-run identity check, and the equivalence guard's 20
seeds have little power. This runs the reference scenarios (benchmarks.reference) at city and
province scale and at a small scale of several provinces (PROVINCES_SCALE: the paths a national
run takes, where each province draws from its own stream), burn-in + 2 policy years, the same
seeds on both sides, and compares each
scenario, scale and metric's final-year values with Welch's t-test and Kolmogorov-Smirnov.
A comparison is flagged when a p-value is below 0.05 divided by the number of tests
(Bonferroni), so an unchanged law is flagged about once in 20 comparisons of two records.
--expect names metrics meant to change (e.g. to lose run-to-run noise); the exit status is 1 when
any other metric is flagged. Run-to-run spread is reported as the ratio of standard deviations.
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import pandas as pd

from benchmarks.reference import REFERENCE_SCENARIOS, compare_distributions

PROVINCES_SCALE = "law_four_provinces"
PROVINCES_SHAPE = (4, 3, 3, 10)  # provinces, cities, counties, units per county: 360 units

YEARS = 2
LAW_ROOT_SEED = 31337  # a root of its own, so these seeds are not those of the reference or of a study
FAMILY_ALPHA = 0.05
FILE = "law.parquet"


def record(directory: Path, seeds: int, province_seeds: int, provinces_seeds: int, workers: int | None) -> Path:
    from experiments.runner import RunSpec, replication_seeds, run_all
    from model import METRICS, code_version
    from model.params import SCALES
    from scenarios import load_scenario

    def specs(counts: tuple) -> list:
        return [RunSpec(load_scenario(name), seed, scale, YEARS, (("scenario_name", name),))
                for name in REFERENCE_SCENARIOS for scale, count in counts
                for seed in replication_seeds(count, root=LAW_ROOT_SEED)]

    tables = []
    if seeds or province_seeds:
        tables.append(run_all(specs((("city", seeds), ("province", province_seeds))), workers=workers,
                              description="law runs"))
    if provinces_seeds:  # a scale of its own, known to this process only: its runs stay in it
        SCALES[PROVINCES_SCALE] = PROVINCES_SHAPE
        try:
            tables.append(run_all(specs(((PROVINCES_SCALE, provinces_seeds),)), workers=1,
                                  description=f"law runs at {PROVINCES_SCALE}"))
        finally:
            del SCALES[PROVINCES_SCALE]
    table = pd.concat(tables, ignore_index=True)
    final = table[table["year"] == table.groupby(["scenario_name", "scale", "seed"])["year"].transform("max")]
    final = final[["scenario_name", "scale", "seed", *METRICS]].rename(columns={"scenario_name": "scenario"})
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / FILE
    final.attrs["code_version"] = code_version()
    final.reset_index(drop=True).to_parquet(path)
    return path


def compare(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """One row per scenario, scale and metric: p-values, mean shift in before's SD, SD ratio."""
    rows = []
    for scale in sorted(before["scale"].unique()):
        a, b = before[before["scale"] == scale], after[after["scale"] == scale]
        with warnings.catch_warnings():  # a metric without run-to-run spread makes scipy warn
            warnings.simplefilter("ignore", RuntimeWarning)
            checks = compare_distributions(a, b)
        for check in checks:
            ref = a.loc[a["scenario"] == check.scenario, check.metric].dropna()
            cur = b.loc[b["scenario"] == check.scenario, check.metric].dropna()
            spread = ref.std(ddof=1)
            rows.append({"scenario": check.scenario, "scale": scale, "metric": check.metric,
                         "welch_p": check.welch_p, "ks_p": check.ks_p, "shift_sd": check.shift_sd,
                         "sd_ratio": cur.std(ddof=1) / spread if spread > 0 else float("nan"),
                         "mean_before": ref.mean(), "mean_after": cur.mean()})
    result = pd.DataFrame(rows)
    result["p"] = result[["welch_p", "ks_p"]].min(axis=1)
    tests = 2 * int(result["p"].notna().sum())
    result["flagged"] = result["p"] < FAMILY_ALPHA / max(tests, 1)
    return result.sort_values("p", na_position="last").reset_index(drop=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.law", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="action", required=True)
    rec = commands.add_parser("record", help="run the seeds on this code and save their final-year metrics")
    rec.add_argument("directory", type=Path)
    rec.add_argument("--seeds", type=int, default=1000, help="seeds per scenario at city scale (default 1000)")
    rec.add_argument("--province-seeds", type=int, default=200,
                     help="seeds per scenario at province scale (default 200)")
    rec.add_argument("--provinces-seeds", type=int, default=300,
                     help=f"seeds per scenario at {PROVINCES_SCALE} {PROVINCES_SHAPE} (default 300; 0: none)")
    rec.add_argument("--workers", type=int, default=None)
    cmp = commands.add_parser("compare", help="compare two records")
    cmp.add_argument("before", type=Path)
    cmp.add_argument("after", type=Path)
    cmp.add_argument("--expect", nargs="*", default=[], help="metrics meant to change")
    args = parser.parse_args(argv)
    if args.action == "record":
        started = time.perf_counter()
        path = record(args.directory, args.seeds, args.province_seeds, args.provinces_seeds, args.workers)
        print(f"recorded {path} ({time.perf_counter() - started:.0f} s)")
        return 0
    frames = []
    for directory in (args.before, args.after):
        path = directory / FILE
        if not path.is_file():
            print(f"error: {path}: no record; make it with `python -m benchmarks.law record {directory}`",
                  file=sys.stderr)
            return 2
        frames.append(pd.read_parquet(path))
    result = compare(*frames)
    tests = 2 * int(result["p"].notna().sum())
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(f"{len(result)} comparisons ({tests} tests; flagged when p < {FAMILY_ALPHA}/{tests}); smallest p first:")
        print(result.head(15).to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    expected = result[result["metric"].isin(args.expect)]
    if len(expected):
        print("\nmetrics expected to change:")
        print(expected.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    unexpected = result[result["flagged"] & ~result["metric"].isin(args.expect)]
    named = ", ".join(f"{r.scenario}/{r.scale}/{r.metric}" for r in unexpected.itertuples())
    print(f"\n{len(unexpected)} unexpected flagged comparisons" + (f": {named}" if named else ""))
    return 1 if len(unexpected) else 0


if __name__ == "__main__":
    sys.exit(main())
