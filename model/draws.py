"""Random draws inside compiled kernels, each numpy's Generator's numbers (two exceptions, equal
in law and said where they are: `chance` skips the draw of a certain trial, `binomial_prepared`
takes q^n by multiplication for small n).

A kernel handed the run's Generator draws element by element in the order the vectorised numpy
calls did (rng.random(n) gives what n calls of rng.random() give), so a seed keeps its stream
whether a rule runs in numpy or compiled. numba's own Generator methods reproduce numpy's for
random, binomial, gamma, exponential and geometric; its poisson does not (it truncates where
numpy floors), hence the port below, and the binomial counts of many equal trials are faster
replayed from a table of the probabilities numpy's inversion walks.
"""
from __future__ import annotations

import numpy as np
from numba import njit
from numba.np.random.random_methods import buffered_bounded_lemire_uint32
from numba.typed import List


def kernel_stream(rng: np.random.Generator) -> List:
    """A Generator as the compiled entry points take it: a typed list, the kernel drawing from
    stream[block] (one element for a run; a ReplicationStack's list holds one per replication).
    numba unboxes a Generator argument through ctypes, about 10 microseconds a call; a typed list
    takes 1.6. The list holds the Generator itself, so its draws advance the Generator's own state,
    which snapshots save and restore."""
    return List([rng])


@njit(cache=True, error_model="numpy", inline="always")
def block_of(unit, block_size, n_blocks):
    """The replication block of a unit (model.model.ReplicationStack). Without the division when
    there is one block: an integer division per visit made a solo run's weeks a tenth slower."""
    return 0 if n_blocks == 1 else unit // block_size


@njit(cache=True, error_model="numpy")
def uniforms(rng, rows: int, n: int) -> np.ndarray:
    """rng.random((rows, n)) in compiled code: the same numbers, row after row."""
    draws = np.empty((rows, n))
    fill_uniforms(rng, draws)
    return draws


@njit(cache=True, error_model="numpy")
def fill_uniforms(rng, out) -> None:
    """out[:] = rng.random(out.shape), into an array the caller already has (rows of a scratch table)."""
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = rng.random()


@njit(cache=True, error_model="numpy")
def new_clock(rng) -> float:
    """A fresh event clock, 1 / V with V uniform on (0, 1] (units._arise_and_heal: the event comes
    in the week the clock, multiplied by each week's chance of no event, falls below 1)."""
    return 1.0 / (1.0 - rng.random())


@njit(cache=True, error_model="numpy")
def chance(rng, p) -> bool:
    """A trial with chance p that draws a uniform only when its outcome is uncertain: p <= 0 and
    p >= 1 decide without one (rng.random() < p would decide the same, at a draw's cost)."""
    if p <= 0.0:
        return False
    if p >= 1.0:
        return True
    return rng.random() < p


@njit(cache=True, error_model="numpy")
def bounded_integer(rng, high):
    """The next element of rng.integers(0, high, n), 1 <= high < 2**32, as numpy (and numba) draw
    the array: Lemire's bounded 32-bit draw, nothing drawn when high is 1. Without the array:
    numba's rng.integers allocates one even for a single value."""
    if high == 1:
        return np.int64(0)
    return np.int64(buffered_bounded_lemire_uint32(rng.bit_generator, high - 1))


@njit(cache=True, error_model="numpy")
def poisson(rng, lam):
    """One draw as numpy's rng.poisson(lam) makes it (numba's own differs: it truncates where numpy
    floors): products of uniforms below 10, else PTRS (transformed rejection with squeeze)."""
    if lam >= 10:
        slam, loglam = np.sqrt(lam), np.log(lam)
        b = 0.931 + 2.53 * slam
        a = -0.059 + 0.02483 * b
        invalpha = 1.1239 + 1.1328 / (b - 3.4)
        vr = 0.9277 - 3.6224 / (b - 2)
        while True:
            u = rng.random() - 0.5
            v = rng.random()
            us = 0.5 - np.fabs(u)
            k = np.int64(np.floor((2 * a / us + b) * u + lam + 0.43))
            if us >= 0.07 and v <= vr:
                return k
            if k < 0 or (us < 0.013 and v > us):
                continue
            if np.log(v) + np.log(invalpha) - np.log(a / (us * us) + b) <= -lam + k * loglam - loggam(k + 1.0):
                return k
    if lam == 0:
        return 0
    enlam = np.exp(-lam)
    x, prod = 0, 1.0
    while True:
        prod *= rng.random()
        if prod <= enlam:
            return x
        x += 1


LOGGAM_COEFFICIENTS = np.array([8.333333333333333e-02, -2.777777777777778e-03, 7.936507936507937e-04,
                                -5.952380952380952e-04, 8.417508417508418e-04, -1.917526917526918e-03,
                                6.410256410256410e-03, -2.955065359477124e-02, 1.796443723688307e-01,
                                -1.39243221690590e+00])


@njit(cache=True, error_model="numpy")
def loggam(x):
    """log(gamma(x)) as numpy's random_loggam computes it (Stirling series after a shift to 7)."""
    if x == 1.0 or x == 2.0:
        return 0.0
    n = int(7 - x) if x < 7.0 else 0
    x0 = x + n
    x2 = (1.0 / x0) * (1.0 / x0)
    gl0 = LOGGAM_COEFFICIENTS[9]
    for k in range(8, -1, -1):
        gl0 *= x2
        gl0 += LOGGAM_COEFFICIENTS[k]
    gl = gl0 / x0 + 0.5 * 1.8378770664093453 + (x0 - 0.5) * np.log(x0) - x0
    for _ in range(n):
        x0 -= 1.0
        gl -= np.log(x0)
    return gl


@njit(cache=True, error_model="numpy")
def binomial_counts(rng, n, p):
    """rng.binomial(n, p) for an array n, drawn as numpy draws it. Where numpy inverts the cdf (mean
    at most 30) the probabilities it walks are tabled once per n, with numpy's arithmetic; numba's
    binomial, identical but slower, draws the rest."""
    k = np.zeros(n.size, np.int64)
    flip = p > 0.5
    p_low = 1.0 - p if flip else p  # numpy inverts for the rarer outcome
    q = 1.0 - p_low
    table_n, table = -1, np.empty(0)
    for i in range(n.size):
        if n[i] == 0 or p == 0.0:
            continue
        if p_low * n[i] > 30.0:
            k[i] = rng.binomial(n[i], p)
            continue
        if n[i] != table_n:
            mean = n[i] * p_low
            bound = np.int64(min(float(n[i]), mean + 10.0 * np.sqrt(mean * q + 1)))
            table_n, table = n[i], np.empty(bound + 1)
            table[0] = np.exp(n[i] * np.log(q))
            for x in range(1, bound + 1):
                table[x] = ((n[i] - x + 1) * p_low * table[x - 1]) / (x * q)
        x, u = 0, rng.random()
        while u > table[x]:
            x += 1
            if x >= table.size:
                x, u = 0, rng.random()
            else:
                u -= table[x - 1]
        k[i] = n[i] - x if flip else x
    return k


SMALL_TRIALS = 8


@njit(cache=True, error_model="numpy")
def binomial_prepared(rng, n, p, p_low):
    """rng.binomial(n, p) for one p drawn many times with small n, p_low = min(p, 1 - p) computed
    once by the caller (numpy recomputes it each draw). numpy's inversion when n * p_low <= 30, its
    own draw otherwise; for n <= SMALL_TRIALS, q^n by multiplication where numpy takes
    exp(n log q), which saves a log and an exp per draw: the same numbers unless a uniform falls
    within a few ulps of a boundary (about 1e-15 per draw)."""
    if n == 0 or p == 0.0:
        return 0
    if p_low * n > 30.0:
        return rng.binomial(n, p)
    q = 1.0 - p_low
    if n <= SMALL_TRIALS:
        qn = q
        for _ in range(n - 1):
            qn *= q
    else:
        qn = np.exp(n * np.log(q))
    mean = n * p_low
    sure = min(float(n), mean + 10.0)  # the bound below is never less, so X <= sure needs no bound
    bound = -1.0
    x, px, u = 0, qn, rng.random()
    while u > px:
        x += 1
        if x > sure:
            if bound < 0.0:
                bound = min(float(n), mean + 10.0 * np.sqrt(mean * q + 1))
            if x > np.int64(bound):
                x, px, u = 0, qn, rng.random()
                continue
        u -= px
        px = ((n - x + 1) * p_low * px) / (x * q)
    return n - x if p > 0.5 else x
