"""Reference outcomes: the guard that an optimisation has not changed the model.

`python -m benchmarks.reference --write` runs a fixed set of runs (REFERENCE_SCENARIOS at county
scale, burn-in + YEARS policy years, the first N_SEEDS replication seeds) and writes each run's
final-year metrics to tests/data/reference_outcomes.csv. tests/test_equivalence.py runs the same
runs again and compares:

- exactly: a pure refactor gives the same draws and the same arithmetic, so the same numbers.
  This is asserted when the numerical environment (numpy version, CPU features) is the one that
  wrote the file; elsewhere the last bit of exp or log may differ and runs diverge legitimately.
- as distributions, per scenario and metric: Welch's t-test and the two-sample Kolmogorov-Smirnov
  test (both p > ALPHA), and the difference of means within MEAN_TOLERANCE_SD reference standard
  deviations. This tells a change of the random stream (same model, other draws) from a change
  of the model.

When the model is changed on purpose (a recalibration, a new rule, another scenario file),
regenerate the file with WRITE_COMMAND and commit it with the change.
`python -m benchmarks.reference` (no option) compares the current code with the file.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import platform
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

PROJECT_ROOT = Path(__file__).resolve().parent.parent
REFERENCE_PATH = PROJECT_ROOT / "tests" / "data" / "reference_outcomes.csv"
WRITE_COMMAND = "python -m benchmarks.reference --write"
REFERENCE_SCENARIOS = ("baseline", "packages/documents_reform")
SCALE = "county"
YEARS = 2
N_SEEDS = 20
ALPHA = 0.001  # each test's p-value must exceed this
MEAN_TOLERANCE_SD = 1.5  # |mean(current) - mean(reference)| <= this many reference standard deviations
KEYS = ("scenario", "seed")
FALSE_ALARM_ONE_IN = 8  # measured: 1 of 8 independent 20-seed sets of the unchanged model failed a check


def metric_names() -> list[str]:
    from model import METRICS

    return list(METRICS)


def seeds() -> list[int]:
    from experiments.runner import replication_seeds

    return replication_seeds(N_SEEDS)


def run_outcomes(scenarios=REFERENCE_SCENARIOS, seed_list=None, behaviour_changes: dict | None = None) -> pd.DataFrame:
    """One row per (scenario, seed): the final year's metrics. behaviour_changes multiplies
    behavioural parameters (used to show that the comparison catches a real change)."""
    from dataclasses import replace

    from model import simulate
    from scenarios import load_scenario

    rows = []
    for name in scenarios:
        scenario = load_scenario(name)
        if behaviour_changes:
            behaviour = dict(scenario.behaviour)
            for key, factor in behaviour_changes.items():
                behaviour[key] *= factor
            scenario = replace(scenario, behaviour=behaviour)
        for seed in (seeds() if seed_list is None else seed_list):
            final = simulate(scenario, seed, scale=SCALE, years=YEARS).iloc[-1]
            rows.append({"scenario": name, "seed": int(seed), **{m: float(final[m]) for m in metric_names()}})
    return pd.DataFrame(rows)


# -- provenance ---------------------------------------------------------------------------------
def environment() -> str:
    """What the exact numbers depend on besides the code: numpy (its SIMD loops for exp, log and
    power differ by CPU), the machine and the CPU features numpy dispatches on."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:  # pragma: no cover - other numpy layouts
        features = {}
    enabled = sorted(name for name, on in features.items() if on)
    simd = hashlib.sha256(" ".join(enabled).encode()).hexdigest()[:12]
    return f"numpy {np.__version__}; {platform.machine()} {sys.platform}; cpu features {simd}"


def scenarios_digest() -> str:
    """A hash of everything the reference scenarios resolve to (levers, status quo, behaviour,
    years), so a recalibration is recognised as the reason for a difference."""
    from scenarios import load_scenario

    parts = []
    for name in REFERENCE_SCENARIOS:
        s = load_scenario(name)
        parts.append({"name": name, "levers": {k: v.steps for k, v in s.levers.items()},
                      "status_quo": dict(s.status_quo), "behaviour": dict(s.behaviour),
                      "burn_in_years": s.burn_in_years, "start_year": s.start_year})
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=repr).encode()).hexdigest()[:16]


def write(path: Path = REFERENCE_PATH) -> Path:
    from model.version import code_version

    frame = run_outcomes()
    header = {
        "about": f"final-year metrics of {len(REFERENCE_SCENARIOS)} scenarios x {N_SEEDS} seeds at "
                 f"{SCALE} scale, {YEARS} policy years; read by tests/test_equivalence.py",
        "regenerate": WRITE_COMMAND,
        "written": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "code_version": code_version(),
        "environment": environment(),
        "scenarios_digest": scenarios_digest(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as out:
        for key, value in header.items():
            out.write(f"# {key}: {value}\n")
        frame.to_csv(out, index=False, float_format="%.17g")  # 17 digits: every double round-trips
    return path


def read(path: Path = REFERENCE_PATH) -> tuple[pd.DataFrame, dict[str, str]]:
    header = {}
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.startswith("# "):
                break
            key, _, value = line[2:].rstrip("\n").partition(": ")
            header[key] = value
    # Parse the numbers with Python's float(), which is correctly rounded: with 17 significant
    # digits written, every value reads back as the very double that was written.
    frame = pd.read_csv(path, comment="#", dtype=str, keep_default_na=False)
    frame["seed"] = frame["seed"].astype(np.int64)
    for metric in frame.columns.drop(list(KEYS)):
        frame[metric] = np.array([float(v) if v else math.nan for v in frame[metric]], dtype=np.float64)
    return frame, header


# -- comparison ---------------------------------------------------------------------------------
@dataclass
class MetricCheck:
    scenario: str
    metric: str
    welch_p: float
    ks_p: float
    shift_sd: float  # (mean current - mean reference) / reference standard deviation (current's if 0)
    passed: bool

    def describe(self) -> str:
        return (f"{self.scenario} {self.metric}: Welch p={self.welch_p:.2g}, KS p={self.ks_p:.2g}, "
                f"mean shift {self.shift_sd:+.2f} reference SD")


def compare_distributions(reference: pd.DataFrame, current: pd.DataFrame) -> list[MetricCheck]:
    from scipy import stats

    checks = []
    for scenario in reference["scenario"].unique():
        ref_rows = reference[reference["scenario"] == scenario]
        cur_rows = current[current["scenario"] == scenario]
        for metric in metric_names():
            a = ref_rows[metric].dropna().to_numpy(float)
            b = cur_rows[metric].dropna().to_numpy(float)
            if a.size < 2 or b.size < 2:  # a metric undefined in (nearly) every run: compare counts
                same = a.size == b.size and np.allclose(np.sort(a), np.sort(b))
                checks.append(MetricCheck(scenario, metric, math.nan, math.nan, 0.0, bool(same)))
                continue
            spread = a.std(ddof=1)
            shift = b.mean() - a.mean()
            if spread == 0 and b.std(ddof=1) == 0:  # constant in both: must be the same constant
                equal = bool(np.isclose(shift, 0.0, rtol=0, atol=1e-12 * max(1.0, abs(a.mean()))))
                checks.append(MetricCheck(scenario, metric, 1.0 if equal else 0.0, 1.0 if equal else 0.0,
                                          0.0 if equal else math.inf, equal))
                continue
            welch = stats.ttest_ind(b, a, equal_var=False).pvalue
            ks = stats.ks_2samp(b, a).pvalue
            # a rare event absent from every reference run: measure the shift by the current spread
            shift_sd = shift / (spread if spread > 0 else b.std(ddof=1))
            passed = welch > ALPHA and ks > ALPHA and abs(shift_sd) <= MEAN_TOLERANCE_SD
            checks.append(MetricCheck(scenario, metric, float(welch), float(ks), float(shift_sd), bool(passed)))
    return checks


# Compiled kernels compute exp, log and powers with other last-bit rounding than numpy's vectorised
# loops, so the same runs (the same draws, counts and choices) may differ in the last bits of a
# mean; a changed draw or count moves a final-year metric by far more than this.
SAME_RUN_RTOL = 1e-9


def exact_differences(reference: pd.DataFrame, current: pd.DataFrame) -> list[str]:
    """Cells that differ beyond last-bit rounding (relative SAME_RUN_RTOL; NaN equals NaN), as
    'scenario seed metric: reference -> current'."""
    if list(reference[list(KEYS)].itertuples(index=False)) != list(current[list(KEYS)].itertuples(index=False)):
        return ["the (scenario, seed) rows differ from the reference's"]
    diffs = []
    for metric in metric_names():
        if metric not in reference:
            diffs.append(f"metric {metric} is not in the reference")
            continue
        a, b = reference[metric].to_numpy(float), current[metric].to_numpy(float)
        differs = ~(np.isclose(a, b, rtol=SAME_RUN_RTOL, atol=0.0) | (np.isnan(a) & np.isnan(b)))
        for i in np.flatnonzero(differs):
            diffs.append(f"{reference['scenario'].iat[i]} seed {reference['seed'].iat[i]} {metric}: "
                         f"{float(a[i])!r} -> {float(b[i])!r}")
    return diffs


def verdict(reference: pd.DataFrame, header: dict[str, str], current: pd.DataFrame) -> tuple[bool, bool, str]:
    """(identical, distributions agree, explanation with what to do)."""
    diffs = exact_differences(reference, current)
    checks = compare_distributions(reference, current)
    failed = [c for c in checks if not c.passed]
    lines = []
    if diffs:
        lines.append(f"{len(diffs)} of {len(reference) * len(metric_names())} final-year values differ from "
                     f"{REFERENCE_PATH.relative_to(PROJECT_ROOT)} (first: {diffs[0]}).")
    if failed:
        lines.append(f"The outcome distributions differ ({len(failed)} of {len(checks)} scenario-metric "
                     f"checks fail): the model's behaviour changed. (An unchanged model run with other seeds "
                     f"fails one or two checks about once in {FALSE_ALARM_ONE_IN} tries, so one or two "
                     "marginal failures alone are weak evidence.)")
        lines += ["  " + c.describe() for c in failed[:10]]
    elif diffs:
        lines.append(f"The outcome distributions agree (all {len(checks)} scenario-metric checks pass), so "
                     "the random stream or the arithmetic changed rather than the model's behaviour; "
                     "an optimisation must not do even that.")
    if diffs or failed:
        if header.get("scenarios_digest") not in (None, scenarios_digest()):
            lines.append("The reference scenarios resolve to other parameter values than when the reference "
                         "was written (a recalibration or an edited scenario file?).")
        lines.append(f"Reference written {header.get('written', '?')} by code {header.get('code_version', '?')} "
                     f"({header.get('environment', '?')}).")
        lines.append(f"If the change is intended, regenerate the reference deliberately with `{WRITE_COMMAND}` "
                     f"and commit {REFERENCE_PATH.relative_to(PROJECT_ROOT)} with it. If not, the change "
                     "altered the model: find and undo it.")
    return not diffs, not failed, "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.reference", description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help="run the reference runs and (over)write the file")
    args = parser.parse_args(argv)
    if args.write:
        path = write()
        print(f"wrote {path.relative_to(PROJECT_ROOT)} ({len(REFERENCE_SCENARIOS) * N_SEEDS} runs)")
        return 0
    if not REFERENCE_PATH.is_file():
        print(f"no reference at {REFERENCE_PATH}; create it with `{WRITE_COMMAND}`", file=sys.stderr)
        return 2
    reference, header = read()
    identical, agree, explanation = verdict(reference, header, run_outcomes())
    same_environment = header.get("environment") == environment()
    print(explanation or "identical to the reference: every final-year value is the same")
    if not identical and not same_environment:
        print(f"(this environment, {environment()}, is not the reference's: only the distributions must agree)")
        return 0 if agree else 1
    return 0 if identical and agree else 1


if __name__ == "__main__":
    sys.exit(main())
