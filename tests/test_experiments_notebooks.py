"""The experiment notebooks run end to end at their test size."""
from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "experiments" / "notebooks"


@pytest.mark.parametrize("name", ["scenario_sweep", "sensitivity_analysis"])
def test_notebook_runs_end_to_end(name, tmp_path, monkeypatch):
    monkeypatch.setenv("EXPERIMENT_NOTEBOOK_SIZE", "test")
    monkeypatch.setenv("EXPERIMENT_NOTEBOOK_RESULTS", str(tmp_path))
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    errors = [output for cell in notebook.cells for output in cell.get("outputs", []) if output.output_type == "error"]
    assert not errors
    assert any((tmp_path / folder / "manifest.json").is_file() for folder in os.listdir(tmp_path))
