"""Compiled draws give numpy's numbers: a seed keeps its stream whether a rule runs in numpy or
compiled (model/draws.py). Each check also compares the Generator's state afterwards."""
from __future__ import annotations

import numpy as np
from numba.typed import List
from hypothesis import given, settings
from hypothesis import strategies as st

from model.draws import binomial_counts, binomial_prepared, bounded_integer, chance, poisson, uniforms
from model.inspection import _catch_falsification

SEEDS = st.integers(0, 2**32 - 1)
PROBABILITIES = st.one_of(st.sampled_from([0.0, 0.5, 1.0, 1e-9, 1 - 1e-9]), st.floats(0.0, 1.0))


def same_stream(seed: int, compiled, vectorised) -> None:
    a, b = np.random.default_rng(seed), np.random.default_rng(seed)
    np.testing.assert_array_equal(compiled(a), vectorised(b))
    assert a.bit_generator.state == b.bit_generator.state


@settings(max_examples=60, deadline=None)
@given(SEEDS, st.integers(1, 5), st.integers(0, 300))
def test_uniforms_are_numpys_random_array(seed, rows, n):
    same_stream(seed, lambda rng: uniforms(rng, rows, n), lambda rng: rng.random((rows, n)))


@settings(max_examples=80, deadline=None)
@given(SEEDS, st.lists(st.integers(0, 200), min_size=1, max_size=40), PROBABILITIES)
def test_binomial_counts_are_numpys_binomial(seed, trials, p):
    n = np.array(trials, dtype=np.int64)
    same_stream(seed, lambda rng: binomial_counts(rng, n, p), lambda rng: rng.binomial(n, p))


@settings(max_examples=80, deadline=None)
@given(SEEDS, st.lists(st.integers(0, 120), min_size=1, max_size=40), PROBABILITIES)
def test_prepared_binomial_is_numpys_binomial(seed, trials, p):
    p_low = min(p, 1.0 - p)
    same_stream(seed, lambda rng: np.array([binomial_prepared(rng, n, p, p_low) for n in trials]),
                lambda rng: np.array([rng.binomial(n, p) for n in trials]))


@settings(max_examples=60, deadline=None)
@given(SEEDS, st.one_of(st.sampled_from([0.0, 9.999, 10.0, 10.5, 400.0]), st.floats(0.0, 2000.0)),
       st.integers(1, 30))
def test_poisson_is_numpys_poisson(seed, lam, size):
    same_stream(seed, lambda rng: np.array([poisson(rng, lam) for _ in range(size)]),
                lambda rng: rng.poisson(lam, size))


@settings(max_examples=60, deadline=None)
@given(SEEDS, st.one_of(st.sampled_from([1, 2, 52, 2**31, 2**32 - 1]), st.integers(1, 2**32 - 1)), st.integers(0, 40))
def test_bounded_integers_one_by_one_are_numpys_integers_array(seed, high, size):
    same_stream(seed, lambda rng: np.array([bounded_integer(rng, high) for _ in range(size)], dtype=np.int64),
                lambda rng: rng.integers(0, high, size))


@settings(max_examples=60, deadline=None)
@given(SEEDS, st.lists(st.one_of(st.sampled_from([-0.5, 0.0, 1.0, 1.5]), st.floats(0.0, 1.0)), min_size=1,
                       max_size=40))
def test_a_trial_draws_only_when_its_outcome_is_uncertain(seed, chances):
    """chance(p) decides p <= 0 and p >= 1 without a draw, and is rng.random() < p otherwise."""
    uncertain = [p for p in chances if 0.0 < p < 1.0]
    a, b = np.random.default_rng(seed), np.random.default_rng(seed)
    outcomes = [chance(a, p) for p in chances]
    draws = iter(b.random(len(uncertain)))
    assert outcomes == [p >= 1.0 if not 0.0 < p < 1.0 else bool(next(draws) < p) for p in chances]
    assert a.bit_generator.state == b.bit_generator.state


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.lists(st.integers(0, 9), max_size=30), st.lists(st.booleans(), min_size=10,
       max_size=10), st.lists(st.sampled_from([0.0, 0.3, 0.7, 1.0]), min_size=3, max_size=3))
def test_falsified_reports_are_caught_one_trial_per_visit_to_a_liar(seed, units, lied, catch_by_mode):
    """Each visit to a unit that lied is one trial at its mode's chance, in visit order; the caught
    units come back sorted and once each, and their reports count as true again."""
    unit = np.array(units, dtype=np.int64)
    mode = (np.arange(unit.size) % 3).astype(np.int8)
    falsified = np.array(lied)
    reference_rng, rng = np.random.default_rng(seed), np.random.default_rng(seed)
    expected = set()
    for v, u in enumerate(units):
        p = catch_by_mode[mode[v]]
        if lied[u] and (p >= 1.0 or (p > 0.0 and reference_rng.random() < p)):
            expected.add(u)
    caught = _catch_falsification(List([rng]), 10, falsified, unit, mode, np.array(catch_by_mode))
    assert caught.tolist() == sorted(expected)
    assert falsified.tolist() == [bool(lied[u]) and u not in expected for u in range(10)]
    assert rng.bit_generator.state == reference_rng.bit_generator.state
