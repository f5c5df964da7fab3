"""Directions the model must show: paired differences over 20 seeds at city scale (common random
numbers), each significant at the 95% level. Runs happen once for the whole module."""
from __future__ import annotations

import pytest

from analysis.summary import paired_differences
from tests.conftest import paired_runs

WEAK_DETECTION = (("data_sharing_rate", 0.0), ("unannounced_share", 0.0), ("third_party_share", 0.0))
OUTCOMES_OBSERVED = (("data_sharing_rate", 1.0), ("third_party_share", 1.0))
VARIANTS = (
    ("baseline", "baseline", ()),
    ("merge", "baseline", (("merge_rate", 0.6),)),
    ("joint", "baseline", (("joint_inspection_share", 0.5),)),
    ("unannounced", "baseline", (("unannounced_share", 0.5),)),
    ("closed_loop", "baseline", (("closed_loop", 1.0),)),
    ("accountability", "baseline", (("accountability_intensity", 0.15),)),
    ("negative_list", "baseline", (("negative_list_share", 1.0),)),
    ("observed", "baseline", OUTCOMES_OBSERVED),
    ("observed_outcome_weight", "baseline", OUTCOMES_OBSERVED + (("outcome_weight", 0.6),)),
    ("shared_data", "baseline", (("data_sharing_rate", 0.9),)),
    ("shared_data_remote", "baseline", (("data_sharing_rate", 0.9), ("remote_share", 0.4))),
    ("weak_low_accountability", "baseline", WEAK_DETECTION + (("accountability_intensity", 0.01),)),
    ("weak_mid_accountability", "baseline", WEAK_DETECTION + (("accountability_intensity", 0.3),)),
    ("weak_high_accountability", "baseline", WEAK_DETECTION + (("accountability_intensity", 1.0),)),
)
METRICS = ["inspections_per_unit_year", "duplicate_inspection_share", "hosting_time_share", "material_hours_per_week",
           "documented_true_gap", "falsification_rate", "detection_rate", "rectification_completion_rate",
           "rebound_rate", "surface_rectification_share", "accountability_rate", "formalism_index"]


@pytest.fixture(scope="module")
def runs():
    return paired_runs("city", 20, 3, VARIANTS)


def effect(runs, scenario: str, reference: str, metric: str) -> tuple[float, float]:
    """95% interval of the paired difference scenario - reference in the final year."""
    pair = runs[runs["scenario"].isin([scenario, reference])]
    row = paired_differences(pair, reference, [metric]).set_index("scenario").loc[scenario]
    return row["low"], row["high"]


def lowers(runs, scenario, reference, metric):
    low, high = effect(runs, scenario, reference, metric)
    assert high < 0, f"{scenario} vs {reference}: {metric} difference interval [{low:.4f}, {high:.4f}] is not below 0"


def raises(runs, scenario, reference, metric):
    low, high = effect(runs, scenario, reference, metric)
    assert low > 0, f"{scenario} vs {reference}: {metric} difference interval [{low:.4f}, {high:.4f}] is not above 0"


def test_merging_items_cuts_visits_and_duplicates(runs):
    lowers(runs, "merge", "baseline", "inspections_per_unit_year")
    lowers(runs, "merge", "baseline", "duplicate_inspection_share")


def test_joint_inspection_cuts_duplicates_and_hosting(runs):
    lowers(runs, "joint", "baseline", "duplicate_inspection_share")
    lowers(runs, "joint", "baseline", "hosting_time_share")


def test_outcome_weight_cuts_materials_and_paper_gap_where_outcomes_are_observed(runs):
    lowers(runs, "observed_outcome_weight", "observed", "material_hours_per_week")
    lowers(runs, "observed_outcome_weight", "observed", "documented_true_gap")


def test_unannounced_visits_cut_falsification_and_raise_detection(runs):
    lowers(runs, "unannounced", "baseline", "falsification_rate")
    raises(runs, "unannounced", "baseline", "detection_rate")


def test_closed_loop_completes_more_and_cuts_rebound_and_surface_fixes(runs):
    raises(runs, "closed_loop", "baseline", "rectification_completion_rate")
    lowers(runs, "closed_loop", "baseline", "rebound_rate")
    lowers(runs, "closed_loop", "baseline", "surface_rectification_share")


def test_accountability_raises_accountability_and_cuts_surface_fixes(runs):
    raises(runs, "accountability", "baseline", "accountability_rate")
    lowers(runs, "accountability", "baseline", "surface_rectification_share")


def test_high_accountability_under_weak_detection_breeds_defensive_formalism(runs):
    raises(runs, "weak_high_accountability", "weak_mid_accountability", "material_hours_per_week")


def test_accountability_has_an_interior_optimum_for_formalism_under_weak_detection(runs):
    lowers(runs, "weak_mid_accountability", "weak_low_accountability", "formalism_index")
    raises(runs, "weak_high_accountability", "weak_mid_accountability", "formalism_index")


def test_negative_list_cuts_visits(runs):
    lowers(runs, "negative_list", "baseline", "inspections_per_unit_year")


def test_remote_inspection_with_shared_data_cuts_hosting(runs):
    lowers(runs, "shared_data_remote", "shared_data", "hosting_time_share")


def test_closed_loop_completion_falls_short_of_certain_by_the_redos_that_fail(runs):
    """At closed_loop 1 every failed acceptance is followed up once, and the genuine redo fails the
    same standard (quality_failure): completion is pass + fail x (1 - quality_failure), not 1."""
    from scenarios import load_scenario

    final = runs[(runs["scenario"] == "closed_loop") & (runs["year"] == runs["year"].max())]
    passed = final["rectification_acceptance_pass_rate"].mean()
    quality_failure = load_scenario("baseline").behaviour["quality_failure"]
    completion = final["rectification_completion_rate"].mean()
    assert completion < 0.99
    assert completion == pytest.approx(passed + (1 - passed) * (1 - quality_failure), abs=0.01)
