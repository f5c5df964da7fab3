"""The documentation a user reads matches the code: every metric defined, every parameter documented."""
from __future__ import annotations

from model import BEHAVIOUR, LEVERS, METRICS
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
ODD = (ROOT / "docs" / "ODD.md").read_text(encoding="utf-8")


def test_readme_defines_every_metric_as_the_code_does():
    for name, definition in METRICS.items():
        assert f"| `{name}` | {definition} |" in README, name


def test_readme_lists_every_lever_and_odd_documents_every_parameter():
    for name in LEVERS:
        assert f"`{name}`" in README and f"`{name}`" in ODD, name
    for name in BEHAVIOUR:
        assert f"`{name}`" in ODD, name


def test_readme_quick_start_is_complete():
    for command in ('pip install -e ".[dev]"', "python run.py", "pytest"):
        assert command in README


def test_odd_holds_the_calibration_fit_table():
    block = ODD.split("<!-- calibration fit: begin")[1].split("<!-- calibration fit: end -->")[0]
    assert "| inspections_per_unit_year | 28.3 |" in block
