"""The `sweep` and `sensitivity` commands of run.py: call the Python API, print where results went."""
from __future__ import annotations

import math

import pandas as pd

from .sensitivity import NO_EFFECT, run_sensitivity
from .sweep import Results, run_sweep

LEADING_FACTORS = 3  # factors printed per outcome after a sensitivity study


def _common(args) -> dict:
    return {"out": args.out, "workers": args.workers, "scheduler": args.scheduler, "resume": args.resume,
            "scale": args.scale, "years": args.years, "replications": args.replications, "progress": not args.quiet}


def _report(results: Results) -> None:
    manifest = results.manifest
    years = f"{manifest['years']} year" + ("s" if manifest["years"] != 1 else "")
    print(f"{manifest['kind']} {manifest['experiment']['name']}: {manifest['design']['points']} design points x "
          f"{manifest['replications']} replications, {manifest['scale']} scale, {years} -> {results.folder}")
    for name in results.tables:
        print(f"  {results.folder / 'tables' / name}.parquet")


def sweep(args) -> int:
    _report(run_sweep(args.experiment, **_common(args)))
    return 0


def sensitivity(args) -> int:
    results = run_sensitivity(args.experiment, method=args.method, n=args.n, **_common(args))
    _report(results)
    print(leading_factors(results.tables["sensitivity_indices"], results.tables["sensitivity_noise"]))
    return 0


def leading_factors(indices: pd.DataFrame, noise: pd.DataFrame) -> str:
    """One line per outcome: its replication-noise share and largest mu* (Morris) or ST (Sobol')."""
    lines = []
    share = dict(zip(noise["outcome"], noise["noise_share"]))
    main = indices[indices["index"].isin(["mu_star", "ST"])]
    for outcome, group in main.groupby("outcome", sort=False):
        top = group.sort_values("estimate", ascending=False, na_position="last").head(LEADING_FACTORS)
        noise_text = "n/a" if not math.isfinite(share[outcome]) else f"{share[outcome]:.0%}"
        if group["estimate"].isna().all():
            lines.append(f"{outcome} (noise {noise_text}): no index (the outcome is constant, or its variance is "
                         "no more than replication noise: add replications)")
            continue
        if not top["estimate"].max() > NO_EFFECT:
            lines.append(f"{outcome} (noise {noise_text}): no factor moves it")
            continue
        top = top[top["estimate"] > NO_EFFECT]
        parts = [f"{row.factor} {row.estimate:.3g}" + (f" [{row.flag}]" if row.flag else "")
                 for row in top.itertuples()]
        lines.append(f"{outcome} (noise {noise_text}, {top['index'].iloc[0]}): " + "; ".join(parts))
    return "\n".join(lines)
