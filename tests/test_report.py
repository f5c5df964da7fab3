"""Reports built from a small real results folder (and synthetic sweep and sensitivity folders):
every chart, CSV and section is there, the numbers match the run rows, Chinese renders with no
missing glyph, and bad input gives a one-line error with exit status 2."""
from __future__ import annotations

import dataclasses
import json
import math
import re
import subprocess
import sys
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy import stats

from analysis.labels import format_estimate, format_probability, lever_name, metric_name, value_kind
from analysis.measures import HEADLINES
from analysis.study import evaluated_targets, load_study
from experiments.store import now_iso, read_runs, write_manifest, write_part, write_table
from model import METRICS
from reports import cli
from reports.briefing import _fewer_problems_caveats, _same_number_note, _target_phrase, key_findings
from reports.charts import CHARTS
from reports.style import chart_style, save_chart

ROOT = Path(__file__).resolve().parent.parent
RUN = [sys.executable, str(ROOT / "run.py")]
CJK = re.compile(r"[\u3400-\u9fff\uff00-\uffef]")
RUN_CHARTS = ("1_mechanism_effects", "2_target_scorecard", "3_trade_offs", "4_time_paths")
SECTIONS_EN = ("Key findings", "How burden, detection and formalism are measured", "Document targets",
               "Mechanism effects", "The reform package's effect on every target metric", "Trade-offs", "Over time",
               "Method", "Caveats", "Provenance")
SECTIONS_ZH = ("关键发现", "三项核心指标", "文件目标达标情况", "各项机制的效果", "权衡", "逐年变化", "方法说明", "注意事项",
               "数据来源")


def glyph_warnings(caught) -> list[str]:
    return [str(w.message) for w in caught if "missing from" in str(w.message) or "Glyph" in str(w.message)]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    folder = tmp_path_factory.mktemp("results") / "small"
    subprocess.run([*RUN, "run", "baseline", "mechanisms/merge_items", "packages/documents_reform", "--seeds", "4",
                    "--scale", "county", "--years", "2", "--quiet", "--out", str(folder)],
                   check=True, capture_output=True, cwd=ROOT)
    return folder


@pytest.fixture(scope="module")
def final_rows(results):
    runs = read_runs(results)
    return runs[runs["year"] == runs.groupby(["scenario", "seed"])["year"].transform("max")]


@pytest.fixture(scope="module")
def report_both(results, tmp_path_factory):
    out = tmp_path_factory.mktemp("reports") / "both"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cli.build_report(results, out, "both")
    return out, caught


@pytest.fixture(scope="module")
def report_en(results, tmp_path_factory):
    out = tmp_path_factory.mktemp("reports") / "en"
    done = subprocess.run([*RUN, "report", str(results), "--lang", "en", "--out", str(out)],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert str(out / "briefing.html") in done.stdout
    return out


@pytest.fixture(scope="module")
def report_zh(results, tmp_path_factory):
    out = tmp_path_factory.mktemp("reports") / "zh"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cli.build_report(results, out, "zh")
    return out, caught


def finite(values) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    return values[np.isfinite(values)]


def t_interval(values) -> tuple[float, float, float]:
    values = finite(values)
    half = stats.t.ppf(0.975, values.size - 1) * values.std(ddof=1) / math.sqrt(values.size)
    return values.mean(), values.mean() - half, values.mean() + half


def table_row(markdown: str, first_cell: str) -> list[str]:
    """The cells of the Markdown table row whose first cell starts with first_cell."""
    for line in markdown.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0].rstrip("†") == first_cell:
            return cells
    raise AssertionError(f"no table row for {first_cell!r}")


# contents -----------------------------------------------------------------------------------------

def test_report_holds_every_chart_csv_and_section(report_both):
    out, _ = report_both
    for stem in RUN_CHARTS:
        for suffix in (".png", ".svg", ".csv"):
            assert (out / "charts" / f"{stem}{suffix}").is_file(), f"{stem}{suffix} missing"
        assert not pd.read_csv(out / "charts" / f"{stem}.csv").empty
    for table in ("target_scorecard", "mechanism_effects", "trade_offs", "time_paths", "calibration_check"):
        assert (out / "tables" / f"{table}.csv").is_file()
    briefing = (out / "briefing.md").read_text(encoding="utf-8")
    for english, chinese in zip(SECTIONS_EN[:2], SECTIONS_ZH[:2]):
        assert f"## {chinese} {english}" in briefing
    for heading in SECTIONS_EN + SECTIONS_ZH:
        assert heading in briefing
    for stem in RUN_CHARTS:
        assert f"(charts/{stem}.png)" in briefing
    marker = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert marker["charts"] == sorted(RUN_CHARTS) and marker["lang"] == "both"
    assert json.loads((out / "results_manifest.json").read_text(encoding="utf-8"))["kind"] == "run"
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(".")] == []


def test_charts_are_high_resolution_png_and_svg(report_both):
    out, _ = report_both
    for stem in RUN_CHARTS:
        with Image.open(out / "charts" / f"{stem}.png") as image:
            assert min(image.info["dpi"]) >= 200
            assert image.size[0] > 1500
        assert (out / "charts" / f"{stem}.svg").read_text(encoding="utf-8").lstrip().startswith("<?xml")


def test_html_opens_offline_with_charts_embedded(report_both):
    out, _ = report_both
    page = (out / "briefing.html").read_text(encoding="utf-8")
    assert page.count('src="data:image/png;base64,') == len(RUN_CHARTS)
    assert not re.search(r'(src|href)="https?://', page)
    for link in re.findall(r'href="([^"]+)"', page):
        assert (out / link).is_file(), link
    for heading in SECTIONS_ZH:
        assert heading in page


# numbers -------------------------------------------------------------------------------------------

def test_target_table_matches_the_run_rows(report_en, final_rows):
    briefing = (report_en / "briefing.md").read_text(encoding="utf-8")
    targets = evaluated_targets([m for m in METRICS if m in final_rows])
    for metric, target in targets.items():
        cells = table_row(briefing, metric_name(metric, "en"))
        for position, scenario in ((2, "baseline"), (4, "documents_reform")):
            values = final_rows.loc[final_rows["scenario"] == scenario, metric].to_numpy(dtype=float)
            mean, low, high = t_interval(values)
            if value_kind(metric) == "share":  # a share's interval is cut at 0 and 1
                low, high = max(low, 0.0), min(high, 1.0)
            assert cells[position] == format_estimate(metric, mean, low, high), (metric, scenario)
            assert cells[position + 1] == format_probability(target.met(finite(values)).mean()), (metric, scenario)


def test_tables_say_the_unit_their_numbers_are_in(report_en):
    """The tables hold model units (shares as fractions) while the charts' CSVs hold what is drawn (%)."""
    table = pd.read_csv(report_en / "tables" / "target_scorecard.csv")
    units = dict(zip(table["metric"], table["metric_unit"]))
    assert units["duplicate_inspection_share"] == "fraction (x100 for %)"
    assert units["material_hours_per_week"] == "hours per week"


def paired(final_rows, scenario: str, metric: str) -> np.ndarray:
    chosen = final_rows[final_rows["scenario"] == scenario].sort_values("seed")
    base = final_rows[final_rows["scenario"] == "baseline"].sort_values("seed")
    return chosen[metric].to_numpy(dtype=float) - base[metric].to_numpy(dtype=float)


def test_key_findings_quote_the_paired_effects(report_en, final_rows):
    briefing = (report_en / "briefing.md").read_text(encoding="utf-8")
    findings = briefing.split("## Key findings")[1].split("\n## ")[0]
    for headline in HEADLINES.values():
        effect = t_interval(paired(final_rows, "documents_reform", headline.metric))
        assert format_estimate(headline.metric, *effect, "en", difference=True) in findings
    met = [m for m, t in evaluated_targets(list(final_rows.columns)).items()
           if t.met(finite(final_rows.loc[final_rows["scenario"] == "documents_reform", m])).mean() >= 0.5]
    assert f"meets {len(met)} of" in findings


def test_chart_csvs_hold_the_numbers_drawn(report_both, results, final_rows):
    out, _ = report_both
    effects = pd.read_csv(out / "charts" / "1_mechanism_effects.csv")
    burden = effects[(effects["scenario"] == "merge_items") & (effects["measure"] == "burden")].iloc[0]
    expected = t_interval(paired(final_rows, "merge_items", HEADLINES["burden"].metric))
    assert (burden["difference"], burden["low"], burden["high"]) == pytest.approx(tuple(100 * v for v in expected))
    scorecard = pd.read_csv(out / "charts" / "2_target_scorecard.csv")
    for row in scorecard.itertuples():
        values = final_rows.loc[final_rows["scenario"] == row.scenario, row.target_metric]
        target = evaluated_targets([row.target_metric])[row.target_metric]
        assert row.p_met == pytest.approx(target.met(finite(values)).mean())
    paths = pd.read_csv(out / "charts" / "4_time_paths.csv")
    runs = read_runs(results)
    for row in paths[paths["measure"] == "formalism"].itertuples():
        chosen = runs[(runs["scenario"] == row.scenario) & (runs["year"] == row.year)]
        assert row.mean == pytest.approx(chosen["formalism_index"].mean())


# languages and fonts ---------------------------------------------------------------------------------

def test_english_report_has_no_chinese(report_en):
    texts = [report_en / "briefing.md", report_en / "briefing.html", *sorted(report_en.glob("*/*.csv"))]
    for path in texts:
        found = CJK.findall(path.read_text(encoding="utf-8"))
        assert not found, f"{path.name} holds Chinese: {''.join(found[:20])}"


def test_chinese_report_has_chinese_titles_and_no_missing_glyphs(report_zh, results):
    out, caught = report_zh
    assert glyph_warnings(caught) == []
    briefing = (out / "briefing.md").read_text(encoding="utf-8")
    assert CJK.search(briefing.splitlines()[0])
    for heading in SECTIONS_ZH:
        assert f"## {heading}" in briefing
    study = load_study(results)
    with chart_style():
        for stem, draw in CHARTS:
            chart = draw(study, "zh")
            if chart is None:
                continue
            figure, _ = chart
            title = figure.texts[0].get_text()
            plt.close(figure)
            assert CJK.search(title), f"{stem}: title {title!r} has no Chinese"


def test_bilingual_report_renders_with_no_missing_glyphs(report_both):
    _, caught = report_both
    assert glyph_warnings(caught) == []


def test_missing_glyphs_would_be_caught(tmp_path):
    """The check above is not vacuous: a font without Chinese does warn while saving."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figure, axis = plt.subplots()
        axis.set_title("督查负担", fontfamily="DejaVu Sans")
        save_chart(figure, tmp_path, "control", pd.DataFrame({"x": [1]}))
    assert glyph_warnings(caught)


# sweep and sensitivity folders ---------------------------------------------------------------------

FACTORS = ["merge_rate", "remote_share", "behaviour.detection_base"]
OUTCOMES = ["supervision_time_share", "detection_rate", "formalism_index"]


def design_rows(points: np.ndarray, factors: list[str]) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    rows = []
    for point, values in enumerate(points):
        for replication in range(3):
            for year, phase in ((2023, "burn_in"), (2024, "policy")):
                row = {"scenario": "baseline", "seed": 100 + replication, "scale": "city", "point": point,
                       "replication": replication, **dict(zip(factors, values)), "year": year, "phase": phase}
                row.update({m: float(np.clip(0.3 + 0.2 * values[0] + rng.normal(0, 0.02), 0, 1)) for m in METRICS})
                rows.append(row)
    return pd.DataFrame(rows)


def experiment_folder(folder: Path, kind: str, points: np.ndarray, extra: dict) -> Path:
    manifest = {"kind": kind, "factors": [{"name": f} for f in FACTORS], "outcomes": OUTCOMES, "scale": "city",
                "years": 1, "replications": 3, "started": now_iso(), "finished": None, **extra}
    write_manifest(folder, manifest)
    write_part(folder, design_rows(points, FACTORS))
    return folder


def finish(folder: Path) -> None:
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    write_manifest(folder, {**manifest, "finished": now_iso()})


def sensitivity_indices(method: str, factors: list[str] = FACTORS) -> pd.DataFrame:
    names = {"sobol": ("S1", "ST"), "morris": ("mu_star", "sigma")}[method]
    rows = []
    for outcome in OUTCOMES:
        for rank, factor in enumerate(factors):
            for index in names:
                estimate = 0.6 / (rank + 1) * (0.7 if index in ("S1", "sigma") else 1.0)
                rows.append({"method": method, "outcome": outcome, "factor": factor, "index": index,
                             "estimate": estimate, "low": estimate - 0.05, "high": estimate + 0.05, "n": 32,
                             "flag": "unstable" if rank == 2 else ""})
    return pd.DataFrame(rows)


def test_sweep_report_has_targets_and_trade_offs(tmp_path):
    points = np.array([[a, b, 0.3] for a in (0.0, 0.6) for b in (0.1, 0.4)])
    folder = experiment_folder(tmp_path / "sweep", "sweep", points, {})
    finish(folder)
    out = cli.build_report(folder, tmp_path / "report", "en")
    charts = {p.stem for p in (out / "charts").glob("*.png")}
    assert charts == {"2_target_scorecard", "3_trade_offs"}
    briefing = (out / "briefing.md").read_text(encoding="utf-8")
    assert "## Document targets" in briefing and "## Trade-offs" in briefing
    assert lever_name("merge_rate", "en") in pd.read_csv(out / "charts" / "3_trade_offs.csv")["label"].iloc[0]


@pytest.mark.parametrize("method", ["sobol", "morris"])
def test_sensitivity_report_charts_and_quotes_the_index_table(tmp_path, method):
    folder = experiment_folder(tmp_path / method, "sensitivity", np.random.default_rng(1).uniform(size=(6, 3)),
                               {"method": method})
    indices = sensitivity_indices(method)
    write_table(folder, "sensitivity_indices", indices)
    write_table(folder, "sensitivity_noise", pd.DataFrame({"outcome": OUTCOMES, "noise_share": 0.1,
                                                           "replications": 3}))
    finish(folder)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = cli.build_report(folder, tmp_path / "report", "both")
    assert glyph_warnings(caught) == []
    assert {p.stem for p in (out / "charts").glob("*.png")} == {f"5_sensitivity_{method}"}
    drawn = pd.read_csv(out / "charts" / f"5_sensitivity_{method}.csv")
    assert len(drawn) == len(indices)
    briefing = (out / "briefing.md").read_text(encoding="utf-8")
    assert "## 敏感性分析 Sensitivity" in briefing
    top = indices[(indices["outcome"] == "detection_rate") & (indices["index"].isin(["ST", "mu_star"]))].iloc[0]
    shown = f"{top['estimate']:.2f} [{top['low']:.2f}, {top['high']:.2f}]" if method == "sobol" else \
        f"{100 * top['estimate']:.1f} [{100 * top['low']:.1f}, {100 * top['high']:.1f}]"
    assert shown in briefing
    assert "unstable" in briefing.split("## 注意事项 Caveats")[1]


def test_morris_chart_of_many_factors_shows_the_leading_ones_per_outcome(tmp_path):
    factors = [f"behaviour.factor_{i}" for i in range(30)]
    folder = experiment_folder(tmp_path / "morris", "sensitivity", np.random.default_rng(1).uniform(size=(6, 3)),
                               {"method": "morris"})
    indices = sensitivity_indices("morris", factors[::-1]).sample(frac=1, random_state=2)  # any order on disk
    write_table(folder, "sensitivity_indices", indices)
    finish(folder)
    out = cli.build_report(folder, tmp_path / "report", "en")
    drawn = pd.read_csv(out / "charts" / "5_sensitivity_morris.csv")
    for outcome, group in drawn[drawn["index"] == "mu_star"].groupby("outcome"):
        assert list(group.sort_values("rank")["factor"]) == factors[::-1][:8], outcome
    width, height = Image.open(out / "charts" / "5_sensitivity_morris.png").size
    assert height < 1.5 * width  # panels side by side, not one squashed column


# errors and atomicity --------------------------------------------------------------------------------

@pytest.mark.parametrize("make, message", [
    (lambda p: p / "absent", "does not exist"),
    (lambda p: p, "manifest: missing"),
    (lambda p: (p / "manifest.json").write_text('{"kind": "bench", "finished": "x"}') and p, "kind: 'bench'"),
])
def test_bad_results_folder_is_a_one_line_error_with_status_2(tmp_path, make, message):
    folder = make(tmp_path)
    done = subprocess.run([*RUN, "report", str(folder), "--out", str(tmp_path / "report")], capture_output=True,
                          text=True, cwd=ROOT)
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr
    assert message in done.stderr
    assert not (tmp_path / "report").exists()


def test_a_failed_report_leaves_the_earlier_one_intact(report_en, monkeypatch):
    before = (report_en / "briefing.md").read_text(encoding="utf-8")

    def broken(study, lang):
        raise RuntimeError("drawing failed")

    monkeypatch.setattr(cli, "CHARTS", (("1_broken", broken),))
    with pytest.raises(RuntimeError):
        cli.build_report(json.loads((report_en / "report.json").read_text())["results"], report_en, "en")
    assert (report_en / "briefing.md").read_text(encoding="utf-8") == before
    assert [p.name for p in report_en.parent.iterdir() if p.name.startswith(".")] == []


def test_report_refuses_to_overwrite_a_folder_it_did_not_write(results, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(cli.ReportError, match="not a report folder"):
        cli.build_report(results, tmp_path, "en")
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_main_job_saves_results_and_writes_the_briefing(tmp_path):
    done = subprocess.run([*RUN, "--seeds", "1", "--scale", "county", "--years", "1", "--quiet"], capture_output=True,
                          text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Targets met" in done.stdout
    assert "reports/latest/briefing.html" in done.stderr
    assert json.loads((tmp_path / "results" / "latest" / "manifest.json").read_text())["finished"]
    assert (tmp_path / "reports" / "latest" / "briefing.md").is_file()
    assert {p.stem for p in (tmp_path / "reports" / "latest" / "charts").glob("*.png")} == set(RUN_CHARTS)


def test_fewer_leads_with_a_higher_share_found_is_explained_only_where_the_effects_show_it(results):
    """Leads are problems found plus falsified reports caught: either stock shrinking explains fewer leads."""
    study = load_study(results)

    def effects(gain_high: float, latent: tuple, falsified: tuple) -> pd.DataFrame:
        rows = [("detection_gain", -0.3, gain_high, 0.0), ("detection_rate", 0.02, 0.05, 0.4),
                ("latent_problems_per_unit", *latent, 10.0), ("falsification_rate", *falsified, 0.28)]
        return pd.DataFrame([{"group": "merge_items", "reference": "baseline", "metric": m, "diff": (low + high) / 2,
                              "low": low, "high": high, "n": 4, "reference_mean": mean, "verdict": ""}
                             for m, low, high, mean in rows])

    def caveats(*args) -> list:
        return _fewer_problems_caveats(dataclasses.replace(study, effects=effects(*args)))

    fewer_problems = caveats(-0.1, (-3.0, -2.0), (-0.01, 0.01))
    assert len(fewer_problems) == 1 and study.group_name("merge_items", "en") in fewer_problems[0].en
    assert "10.0 -> 7.50" in fewer_problems[0].en and "28.0% -> 28.0%" in fewer_problems[0].en
    fewer_lies = caveats(-0.1, (-0.5, 0.3), (-0.3, -0.2))
    assert len(fewer_lies) == 1 and "28.0% -> 3.0%" in fewer_lies[0].en and "falsified" in fewer_lies[0].en
    assert caveats(-0.1, (-0.5, 0.3), (-0.01, 0.01)) == []  # neither stock shrank: not explained away
    assert caveats(0.1, (-3.0, -2.0), (-0.3, -0.2)) == []  # leads did not fall


def test_a_target_met_whose_interval_spans_it_is_called_marginal():
    from types import SimpleNamespace
    row = SimpleNamespace(metric="material_hours_per_week", p_met=0.5, target=8.0, low=7.81, high=8.14)
    assert _target_phrase(row, "en").endswith("(50%, marginal: interval spans target)")
    assert "勉强" in _target_phrase(row, "zh")
    clear = SimpleNamespace(metric="material_hours_per_week", p_met=1.0, target=8.0, low=6.5, high=7.2)
    assert _target_phrase(clear, "en").endswith("(100%)")


def test_a_count_of_targets_met_says_where_two_of_them_are_one_number():
    twins = {"rectified_within_6_months": "rectification_completion_rate"}
    both = {"rectified_within_6_months", "rectification_completion_rate", "hosting_time_share"}
    note = _same_number_note(both, twins, "en")
    assert "one number" in note and metric_name("rectified_within_6_months", "en") in note
    assert "同一个数" in _same_number_note(both, twins, "zh")
    assert _same_number_note({"rectified_within_6_months", "hosting_time_share"}, twins, "en") == ""


def test_a_worse_flag_comes_with_the_chance_of_flags_among_many_comparisons():
    from types import SimpleNamespace

    from reports.briefing import _mechanism_findings

    mechanisms = [f"m{k}" for k in range(14)]
    rows = [{"group": g, "metric": h.metric, "diff": 0.1, "low": -0.1, "high": 0.3, "verdict": "unclear"}
            for g in mechanisms for h in HEADLINES.values()]
    rows[0].update(low=0.01, verdict="worse")
    study = SimpleNamespace(groups=["baseline", *mechanisms], reference="baseline", packages=[],
                            effects=pd.DataFrame(rows), group_name=lambda group, lang: group)
    text = " ".join(finding.en for finding in _mechanism_findings(study))
    comparisons = 14 * len(HEADLINES)
    assert "Trade-offs to watch: m0 worsens" in text
    assert f"from {comparisons} comparisons, each at 95%" in text and f"about {comparisons * 0.025:.1f}" in text


def test_indices_of_a_noise_dominated_outcome_are_said_to_describe_noise():
    from types import SimpleNamespace

    from reports.briefing import _noise_phrase

    study = SimpleNamespace(noise=pd.DataFrame({"outcome": ["quiet", "noisy"], "noise_share": [0.05, 0.88]}))
    assert _noise_phrase(study, "quiet", "en") == "; replication noise is about 5% of the variance"
    assert "88% of the variance, so these indices are imprecise" in _noise_phrase(study, "noisy", "en")
    assert "精度很低" in _noise_phrase(study, "noisy", "zh")
    some = SimpleNamespace(noise=pd.DataFrame({"outcome": ["some"], "noise_share": [0.3]}))
    assert "do not rank close factors reliably" in _noise_phrase(some, "some", "en")  # 30% is not "mostly"


def test_effects_name_their_reference_when_it_is_not_the_status_quo(results):
    study = load_study(results)
    assert study.reference_name("en") == "the status quo" and study.reference_name("zh") == "现状"
    first = dataclasses.replace(study, reference="merge_items")
    findings = [finding.en for finding in key_findings(first)]
    assert findings[0].startswith(f"The effects below are measured from {study.group_name('merge_items', 'en')}")
    assert not any("measured from" in finding.en for finding in key_findings(study))


def test_overrides_outside_the_scenario_files_are_said_first(results):
    study = load_study(results)
    changed = dataclasses.replace(study, manifest={**study.manifest, "overrides": [
        "behaviour.detection_base=0.3", "merge_rate=0.5", "years=2"]})
    findings = [finding.en for finding in key_findings(changed)]
    assert findings[0].startswith("Note: these runs change behavioural parameters (behaviour.detection_base=0.3)")
    assert findings[1].startswith("Note: these runs set levers (merge_rate=0.5) in every scenario")
    assert not any(finding.startswith("Note:") for finding in findings[2:])
    assert not any(finding.en.startswith("Note:") for finding in key_findings(study))


def test_each_point_label_sits_nearer_its_own_point_than_any_other():
    """The main job's trade-off map (2026-12-05), whose status quo cluster once left labels that read
    as their neighbours': no label may sit nearer another point than its own."""
    from reports.charts import _place_labels

    xs = np.array([70.68, 69.31, 70.75, 68.42, 70.97, 66.87, 62.41, 65.96, 64.68, 59.4, 70.62, 67.25, 69.99, 70.58,
                   65.39, 31.6])
    ys = np.array([43.88, 44.02, 43.87, 44.54, 43.17, 44.05, 44.06, 46.76, 44.47, 45.27, 45.46, 40.92, 43.61, 43.43,
                   51.87, 58.18])
    figure = plt.figure(figsize=(11.5, 6.6))
    axis = figure.add_axes((0.08, 0.1, 0.6, 0.78))
    axis.scatter(xs, ys)
    _place_labels(axis, xs, ys, [(i, str(i + 1)) for i in range(xs.size)])
    figure.canvas.draw()
    points = axis.transData.transform(np.column_stack([xs, ys]))
    for index, label in enumerate(axis.texts):
        box = label.get_window_extent()
        centre = np.array([(box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2])
        assert int(np.argmin(np.hypot(*(points - centre).T))) == index, label.get_text()
    plt.close(figure)


def test_scenarios_on_their_own_calendars_get_their_own_years_and_no_document_phases(tmp_path):
    """A package that starts two years later: the method note gives each scenario its burn-in and
    policy years (together they overlap), and the time chart shades no documents' phase."""
    from tests.test_analysis import synthetic_runs, write_run_folder

    runs = synthetic_runs()
    runs.loc[runs["scenario"] == "documents_reform", "year"] += 2
    write_run_folder(tmp_path / "late", runs)
    report = cli.build_report(tmp_path / "late", tmp_path / "report", "en")
    briefing = (report / "briefing.md").read_text(encoding="utf-8")
    assert "Years (the scenarios start in different years):" in briefing
    assert "burn-in 2024-2025, policy 2026-2027" in briefing and "shading:" not in briefing


def test_a_scenario_with_an_undefined_measure_is_left_off_the_trade_off_map_and_named(tmp_path):
    """A scenario with no inspections has no detection rate: it has no place on the map, and
    matplotlib warned of masked elements while drawing it."""
    from tests.test_analysis import synthetic_runs, write_run_folder

    runs = synthetic_runs()
    runs.loc[runs["scenario"] == "merge_items", HEADLINES["detection"].metric] = np.nan
    write_run_folder(tmp_path / "undefined", runs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = cli.build_report(tmp_path / "undefined", tmp_path / "report", "en")
    drawn = pd.read_csv(report / "charts" / "3_trade_offs.csv")
    assert list(drawn["scenario"]) == ["baseline", "documents_reform"]
