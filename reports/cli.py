"""`run.py report`: a results folder in, a report folder out (briefing, charts, tables).

The report is assembled in a hidden sibling folder and renamed into place only when complete, so
a report folder is never half written; an existing report at the destination is replaced.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from analysis.labels import check_lang, metric_name, stored_unit
from analysis.study import Study, load_study
from experiments.store import now_iso, staged_folder
from model import code_version
from model.errors import UserError

from .briefing import build_briefing
from .charts import CHARTS
from .document import CHARTS_FOLDER, render_html, render_markdown
from .style import chart_style, save_chart

REPORTS_ROOT = Path("reports")
REPORT_MARKER = "report.json"
TABLES_FOLDER = "tables"


class ReportError(UserError):
    """A report destination that cannot be written."""


def build_report(results: str | Path, out: str | Path | None = None, lang: str = "both",
                 year: int | None = None) -> Path:
    """Write the report of a results folder, judged in `year` (see analysis.study.load_study);
    returns the report folder."""
    check_lang(lang)
    results = Path(results)
    study = load_study(results, year)
    destination = Path(out) if out is not None else REPORTS_ROOT / results.resolve().name
    _check_destination(destination, results)
    with staged_folder(destination) as staging:
        _write_report(study, staging, lang)
    return destination


def _check_destination(destination: Path, results: Path) -> None:
    target, source = destination.resolve(), results.resolve()
    if target == source or source.is_relative_to(target):
        raise ReportError(f"{destination}: --out: would overwrite the results folder; allowed: a folder outside "
                          f"{results}")
    if target.exists() and (not target.is_dir() or (any(target.iterdir()) and not (target / REPORT_MARKER).is_file())):
        raise ReportError(f"{destination}: --out: exists and is not a report folder; allowed: a new or empty folder, "
                          "or an earlier report to replace")


def _write_report(study: Study, folder: Path, lang: str) -> None:
    drawn = set()
    with chart_style():
        for stem, draw in CHARTS:
            chart = draw(study, lang)
            if chart is not None:
                save_chart(chart[0], folder / CHARTS_FOLDER, stem, chart[1])
                drawn.add(stem)
    _write_tables(study, folder / TABLES_FOLDER, lang)
    (folder / "results_manifest.json").write_text(json.dumps(study.manifest, indent=2, ensure_ascii=False,
                                                             default=str), encoding="utf-8")
    document = build_briefing(study, drawn)
    (folder / "briefing.md").write_text(render_markdown(document, lang), encoding="utf-8")
    (folder / "briefing.html").write_text(render_html(document, lang, folder), encoding="utf-8")
    marker = {"results": str(study.folder.resolve()), "kind": study.kind, "lang": lang, "charts": sorted(drawn),
              "created": now_iso(), "code_version": code_version(),
              "results_finished": study.manifest.get("finished")}
    (folder / REPORT_MARKER).write_text(json.dumps(marker, indent=2, ensure_ascii=False), encoding="utf-8")


def _write_tables(study: Study, folder: Path, lang: str) -> None:
    """The analysis tables behind the briefing, with labels in the report's language."""
    tables = {"target_scorecard": study.scorecard, "mechanism_effects": study.effects, "trade_offs": study.tradeoffs,
              "time_paths": study.time_paths, "calibration_check": study.calibration,
              "sensitivity_indices": study.sensitivity, "sensitivity_noise": study.noise}
    folder.mkdir(parents=True)
    for name, table in tables.items():
        if table is None or table.empty:
            continue
        labelled = table.copy()
        if "group" in labelled:
            labelled.insert(1, "group_label", [study.group_name(g, lang) for g in labelled["group"]])
        for column in ("metric", "outcome"):
            if column in labelled:
                labelled.insert(labelled.columns.get_loc(column) + 1, f"{column}_label",
                                [metric_name(m, lang) for m in labelled[column]])
                labelled.insert(labelled.columns.get_loc(column) + 2, f"{column}_unit",
                                [stored_unit(m, lang) for m in labelled[column]])
        pd.DataFrame(labelled).to_csv(folder / f"{name}.csv", index=False, encoding="utf-8")


def describe(folder: Path) -> str:
    """The line the commands print: where the briefing is."""
    return f"report: {folder / 'briefing.html'} (and briefing.md, charts/, tables/)"


def report(results: str, out: str | None, lang: str, year: int | None = None) -> int:
    """`run.py report RESULTS [--lang] [--out] [--year]`."""
    print(describe(build_report(results, out, lang, year)))
    return 0
