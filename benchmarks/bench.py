"""Throughput, memory and parallel scaling of the model on the machine at hand.

`python run.py bench` calls run_benchmarks() and prints format_table() or the result as JSON.
Every figure is a median over repeats after warm-up runs. The goals are reported with pass or
fail, never asserted: a slow machine is a finding, not an error.
"""
from __future__ import annotations

import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import mesa
import numpy as np
from mesa.examples.basic.boltzmann_wealth_model.model import BoltzmannWealth

from experiments.runner import RunSpec, default_workers, execute, replication_seeds, run_one
from model import simulate, simulate_replications
from model.organisation import build_organisation
from model.params import WEEKS_PER_YEAR
from model.threads import default_threads
from model.version import code_version
from scenarios import load_scenario

SCENARIO = "baseline"  # the calibrated status quo: the workload every study starts from
SOBOL_FACTORS = 10
SOBOL_BASE_SAMPLES = 512
SOBOL_REPLICATIONS = 3
SOBOL_YEARS = 3
BOLTZMANN_WARMUP_STEPS = 10
BOLTZMANN_AGENTS_PER_CELL = 1.0  # the example's own default: 100 agents on a 10 x 10 grid
# Replications a study runs together at county and city scale (model.ReplicationStack): the design
# point's, 10 in the shipped mechanism sweep (4 in the Sobol study, 20 in `python run.py`).
STACK_REPLICATIONS = 10
ATTEMPTS_PER_RUN = 4  # seeds tried per wanted run before a scale's failures abort the benchmark
MIB = 1024 * 1024
PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ScaleRuns:
    """Timed model runs at one scale: `repeats` runs of `years` policy years after `warmup` runs."""

    scale: str
    years: int
    repeats: int
    warmup: int = 1


@dataclass(frozen=True)
class BenchConfig:
    """How much to run. The national_* figures come from `national`, which tests shrink; with
    national.repeats == 0 its time is the cold run of the memory probe, saving one long run."""

    county: ScaleRuns
    city: ScaleRuns  # the scale of the shipped Sobol study (experiments/sobol_levers.yaml)
    province: ScaleRuns
    national: ScaleRuns
    boltzmann_steps: int  # Mesa steps per timed block; one block follows each timed province run
    sweep: ScaleRuns  # one batch of province runs; repeats = timed batches per worker count
    sweep_runs: int
    stacked: tuple[ScaleRuns, ...] = ()  # stacks of STACK_REPLICATIONS runs, as studies make them


FULL = BenchConfig(
    county=ScaleRuns("county", 3, 60, warmup=5),  # a county run takes 4 ms: 9 runs were too few for a steady median
    city=ScaleRuns("city", 3, 20, warmup=2),
    province=ScaleRuns("province", 3, 5),
    national=ScaleRuns("national", 3, 3),
    boltzmann_steps=100,
    sweep=ScaleRuns("province", 3, 3),
    sweep_runs=48,  # about 7 s of runs: long enough that starting the pool weighs as in real sweeps
    stacked=(ScaleRuns("county", 3, 9, warmup=1), ScaleRuns("city", 3, 5, warmup=1)),
)
QUICK = BenchConfig(  # under a minute: one policy year, few repeats, one (cold) national run
    county=ScaleRuns("county", 1, 3),
    city=ScaleRuns("city", 1, 3),
    province=ScaleRuns("province", 1, 3),
    national=ScaleRuns("national", 1, 0, warmup=0),
    boltzmann_steps=30,
    sweep=ScaleRuns("province", 1, 1),
    sweep_runs=8,
    stacked=(ScaleRuns("county", 1, 2), ScaleRuns("city", 1, 1)),
)


def run_benchmarks(quick: bool, config: BenchConfig | None = None, progress: bool = True) -> dict:
    """Measure everything in this process (and one fresh child for memory); return one dict."""
    config = config or (QUICK if quick else FULL)
    log = _logger(progress)
    machine = machine_description()
    scenario = load_scenario(SCENARIO)

    mesa_reference = MesaReference(build_organisation(config.province.scale).n_units, config.boltzmann_steps)
    host = HostProbe()
    single = [runs for runs in (config.county, config.city, config.province, config.national) if runs.repeats]
    log("timed runs, the scales in turn: " + ", ".join(
        [f"{runs.scale} {runs.repeats} runs" for runs in single]
        + [f"{runs.scale} {runs.repeats} stacks of {STACK_REPLICATIONS}" for runs in config.stacked])
        + f" ({_policy_years(config.province.years)} each; Mesa BoltzmannWealth after each {config.province.scale} run)")
    measurements = {("runs", runs.scale): (_timed_runs(scenario, runs, mesa_reference.time_block
                                                       if runs is config.province else None, host),
                                           runs.warmup + runs.repeats) for runs in single}
    measurements.update({("stacked", runs.scale): (_timed_stacks(scenario, runs, host), runs.warmup + runs.repeats)
                         for runs in config.stacked})
    figures = interleaved(measurements)
    timed, failures, stacked = {}, {}, {}
    for (kind, scale), result in figures.items():
        if kind == "stacked":
            stacked[scale] = result
            continue
        timed[scale], failed = result
        if failed:
            failures[scale] = failed
    boltzmann = mesa_reference.summary()
    province = timed[config.province.scale]
    boltzmann["ratio_cpu"] = province["unit_weeks_per_cpu_s"] / boltzmann["agent_steps_per_cpu_s"]

    log(f"{config.national.scale}: peak memory in a fresh process")
    memory = measure_in_fresh_process(config.national)
    if config.national.repeats == 0:
        timed[config.national.scale] = _run_figures(scenario, config.national, [memory["cold_seconds"]],
                                                    [memory["cold_cpu_seconds"]], warmup_seconds=[])
    unit_weeks_per_s = {scale: t["unit_weeks"] / t["seconds"] for scale, t in timed.items()}

    log(f"sweep: {config.sweep_runs} {config.sweep.scale} runs with 1 and 2 workers, {config.sweep.repeats} times")
    sweep = sweep_timing(scenario, config.sweep, config.sweep_runs)
    efficiency = sweep["runs_per_s"]["2"] / (2 * sweep["runs_per_s"]["1"])

    log(f"sobol: {config.province.repeats} {config.province.scale} runs of {_policy_years(SOBOL_YEARS)} "
        f"continuing from the replications' burn-in snapshots")
    cores = default_workers()
    sobol_runs = SOBOL_BASE_SAMPLES * (SOBOL_FACTORS + 2) * SOBOL_REPLICATIONS
    sobol_seconds_per_run = sobol_run_seconds(scenario, config.province.scale, config.province.repeats)
    # A study of 18,432 runs pays the pool's start-up and the idle tail once, not per batch: it
    # runs at the steady rate of the 2-worker batch, plus that batch's one-off seconds.
    # (capped at 1: a short batch's arrival times can suggest more than linear speed-up)
    parallel_speedup = cores * min(1.0, sweep["steady_efficiency_2"]) if cores > 1 else 1.0
    sobol_minutes = (sobol_runs * sobol_seconds_per_run / parallel_speedup
                     + (sweep["once_seconds_2"] if cores > 1 else 0.0)) / 60

    results = {
        "unit_weeks_per_s": unit_weeks_per_s,
        "stacked_unit_weeks_per_s": {scale: t["unit_weeks"] / t["seconds"] for scale, t in stacked.items()},
        "mesa_boltzmann_agent_steps_per_s": boltzmann["agent_steps_per_s"],
        "ratio_vs_mesa_province": unit_weeks_per_s[config.province.scale] / boltzmann["agent_steps_per_s"],
        "national_seconds_per_run": timed[config.national.scale]["seconds"],
        "national_peak_rss_mib": memory["peak_rss_mib"],
        "sweep_runs_per_s": sweep["runs_per_s"],
        "parallel_efficiency_2": efficiency,
        "sobol_study_projected_minutes": sobol_minutes,
        "details": {
            "runs": timed,
            "stacked_runs": stacked,
            "stack_replications": STACK_REPLICATIONS,
            "failed_runs": failures,
            "boltzmann": boltzmann,
            "national_fresh_process": memory,
            "sweep": sweep,
            "sobol": {"runs": sobol_runs, "scale": config.province.scale, "years": SOBOL_YEARS,
                      "seconds_per_run": sobol_seconds_per_run, "cores": cores, "parallel_speedup": parallel_speedup},
            "scenario": SCENARIO,
            "host": host.summary(),
        },
        "mode": "quick" if quick else "full",
        "config": asdict(config),
        "machine": {**machine, "load_average_end": _load_average()},
    }
    results["goals"] = evaluate_goals(results)
    return results


# -- measurements ---------------------------------------------------------------------------------
def _unit_weeks(scale: str, total_years: int) -> int:
    """Work of one run: units x simulated weeks, burn-in included."""
    return build_organisation(scale).n_units * total_years * WEEKS_PER_YEAR


def _timed(action) -> tuple[float, float]:
    """Wall and CPU seconds of one call."""
    start, cpu_start = time.perf_counter(), time.process_time()
    action()
    return time.perf_counter() - start, time.process_time() - cpu_start


def interleaved(measurements: dict) -> dict:
    """Drive generators of timed runs ({key: (generator, runs it will time)}) in turn, each time the
    one least far through its runs, until each returns its figures ({key: figures}). So every
    scale is timed across the whole phase, and ratios between scales (the goal's cost per
    unit-week max / min) compare runs made under the same conditions: timed one scale after
    another on a shared host, the same code gave 1.65 and 2.51 within half an hour (2026-12-08)."""
    done = dict.fromkeys(measurements, 0)
    figures = {}
    while len(figures) < len(measurements):
        key = min((key for key in measurements if key not in figures),
                  key=lambda key: done[key] / max(measurements[key][1], 1))
        try:
            next(measurements[key][0])
            done[key] += 1
        except StopIteration as finished:
            figures[key] = finished.value
    return {key: figures[key] for key in measurements}


def _timed_runs(scenario, runs: ScaleRuns, alongside=None, host: "HostProbe | None" = None):
    """Generator (see interleaved) of simulate() runs over seeds, yielding after each; returns the
    medians of the `runs.repeats` runs after the warm-up ones, and the failures. cpu_share (CPU over
    wall time) below 1 shows that other processes took the core; unit-weeks per CPU second then
    still compares code versions fairly. `alongside` runs after every timed run, so that a
    reference measurement sees the same load; `host` times its probe after each run too.

    A run that raises is reported and replaced by the next seed, so one failing corner of the
    model shows up in the output instead of hiding every other figure."""
    wanted = runs.warmup + runs.repeats
    build_organisation(runs.scale)  # built once per process and cached: never timed
    wall, cpu, failures = [], [], []
    for seed in replication_seeds(wanted * ATTEMPTS_PER_RUN):
        try:
            seconds, cpu_seconds = _timed(lambda: simulate(scenario, seed, scale=runs.scale, years=runs.years,
                                                           reuse_burn_in=False))
        except Exception as error:  # noqa: BLE001 - reported in the output, see the docstring
            failures.append(f"seed {seed}: {type(error).__name__}: {error}")
            continue
        wall.append(seconds)
        cpu.append(cpu_seconds)
        if len(wall) > runs.warmup:
            if alongside is not None:
                alongside()
            if host is not None:
                host.time_once()
        if len(wall) == wanted:
            break
        yield
    else:
        raise RuntimeError(f"{runs.scale}: {len(failures)} of {wanted * ATTEMPTS_PER_RUN} runs failed; "
                           f"first: {failures[0]}")
    return _run_figures(scenario, runs, wall[runs.warmup:], cpu[runs.warmup:], wall[:runs.warmup]), failures


def _timed_stacks(scenario, runs: ScaleRuns, host: "HostProbe | None" = None):
    """Generator (see interleaved) of runs made as a study makes them at this scale: stacks of
    STACK_REPLICATIONS seeds advanced together (model.simulate_replications), yielding after each
    stack; returns _timed_runs' figures per run, each stack's time shared by its runs. A failure
    here is not caught: a stack is the same runs as solo ones."""
    seeds = iter(replication_seeds((runs.warmup + runs.repeats) * STACK_REPLICATIONS))
    wall, cpu = [], []
    for stack_number in range(runs.warmup + runs.repeats):
        if stack_number:
            yield
        stack = [next(seeds) for _ in range(STACK_REPLICATIONS)]
        seconds, cpu_seconds = _timed(lambda: simulate_replications(scenario, stack, scale=runs.scale,
                                                                    years=runs.years, reuse_burn_in=False))
        wall.append(seconds / STACK_REPLICATIONS)
        cpu.append(cpu_seconds / STACK_REPLICATIONS)
        if stack_number >= runs.warmup and host is not None:
            host.time_once()
    return _run_figures(scenario, runs, wall[runs.warmup:], cpu[runs.warmup:], wall[:runs.warmup])


def sobol_run_seconds(scenario, scale: str, repeats: int) -> float:
    """Median wall time of a run as a lever-only Sobol study makes it (experiments.runner.run_one,
    its table carrying the design point, the replication and the factors' values): its replication
    seeds are the same at every design point (common random numbers), so each worker simulates each
    replication's burn-in once and continues every other run from its snapshot (bit-identical
    to a full run). The few burn-ins per worker are left out: 3 of 9,216 runs per worker."""
    seeds = replication_seeds(SOBOL_REPLICATIONS)
    for seed in seeds:  # the snapshots a worker makes in its first runs
        simulate(scenario, seed, scale=scale, years=SOBOL_YEARS)

    def study_run(i: int) -> RunSpec:
        replication = i % len(seeds)
        factors = tuple((f"factor_{k}", (i * (k + 1)) % 97 / 97) for k in range(SOBOL_FACTORS))
        return RunSpec(scenario, seeds[replication], scale=scale, years=SOBOL_YEARS,
                       tags=(("point", i), ("replication", replication), *factors))

    seconds = [_timed(lambda: run_one(study_run(i)))[0] for i in range(repeats)]
    return statistics.median(seconds)


def _run_figures(scenario, runs: ScaleRuns, seconds: list[float], cpu_seconds: list[float],
                 warmup_seconds: list[float]) -> dict:
    """Medians of timed runs at one scale, with the work they did."""
    median, median_cpu = statistics.median(seconds), statistics.median(cpu_seconds)
    unit_weeks = _unit_weeks(runs.scale, scenario.burn_in_years + runs.years)
    organisation = build_organisation(runs.scale)
    return {"units": organisation.n_units, "years": runs.years,
            "threads": min(default_threads(), organisation.n_jurisdictions[1]),  # a run's provinces (model.threads)
            "weeks": (scenario.burn_in_years + runs.years) * WEEKS_PER_YEAR, "unit_weeks": unit_weeks,
            "seconds": median, "seconds_all": seconds, "warmup_seconds": warmup_seconds,
            "cpu_share": median_cpu / median, "unit_weeks_per_cpu_s": unit_weeks / median_cpu,
            "us_per_unit_week": median / unit_weeks * 1e6, "cpu_us_per_unit_week": median_cpu / unit_weeks * 1e6}


class HostProbe:
    """A fixed piece of work (Python and numpy, about 3 ms) timed after every timed run: how much the
    machine's own speed moved while the benchmark ran. On a shared host the same code ran up to 1.6
    times slower for minutes at a time (2026-12-08); a wide spread says to read every figure of
    that run with care, and to compare code versions only on a steadier one. The threshold is a
    judgement: that day's host never gave a steady reading to set it from."""

    STEADY_SPREAD = 1.25  # p90 / p10 of the probe's times above which the output warns
    MIN_PROBES = 10  # fewer give percentiles too near the extremes to judge by

    def __init__(self):
        self.values = np.random.default_rng(0).random(50_000)
        self.buffer = np.empty_like(self.values)  # sorted in place: no allocation inside the timing
        self.seconds: list[float] = []

    def time_once(self) -> None:
        self.seconds.append(_timed(self._work)[1])

    def _work(self) -> None:
        total = 0.0
        for k in range(100_000):
            total += k * 0.5
        self.buffer[:] = self.values
        self.buffer.sort()

    def summary(self) -> dict:
        """The probe's CPU milliseconds: median, 10th and 90th percentiles, their spread, and whether
        that is steady (None below MIN_PROBES timings)."""
        if len(self.seconds) < 2:
            return {"probes": len(self.seconds), "median_ms": None, "spread": None, "steady": None}
        tenth, *_, ninetieth = statistics.quantiles(self.seconds, n=10, method="inclusive")
        spread = ninetieth / tenth
        return {"probes": len(self.seconds), "median_ms": statistics.median(self.seconds) * 1e3,
                "p10_ms": tenth * 1e3, "p90_ms": ninetieth * 1e3, "spread": spread,
                "steady": spread <= self.STEADY_SPREAD if len(self.seconds) >= self.MIN_PROBES else None}


class MesaReference:
    """Mesa's shipped BoltzmannWealth at the example's density (one agent per cell), timed as
    shipped (its step includes the DataCollector), in blocks of `steps` steps."""

    def __init__(self, n_agents: int, steps: int):
        self.n_agents, self.steps = n_agents, steps
        self.side = math.ceil(math.sqrt(n_agents / BOLTZMANN_AGENTS_PER_CELL))
        self.model = BoltzmannWealth(n=n_agents, width=self.side, height=self.side, seed=1)
        for _ in range(BOLTZMANN_WARMUP_STEPS):
            self.model.step()
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def time_block(self) -> None:
        seconds, cpu_seconds = _timed(self._steps)
        self.wall.append(seconds)
        self.cpu.append(cpu_seconds)

    def _steps(self) -> None:
        for _ in range(self.steps):
            self.model.step()

    def summary(self) -> dict:
        agent_steps = self.n_agents * self.steps
        return {"agents": self.n_agents, "grid": f"{self.side}x{self.side}", "steps_per_block": self.steps,
                "blocks": len(self.wall), "agent_steps_per_s": agent_steps / statistics.median(self.wall),
                "agent_steps_per_cpu_s": agent_steps / statistics.median(self.cpu)}


def measure_in_fresh_process(runs: ScaleRuns) -> dict:
    """One run in a new interpreter, so its peak RSS is the run's and not this process's."""
    probe = f"from benchmarks.bench import fresh_process_probe; fresh_process_probe({runs.scale!r}, {runs.years})"
    child = subprocess.run([sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True)
    if child.returncode != 0:
        last_line = (child.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"{runs.scale} memory probe failed (exit code {child.returncode}): {last_line}")
    return json.loads(child.stdout)


def fresh_process_probe(scale: str, years: int) -> None:
    """Run in the child of measure_in_fresh_process: one run, then its figures as JSON on stdout."""
    imported_mib = _peak_rss_mib()
    scenario = load_scenario(SCENARIO)
    seconds, cpu_seconds = _timed(lambda: simulate(scenario, replication_seeds(1)[0], scale=scale, years=years))
    json.dump({"peak_rss_mib": _peak_rss_mib(), "rss_after_imports_mib": imported_mib, "cold_seconds": seconds,
               "cold_cpu_seconds": cpu_seconds, "scale": scale, "years": years}, sys.stdout)


def _peak_rss_mib() -> float:
    """Peak resident set of this process image. Linux's VmHWM starts afresh at exec; getrusage's
    ru_maxrss keeps the forking parent's peak, so it is only the fallback where /proc is missing."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return peak / MIB if sys.platform == "darwin" else peak / 1024


def sweep_timing(scenario, runs: ScaleRuns, n_runs: int) -> dict:
    """Wall time of one batch through experiments.runner.execute with 1 and 2 workers, alternating
    so that load from other processes hits both alike; medians over `runs.repeats` batches, after a
    warm-up batch that starts the fork server (once per Python process: it imports the model and
    loads its compiled kernels, see experiments/runner.py) and the 2 workers, which the timed
    batches reuse as a session's later sweeps do (experiments.runner keeps a finished call's
    workers). So a batch's time leaves out starting workers, about 0.14 s that a command's first
    sweep pays once; benchmarks before 2026-12-08 included it in every batch.

    Also the steady rate of 2 workers: results after the first wave (one per worker) over the time
    from the end of that wave to the last result. It leaves out what a batch pays once (the first
    wave and the idle tail), which a long study pays once too."""
    # Every batch has its own seeds: a run never continues from a burn-in snapshot an earlier batch
    # left in this process, so both worker counts time full runs.
    seeds = iter(replication_seeds(n_runs * (2 * runs.repeats + 1)))

    def batch() -> list[RunSpec]:
        return [RunSpec(scenario, next(seeds), scale=runs.scale, years=runs.years) for _ in range(n_runs)]

    for _ in execute(batch()[:2], workers=2, progress=False):  # warm-up: the fork server and the workers
        pass
    seconds: dict[int, list[float]] = {1: [], 2: []}
    steady: list[float] = []
    for _ in range(runs.repeats):
        for workers in seconds:
            specs = batch()
            start = time.perf_counter()
            arrivals = [time.perf_counter() - start for _ in execute(specs, workers=workers, progress=False)]
            seconds[workers].append(arrivals[-1])
            if workers == 2 and n_runs > workers:
                steady.append((n_runs - workers) / (arrivals[-1] - arrivals[workers - 1]))
    median = {workers: statistics.median(values) for workers, values in seconds.items()}
    rate_steady = statistics.median(steady) if steady else n_runs / median[2]
    return {"runs": n_runs, "scale": runs.scale, "years": runs.years,
            "seconds": {str(workers): value for workers, value in median.items()},
            "runs_per_s": {str(workers): n_runs / value for workers, value in median.items()},
            "parallel_loss_seconds": median[2] - median[1] / 2,
            "steady_runs_per_s_2": rate_steady,
            "steady_efficiency_2": rate_steady / (2 * n_runs / median[1]),
            "once_seconds_2": max(median[2] - n_runs / rate_steady, 0.0)}


# -- context and goals ----------------------------------------------------------------------------
def machine_description() -> dict:
    return {
        "date": datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "usable_cores": default_workers(),
        "cpu_model": _cpu_model(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "mesa": mesa.__version__,
        "code_version": code_version(),
        "load_average_start": _load_average(),
    }


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _load_average() -> float | None:
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None


def evaluate_goals(results: dict) -> list[dict]:
    """The issue's goals for a 2-core machine, each with the measured value and pass or fail. The
    cost of a unit-week is CPU time: a national run's provinces run in threads, which shortens its
    wall time without making a unit-week cheaper. It is taken as studies run each scale: county and
    city runs stacked when the benchmark timed stacks (docs/PERFORMANCE.md)."""
    flatness = cost_spread(results["details"], stacked=True)
    goals = [
        ("ratio_vs_mesa_province", ">=", 20, results["ratio_vs_mesa_province"]),
        ("national_seconds_per_run", "<=", 2, results["national_seconds_per_run"]),
        ("national_peak_rss_mib", "<=", 1024, results["national_peak_rss_mib"]),
        ("cost_per_unit_week_max_over_min", "<=", 1.25, flatness),
        ("parallel_efficiency_2", ">=", 0.85, results["parallel_efficiency_2"]),
        ("sobol_study_projected_minutes", "<=", 15, results["sobol_study_projected_minutes"]),
    ]
    return [{"goal": name, "target": f"{op} {target:g}", "value": value,
             "passed": value >= target if op == ">=" else value <= target} for name, op, target, value in goals]


def cost_spread(details: dict, stacked: bool) -> float:
    """Max over min of CPU microseconds per unit-week over the scales timed; with `stacked`, a
    scale's stacked runs stand for its single runs."""
    costs = {scale: run["cpu_us_per_unit_week"] for scale, run in details["runs"].items()}
    if stacked:
        costs.update({scale: run["cpu_us_per_unit_week"] for scale, run in details["stacked_runs"].items()})
    return max(costs.values()) / min(costs.values())


def _logger(enabled: bool):
    started = time.perf_counter()

    def log(message: str) -> None:
        if enabled:
            print(f"bench [{time.perf_counter() - started:5.1f} s] {message}", file=sys.stderr, flush=True)
    return log


# -- output ---------------------------------------------------------------------------------------
def format_table(results: dict) -> str:
    """The results as a plain-text report: context, measurements, goals."""
    machine, details = results["machine"], results["details"]
    lines = [
        f"Model benchmark ({results['mode']}), {machine['date']}",
        f"machine   {machine['cpu_count']} CPUs ({machine['usable_cores']} usable), {machine['cpu_model']}, "
        f"{machine['platform']}",
        f"software  Python {machine['python']}, numpy {machine['numpy']}, Mesa {machine['mesa']}, "
        f"code {machine['code_version']}, scenario {details['scenario']}",
        f"load      {machine['load_average_start']} at start, {machine['load_average_end']} at end "
        f"(1-minute load average; other processes slow every figure)",
        _host_line(details["host"]),
        "",
        f"{'model throughput':<18}{'units':>8}{'weeks':>7}{'threads':>8}{'s/run':>9}{'unit-weeks/s':>15}"
        f"{'us/unit-week':>14}{'CPU/wall':>10}{'CPU us/unit-week':>18}",
    ]
    for scale, run in details["runs"].items():
        lines.append(f"  {scale:<16}{run['units']:>8,}{run['weeks']:>7}{run['threads']:>8}{run['seconds']:>9.3f}"
                     f"{results['unit_weeks_per_s'][scale]:>15,.0f}{run['us_per_unit_week']:>14.2f}"
                     f"{run['cpu_share']:>10.2f}{run['cpu_us_per_unit_week']:>18.2f}")
    for scale, run in details["stacked_runs"].items():
        lines.append(f"  {scale + ', stacked':<16}{run['units']:>8,}{run['weeks']:>7}{1:>8}{run['seconds']:>9.3f}"
                     f"{results['stacked_unit_weeks_per_s'][scale]:>15,.0f}{run['us_per_unit_week']:>14.2f}"
                     f"{run['cpu_share']:>10.2f}{run['cpu_us_per_unit_week']:>18.2f}")
    if details["stacked_runs"]:
        lines.append(f"  (stacked: {details['stack_replications']} replications advanced together, as a study runs a "
                     f"design point's; s/run is the stack's time per run. Cost per unit-week max / min: "
                     f"{cost_spread(details, stacked=False):.2f} for single runs, "
                     f"{cost_spread(details, stacked=True):.2f} as studies run them, the goal's figure)")
    boltzmann, memory, sobol = details["boltzmann"], details["national_fresh_process"], details["sobol"]
    sweep, sweep_rates = details["sweep"], results["sweep_runs_per_s"]
    national_warm = results["config"]["national"]["repeats"] > 0
    lines += [
        "",
        f"Mesa BoltzmannWealth ({boltzmann['agents']:,} agents, {boltzmann['grid']} grid): "
        f"{results['mesa_boltzmann_agent_steps_per_s']:,.0f} agent-steps/s",
        f"ratio vs Mesa at province: {results['ratio_vs_mesa_province']:.2f} "
        f"(per CPU second {boltzmann['ratio_cpu']:.2f}; {boltzmann['blocks']} blocks of "
        f"{boltzmann['steps_per_block']} steps, each right after a timed province run)",
        f"{memory['scale']} (burn-in + {_policy_years(memory['years'])}): "
        + (f"{results['national_seconds_per_run']:.2f} s/run warm; " if national_warm else "")
        + f"{memory['cold_seconds']:.2f} s for one run in a fresh process, peak RSS {memory['peak_rss_mib']:,.0f} MiB "
        f"({memory['rss_after_imports_mib']:,.0f} MiB after imports)",
        f"sweep ({sweep['runs']} {sweep['scale']} runs of {_policy_years(sweep['years'])}): "
        f"1 worker {sweep_rates['1']:.2f} runs/s, 2 workers {sweep_rates['2']:.2f} runs/s, "
        f"parallel efficiency {results['parallel_efficiency_2']:.2f} "
        f"({sweep['parallel_loss_seconds']:.2f} s lost to start-up and imbalance)",
        f"Sobol study ({SOBOL_FACTORS} factors, N={SOBOL_BASE_SAMPLES}, {SOBOL_REPLICATIONS} replications: "
        f"{sobol['runs']:,} runs of {_policy_years(sobol['years'])} at {sobol['scale']} continuing from burn-in "
        f"snapshots, {sobol['seconds_per_run']:.3f} s/run, {sobol['cores']} cores at the steady 2-worker "
        f"efficiency {min(1.0, sweep['steady_efficiency_2']):.2f}, plus {sweep['once_seconds_2']:.2f} s once): "
        f"{results['sobol_study_projected_minutes']:,.1f} minutes projected",
        "",
        "goals (2-core machine)" if results["mode"] == "full" else
        "goals (2-core machine), indicative only: --quick times too few and too short runs to judge them",
    ]
    verdicts = ("pass", "FAIL") if results["mode"] == "full" else ("ok", "below")
    for goal in results["goals"]:
        verdict = verdicts[0] if goal["passed"] else verdicts[1]
        lines.append(f"  {verdict:<6}{goal['goal']:<34}{goal['target']:>9}   measured {goal['value']:,.3g}")
    if details["host"]["steady"] is False:
        lines.append(f"warning: this machine's speed moved while the benchmark ran (a fixed piece of work took "
                     f"{details['host']['spread']:.2f} times longer at the 90th percentile than at the 10th; "
                     f"steady is up to {HostProbe.STEADY_SPREAD}): every figure is less sure; compare code "
                     "versions on a steadier run")
    for scale, failed in details["failed_runs"].items():
        lines.append(f"warning: {len(failed)} {scale} run(s) failed and were replaced by other seeds; "
                     f"first: {failed[0]}")
    return "\n".join(lines)


def _host_line(host: dict) -> str:
    if host["spread"] is None:
        return f"host      {host['probes']} timing(s) of a fixed piece of work: too few to tell how steady the machine was"
    verdict = {True: "steady", False: "unsteady", None: f"too few timings to judge: {HostProbe.MIN_PROBES} needed"}
    return (f"host      a fixed piece of work, timed after each of {host['probes']} timed runs: median "
            f"{host['median_ms']:.2f} ms, 90th / 10th percentile {host['spread']:.2f} ({verdict[host['steady']]})")


def _policy_years(count: int) -> str:
    return f"{count} policy year{'' if count == 1 else 's'}"
