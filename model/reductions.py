"""Reductions as numpy computes them, without its Python wrappers' overhead.

A county year computes a dozen means of small arrays; `ndarray.mean()` spends a few microseconds
in Python around the sum. These give the same numbers bit for bit: numpy's own mean is the
pairwise sum of np.add.reduce divided by the count.
"""
from __future__ import annotations

import numpy as np


def mean(values: np.ndarray) -> np.float64:
    """values.mean() of a float array: np.add.reduce(values) / values.size, as numpy's mean does."""
    return np.add.reduce(values) / values.size


def pairwise_row_means(values: np.ndarray) -> np.ndarray:
    """mean(row) of each row of a C-contiguous 2-D float array, bit for bit: a reduction along the
    rows applies numpy's pairwise sum to each row as it would to the row alone
    (tests/test_stack.py compares the stacks' metrics with their solo runs')."""
    return np.add.reduce(values, axis=1) / values.shape[1]
