"""Sensitivity summaries read from the index tables the experiments write (never recomputed here).

tables/sensitivity_indices.parquet: method (morris | sobol), outcome, factor, index (mu_star, sigma,
S1, ST, optionally S2 with factor 'a|b'), estimate, low, high (bootstrap 95%), n, flag ('' or a
comma-separated list such as 'unstable,not_converged'; shown as written).
tables/sensitivity_noise.parquet: outcome, noise_share, replications.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from experiments.store import TABLES, ResultsError, read_table

INDICES = "sensitivity_indices"
NOISE = "sensitivity_noise"
INDEX_COLUMNS = ("method", "outcome", "factor", "index", "estimate", "low", "high", "n", "flag")
NOISE_COLUMNS = ("outcome", "noise_share", "replications")
ALLOWED = {"method": ("morris", "sobol"), "index": ("mu_star", "sigma", "S1", "ST", "S2")}
# The index that ranks factors for each method: total effect for Sobol, mean absolute effect for Morris.
RANKING_INDEX = {"sobol": "ST", "morris": "mu_star"}


def read_sensitivity(folder: str | Path) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The validated index table and the noise table (None when the experiment wrote none)."""
    folder = Path(folder)
    path = folder / TABLES / f"{INDICES}.parquet"
    indices = read_table(folder, INDICES)
    if indices is None:
        raise ResultsError(f"{path}: table: missing; allowed: a sensitivity results folder with "
                           f"{TABLES}/{INDICES}.parquet")
    _check(path, indices, INDEX_COLUMNS)
    indices = indices.assign(flag=indices["flag"].fillna("").astype(str))
    for column, allowed in ALLOWED.items():
        unknown = sorted(set(indices[column].astype(str)) - set(allowed))
        if unknown:
            raise ResultsError(f"{path}: {column}: {unknown[0]!r} is not known; allowed: "
                               f"{', '.join(repr(a) for a in allowed)}")
    noise = read_table(folder, NOISE)
    if noise is not None:
        _check(folder / TABLES / f"{NOISE}.parquet", noise, NOISE_COLUMNS)
    return indices, noise


def _check(path: Path, table: pd.DataFrame, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ResultsError(f"{path}: column {missing[0]}: missing; allowed: a table with columns {', '.join(columns)}")


def ranked_factors(indices: pd.DataFrame, method: str, outcome: str) -> pd.DataFrame:
    """Factors of one outcome, most influential first, by ST (Sobol) or mu* (Morris)."""
    chosen = indices[(indices["method"] == method) & (indices["outcome"] == outcome)
                     & (indices["index"] == RANKING_INDEX[method])]
    return chosen.sort_values("estimate", ascending=False, kind="stable").reset_index(drop=True)


def methods_and_outcomes(indices: pd.DataFrame) -> list[tuple[str, list[str]]]:
    """(method, outcomes) in the order the table lists them."""
    return [(method, list(dict.fromkeys(indices.loc[indices["method"] == method, "outcome"])))
            for method in dict.fromkeys(indices["method"])]
