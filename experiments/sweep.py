"""Sweeps: every (design point, replication) of an experiment, run in parallel and streamed to a
results folder, resumable after any interruption.

Replication r of every design point uses the same seed (common random numbers), taken from one
SeedSequence, so a folder's rows do not depend on the backend, the worker count or on how often
the sweep was interrupted. Finished runs are written in batches as zstd Parquet parts (temp file,
then rename); a run is in exactly one part, so resuming skips the runs already on disk.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from model import Scenario

from .evaluators import MODEL, Evaluator
from .intervals import mean_interval
from .runner import RunSpec, check_scheduler, check_workers, execute, replication_seeds
from .spec import Experiment, ExperimentError, load_experiment
from .store import (MANIFEST, compact_runs, create_folder, discard_unfinished_parts, environment, now_iso,
                    read_manifest, read_runs, read_table, write_manifest, write_part, write_table)

PARTS = 20             # a sweep writes at least about this many part files, each of at most
BATCH_RUNS = 200       # this many runs (memory stays flat), and at least every
BATCH_SECONDS = 10.0   # this many seconds: an interruption loses little finished work
RUN_KEYS = ["point", "replication"]


@dataclass(frozen=True)
class Results:
    """A finished results folder: its manifest and derived tables; runs() reads the run rows."""

    folder: Path
    manifest: dict
    tables: dict[str, pd.DataFrame]

    def runs(self, columns: list[str] | None = None) -> pd.DataFrame:
        """Run rows in (point, replication, year) order, whatever order they finished in."""
        return sorted_runs(self.folder, columns)


def sorted_runs(folder: Path, columns: list[str] | None = None) -> pd.DataFrame:
    wanted = None if columns is None else list(dict.fromkeys([*RUN_KEYS, "year", *columns]))
    runs = read_runs(folder, wanted)
    return runs.sort_values([*RUN_KEYS, "year"], ignore_index=True)


def default_folder(experiment: Experiment) -> Path:
    return Path("results") / experiment.name


def describe_scenario(scenario: Scenario) -> dict:
    """The resolved base scenario, as the manifest records it."""
    return {"name": scenario.name, "source": scenario.source, "scale": scenario.scale, "years": scenario.years,
            "burn_in_years": scenario.burn_in_years, "start_year": scenario.start_year,
            "levers": {name: [[week, value] for week, value in schedule.steps]
                       for name, schedule in scenario.levers.items()},
            "status_quo": dict(scenario.status_quo), "behaviour": dict(scenario.behaviour),
            # only when there are some, so the fingerprint of a study without overrides stays what it was
            **({"overrides": dict(scenario.overrides)} if scenario.overrides else {})}


def _digest(value) -> str:
    encoded = value if isinstance(value, bytes) else json.dumps(value, sort_keys=True, default=str).encode()
    return hashlib.sha256(encoded).hexdigest()[:16]


def identity(experiment: Experiment, seeds: list[int], code_version: str) -> dict[str, str]:
    """Fingerprints of everything that decides the runs' rows; a folder only resumes its own."""
    return {"evaluator": experiment.evaluator.name, "scenario": _digest(describe_scenario(experiment.scenario)),
            "factors": _digest([factor.describe() for factor in experiment.factors]),
            "design": _digest(np.ascontiguousarray(experiment.points, dtype=float).tobytes()
                              + json.dumps(experiment.design.describe()).encode()),
            "seeds": _digest(seeds), "scale": experiment.scale, "years": str(experiment.years),
            "replications": str(experiment.replications), "code_version": code_version}


def design_table(experiment: Experiment) -> pd.DataFrame:
    """Design points with the factor values as applied (integer parameters rounded)."""
    names = experiment.factor_names
    rows = [experiment.evaluator.prepare(experiment.scenario, dict(zip(names, row)), experiment.source)[1]
            for row in experiment.points]
    table = pd.DataFrame(rows, columns=names)
    table.insert(0, "point", np.arange(len(table), dtype=np.int64))
    return table


def _specs(experiment: Experiment, seeds: list[int], done: set[tuple[int, int]]) -> Iterator[RunSpec]:
    """Runs still to do, point by point; replication r gets seeds[r] at every point."""
    names = experiment.factor_names
    for point, row in enumerate(experiment.points):
        todo = [r for r in range(experiment.replications) if (point, r) not in done]
        if not todo:
            continue
        scenario, applied = experiment.evaluator.prepare(experiment.scenario, dict(zip(names, row)), experiment.source)
        for replication in todo:
            yield RunSpec(scenario, seeds[replication], scale=experiment.scale, years=experiment.years,
                          tags=(("point", point), ("replication", replication), *applied.items()))


def run_naming_failures(run, spec: RunSpec) -> pd.DataFrame:
    """Run one spec; a failure says which design point, replication and seed, to reproduce it."""
    try:
        return run(spec)
    except Exception as error:
        tags = dict(spec.tags)
        error.add_note(f"in design point {tags['point']}, replication {tags['replication']} (seed {spec.seed}, "
                       f"{spec.scale} scale, {spec.years} years); its factor values are in tables/design.parquet")
        raise


def many_naming_failures(evaluator):
    """The evaluator's run_many for a chunk of runs, if it has one; should a chunk fail, its runs are
    made one by one, so that the failure names its design point and seed (run_naming_failures)."""
    return None if evaluator.run_many is None else partial(_run_many_naming_failures, evaluator.run_many, evaluator.run)


def _run_many_naming_failures(run_many, run, specs: list[RunSpec]) -> list[pd.DataFrame]:
    try:
        return run_many(specs)
    except Exception as error:
        for spec in specs:  # raises, naming the run, if one fails alone too
            run_naming_failures(run, spec)
        raise RuntimeError("these runs failed together and succeed one by one, which they must not (run_many is "
                           "run's tables made faster): a bug to report") from error


def _finished_runs(folder: Path) -> set[tuple[int, int]]:
    keys = read_runs(folder, RUN_KEYS)
    return set(zip(keys["point"].astype(int), keys["replication"].astype(int))) if len(keys) else set()


def _open_folder(folder: Path, manifest: dict, resume: bool) -> tuple[dict, set[tuple[int, int]]]:
    """Start a new results folder, or continue one holding the same experiment."""
    if not (folder / MANIFEST).is_file():
        if resume:
            raise ExperimentError(f"{folder}: folder: nothing to resume (no manifest); allowed: the folder of an "
                                  "earlier sweep, or leave out --resume to start one")
        if folder.is_dir() and any(folder.iterdir()):
            raise ExperimentError(f"{folder}: folder: exists and is not a results folder; allowed: a new or empty "
                                  "folder, or the folder of the same experiment to resume it")
        create_folder(folder)
        write_manifest(folder, manifest)
        return manifest, set()
    earlier = read_manifest(folder)
    if earlier["kind"] != manifest["kind"]:
        raise ExperimentError(f"{folder / MANIFEST}: kind: holds a {earlier['kind']}, not a {manifest['kind']}; "
                              "allowed: another --out folder")
    differing = [key for key, value in manifest["identity"].items() if earlier.get("identity", {}).get(key) != value]
    if differing:
        raise ExperimentError(f"{folder / MANIFEST}: identity: holds a different experiment ({', '.join(differing)} "
                              "differ); allowed: the same experiment and code to resume, or another --out folder")
    discard_unfinished_parts(folder)
    continued = {**earlier, **{key: manifest[key] for key in ("outcomes", "experiment")},
                 "resumed": [*earlier.get("resumed", []), now_iso()], "finished": None}
    write_manifest(folder, continued)
    return continued, _finished_runs(folder)


def run_experiment(experiment: Experiment, kind: str, folder: Path, extra: dict, workers: int | None,
                   scheduler: str | None, resume: bool, progress: bool) -> dict:
    """Run every (point, replication) not yet in `folder`; returns the manifest (not yet finished)."""
    seeds = replication_seeds(experiment.replications, experiment.seed)
    context = environment()
    manifest = {"kind": kind, **extra,
                "experiment": {"name": experiment.name, "file": experiment.source, "text": experiment.text,
                               "description": experiment.description},
                "evaluator": experiment.evaluator.name, "scenario": describe_scenario(experiment.scenario),
                "scale": experiment.scale, "years": experiment.years, "replications": experiment.replications,
                "factors": [factor.describe() for factor in experiment.factors],
                "design": {**experiment.design.describe(), "points": len(experiment.points),
                           "table": "tables/design.parquet"},
                "seeds": {"root": experiment.seed, "replications": seeds}, "outcomes": list(experiment.outcomes),
                "identity": identity(experiment, seeds, context["code_version"]),
                "started": now_iso(), "resumed": [], "finished": None, **context}
    check_workers(workers)
    check_scheduler(scheduler)
    manifest, done = _open_folder(folder, manifest, resume)
    if read_table(folder, "design") is None:
        write_table(folder, "design", design_table(experiment))
    total = len(experiment.points) * experiment.replications - len(done)
    batch_runs = min(BATCH_RUNS, max(1, total // PARTS))
    batch, written_at = [], time.monotonic()
    try:
        for _, frame in execute(_specs(experiment, seeds, done), workers=workers, scheduler=scheduler,
                                progress=progress, description=f"{kind} {experiment.name}",
                                evaluate=partial(run_naming_failures, experiment.evaluator.run),
                                evaluate_many=many_naming_failures(experiment.evaluator), total=total,
                                compiled=experiment.evaluator.compiled):
            batch.append(frame)
            if len(batch) >= batch_runs or time.monotonic() - written_at >= BATCH_SECONDS:
                write_part(folder, pd.concat(batch, ignore_index=True))
                batch, written_at = [], time.monotonic()
    finally:
        if batch:  # finished runs are kept even when a run fails or the user interrupts
            write_part(folder, pd.concat(batch, ignore_index=True))
    return manifest


def finish_folder(folder: Path, manifest: dict, tables: dict[str, pd.DataFrame]) -> dict:
    """Write the derived tables, fold the runs into one sorted file, then mark the folder finished."""
    for name, table in tables.items():
        write_table(folder, name, table)
    compact_runs(folder, [*RUN_KEYS, "year"])
    finished = {**manifest, "finished": now_iso()}
    write_manifest(folder, finished)
    return finished


def final_outcomes(folder: Path, outcomes: tuple[str, ...]) -> pd.DataFrame:
    """Each run's outcomes in its final simulated year: columns point, replication and the outcomes."""
    runs = read_runs(folder, [*RUN_KEYS, "year", *outcomes])
    last = runs.sort_values([*RUN_KEYS, "year"]).groupby(RUN_KEYS, sort=True).tail(1)
    return last.drop(columns="year").reset_index(drop=True)


def sweep_summary(folder: Path, experiment: Experiment) -> pd.DataFrame:
    """Long table: per design point and outcome, the mean over replications with its 95% interval."""
    final = final_outcomes(folder, experiment.outcomes)
    rows = []
    for point, group in final.groupby("point", sort=True):
        for outcome in experiment.outcomes:
            values = group[outcome].to_numpy(dtype=float)
            mean, low, high = mean_interval(values)
            count = int(np.isfinite(values).sum())
            rows.append({"point": int(point), "outcome": outcome, "mean": mean, "low": low, "high": high,
                         "replications": count})
    summary = pd.DataFrame(rows, columns=["point", "outcome", "mean", "low", "high", "replications"])
    design = read_table(folder, "design")
    return design.merge(summary, on="point", how="right")[[*design.columns, *summary.columns[1:]]]


def run_sweep(experiment: str | Path, *, out: str | Path | None = None, workers: int | None = None,
              scheduler: str | None = None, resume: bool = False, scale: str | None = None,
              years: int | None = None, replications: int | None = None, progress: bool = True,
              evaluator: Evaluator = MODEL) -> Results:
    """Run an experiment's design (the CLI's `sweep`); returns the folder's manifest and its
    summary table (tables/sweep_summary.parquet); Results.runs() reads every run row."""
    chosen = load_experiment(experiment, evaluator, scale=scale, years=years, replications=replications)
    folder = Path(out) if out is not None else default_folder(chosen)
    manifest = run_experiment(chosen, "sweep", folder, {}, workers, scheduler, resume, progress)
    summary = sweep_summary(folder, chosen)
    tables = {"sweep_summary": summary}
    return Results(folder, finish_folder(folder, manifest, tables), tables)

