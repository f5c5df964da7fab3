"""Sweeps: same rows on every backend, common random numbers, kill -9 and resume, bad files.

County scale and one simulated year throughout; metric values are never asserted (the model is
still being calibrated), only structure, invariants and equality between runs.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from tqdm import tqdm

import run as cli
from experiments import MODEL, ExperimentError, execute, list_experiments, load_experiment, run_sweep
from experiments.evaluators import ishigami
from experiments import runner
from experiments.runner import RunSpec, _in_flight_limit, run_all
from experiments.store import compact_runs, read_manifest, read_runs, write_part
from experiments.sweep import sorted_runs
from model import BEHAVIOUR, LEVERS, default_scenario
from model.errors import UserError

ROOT = Path(__file__).resolve().parent.parent
SMALL = {"scale": "county", "years": 1, "progress": False}


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def grid_file(tmp_path) -> Path:
    return write(tmp_path / "grid.yaml", """
name: grid_test
scenario: baseline
replications: 2
factors:
  merge_rate: {values: [0.0, 0.6]}
  behaviour.detection_base: {low: 0.2, high: 0.4, levels: 2}
design: {type: grid}
outcomes: [inspections_per_unit_year, detection_rate]
""")


@pytest.fixture
def long_file(tmp_path) -> Path:
    """30 runs written one per part: long enough to be killed half way."""
    return write(tmp_path / "long.yaml", """
name: long_test
replications: 3
factors:
  merge_rate: {low: 0.0, high: 0.8, levels: 3}
  remote_share: {low: 0.08, high: 0.5, levels: 3}
  closed_loop: {values: [0.325, 1.0, 0.6]}
design: {type: one_at_a_time}
""")


def test_rows_identical_with_one_and_two_workers_and_dask(grid_file, tmp_path):
    results = [run_sweep(grid_file, out=tmp_path / name, **options, **SMALL)
               for name, options in [("one", {"workers": 1}), ("two", {"workers": 2}),
                                     ("dask", {"workers": 2, "scheduler": "local"})]]
    frames = [result.runs() for result in results]
    burn_in = results[0].manifest["scenario"]["burn_in_years"]
    assert len(frames[0]) == 4 * 2 * (burn_in + 1)  # points x replications x simulated years
    for frame in frames[1:]:
        pd.testing.assert_frame_equal(frames[0], frame)
    files = [sorted((result.folder / "runs").iterdir()) for result in results]
    assert all([path.name for path in paths] == ["part-all.parquet"] for paths in files)
    assert len({paths[0].read_bytes() for paths in files}) == 1  # the same bytes, whoever ran it
    written = json.loads(pq.read_schema(files[0][0]).metadata[b"supervision_abm"])
    assert written["code_version"] == results[0].manifest["code_version"]


def test_common_random_numbers_and_factor_columns(grid_file, tmp_path):
    results = run_sweep(grid_file, out=tmp_path / "out", workers=2, **SMALL)
    runs = results.runs()
    manifest = results.manifest
    assert runs.groupby("replication")["seed"].nunique().eq(1).all()
    assert sorted(runs.groupby("replication")["seed"].first()) == sorted(manifest["seeds"]["replications"])
    assert {"point", "replication", "merge_rate", "behaviour.detection_base"} <= set(runs.columns)
    assert sorted(runs.groupby("point")[["merge_rate", "behaviour.detection_base"]].first().itertuples(index=False)) \
        == [(0.0, 0.2), (0.0, 0.4), (0.6, 0.2), (0.6, 0.4)]
    assert not runs.duplicated(["point", "replication", "year"]).any()
    assert manifest["kind"] == "sweep" and manifest["finished"] and manifest["started"]
    assert manifest["design"]["type"] == "grid" and manifest["design"]["points"] == 4
    assert {"numpy", "pandas", "SALib"} <= set(manifest["packages"]) and manifest["code_version"]
    assert manifest["scenario"]["name"] == "baseline" and "behaviour" in manifest["scenario"]
    assert "merge_rate" in manifest["experiment"]["text"]
    summary = results.tables["sweep_summary"]
    assert list(summary.columns) == ["point", "merge_rate", "behaviour.detection_base", "outcome", "mean", "low",
                                     "high", "replications"]
    assert len(summary) == 4 * 2 and (summary["replications"] <= 2).all()


def test_one_at_a_time_starts_from_the_base_scenario(long_file):
    experiment = load_experiment(long_file, MODEL)
    base = experiment.scenario.levers
    assert list(experiment.points[0]) == [base[name].final for name in experiment.factor_names]
    assert len(experiment.points) == 1 + 3 + 3 + 3
    assert all((row != experiment.points[0]).sum() <= 1 for row in experiment.points)


def test_sweep_killed_then_resumed_equals_uninterrupted(long_file, tmp_path):
    reference = run_sweep(long_file, out=tmp_path / "reference", workers=2, **SMALL).runs()
    folder = tmp_path / "killed"
    command = [sys.executable, str(ROOT / "run.py"), "sweep", str(long_file), "--out", str(folder), "--workers", "2",
               "--scale", "county", "--years", "1", "--quiet"]
    process = subprocess.Popen(command, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while len(list((folder / "runs").glob("part-*.parquet"))) < 2:
            assert process.poll() is None, "the sweep ended before it could be killed"
            assert time.monotonic() < deadline, "no part files appeared"
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    assert read_manifest(folder)["finished"] is None
    interrupted = sorted_runs(folder)
    assert 0 < interrupted.groupby(["point", "replication"]).ngroups < 30
    (folder / "runs" / ".part-left-by-a-killed-writer.parquet.tmp").write_bytes(b"partial")
    resumed = run_sweep(long_file, out=folder, resume=True, workers=2, **SMALL)
    assert resumed.manifest["finished"] and len(resumed.manifest["resumed"]) == 1
    pd.testing.assert_frame_equal(resumed.runs(), reference)
    assert not list((folder / "runs").glob(".*.tmp"))
    again = run_sweep(long_file, out=folder, workers=2, **SMALL)  # re-running a finished sweep runs nothing
    pd.testing.assert_frame_equal(again.runs(), reference)


def test_folder_of_another_experiment_is_refused(grid_file, tmp_path):
    run_sweep(grid_file, out=tmp_path / "out", workers=1, **SMALL)
    with pytest.raises(ExperimentError, match=r"replications differ"):
        run_sweep(grid_file, out=tmp_path / "out", workers=1, replications=3, **SMALL)
    with pytest.raises(ExperimentError, match=r"nothing to resume"):
        run_sweep(grid_file, out=tmp_path / "empty", resume=True, workers=1, **SMALL)


BAD_FILES = {
    "unknown factor": ("factors:\n  merge_rat: {values: [0, 1]}\ndesign: {type: grid}\n", "factors: merge_rat"),
    "empty range": ("factors:\n  merge_rate: {low: 0.5, high: 0.5}\n  tolerance: {low: 0, high: 1}\n"
                    "design: {type: latin, n: 8}\n", "factors.merge_rate: empty range"),
    "out of range": ("factors:\n  merge_rate: {low: 0, high: 1.5}\n  tolerance: {low: 0, high: 1}\n"
                     "design: {type: latin, n: 8}\n", "factors: merge_rate: 1.5 is out of range"),
    "bad design name": ("factors:\n  merge_rate: {values: [0, 1]}\ndesign: {type: factorial}\n", "design.type"),
    "too few samples for Sobol": ("factors:\n  merge_rate: {low: 0, high: 1}\n  tolerance: {low: 0, high: 1}\n"
                                  "design: {type: sobol, n: 8}\n", "design.n: 8 is too few samples"),
    "setting as factor": ("factors:\n  years: {values: [1, 2]}\ndesign: {type: grid}\n", "factors: years"),
    "name of a parent folder": ("name: '..'\nfactors:\n  merge_rate: {values: [0, 1]}\ndesign: {type: grid}\n",
                                "name: '..' is not a plain name"),
    "unknown outcome": ("factors:\n  merge_rate: {values: [0, 1]}\ndesign: {type: grid}\noutcomes: [happiness]\n",
                        "outcomes[0]"),
    "whole-number parameter between Morris levels": (
        "factors:\n  merge_rate: {low: 0, high: 1}\n  behaviour.data_departments: {low: 4, high: 12}\n"
        "design: {type: morris, n: 4}\n", "behaviour.data_departments: its 4 Morris levels 4, 6.66667"),
    "whole-number parameter named without its section between Morris levels": (
        "factors:\n  merge_rate: {low: 0, high: 1}\n  deadline_weeks: {low: 8, high: 25}\n"
        "design: {type: morris, n: 4}\n", "deadline_weeks: its 4 Morris levels 8, 13.6667"),
    "a list where a scale belongs": ("scale: [county]\nfactors:\n  merge_rate: {values: [0, 1]}\ndesign: {type: grid}\n",
                                     "scale: ['county'] is not a scale"),
    "a list where a design type belongs": ("factors:\n  merge_rate: {values: [0, 1]}\ndesign: {type: [grid]}\n",
                                           "design.type: ['grid'] is not a design"),
    "a list where a distribution belongs": (
        "factors:\n  merge_rate: {low: 0, high: 0.6, distribution: [uniform]}\n  tolerance: {low: 0, high: 1}\n"
        "design: {type: latin, n: 8}\n", "factors.merge_rate.distribution: ['uniform'] is not a distribution"),
    "a grid too large to hold": (
        "factors:\n  merge_rate: {low: 0, high: 0.6, levels: 1000}\n  tolerance: {low: 0, high: 1, levels: 1000}\n"
        "  closed_loop: {low: 0.2, high: 1, levels: 1000}\ndesign: {type: grid}\n",
        "design: 1,000,000,000 points x 5 replications is more runs than a study can hold"),
    "more samples than a study can hold": (
        "factors:\n  merge_rate: {low: 0, high: 0.6}\n  tolerance: {low: 0, high: 1}\ndesign: {type: latin, n: 1000000000}\n",
        "design.n: 1000000000 is more samples than a study can hold"),
    "unbounded distribution on a Morris grid": (
        "factors:\n  merge_rate: {low: 0, high: 1}\n  behaviour.sanction_cost: {distribution: lognormal, mean: 0, "
        "sd: 0.3}\ndesign: {type: morris, n: 4}\n", "factors.behaviour.sanction_cost.distribution: a Morris grid"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_experiment_file_is_one_line_exit_2_and_nothing_written(case, tmp_path, capsys):
    text, expected = BAD_FILES[case]
    path = write(tmp_path / "bad.yaml", text)
    out = tmp_path / "out"
    command = "sensitivity" if "Sobol" in case else "sweep"
    assert cli.main([command, str(path), "--out", str(out), "--quiet"]) == 2
    message = capsys.readouterr().err.strip()
    assert message.count("\n") == 0 and str(path) in message and expected in message and "allowed:" in message
    assert not out.exists()


def test_a_points_file_from_excel_reads_and_one_in_another_encoding_is_refused(tmp_path, capsys):
    write(tmp_path / "bom.csv", "\ufeffmerge_rate,tolerance\n0.1,0.2\n0.5,0.3\n")
    experiment = load_experiment(write(tmp_path / "bom.yaml", "design: {type: csv, path: bom.csv}\n"), MODEL)
    assert experiment.problem["names"] == ["merge_rate", "tolerance"]
    (tmp_path / "gbk.csv").write_bytes("merge_rate,tolerance\n0.1,0.2\n".encode() + "0.5,０.3\n".encode("gbk"))
    path = write(tmp_path / "gbk.yaml", "design: {type: csv, path: gbk.csv}\n")
    assert cli.main(["sweep", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    message = capsys.readouterr().err.strip()
    assert message.count("\n") == 0 and "gbk.csv: encoding:" in message and "allowed: a CSV file saved as UTF-8" in message
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("argv, expected", [
    (["run", "baseline", "--seeds", "100000000"], "--seeds: 100000000 is more than a run can hold; allowed: a whole "
                                                   "number from 1 to 10,000"),
    (["sweep", "mechanism_sweep", "--replications", "100000000"], "--replications: 100000000 is more than"),
    (["run", "baseline", "--out", ""], "--out: '' names no folder; allowed: a folder path"),
    (["report", "results/latest", "--out", ""], "--out: '' names no folder"),
])
def test_counts_a_run_cannot_hold_and_an_empty_folder_name_are_refused_at_once(argv, expected, capsys):
    assert cli.main(argv) == 2
    message = capsys.readouterr().err.strip()
    assert message.count("\n") == 0 and expected in message


def test_command_line_overrides_are_validated(grid_file, tmp_path, capsys):
    assert cli.main(["sensitivity", str(grid_file), "--method", "sobol", "--n", "24", "--out",
                     str(tmp_path / "out"), "--quiet"]) == 2
    assert "--n: 24 is not a power of 2" in capsys.readouterr().err
    assert cli.main(["sweep", str(grid_file), "--replications", "0", "--out", str(tmp_path / "out")]) == 2
    assert "--replications" in capsys.readouterr().err
    assert cli.main(["sweep", "no_such_experiment"]) == 2
    assert "mechanism_sweep" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_sweep_command_writes_the_default_folder(grid_file, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["sweep", str(grid_file), "--scale", "county", "--years", "1", "--replications", "1",
                     "--workers", "1", "--quiet"]) == 0
    folder = tmp_path / "results" / "grid_test"
    assert str(Path("results") / "grid_test") in capsys.readouterr().out
    assert json.loads((folder / "manifest.json").read_text())["replications"] == 1
    assert (folder / "tables" / "sweep_summary.parquet").is_file()


def test_shipped_experiments_load_and_screening_covers_every_parameter():
    studies = {"morris_screening", "sobol_levers"}
    assert {"mechanism_sweep", "accountability_response"} | studies <= set(list_experiments())
    for name in list_experiments():
        load_experiment(name, MODEL, sensitivity=name in studies)
    screening = load_experiment("morris_screening", MODEL, sensitivity=True)
    covered = {name.rpartition(".")[2] for name in screening.factor_names}
    assert covered == set(LEVERS) | set(BEHAVIOUR), "add the missing parameters' ranges to morris_screening.yaml"


def test_csv_points_run_as_given_and_bad_rows_name_the_row(tmp_path):
    write(tmp_path / "points.csv", "merge_rate,behaviour.deadline_weeks\n0.1,8.4\n0.5,13\n")
    path = write(tmp_path / "csv.yaml", "replications: 1\ndesign: {type: csv, path: points.csv}\n")
    results = run_sweep(path, out=tmp_path / "out", workers=1, **SMALL)
    design = results.tables["sweep_summary"].groupby("point")[["merge_rate", "behaviour.deadline_weeks"]].first()
    assert design.to_numpy().tolist() == [[0.1, 8.0], [0.5, 13.0]]  # whole weeks are rounded
    write(tmp_path / "points.csv", "merge_rate\n0.1\n1.7\n")
    with pytest.raises(UserError, match=r"points.csv: row 3: merge_rate: 1.7 is out of range"):
        load_experiment(path, MODEL)


def test_sampled_designs_stay_inside_their_distributions(tmp_path):
    path = write(tmp_path / "latin.yaml", """
factors:
  sanction_severity: {distribution: loguniform, low: 0.5, high: 2.0}
  tolerance: {distribution: triangular, low: 0.1, high: 0.9, mode: 0.2}
  behaviour.detection_base: {distribution: truncated_normal, low: 0.2, high: 0.4, mean: 0.3, sd: 0.05}
  behaviour.hosting_load: {relative: 0.5}
design: {type: latin, n: 50}
""")
    experiment = load_experiment(path, MODEL)
    points = experiment.points
    base = experiment.scenario.behaviour["hosting_load"]
    assert points.shape == (50, 4)
    assert points[:, 0].min() >= 0.5 and points[:, 0].max() <= 2.0
    assert points[:, 1].min() >= 0.1 and points[:, 1].max() <= 0.9 and (points[:, 1] < 0.5).mean() > 0.5
    assert points[:, 2].min() >= 0.2 and points[:, 2].max() <= 0.4
    assert points[:, 3].min() >= 0.5 * base and points[:, 3].max() <= 1.5 * base


def test_short_runs_go_to_workers_in_chunks_with_the_same_results(monkeypatch):
    """Runs of a few milliseconds are sent in chunks (one task per run was bound by the parent's
    work per task); what each run gives does not depend on it."""
    sizes = []
    next_chunk = runner._Chunker.next

    def recorded(chunker):
        chunk = next_chunk(chunker)
        sizes.append(len(chunk))
        return chunk

    monkeypatch.setattr(runner._Chunker, "next", recorded)
    specs = [RunSpec(default_scenario(), seed, scale="county", years=1, tags=(("point", seed), ("replication", 0)))
             for seed in range(60)]
    two = run_all(specs, workers=2, progress=False)
    assert max(sizes) > 1 and sum(sizes) == len(specs)
    sizes.clear()
    pd.testing.assert_frame_equal(two, run_all(specs, workers=1, progress=False))
    assert max(sizes) > 1 and sum(sizes) == len(specs)  # in this process too: its chunks are stacked


def test_chunks_take_about_a_task_of_runs_and_no_more_than_the_cap():
    def chunk_after(runs: int, seconds: float) -> int:
        chunker = runner._Chunker(RunSpec(default_scenario(), seed) for seed in range(1000))
        if runs:
            chunker.timed(runs, seconds)
        return len(chunker.next())

    assert chunk_after(0, 0.0) == 1  # nothing timed yet
    assert chunk_after(1, 0.002) == round(runner.TASK_SECONDS / 0.002)
    assert chunk_after(2, 2.0) == 1  # long runs: one per task
    assert chunk_after(1000, 0.01) == runner.MAX_CHUNK
    chunker = runner._Chunker(RunSpec(default_scenario(), seed) for seed in range(1000))
    chunker.timed(1, 1.6)  # a process's first run, which loads the kernels
    chunker.timed(10, 0.04)
    assert len(chunker.next()) == round(runner.TASK_SECONDS / 0.004)  # sized from the last chunk


def test_a_chunk_of_short_runs_ends_with_its_last_design_points_replications():
    """So that run_stacked advances each point's replications together, not a few at a chunk's edge."""
    points = [dataclasses.replace(default_scenario(), name=f"point {p}") for p in range(40)]
    chunker = runner._Chunker(RunSpec(point, seed) for point in points for seed in range(7))
    chunker.timed(1, 0.002)  # 25 runs would take a task: 4 points make 28
    assert [len(chunker.next()) for _ in range(3)] == [28, 28, 28]
    assert sum(len(chunk) for chunk in iter(chunker.next, [])) == 40 * 7 - 84
    chunker = runner._Chunker(RunSpec(point, seed) for point in points for seed in range(7))
    chunker.timed(1, 2.0)  # long runs: one per task, points or not
    assert [len(chunker.next()) for _ in range(3)] == [1, 1, 1]


@pytest.mark.parametrize("argv, starts", [
    ([], True), (["run", "baseline"], True), (["--seeds", "3"], True), (["sweep", "x", "--workers", "2"], True),
    (["sweep", "x", "--workers", "1"], False), (["sweep", "x", "--workers=1"], False),
    (["sensitivity", "x", "--scheduler", "local"], False), (["report", "results"], False), (["bench"], False),
    (["sweep", "--help"], False)])
def test_command_line_starts_the_workers_server_early_only_for_local_studies(argv, starts):
    """The command line starts the workers' fork server before it imports the model, when the
    command runs studies on local processes (experiments/workers.py)."""
    assert cli._starts_local_workers(argv) == starts


@pytest.mark.parametrize("evaluate, compiled, loads", [(runner.run_one, None, True), (ishigami, None, False),
                                                        (ishigami, False, False), (ishigami, True, True)])
def test_uncached_kernels_are_compiled_before_the_progress_bar_starts(monkeypatch, capsys, evaluate, compiled, loads):
    """So the bar's rate and time left are the runs', not the compiler's half minute."""
    events = []
    monkeypatch.setattr(runner, "kernels_cached", lambda: False)
    monkeypatch.setattr(runner, "load_kernels", lambda: events.append("load"))
    monkeypatch.setattr(runner, "_progress_bar", lambda *a: events.append("bar") or tqdm(total=1, disable=True))
    spec = RunSpec(default_scenario(), 1, scale="county", years=1,
                   tags=(("point", 0), ("replication", 0), ("x1", 0.1), ("x2", 0.2), ("x3", 0.3)))
    results = list(execute([spec], workers=1, evaluate=evaluate, compiled=compiled))
    assert len(results) == 1
    assert events == (["load", "bar"] if loads else ["bar"])
    assert ("compiling the model's kernels" in capsys.readouterr().err) == loads


def test_execute_takes_specs_lazily():
    """Only a few tasks per worker are taken ahead, so a sweep's memory does not grow with its size."""
    taken = []

    def specs():
        for seed in range(100_000):
            taken.append(seed)
            yield RunSpec(default_scenario(), seed, tags=(("point", seed), ("replication", 0), ("x1", 0.1),
                                                          ("x2", 0.2), ("x3", 0.3)))

    results = execute(specs(), workers=2, progress=False, evaluate=ishigami)
    for _ in range(500):
        next(results)
    assert len(taken) <= 500 + (_in_flight_limit(2) + 1) * runner.MAX_CHUNK  # of 100,000
    results.close()
    assert not runner._KEPT_POOLS, "a call stopped early leaves no worker running"


def test_workers_are_kept_for_the_next_call_and_give_the_same_results():
    """A finished call keeps its worker processes (and their burn-in snapshots) for the next one;
    what a run gives does not depend on which process ran it or what that process ran before."""
    specs = [RunSpec(default_scenario(), seed, scale="county", years=1) for seed in range(6)]
    try:
        first = run_all(specs, workers=2, progress=False)
        (kept,) = runner._KEPT_POOLS.values()
        workers = set(kept._processes)
        again = run_all(specs, workers=2, progress=False)
        assert set(runner._KEPT_POOLS[2]._processes) == workers
        pd.testing.assert_frame_equal(first, again)
        pd.testing.assert_frame_equal(first, run_all(specs, workers=1, progress=False))
    finally:
        runner.release_workers()
    assert not runner._KEPT_POOLS


KILL_KEPT_WORKERS = """
import os, signal
import pandas as pd
from experiments import runner
from experiments.runner import RunSpec, run_all
from model import default_scenario

specs = [RunSpec(default_scenario(), seed, scale="county", years=1) for seed in range(4)]
first = run_all(specs, workers=2, progress=False)
for victim_index in (0, 1, 0, 1):  # the idle worker holding the task queue's lock is either one
    (kept,) = runner._KEPT_POOLS.values()
    victim = list(kept._processes.values())[victim_index]
    os.kill(victim.pid, signal.SIGKILL)  # as if killed for memory between two sweeps
    victim.join(10)
    pd.testing.assert_frame_equal(first, run_all(specs, workers=2, progress=False))
    assert victim.pid not in runner._KEPT_POOLS[2]._processes
print("replaced")
"""


def test_a_kept_worker_that_died_is_replaced_and_the_process_still_exits():
    """In a fresh interpreter, so that a worker left waiting on a lock the dead one held would show
    as a process that never exits (it did, before the survivors were terminated)."""
    done = subprocess.run([sys.executable, "-c", KILL_KEPT_WORKERS], cwd=ROOT, capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0 and "replaced" in done.stdout, done.stderr[-2000:]


INTERRUPT_IDLE_WORKERS = """
import os, signal, time
from experiments import runner
from experiments.runner import RunSpec, run_all
from model import default_scenario

specs = [RunSpec(default_scenario(), seed, scale="county", years=1) for seed in range(4)]
run_all(specs, workers=2, progress=False)
(kept,) = runner._KEPT_POOLS.values()
workers = set(kept._processes)
signal.signal(signal.SIGINT, signal.SIG_IGN)  # this process stands for a notebook kernel between cells
os.killpg(0, signal.SIGINT)  # a notebook's "interrupt", or Ctrl-C in a terminal: the whole process group
time.sleep(1)
run_all(specs, workers=2, progress=False)
assert set(runner._KEPT_POOLS[2]._processes) == workers
print("kept")
"""


def test_an_interrupt_between_calls_leaves_the_kept_workers_running_and_silent():
    """Idle kept workers used to die of an interrupt meant for the caller, each printing a
    KeyboardInterrupt traceback (a notebook showed them at its kernel's shutdown)."""
    done = subprocess.run([sys.executable, "-c", INTERRUPT_IDLE_WORKERS], cwd=ROOT, capture_output=True, text=True,
                          timeout=180, start_new_session=True)
    assert done.returncode == 0 and "kept" in done.stdout, done.stderr[-2000:]
    assert "KeyboardInterrupt" not in done.stderr


INTERRUPT_RUNNING_CALL = """
import time
from experiments.runner import execute
print("go", flush=True)
for _ in execute([30.0] * 4, workers=2, progress=False, evaluate=time.sleep, compiled=False):
    pass
"""


def test_an_interrupt_during_a_call_stops_it_at_once_and_leaves_no_process():
    """Workers survive an interrupt between calls, but not their tasks: the running ones stop, and so
    do those queued behind them (the pool's shutdown would wait for them: here 2 x 30 s)."""
    process = subprocess.Popen([sys.executable, "-c", INTERRUPT_RUNNING_CALL], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert process.stdout.readline().strip() == "go"
        time.sleep(4)  # the workers are inside their 30 s tasks
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C: the whole process group
        process.communicate(timeout=20)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # what a failure leaves, workers included
    deadline = time.monotonic() + 20
    while True:  # the workers, the fork server and the resource tracker end too
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            break
        assert time.monotonic() < deadline, "processes of the interrupted call are still running"
        time.sleep(0.25)


def test_a_failed_call_keeps_no_workers():
    untagged = [RunSpec(default_scenario(), seed) for seed in range(4)]  # ishigami needs its x tags
    try:
        with pytest.raises(KeyError):
            run_all(untagged, workers=2, progress=False, evaluate=ishigami)
        assert not runner._KEPT_POOLS, "a failed call shuts its workers down"
    finally:
        runner.release_workers()


def test_a_compaction_cut_short_leaves_no_duplicate_rows(tmp_path):
    rows = pd.DataFrame({"point": [1, 0, 1, 0], "replication": [0, 0, 1, 1], "year": 2024, "x": [1.0, 2.0, 3.0, 4.0]})
    write_part(tmp_path, rows.iloc[:2])
    write_part(tmp_path, rows.iloc[2:])
    leftover = sorted((tmp_path / "runs").iterdir())[0]
    compact_runs(tmp_path, ["point", "replication", "year"])
    write_part(tmp_path, rows.iloc[:2], name=leftover.stem.removeprefix("part-"))  # as if not yet deleted
    assert read_runs(tmp_path)[["point", "replication"]].values.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    compact_runs(tmp_path, ["point", "replication", "year"])
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["part-all.parquet"]


@pytest.mark.parametrize("workers", [0, -1, 2.5, "2", True])
def test_a_bad_worker_count_is_refused_before_a_study_writes_anything(grid_file, tmp_path, workers):
    """The command line checks --workers; a notebook's call gets the same one-line refusal, not a
    pool's ValueError after the folder was begun (0 no longer means all cores: None does)."""
    with pytest.raises(UserError, match=r"workers: .* is not a number of processes; allowed: a whole number from 1"):
        run_sweep(grid_file, out=tmp_path / "out", workers=workers, **SMALL)
    assert not (tmp_path / "out").exists()
    with pytest.raises(UserError, match="workers"):
        list(execute([RunSpec(default_scenario(), 1, scale="county", years=1)], workers=workers, progress=False))


@pytest.mark.parametrize("name", ["研究一", "अध्ययन", "ศึกษา_2"])  # vowel signs are marks, not letters
def test_an_experiment_may_be_named_in_any_script(tmp_path, name):
    path = write(tmp_path / "study.yaml", f"name: {name}\nfactors:\n  merge_rate: {{values: [0, 1]}}\n"
                 "design: {type: grid}\n")
    assert load_experiment(path, MODEL).name == name
