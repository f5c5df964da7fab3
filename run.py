#!/usr/bin/env python
"""Command line for the supervision-policy model. Each command parses its arguments and calls
one step of the pipeline: scenarios -> model runs (experiments) -> analysis -> reports.

    python run.py                      main job: baseline, each mechanism, the documents' package
    python run.py run SCENARIO ...     compare scenarios against the documents' targets
    python run.py calibrate            fit behavioural parameters to the documents' baselines
"""
from __future__ import annotations

import argparse
import json
import sys

from model import SCALES
from model.errors import UserError

MAIN_SEEDS = 20


def main_scenarios() -> list[str]:
    from scenarios import list_scenarios

    mechanisms = [name for name in list_scenarios() if name.startswith("mechanisms/")]
    return ["baseline", *mechanisms, "packages/documents_reform"]


def command_main(args) -> int:
    args.scenarios = main_scenarios()
    return command_run(args)


def command_run(args) -> int:
    from analysis import compare, format_table
    from experiments import RunSpec, replication_seeds, run_all
    from experiments.store import now_iso
    from scenarios import load_scenario, parse_assignment

    overrides = dict(parse_assignment(text) for text in args.set)
    scenarios = [load_scenario(name, overrides) for name in args.scenarios]
    seeds = replication_seeds(args.seeds)
    specs = [RunSpec(s, seed, scale=args.scale, years=args.years) for s in scenarios for seed in seeds]
    started = now_iso()
    frame = run_all(specs, workers=args.workers, progress=not args.quiet)
    comparison = compare(frame, year=args.year)
    if args.out:
        save_run_results(args.out, frame, scenarios, seeds, args, started)
    if args.format == "json":
        json.dump(comparison, sys.stdout, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        print(format_table(comparison))
    return 0


def save_run_results(folder, frame, scenarios, seeds, args, started) -> None:
    from pathlib import Path

    from experiments.store import environment, now_iso, write_manifest, write_part

    folder = Path(folder)
    manifest = {"kind": "run", "scenarios": [s.name for s in scenarios],
                "scenario_files": [s.source for s in scenarios], "overrides": args.set, "seeds": seeds,
                "scale": args.scale or scenarios[0].scale, "years": args.years or scenarios[0].years,
                "started": started, "finished": None, **environment()}
    write_manifest(folder, manifest)
    write_part(folder, frame, name="all")
    write_manifest(folder, {**manifest, "finished": now_iso()})


def command_calibrate(args) -> int:
    from experiments.calibration import calibrate

    calibrate(seeds=args.seeds, scale=args.scale, iterations=args.iterations, workers=args.workers,
              write=not args.dry_run)
    return 0


def _add_run_options(parser, seeds: int) -> None:
    parser.add_argument("--seeds", type=int, default=seeds, help=f"replications per scenario (default {seeds})")
    parser.add_argument("--years", type=int, default=None, help="simulated policy years (default: the scenario's)")
    parser.add_argument("--scale", choices=list(SCALES), default=None, help="organisation size (default: the scenario's)")
    parser.add_argument("--set", action="append", default=[], metavar="LEVER=VALUE",
                        help="override a lever (merge_rate=0.6) or a parameter (behaviour.detection_base=0.25)")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    parser.add_argument("--year", type=int, default=None, help="calendar year to report (default: the final one)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--out", default=None, metavar="DIR", help="also save the results folder (manifest + Parquet)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="run.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_run_options(parser, MAIN_SEEDS)
    parser.set_defaults(handler=command_main)
    commands = parser.add_subparsers(dest="command")

    run = commands.add_parser("run", help="run scenarios and compare them against the documents' targets")
    run.add_argument("scenarios", nargs="+", metavar="SCENARIO",
                     help="a name under scenarios/ (baseline, mechanisms/merge_items) or a path to a YAML file")
    _add_run_options(run, 10)
    run.set_defaults(handler=command_run)

    calibrate = commands.add_parser("calibrate", help="fit the free behavioural parameters to the baseline figures")
    calibrate.add_argument("--seeds", type=int, default=4, help="replications per evaluation (default 4)")
    calibrate.add_argument("--scale", choices=list(SCALES), default="province")
    calibrate.add_argument("--iterations", type=int, default=6, help="rounds of the fitting procedure (default 6)")
    calibrate.add_argument("--workers", type=int, default=None)
    calibrate.add_argument("--dry-run", action="store_true", help="report the fit without writing baseline.yaml")
    calibrate.set_defaults(handler=command_calibrate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    for name in ("seeds", "workers", "years"):
        value = getattr(args, name, None)
        if value is not None and value < 1:
            print(f"error: --{name}: {value} is below 1; allowed: a whole number >= 1", file=sys.stderr)
            return 2
    try:
        return args.handler(args)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
