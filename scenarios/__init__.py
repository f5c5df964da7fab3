"""Scenario files: load, resolve `extends`, apply overrides and validate, in one call.

    from scenarios import load_scenario
    scenario = load_scenario("mechanisms/merge_items", overrides={"merge_rate": 0.4})

A user mistake raises ScenarioError with a one-line message naming the file, the field and the
allowed values; run.py turns it into exit status 2.
"""
from .loader import (SCENARIO_DIR, ScenarioError, apply_overrides, list_scenarios, load_document_figures,
                     load_scenario, override_kind, parse_assignment)

__all__ = ["SCENARIO_DIR", "ScenarioError", "apply_overrides", "list_scenarios", "load_document_figures",
           "load_scenario", "override_kind", "parse_assignment"]
