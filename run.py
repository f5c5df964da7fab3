#!/usr/bin/env python
"""Command line for the supervision-policy model. Each command parses its arguments and calls
one step of the pipeline: scenarios -> model runs (experiments) -> analysis -> reports.

    python run.py                      main job: baseline, each mechanism, the documents' package
    python run.py run SCENARIO ...     compare scenarios against the documents' targets
    python run.py calibrate            fit behavioural parameters to the documents' baselines
    python run.py sweep EXPERIMENT     run an experiment's design (grid, Latin hypercube, CSV points)
    python run.py sensitivity EXP      Morris screening or Sobol indices with SALib
    python run.py report RESULTS       briefing, charts and tables of a results folder
    python run.py bench                speed, memory and parallel scaling on this machine
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys

STUDY_COMMANDS = (None, "run", "calibrate", "sweep", "sensitivity")  # None: the main job


def _starts_local_workers(argv: list[str]) -> bool:
    """Whether the command will run on local worker processes (unless it fails validation):
    a study command, without --workers 1 or --scheduler."""
    command = argv[0] if argv and not argv[0].startswith("-") else None
    workers_one = "--workers=1" in argv or any(a == "--workers" and b == "1" for a, b in zip(argv, argv[1:]))
    return (command in STUDY_COMMANDS and not workers_one and not any(a.startswith("--scheduler") for a in argv)
            and not any(a in ("-h", "--help") for a in argv))


if __name__ == "__main__" and _starts_local_workers(sys.argv[1:]):
    from experiments.workers import start_server

    start_server()  # it imports the model while this process does (experiments/workers.py)

from experiments.runner import MAX_WORKERS  # noqa: E402
from model import SCALES  # noqa: E402 (after the workers' server is started)
from model.errors import UserError

MAIN_SEEDS = 20
MAIN_RESULTS = "results/latest"
MAIN_REPORT = "reports/latest"
FLAG_OPTIONS = ("--quiet",)  # the main job's options that take no value


def main_scenarios() -> list[str]:
    from scenarios import list_scenarios

    mechanisms = [name for name in list_scenarios() if name.startswith("mechanisms/")]
    return ["baseline", *mechanisms, "packages/documents_reform"]


def command_main(args) -> int:
    """Print the target table, keep the results and write the briefing: results/latest and
    reports/latest, or with --out DIR, DIR and reports/<DIR's name> (as `report DIR` would)."""
    from reports.cli import build_report, describe

    args.scenarios = main_scenarios()
    report_folder = MAIN_REPORT if args.out is None else None
    args.out = args.out or MAIN_RESULTS
    status = command_run(args)
    print(describe(build_report(args.out, report_folder)), file=sys.stderr)
    return status


def command_run(args) -> int:
    """Everything a user can get wrong is checked before the first model run; --out is written
    beside its destination and swapped in only when complete."""
    from contextlib import nullcontext
    from pathlib import Path

    from analysis import compare, format_table
    from experiments import RunSpec, replication_seeds, run_all
    from experiments.store import check_replaceable, now_iso, staged_folder
    from model import code_version
    from scenarios import load_scenario

    overrides = _overrides(args.set)
    _check_override_conflicts(overrides, args)
    scenarios = [_with_options(load_scenario(name, overrides, "--set"), args) for name in args.scenarios]
    _check_distinct_names(scenarios)
    _check_year(args.year, scenarios)
    _warn_of_unreached_steps(scenarios)
    if args.out:
        check_replaceable(Path(args.out), "run")
    seeds = replication_seeds(args.seeds)
    specs = [RunSpec(s, seed) for s in scenarios for seed in seeds]
    started = now_iso()
    with staged_folder(args.out) if args.out else nullcontext() as staging:
        frame = run_all(specs, workers=args.workers, progress=not args.quiet)
        comparison = {**compare(frame, year=args.year), "overrides": args.set, "code_version": code_version()}
        if staging is not None:
            save_run_results(staging, frame, scenarios, seeds, args, started)
    if args.format == "json":
        json.dump(comparison, sys.stdout, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        print(format_table(comparison))
    return 0


def _overrides(assignments: list[str]) -> dict:
    """--set NAME=VALUE options; a name given twice is a mistake, not a silent choice of the last."""
    from scenarios import parse_assignment

    overrides = {}
    for text in assignments:
        name, value = parse_assignment(text)
        if name in overrides:
            raise UserError(f"--set {name}: given twice ({overrides[name]} and {value}); allowed: once")
        overrides[name] = value
    return overrides


def _with_options(scenario, args):
    """--scale and --years applied to the scenario itself, checked as its file's values are and
    recorded with the scenario, so the results folder describes the runs it holds."""
    from scenarios import apply_overrides

    for option in ("scale", "years"):
        value = getattr(args, option)
        if value is not None:
            scenario = apply_overrides(scenario, {option: value}, where=f"--{option}")
    return scenario


def _check_override_conflicts(overrides: dict, args) -> None:
    """--set years=... with --years (or scale with --scale) would run one and record the other."""
    for field in ("years", "scale"):
        option = getattr(args, field)
        if field in overrides and option is not None:
            raise UserError(f"--set {field}: conflicts with --{field} {option}; allowed: one of the two")


def _check_distinct_names(scenarios) -> None:
    """Results are grouped by scenario name: two scenarios of one name would be pooled."""
    first_of = {}
    for scenario in scenarios:
        if scenario.name in first_of:
            raise UserError(f"{scenario.source}: name: {scenario.name!r} is also the name of "
                            f"{first_of[scenario.name]}; allowed: scenarios with different names (set name: in "
                            "the file, or give each scenario once)")
        first_of[scenario.name] = scenario.source


def _warn_of_unreached_steps(scenarios) -> None:
    """A schedule step after the run's end is allowed (the file may serve longer runs) but has no effect."""
    for scenario in scenarios:
        unreached = scenario.steps_after_the_run()
        if unreached:
            levers = sorted({lever for lever, _ in unreached})
            named = f"levers.{levers[0]}" if len(levers) == 1 else f"{len(levers)} levers ({levers[0]}, ...)"
            print(f"warning: {scenario.source}: schedule steps of {named} in "
                  f"{', '.join(str(y) for y in sorted({y for _, y in unreached}))} never take effect: the run ends "
                  f"with {scenario.calendar_years()[-1]} (more years: --years)", file=sys.stderr)


def _check_year(year: int | None, scenarios) -> None:
    """--year must be a calendar year every scenario simulates (burn-in years included)."""
    if year is None:
        return
    simulated = sorted(set.intersection(*(set(s.calendar_years()) for s in scenarios)))
    if year not in simulated:
        allowed = f"{simulated[0]} to {simulated[-1]}" if simulated else "none (the scenarios share no year)"
        raise UserError(f"--year: {year} is not a simulated year of every scenario; allowed: {allowed}")


def save_run_results(folder, frame, scenarios, seeds, args, started) -> None:
    from pathlib import Path

    from experiments.store import environment, now_iso, write_manifest, write_part
    from experiments.sweep import describe_scenario

    folder = Path(folder)
    manifest = {"kind": "run", "scenarios": [s.name for s in scenarios],
                "scenario_files": [s.source for s in scenarios], "overrides": args.set,
                # as run, so the folder reproduces its runs even after the files change
                "scenarios_resolved": [describe_scenario(s) for s in scenarios], "seeds": seeds,
                "scale": scenarios[0].scale, "years": scenarios[0].years,
                "year": args.year,  # the year compared and judged (None: the last), which `report` uses too
                "started": started, "finished": None, **environment()}
    write_manifest(folder, manifest)
    write_part(folder, frame, name="all")
    write_manifest(folder, {**manifest, "finished": now_iso()})


def command_report(args) -> int:
    from reports.cli import report

    return report(args.results, args.out, args.lang, args.year)


def command_calibrate(args) -> int:
    from experiments.calibration import calibrate

    calibrate(seeds=args.seeds, scale=args.scale, iterations=args.iterations, workers=args.workers,
              write=not args.dry_run)
    return 0


def command_sweep(args) -> int:
    from experiments.cli import sweep

    return sweep(args)


def command_sensitivity(args) -> int:
    from experiments.cli import sensitivity

    return sensitivity(args)


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


class OneLineErrors(argparse.ArgumentParser):
    """argparse's mistakes in the tool's one-line form (field: problem; allowed: ...), not a usage block."""

    given: list[str] = []  # the command line being parsed (parse_args sets it)
    commands: tuple[str, ...] = ()

    def __init__(self, *args, **kwargs):
        # no abbreviated options: `--seed 3` would be taken for `--seeds 3`, three runs instead of seed 3
        super().__init__(*args, allow_abbrev=False, **kwargs)

    def parse_args(self, args=None, namespace=None):
        self.given = list(sys.argv[1:] if args is None else args)
        return super().parse_args(args, namespace)

    def error(self, message: str):
        argument = re.fullmatch(r"argument ([^:]+): (.*)", message, flags=re.DOTALL)
        field, problem = (argument.group(1).split("/")[-1], argument.group(2)) if argument else ("", message)
        choices = re.search(r" \(choose from (.*)\)$", problem)
        if choices:
            problem = f"{problem[:choices.start()]}; allowed: {choices.group(1).replace(chr(39), '')}"
        elif re.match(r"invalid (int|float) value", problem):
            problem += "; allowed: a whole number" if "int" in problem else "; allowed: a number"
        elif problem.startswith("unrecognized arguments"):
            # the top-level parser reports them: name the command whose options apply
            command = next((word for word in self.given if word in self.commands), None)
            prog = f"{self.prog} {command}" if command else self.prog
            problem += f"; allowed: the options {prog} --help lists"
            self.exit(2, f"error: {problem}\n")
        elif problem.startswith("expected one argument"):
            problem += "; allowed: a value after the option"
        where = f"{field}: " if field else ""
        self.exit(2, f"error: {where}{problem} (usage: {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrors(prog="run.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
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
    calibrate.add_argument("--scale", choices=list(SCALES), default="province",
                           help="organisation size of the fitting runs (default province)")
    calibrate.add_argument("--iterations", type=int, default=20, help="most rounds of the fitting procedure (default 20)")
    calibrate.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    calibrate.add_argument("--dry-run", action="store_true", help="report the fit without writing baseline.yaml")
    calibrate.set_defaults(handler=command_calibrate)

    sweep = commands.add_parser("sweep", help="run an experiment's design of lever and parameter values")
    sensitivity = commands.add_parser("sensitivity", help="Morris screening or Sobol' indices of an experiment's factors")
    sensitivity.add_argument("--method", choices=("morris", "sobol"), default=None,
                             help="sensitivity method (default: the file's design)")
    sensitivity.add_argument("--n", type=int, default=None,
                             help="Morris trajectories (>= 4) or Sobol' base samples (a power of 2); default: the "
                                  "file's")
    for experiment_command, handler, example in ((sweep, command_sweep, "mechanism_sweep"),
                                                 (sensitivity, command_sensitivity, "morris_screening")):
        experiment_command.add_argument("experiment", metavar="EXPERIMENT",
                                        help=f"a name under experiments/ ({example}) or a path to a YAML file")
        experiment_command.add_argument("--workers", type=int, default=None,
                                        help="local processes or LocalCluster workers (default: all cores)")
        experiment_command.add_argument("--scheduler", default=None, metavar="ADDRESS|local",
                                        help="run on Dask: a scheduler address (tcp://host:8786), or local")
        experiment_command.add_argument("--out", default=None, metavar="DIR",
                                        help="results folder (default: results/<experiment name>/)")
        experiment_command.add_argument("--resume", action="store_true",
                                        help="continue the interrupted run in the folder (re-running into it does too)")
        experiment_command.add_argument("--scale", choices=list(SCALES), default=None, help="(default: the file's)")
        experiment_command.add_argument("--years", type=int, default=None, help="(default: the file's)")
        experiment_command.add_argument("--replications", type=int, default=None,
                                        help="runs per design point (default: the file's)")
        experiment_command.add_argument("--quiet", action="store_true", help="no progress bar")
        experiment_command.set_defaults(handler=handler)

    report = commands.add_parser("report", help="write the briefing (Markdown, HTML, charts, tables) of a results folder")
    report.add_argument("results", metavar="RESULTS", help="a results folder written by run --out, sweep or sensitivity")
    report.add_argument("--lang", choices=("zh", "en", "both"), default="both", help="label language (default both)")
    report.add_argument("--out", default=None, metavar="DIR", help="report folder (default: reports/<results name>/)")
    report.add_argument("--year", type=int, default=None,
                        help="calendar year to compare and judge targets in (default: the one `run --year` chose, "
                             "else the last year every group simulated)")
    report.set_defaults(handler=command_report)

    bench = commands.add_parser("bench", help="measure speed, memory and parallel scaling on this machine")
    bench.add_argument("--format", choices=("table", "json"), default="table")
    bench.add_argument("--quick", action="store_true", help="a smoke run in under a minute, for CI")
    bench.set_defaults(handler=command_bench)
    parser.commands = tuple(commands.choices)
    return parser


def command_bench(args) -> int:
    from benchmarks import format_table, run_benchmarks

    results = run_benchmarks(quick=args.quick)
    print(json.dumps(results) if args.format == "json" else format_table(results))
    return 0


def _options_before(argv: list[str], command: str) -> list[str]:
    """The main job's options written before a command: argparse would take them for the main job
    and let the command's own defaults replace them."""
    given, position = [], 0
    while position < len(argv) and argv[position] != command:
        token = argv[position]
        if token.startswith("-"):
            given.append(token.partition("=")[0])
            position += 1 if "=" in token or token in FLAG_OPTIONS else 2
        else:
            position += 1
    return given


# Options that count, and the most each may ask for: beyond these a command would fill the memory
# (or run for years) before saying anything. Experiment files have their own limits (experiments.spec).
COUNT_OPTIONS = {"seeds": 10_000, "workers": MAX_WORKERS, "iterations": 1_000, "replications": 10_000}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    early = _options_before(argv, args.command) if args.command else []
    if early:
        print(f"error: {early[0]}: given before the command {args.command!r}, where it does not apply; allowed: "
              f"options after the command (run.py {args.command} ... {early[0]} ...)", file=sys.stderr)
        return 2
    years = getattr(args, "years", None)
    if years is not None and years < 1:  # above the range, the scenario's or experiment's own check names it
        print(f"error: --years: {years} is below 1; allowed: a whole number >= 1", file=sys.stderr)
        return 2
    for name, most in COUNT_OPTIONS.items():
        value = getattr(args, name, None)
        if value is not None and not 1 <= value <= most:
            print(f"error: --{name}: {value} is {'below 1' if value < 1 else 'more than a run can hold'}; allowed: a "
                  f"whole number from 1 to {most:,}", file=sys.stderr)
            return 2
    if getattr(args, "out", None) == "":
        print("error: --out: '' names no folder; allowed: a folder path, e.g. --out results/my_run", file=sys.stderr)
        return 2
    try:
        return args.handler(args)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the output's reader stopped early (| head): nothing left to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        resumable = args.command in ("sweep", "sensitivity")
        print("interrupted: " + ("the finished runs are kept and the same command continues from them" if resumable
                                 else "no result was completed; run the command again"), file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
