"""The command line protects what the user already has: where results go, which year is reported."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from experiments.store import read_manifest, read_runs, write_manifest
from tests.conftest import ROOT

SMALL_RUN = ["run", "baseline", "--scale", "county", "--years", "1", "--workers", "1", "--quiet"]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "run.py", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def assert_one_line_error(done: subprocess.CompletedProcess, *fragments: str) -> None:
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr
    for fragment in fragments:
        assert fragment in done.stderr, done.stderr


def users_folder(tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "mine.txt").write_text("keep me")
    return folder


def sweep_folder(tmp_path):
    folder = tmp_path / "sweep"
    write_manifest(folder, {"kind": "sweep", "finished": "2026-01-01T00:00:00+00:00"})
    return folder


def a_file(tmp_path):
    path = tmp_path / "a_file"
    path.write_text("keep me")
    return path


@pytest.mark.parametrize("make, message", [
    (users_folder, "exists and is not a results folder"),
    (sweep_folder, "holds a sweep results folder"),
    (a_file, "is a file"),
    (lambda p: a_file(p) / "inside", "is a file"),
])
def test_run_out_refuses_what_it_did_not_write_and_leaves_it_alone(tmp_path, make, message):
    destination = make(tmp_path)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    assert_one_line_error(run_cli(*SMALL_RUN, "--seeds", "1", "--out", str(destination)), "--out", message)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_run_out_replaces_an_earlier_run_folder_whole(tmp_path):
    folder = tmp_path / "results"
    assert run_cli(*SMALL_RUN, "--seeds", "3", "--out", str(folder)).returncode == 0
    assert run_cli(*SMALL_RUN, "--seeds", "1", "--out", str(folder)).returncode == 0
    manifest = read_manifest(folder)
    assert read_runs(folder)["seed"].unique().tolist() == manifest["seeds"] and len(manifest["seeds"]) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["results"]  # no staging folder left beside it


@pytest.mark.parametrize("command", [["sweep", "mechanism_sweep"], ["sensitivity", "morris_screening"]])
def test_study_out_inside_a_file_is_a_one_line_error(tmp_path, command):
    assert_one_line_error(run_cli(*command, "--out", str(a_file(tmp_path) / "inside"), "--quiet"), "is a file")


def test_report_out_inside_a_file_is_a_one_line_error(tmp_path):
    results = tmp_path / "results"
    assert run_cli(*SMALL_RUN, "--seeds", "1", "--out", str(results)).returncode == 0
    assert_one_line_error(run_cli("report", str(results), "--out", str(a_file(tmp_path) / "report")), "is a file")


def test_a_year_not_simulated_is_refused_before_running_and_a_chosen_year_is_reported(tmp_path):
    assert_one_line_error(run_cli(*SMALL_RUN, "--year", "2030", "--out", str(tmp_path / "r")), "--year",
                          "allowed: 2022 to 2024")
    assert not (tmp_path / "r").exists()
    done = run_cli(*SMALL_RUN, "--seeds", "2", "--year", "2023", "--format", "json", "--set", "merge_rate=0.5")
    comparison = json.loads(done.stdout)
    assert comparison["year"] == 2023 and comparison["overrides"] == ["merge_rate=0.5"]
    assert comparison["code_version"]
    table = run_cli(*SMALL_RUN, "--seeds", "2", "--year", "2023", "--set", "merge_rate=0.5").stdout
    assert "year 2023" in table.splitlines()[0] and "baseline included: merge_rate=0.5" in table
    final = json.loads(run_cli(*SMALL_RUN, "--format", "json").stdout)
    assert final["year"] == 2024 and final["final_year"] and not comparison["final_year"]
    assert "final simulated year (2024)" in run_cli(*SMALL_RUN).stdout.splitlines()[0]


def test_the_briefing_judges_the_year_the_run_chose(tmp_path):
    """`run --year Y --out DIR` records Y, so the briefing judges targets in Y as the terminal table
    did; `report --year` chooses another and names a year not simulated in one line."""
    folder = tmp_path / "chosen"
    assert run_cli(*SMALL_RUN, "--seeds", "2", "--year", "2023", "--out", str(folder)).returncode == 0
    assert read_manifest(folder)["year"] == 2023
    report = run_cli("report", str(folder), "--out", str(tmp_path / "report"), "--lang", "en")
    assert report.returncode == 0, report.stderr
    briefing = (tmp_path / "report" / "briefing.md").read_text(encoding="utf-8")
    assert "in 2023" in briefing and "year 2023 (chosen with --year)" in briefing
    assert run_cli("report", str(folder), "--out", str(tmp_path / "final"), "--year", "2024").returncode == 0
    assert "final year 2024" in (tmp_path / "final" / "briefing.md").read_text(encoding="utf-8")
    assert_one_line_error(run_cli("report", str(folder), "--out", str(tmp_path / "bad"), "--year", "2030"),
                          "--year: 2030 is not a year every group simulated", "allowed: 2022 to 2024")
    assert not (tmp_path / "bad").exists()


def test_options_before_the_command_are_refused_not_ignored():
    assert_one_line_error(run_cli("--seeds", "3", "run", "baseline"), "--seeds", "before the command 'run'")


def test_an_unreachable_scheduler_is_a_one_line_error(tmp_path):
    done = run_cli("sweep", "mechanism_sweep", "--scheduler", "tcp://127.0.0.1:1", "--out", str(tmp_path / "s"),
                   "--quiet")
    assert_one_line_error(done, "--scheduler", "cannot reach")
    assert not (tmp_path / "s").exists()  # refused before the study's folder is made


def test_ctrl_c_stops_with_one_line_and_the_study_resumes(tmp_path):
    folder = tmp_path / "sweep"
    command = [sys.executable, "run.py", "sweep", "mechanism_sweep", "--scale", "national", "--out", str(folder),
               "--quiet"]
    process = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE, text=True, start_new_session=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 240
    while not list((folder / "runs").glob("part-*.parquet")) and time.monotonic() < deadline:
        time.sleep(0.5)
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole process group
    stderr = process.communicate(timeout=120)[1]
    assert process.returncode == 130 and stderr.startswith("interrupted: ") and stderr.count("\n") == 1, stderr
    assert read_manifest(folder)["finished"] is None and len(read_runs(folder)) > 0


def test_main_job_with_out_keeps_the_default_briefing_and_writes_its_own(tmp_path):
    folder = tmp_path / f"main_{os.getpid()}"
    report = ROOT / "reports" / folder.name
    try:
        done = run_cli("--seeds", "1", "--scale", "county", "--years", "1", "--workers", "1", "--quiet", "--out",
                       str(folder))
        assert done.returncode == 0, done.stderr
        assert f"reports/{folder.name}/briefing.html" in done.stderr and (report / "briefing.html").is_file()
        assert read_manifest(folder)["kind"] == "run"
    finally:
        shutil.rmtree(report, ignore_errors=True)


def test_two_scenarios_of_one_name_are_refused_not_pooled(tmp_path):
    twin = tmp_path / "twin.yaml"
    twin.write_text("name: baseline\nlevers:\n  merge_rate: 0.0\n", encoding="utf-8")
    assert_one_line_error(run_cli("run", "baseline", str(twin), *SMALL_RUN[2:]), "twin.yaml: name:", "also the name of")


@pytest.mark.parametrize("setting, option", [("years=5", ["--years", "2"]), ("scale=national", ["--scale", "county"])])
def test_an_override_and_its_own_option_together_are_refused(setting, option):
    done = run_cli("run", "baseline", "--set", setting, *option, "--quiet")
    assert_one_line_error(done, f"--set {setting.split('=')[0]}", "conflicts with")


def test_a_schedule_step_after_the_run_is_a_one_line_warning_not_an_error(tmp_path):
    late = tmp_path / "late.yaml"
    late.write_text('levers:\n  merge_rate:\n    schedule: [{from: "2030-01", value: 0.6}]\n', encoding="utf-8")
    done = run_cli("run", str(late), *SMALL_RUN[2:])
    assert done.returncode == 0 and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"warning: {late}: schedule steps of levers.merge_rate in 2030 never take effect")


def test_a_run_folder_records_its_scenarios_as_run_overrides_included(tmp_path):
    """So the folder reproduces its runs after the scenario files change."""
    folder = tmp_path / "results"
    assert run_cli(*SMALL_RUN, "--seeds", "1", "--set", "merge_rate=0.5", "--out", str(folder)).returncode == 0
    resolved = read_manifest(folder)["scenarios_resolved"]
    assert [s["name"] for s in resolved] == ["baseline"]
    assert resolved[0]["overrides"] == {"levers.merge_rate": 0.5, "scale": "county", "years": 1}
    assert (resolved[0]["scale"], resolved[0]["years"]) == ("county", 1), "the options as run, not the file's"
    assert resolved[0]["levers"]["merge_rate"] == [[0, 0.5]] and "detection_base" in resolved[0]["behaviour"]


@pytest.mark.parametrize("args, fragments", [
    (["run", "baseline", "--scale", "town"], ["--scale: invalid choice: 'town'", "allowed: county, city, province"]),
    (["run", "baseline", "--seeds", "abc"], ["--seeds: invalid int value", "allowed: a whole number"]),
    (["report", "somewhere", "--lang", "fr"], ["--lang", "allowed: zh, en, both"]),
    (["run", "baseline", "--years", "51"], ["--years: years: 51", "allowed: integer in [1, 50]"]),
    (["calibrate", "--dry-run", "--iterations", "0"], ["--iterations: 0 is below 1"]),
    (["run", "baseline", "--set", "merge_rate=0.5", "--set", "merge_rate=0.1"], ["--set merge_rate: given twice"]),
    (["sweep", "mechanism_sweep", "--bar", "1"], ["unrecognized arguments: --bar 1", "allowed: the options run.py "
                                                                                     "sweep --help lists"]),
    (["run", "baseline", "--set"], ["--set: expected one argument", "allowed: a value after the option"]),
    # no abbreviations: --seed 3 would otherwise run 3 replications, not seed 3
    (["run", "baseline", "--seed", "3"], ["unrecognized arguments: --seed 3"]),
    (["run", "packages/documents_reform", "--set", "start_year=2025"],
     ["documents_reform.yaml: levers.", "2024-01 is before the policy start", "from 2025-01"]),
])
def test_mistakes_on_the_command_line_are_one_line_errors(args, fragments):
    assert_one_line_error(run_cli(*args), *fragments)


def test_a_key_given_twice_in_a_scenario_file_is_refused(tmp_path):
    path = tmp_path / "twice.yaml"
    path.write_text("extends: baseline\nlevers:\n  merge_rate: 0.6\n  merge_rate: 0.2\n")
    assert_one_line_error(run_cli(*SMALL_RUN[:1], str(path), *SMALL_RUN[2:]), str(path), "merge_rate: given twice",
                          "line 4")


@pytest.mark.parametrize("damage", ["runs", "manifest"])
def test_a_damaged_results_folder_is_a_one_line_error(tmp_path, damage):
    folder = tmp_path / "results"
    assert run_cli(*SMALL_RUN, "--seeds", "1", "--out", str(folder)).returncode == 0
    if damage == "runs":
        (folder / "runs" / "part-all.parquet").write_bytes(b"not parquet")
    else:
        (folder / "manifest.json").write_text("[]")
    done = run_cli("report", str(folder), "--out", str(tmp_path / "report"))
    assert_one_line_error(done, "part-all.parquet: runs: not a readable Parquet file" if damage == "runs"
                          else "manifest: a JSON list, not an object")
    assert not (tmp_path / "report").exists()


def test_a_reader_that_stops_early_ends_the_output_without_a_traceback():
    done = subprocess.run(f"{sys.executable} run.py {' '.join(SMALL_RUN)} --seeds 1 | true", shell=True, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert "Traceback" not in done.stderr and "Error" not in done.stderr, done.stderr
