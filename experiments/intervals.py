"""Mean and t-interval of replicate outcomes: how experiments summarise their replications
(sweeps, calibration), and what analysis reports."""
from __future__ import annotations

import math

import numpy as np
from scipy import stats


def mean_interval(values, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and t-interval of the mean of the finite values; a single value has no interval (nan bounds)."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return (math.nan, math.nan, math.nan)
    mean = float(x.mean())
    if x.size < 2:
        return (mean, math.nan, math.nan)
    half = float(stats.t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return (mean, mean - half, mean + half)
