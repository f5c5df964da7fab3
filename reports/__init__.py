"""Briefing reports: charts and text built from analysis tables (see the analysis and briefing issue)."""
