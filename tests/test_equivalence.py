"""An optimisation must not change the model: the reference runs give the same outcomes.

tests/data/reference_outcomes.csv holds the final-year metrics of fixed runs (see
benchmarks/reference.py). The same runs are made again here and compared value by value (same
numerical environment; equal up to last-bit rounding, see reference.SAME_RUN_RTOL) and as distributions per scenario and metric (Welch and Kolmogorov-Smirnov, p > 0.001,
means within 1.5 reference SD). When the model changes on purpose, e.g. a recalibration, regenerate
the reference with `python -m benchmarks.reference --write` and commit it with the change.
"""
from __future__ import annotations

import pytest

from benchmarks import reference as R


@pytest.fixture(scope="module")
def stored():
    if not R.REFERENCE_PATH.is_file():
        pytest.fail(f"{R.REFERENCE_PATH} is missing; create it with `{R.WRITE_COMMAND}`")
    return R.read()


@pytest.fixture(scope="module")
def current():
    return R.run_outcomes()


def test_reference_covers_the_fixed_runs(stored):
    reference, header = stored
    assert header.get("regenerate") == R.WRITE_COMMAND
    assert sorted(reference["scenario"].unique()) == sorted(R.REFERENCE_SCENARIOS)
    assert set(reference["seed"]) == set(R.seeds())
    missing = set(R.metric_names()) - set(reference.columns)
    assert not missing, f"metrics missing from the reference: {sorted(missing)}; regenerate with `{R.WRITE_COMMAND}`"


def test_outcomes_identical_to_reference(stored, current):
    reference, header = stored
    if header.get("environment") != R.environment():
        pytest.skip(f"the reference was written in another numerical environment ({header.get('environment')}; "
                    f"here {R.environment()}): only the distributions are compared")
    identical, _, explanation = R.verdict(reference, header, current)
    assert identical, "The model changed.\n" + explanation


def test_outcome_distributions_match_reference(stored, current):
    reference, header = stored
    _, agree, explanation = R.verdict(reference, header, current)
    assert agree, "The model changed.\n" + explanation


def test_the_comparison_catches_a_real_change(stored):
    """The distribution check is not vacuous: 25% more hosting work per visit is detected."""
    reference, _ = stored
    changed = R.run_outcomes(scenarios=("baseline",), behaviour_changes={"hosting_load": 1.25})
    checks = R.compare_distributions(reference[reference["scenario"] == "baseline"], changed)
    flagged = {c.metric for c in checks if not c.passed}
    assert {"hosting_time_share", "policy_implementation_rate"} <= flagged, flagged
