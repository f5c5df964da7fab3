"""The calibrated baseline lands inside the validity bands (province scale, 20 seeds)."""
from __future__ import annotations

import pytest

from experiments.calibration import EXTRA_CHECKS, moments
from tests.conftest import paired_runs

BANDS = {m.metric: m.band for m in moments() if m.band} | {
    "rectification_acceptance_pass_rate": (0.68, 0.84), "rectification_completion_rate": (0.68, 0.84)}


@pytest.fixture(scope="module")
def baseline_final_year():
    frame = paired_runs("province", 20, 3, (("baseline", "baseline", ()),))
    return frame[frame["year"] == frame["year"].max()]


@pytest.mark.parametrize("metric", sorted(BANDS))
def test_baseline_mean_is_inside_the_documents_band(baseline_final_year, metric):
    low, high = BANDS[metric]
    assert low <= baseline_final_year[metric].mean() <= high


def test_documented_performance_exceeds_true_performance(baseline_final_year):
    assert baseline_final_year["documented_true_gap"].mean() > EXTRA_CHECKS["documented_true_gap"][1][0]


def test_baseline_is_stationary_over_the_policy_years():
    frame = paired_runs("province", 20, 3, (("baseline", "baseline", ()),))
    by_year = frame[frame["phase"] == "policy"].groupby("year")["policy_implementation_rate"].mean()
    assert by_year.max() - by_year.min() < 0.03
