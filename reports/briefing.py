"""The briefing's text, generated from the study's tables: every number in it comes from them,
written with the same formatters the charts and tables use.
"""
from __future__ import annotations

import math
from typing import Callable

import pandas as pd

from analysis.comparison import NOT_MODEL_OUTCOMES
from analysis.labels import (display_scale, fixed, format_estimate, format_number, format_probability, format_value,
                             lever_name, measure_name, metric_name, scale_name)
from analysis.measures import HEADLINES
from analysis.sensitivity import RANKING_INDEX, methods_and_outcomes, ranked_factors
from analysis.study import REFERENCE, Study
from analysis.summary import twin_metrics
from experiments.sensitivity import NOISE_LIMIT
from model import CALIBRATED, METRICS, SCALES, SOFT_METRICS
from scenarios import load_document_figures, override_kind

from .document import Bullets, Document, Figure, Paragraph, Section, Table, Text

LIKELY = 0.5             # a target counts as met when at least half the seeds meet it
FEW_SEEDS = 10           # below this, the briefing warns that intervals are wide
CALIBRATION_TOLERANCE = 0.25  # relative distance from a document figure that the caveats list
TOP_FACTORS = 3
MAX_LISTED = 5           # longer lists of sweep points are cut short in the text
VERDICTS = {"better": Text("改善", "better"), "worse": Text("恶化", "worse"), "unclear": Text("不确定", "unclear"),
            "": Text("—", "—")}
OPERATORS = {"<=": "≤", "<": "<", ">=": "≥", ">": ">"}


def say(build: Callable[[str], str]) -> Text:
    """A sentence built once per language from the same numbers."""
    return Text(build("zh"), build("en"))


def _join(items: list[str], lang: str) -> str:
    return ("、" if lang == "zh" else ", ").join(items)


def _names(study: Study, groups: list[str], lang: str) -> str:
    """Group names as a list, the first few of a long one."""
    shown = _join([study.group_name(g, lang) for g in groups[:MAX_LISTED]], lang)
    rest = len(groups) - MAX_LISTED
    if rest <= 0:
        return shown
    return shown + (f"等（另有{rest}个）" if lang == "zh" else f" and {rest} more")


def build_briefing(study: Study, charts: set[str]) -> Document:
    """The whole briefing; `charts` are the stems of the charts that were drawn."""
    sections = [Section(Text("关键发现", "Key findings"), [Bullets(key_findings(study))]),
                Section(Text("三项核心指标", "How burden, detection and formalism are measured"),
                        [Bullets([Text(h.definition_zh, h.definition_en) for h in HEADLINES.values()])])]
    if study.kind in ("run", "sweep"):
        sections.append(targets_section(study, charts))
    if study.kind == "run":
        sections += [effects_section(study, charts), package_section(study)]
    if study.kind in ("run", "sweep") and "3_trade_offs" in charts:
        sections.append(trade_off_section(study))
    if "4_time_paths" in charts:
        sections.append(time_section(study))
    if study.kind == "sensitivity":
        sections.append(sensitivity_section(study, charts))
    sections += [method_section(study), caveats_section(study), provenance_section(study)]
    title = Text("督查政策模拟简报", "Supervision policy simulation briefing")
    what = {"run": Text("情景比较", "scenario comparison"), "sweep": Text("参数扫描", "parameter sweep"),
            "sensitivity": Text("敏感性分析", "sensitivity analysis")}[study.kind]
    subtitle = say(lambda l: (f"{what.show(l)}：{study.folder.name}，{_scale_text(study, l)}"
                              f"，完成于{study.manifest.get('finished', '?')}" if l == "zh" else
                              f"{what.show(l).capitalize()}: {study.folder.name}, {_scale_text(study, l)}, "
                              f"finished {study.manifest.get('finished', '?')}"))
    return Document(title, subtitle, sections)


# key findings --------------------------------------------------------------------------------

def key_findings(study: Study) -> list[Text]:
    findings = {"run": _run_findings, "sweep": _sweep_findings, "sensitivity": _sensitivity_findings}[study.kind]
    return _override_caveats(study) + findings(study)


def _override_caveats(study: Study) -> list[Text]:
    """Said first: values set outside the scenario files change what 'status quo' and 'calibrated'
    mean in everything below."""
    kinds = {k: override_kind(k)[0] for k in study.overrides}
    levers, behaviour = ({k: v for k, v in study.overrides.items() if kinds[k] == kind}
                         for kind in ("levers", "behaviour"))
    notes = ((behaviour, "这些运行修改了行为参数（{}），不是校准后的模型；下文与文件数据的比较描述的是修改后的模型。",
              "these runs change behavioural parameters ({}), so the model is not the calibrated one; the "
              "comparisons with the documents' figures below describe the changed model."),
             (levers, "这些运行在每个情景（包括 baseline）中设定了政策杠杆（{}），因此 baseline 不是文件所述的现状。",
              "these runs set levers ({}) in every scenario, baseline included, so baseline is not the documents' "
              "status quo."))
    return [say(lambda l, zh=zh, en=en, shown=", ".join(f"{k}={v}" for k, v in values.items()): (
                "注意：" + zh.format(shown) if l == "zh" else "Note: " + en.format(shown)))
            for values, zh, en in notes if values]


def targets_met(study: Study, group: str) -> pd.DataFrame:
    card = study.scorecard
    return card[(card["group"] == group) & (card["p_met"] >= LIKELY)]


def _target_phrase(row, lang: str) -> str:
    """A target met, with its probability; 'marginal' when the mean's interval spans the target, so
    the mean itself could lie on either side."""
    marginal = row.low <= row.target <= row.high
    if lang == "zh":
        return f"{metric_name(row.metric, lang)}（{format_probability(row.p_met)}{'，勉强：区间跨越目标' if marginal else ''}）"
    return f"{metric_name(row.metric, lang)} ({format_probability(row.p_met)}{', marginal: interval spans target' if marginal else ''})"


def _miss_phrase(row, lang: str) -> str:
    """A missed target: its mean against the target (the interval is in the table below), and the
    probability when some seeds do meet it."""
    value = format_value(row.metric, row.mean)
    target = f"{OPERATORS[row.op]} {format_value(row.metric, row.target)}"
    chance = row.p_met > 0
    if lang == "zh":
        return (f"{metric_name(row.metric, lang)}（{value}，目标{target}"
                + (f"，达标概率{format_probability(row.p_met)}" if chance else "") + "）")
    return (f"{metric_name(row.metric, lang)} ({value} vs {target}"
            + (f", P {format_probability(row.p_met)}" if chance else "") + ")")


def _effect(study: Study, group: str, metric: str) -> pd.Series | None:
    effects = study.effects
    chosen = effects[(effects["group"] == group) & (effects["metric"] == metric)]
    return None if chosen.empty else chosen.iloc[0]


def _effect_text(study: Study, group: str, metric: str, lang: str) -> str:
    row = _effect(study, group, metric)
    return "n/a" if row is None else format_estimate(metric, row["diff"], row["low"], row["high"], lang,
                                                     difference=True)


def _run_findings(study: Study) -> list[Text]:
    findings = []
    set_levers = {override_kind(key)[1] for key in study.overrides if override_kind(key)[0] == "levers"}
    compared = len(study.groups) > 1
    if study.reference == REFERENCE:
        # levers moved by --set have the override note; a baseline file's own are said here
        if compared and set(study.changed_baseline_levers) - set_levers:
            changed = ", ".join(study.changed_baseline_levers)
            findings.append(say(lambda l: (
                f"本次运行的 baseline 情景改变了以下杠杆，不再是现状：{changed}；以下效果均相对于它。如需与现状比较，请运行随附的 "
                "scenarios/baseline.yaml（不加 --set）。"
                if l == "zh" else
                f"The baseline run here moves these levers off the status quo: {changed}; the effects below are "
                "measured from it, not from the status quo. To compare with the status quo, run the shipped "
                "scenarios/baseline.yaml (without --set).")))
    elif study.reference is not None and compared:
        findings.append(say(lambda l: (
            f"以下效果均相对于{study.reference_name(l)}（第一个运行的情景），而非现状；如需与现状比较，请把 baseline 放在首位运行。"
            if l == "zh" else
            f"The effects below are measured from {study.reference_name(l)} (the first scenario run), not from the "
            "status quo; to compare with the status quo, run baseline first.")))
    year = study.year
    evaluated = study.scorecard["metric"].nunique() if not study.scorecard.empty else 0
    twins = twin_metrics(study.runs[study.runs["year"] == year])
    for package in study.packages:
        met = targets_met(study, package)
        missed = study.scorecard[(study.scorecard["group"] == package) & (study.scorecard["p_met"] < LIKELY)]
        findings.append(say(lambda l, p=package, met=met: (
            f"{study.group_name(p, l)}在{year}年可达到模型评估的{evaluated}项文件目标中的{len(met)}项（达标概率≥50%）"
            + (f"：{_join([_target_phrase(r, l) for r in met.itertuples()], l)}" if len(met) else "")
            + _same_number_note(set(met["metric"]), twins, l) + "。"
            if l == "zh" else
            f"{study.group_name(p, l)} meets {len(met)} of the {evaluated} document targets the model evaluates "
            f"in {year} "
            f"(probability ≥ 50%)" + (f": {_join([_target_phrase(r, l) for r in met.itertuples()], l)}" if len(met)
                                      else "") + _same_number_note(set(met["metric"]), twins, l) + ".")))
        if len(missed):
            findings.append(say(lambda l, p=package, missed=missed: (
                f"{study.group_name(p, l)}仍未达到：{_join([_miss_phrase(r, l) for r in missed.itertuples()], l)}。"
                if l == "zh" else
                f"{study.group_name(p, l)} still falls short of: "
                f"{_join([_miss_phrase(r, l) for r in missed.itertuples()], l)}.")))
        findings.append(say(lambda l, p=package: (
            f"与{study.reference_name(l)}相比（{year}年，按种子配对），{study.group_name(p, l)}使"
            + "，".join(f"{measure_name(m, l)}变化{_effect_text(study, p, h.metric, l)}" for m, h in HEADLINES.items())
            + "。" if l == "zh" else
            f"Against {study.reference_name(l)} ({year}, paired by seed), {study.group_name(p, l)} changes "
            + ", ".join(f"{measure_name(m, l).lower()} by {_effect_text(study, p, h.metric, l)}"
                        for m, h in HEADLINES.items()) + ".")))
    findings += _mechanism_findings(study)
    if study.reference is not None and not study.scorecard.empty:
        met = targets_met(study, study.reference)
        findings.append(say(lambda l: (
            f"{study.group_name(study.reference, l)}在{year}年达到{len(met)}/{evaluated}项目标。" if l == "zh" else
            f"{study.group_name(study.reference, l)} meets {len(met)} of {evaluated} targets in {year}.")))
    findings += _non_dominated_findings(study)
    return findings


def _same_number_note(met: set[str], twins: dict[str, str], lang: str) -> str:
    """Where two targets met are judged on one number (analysis.summary.twin_metrics), the count
    holds that number twice: say so beside it."""
    pairs = [(metric, twin) for metric, twin in twins.items() if {metric, twin} <= met]
    if not pairs:
        return ""
    names = _join([f"{metric_name(a, lang)}{'与' if lang == 'zh' else ' and '}{metric_name(b, lang)}"
                   for a, b in pairs], lang)
    return (f"；其中{names}在模型中是同一个数，只是门槛不同" if lang == "zh" else
            f"; {names} are one number in the model, judged against two thresholds")


def _mechanisms(study: Study) -> list[str]:
    return [g for g in study.groups if g != study.reference and g not in study.packages]


CHANCE_WORSE = 0.025  # chance a 95% interval lies wholly on the worse side of 0 when there is no effect


def _mechanism_findings(study: Study) -> list[Text]:
    mechanisms = _mechanisms(study)
    if not mechanisms or study.effects.empty:
        return []
    findings = []
    effects = study.effects[study.effects["group"].isin(mechanisms)]
    for measure, headline in HEADLINES.items():
        chosen = effects[(effects["metric"] == headline.metric) & (effects["verdict"] == "better")]
        if chosen.empty:
            findings.append(say(lambda l, m=measure: (
                f"没有单项机制在{measure_name(m, l)}上有确定的改善（没有95%区间完全落在改善一侧）。" if l == "zh" else
                f"No single mechanism improves {measure_name(m, l).lower()} with confidence (no 95% interval lies "
                "wholly on the better side of 0).")))
            continue
        best = chosen.sort_values("diff", ascending=headline.lower_is_better).iloc[0]
        findings.append(say(lambda l, m=measure, b=best: (
            f"单项机制中，{study.group_name(b['group'], l)}对{measure_name(m, l)}的改善最大："
            f"{format_estimate(b['metric'], b['diff'], b['low'], b['high'], l, difference=True)}。" if l == "zh" else
            f"Of the single mechanisms, {study.group_name(b['group'], l)} improves {measure_name(m, l).lower()} most: "
            f"{format_estimate(b['metric'], b['diff'], b['low'], b['high'], l, difference=True)}.")))
    headline_metrics = {h.metric: m for m, h in HEADLINES.items()}
    worse = effects[effects["metric"].isin(headline_metrics) & (effects["verdict"] == "worse")]
    if worse.empty:
        findings.append(say(lambda l: "没有单项机制使督查负担、问题发现或形式主义确定地恶化。" if l == "zh" else
                            "No single mechanism makes burden, detection or formalism worse with confidence."))
    else:
        findings.append(say(lambda l: ("需要权衡：" if l == "zh" else "Trade-offs to watch: ") + _join([
            f"{study.group_name(r.group, l)}：{measure_name(headline_metrics[r.metric], l)}"
            f"{format_estimate(r.metric, r.diff, r.low, r.high, l, difference=True)}" if l == "zh" else
            f"{study.group_name(r.group, l)} worsens {measure_name(headline_metrics[r.metric], l).lower()} "
            f"({format_estimate(r.metric, r.diff, r.low, r.high, l, difference=True)})"
            for r in worse.itertuples()], l) + ("。" if l == "zh" else ".")))
        findings.append(say(lambda l, n=int(effects["metric"].isin(headline_metrics).sum()): (
            f"以上是{n}项比较，各用95%区间：即使所有机制都无影响，也约有{n * CHANCE_WORSE:.1f}项会因偶然被标为恶化；"
            "区间接近0的标记请用更多种子复核（python run.py run baseline mechanisms/机制名 --seeds 60）。" if l == "zh" else
            f"These come from {n} comparisons, each at 95%: with no effect at all, about {n * CHANCE_WORSE:.1f} would be "
            "flagged worse by chance, so confirm a flag whose interval nearly touches 0 with more seeds "
            "(python run.py run baseline mechanisms/<name> --seeds 60).")))
    return findings


def _non_dominated_findings(study: Study) -> list[Text]:
    table = study.tradeoffs
    if table.empty or len(table) < 2:
        return []
    best = list(table.loc[table["non_dominated"], "group"])
    return [say(lambda l: (
        f"非劣解（没有其他方案在负担、发现、形式主义三项上同时不差且至少一项更好）：{_names(study, best, l)}。"
        if l == "zh" else
        f"Non-dominated (no other option is at least as good on burden, detection and formalism together and "
        f"better on one): {_names(study, best, l)}."))]


def _sweep_findings(study: Study) -> list[Text]:
    findings = []
    year = study.year
    if not study.scorecard.empty:
        counts = {g: len(targets_met(study, g)) for g in study.groups}
        most = max(counts.values())
        leaders = [g for g, c in counts.items() if c == most]
        evaluated = study.scorecard["metric"].nunique()
        findings.append(say(lambda l: (
            f"{year}年达到目标最多的扫描点达到{most}/{evaluated}项：{_names(study, leaders, l)}。"
            if l == "zh" else
            f"The sweep points meeting the most targets in {year} meet {most} of {evaluated}: "
            f"{_names(study, leaders, l)}.")))
    table = study.tradeoffs
    if not table.empty:
        for measure, headline in HEADLINES.items():
            best = table.sort_values(measure, ascending=headline.lower_is_better).iloc[0]
            findings.append(say(lambda l, m=measure, h=headline, b=best: (
                f"{measure_name(m, l)}最好的扫描点：{study.group_name(b['group'], l)}，"
                f"{format_estimate(h.metric, b[m], b[f'{m}_low'], b[f'{m}_high'], l)}。" if l == "zh" else
                f"Best {measure_name(m, l).lower()}: {study.group_name(b['group'], l)}, "
                f"{format_estimate(h.metric, b[m], b[f'{m}_low'], b[f'{m}_high'], l)}.")))
    return findings + _non_dominated_findings(study)


def _sensitivity_findings(study: Study) -> list[Text]:
    findings = []
    indices = study.sensitivity
    for method, outcomes in methods_and_outcomes(indices):
        for outcome in outcomes:
            ranked = ranked_factors(indices, method, outcome).head(TOP_FACTORS)
            if ranked.empty:
                continue
            index = RANKING_INDEX[method]
            findings.append(say(lambda l, o=outcome, r=ranked, i=index: (
                f"对{metric_name(o, l)}影响最大的因素（按{i}）：" + _join([_factor_phrase(row, o, l) for row in r.itertuples()], l)
                + _noise_phrase(study, o, l) + "。" if l == "zh" else
                f"Most influential factors for {metric_name(o, l).lower()} (by {i}): "
                + _join([_factor_phrase(row, o, l) for row in r.itertuples()], l) + _noise_phrase(study, o, l) + ".")))
    flagged = int((indices["flag"] != "").sum())
    if flagged:
        findings.append(say(lambda l: (
            f"{flagged}个指数估计带有标记（负值、不稳定、未收敛等），见注意事项。" if l == "zh" else
            f"{flagged} index estimates carry a flag (negative, unstable, not converged, ...); see the caveats.")))
    return findings


def format_index(row, outcome: str) -> str:
    """A sensitivity index with its interval: Sobol indices as they are, Morris ones in the outcome's
    display units (percentage points for shares)."""
    if row.index in ("S1", "ST", "S2"):
        return f"{row.estimate:.2f} [{row.low:.2f}, {row.high:.2f}]"
    scale = display_scale(outcome)
    low, high = format_number(row.low * scale), format_number(row.high * scale)
    return f"{format_number(row.estimate * scale)} [{low}, {high}]"


def _factor_phrase(row, outcome: str, lang: str) -> str:
    flag = f" ({row.flag})" if row.flag else ""
    return f"{lever_name(row.factor, lang)} {format_index(row, outcome)}{flag}"


def _noise_phrase(study: Study, outcome: str, lang: str) -> str:
    noise = study.noise
    if noise is None or outcome not in set(noise["outcome"]):
        return ""
    share = float(noise.loc[noise["outcome"] == outcome, "noise_share"].iloc[0])
    if not math.isfinite(share):
        return ""
    if share > NOISE_LIMIT:
        extent = ("精度很低（噪声已从估计值中扣除，但区间很宽）" if share > 0.5 else "的排序在相近处不可靠") if lang == "zh" else (
            "are imprecise (the noise is taken out of the estimates, not out of their intervals)" if share > 0.5
            else "do not rank close factors reliably")
        return (f"；随机噪声约占方差{100 * share:.0f}%，这些指数{extent}（请增加重复次数或扩大规模）" if lang == "zh" else
                f"; replication noise is about {100 * share:.0f}% of the variance, so these indices {extent} "
                "(add replications or a larger scale)")
    return f"；随机噪声约占方差{100 * share:.0f}%" if lang == "zh" else f"; replication noise is about " \
                                                                       f"{100 * share:.0f}% of the variance"


# sections --------------------------------------------------------------------------------

def add_figure(section: Section, charts: set[str], stem: str, zh: str, en: str) -> None:
    """The chart as a figure with its caption, when the chart was drawn."""
    if stem in charts:
        section.blocks.append(Figure(stem, Text(zh, en)))


def targets_section(study: Study, charts: set[str]) -> Section:
    section = Section(Text("文件目标达标情况", "Document targets"))
    add_figure(section, charts, "2_target_scorecard",
               "图2 各情景的达标概率（达标种子占比）及均值±95%区间半宽。",
               "Figure 2. Probability of meeting each document target (share of seeds) with the mean ± half-width of "
               "its 95% interval.")
    shown = [g for g in [study.reference, *study.packages] if g is not None] if study.kind == "run" else \
        sorted(study.groups, key=lambda g: -len(targets_met(study, g)))[:3]
    card = study.scorecard.set_index(["group", "metric"])
    columns: list = [Text("目标", "Target"), Text("文件目标值", "Document target")]
    for group in shown:
        columns += [say(lambda l, g=group: f"{study.group_name(g, l)}：均值 [95%区间]" if l == "zh" else
                        f"{study.group_name(g, l)}: mean [95% interval]"),
                    say(lambda l, g=group: "达标概率" if l == "zh" else "P(meet)")]
    rows = []
    for metric in dict.fromkeys(study.scorecard["metric"]):
        first = card.loc[(shown[0], metric)]
        row: list = [say(lambda l, m=metric: metric_name(m, l) + ("†" if m in SOFT_METRICS else "")),
                     f"{OPERATORS[first['op']]} {format_value(metric, first['target'])}"]
        for group in shown:
            cell = card.loc[(group, metric)]
            row += [format_estimate(metric, cell["mean"], cell["low"], cell["high"]), format_probability(cell["p_met"])]
        rows.append(row)
    section.blocks.append(Table(columns, rows))
    section.blocks.append(Paragraph(Text(
        "† 最软指标，只看方向。全部情景和差距（正值表示尚未达标）见 tables/target_scorecard.csv。",
        "† softest metrics: read the direction only. Every scenario, and the gap to each target (positive = still "
        "short of it), are in tables/target_scorecard.csv.")))
    return section


def effects_section(study: Study, charts: set[str]) -> Section:
    section = Section(Text("各项机制的效果", "Mechanism effects"))
    if study.effects.empty:
        section.blocks.append(Paragraph(Text("只有一个情景，无法比较。", "Only one scenario: nothing to compare.")))
        return section
    add_figure(section, charts, "1_mechanism_effects",
               f"图1 各项机制与{study.reference_name('zh')}之差（{study.year_label('zh')}，按种子配对）：均值与95%区间。绿色为确定改善，橙色为确定恶化，灰色为不确定。",
               f"Figure 1. Each mechanism's difference from {study.reference_name('en')} ({study.year_label('en')}, paired by seed): "
               "mean and 95% "
               "interval. Green: better with confidence; orange: worse with confidence; grey: unclear.")
    columns = [Text("情景", "Scenario")] + [say(lambda l, m=m: f"{measure_name(m, l)}变化" if l == "zh" else
                                               f"Change in {measure_name(m, l).lower()}") for m in HEADLINES]
    columns.append(Text("达标项数（≥50%）", "Targets met (≥ 50%)"))
    rows = []
    for group in [g for g in study.groups if g != study.reference]:
        row: list = [say(lambda l, g=group: study.group_name(g, l))]
        for headline in HEADLINES.values():
            effect = _effect(study, group, headline.metric)
            row.append(say(lambda l, e=effect, h=headline: format_estimate(h.metric, e["diff"], e["low"], e["high"], l,
                                                                            difference=True)))
        row.append(str(len(targets_met(study, group))))
        rows.append(row)
    section.blocks.append(Table(columns, rows))
    section.blocks.append(Paragraph(Text(
        "各情景对每个指标的配对差异及区间见 tables/mechanism_effects.csv。",
        "Paired differences for every metric are in tables/mechanism_effects.csv.")))
    return section


def package_section(study: Study) -> Section:
    section = Section(Text("改革组合方案对各项目标指标的影响", "The reform package's effect on every target metric"))
    if not study.packages or study.effects.empty:
        section.blocks.append(Paragraph(Text("本结果不含改革组合方案。", "These results hold no reform package.")))
        return section
    targets = list(dict.fromkeys(study.scorecard["metric"]))
    for package in study.packages:
        rows = []
        for metric in targets:
            effect = _effect(study, package, metric)
            if effect is None:
                continue
            rows.append([say(lambda l, m=metric: metric_name(m, l)),
                         say(lambda l, e=effect, m=metric: format_estimate(m, e["diff"], e["low"], e["high"], l,
                                                                            difference=True)),
                         VERDICTS[effect["verdict"]]])
        section.blocks.append(Paragraph(say(lambda l, p=package: (
            f"{study.group_name(p, l)}与{study.group_name(study.reference, l)}之差（{study.year}年，按种子配对，95%区间）："
            if l == "zh" else
            f"{study.group_name(p, l)} minus {study.group_name(study.reference, l)} ({study.year}, paired by "
            "seed, 95% interval):"))))
        section.blocks.append(Table([Text("指标", "Metric"), Text("变化", "Change"), Text("判断", "Verdict")], rows))
    return section


def trade_off_section(study: Study) -> Section:
    square = study.reference is not None
    return Section(Text("权衡", "Trade-offs"), [
        Figure("3_trade_offs", Text(
            "图3 横轴为督查负担（越低越好），纵轴为问题发现率（越高越好），颜色为形式主义指数；粗黑圈为非劣解，"
            + (f"方框为{study.reference_name('zh')}；" if square else "") + "误差线为95%区间。",
            "Figure 3. Burden (x, lower is better) against detection (y, higher is better), colour = formalism index; "
            "black rings: non-dominated; " + (f"square: {study.reference_name('en')}; " if square else "")
            + "bars: 95% intervals.")),
        *[Paragraph(text) for text in _non_dominated_findings(study)]])


def time_section(study: Study) -> Section:
    shaded = bool(study.document_phases)  # as the chart shades them
    blocks: list = [Figure("4_time_paths", Text(
        "图4 三项核心指标的年度路径：均值与95%区间"
        + ("；阴影为试点（2024年1-6月）、推广（2024年7月-2025年12月）、巩固（2026年）阶段。" if shaded else "。"),
        "Figure 4. Yearly paths of the three headline measures: mean and 95% interval"
        + ("; shading: pilot (2024-01 to 2024-06), rollout (2024-07 to 2025-12) and consolidation (2026)." if shaded
           else ".")))]
    paths = study.time_paths
    for package in study.packages:
        rows = []
        for measure, headline in HEADLINES.items():
            chosen = paths[(paths["group"] == package) & (paths["measure"] == measure)].sort_values("year")
            rows.append([say(lambda l, m=measure: measure_name(m, l))]
                        + [format_estimate(headline.metric, r.mean, r.low, r.high) for r in chosen.itertuples()])
        years = sorted(paths.loc[paths["group"] == package, "year"].unique())
        blocks.append(Paragraph(say(lambda l, p=package: f"{study.group_name(p, l)}逐年数值：" if l == "zh" else
                                    f"{study.group_name(p, l)}, year by year:")))
        blocks.append(Table([Text("指标", "Measure")] + [str(y) for y in years], rows))
    return Section(Text("逐年变化", "Over time"), blocks)


def sensitivity_section(study: Study, charts: set[str]) -> Section:
    section = Section(Text("敏感性分析", "Sensitivity"))
    add_figure(section, charts, "5_sensitivity_sobol",
               "图5 Sobol指数：ST为总效应（含交互），S1为一阶效应；误差线为自助法95%区间，斜线为带标记的估计。",
               "Figure 5. Sobol indices: ST total effect (incl. interactions), S1 first-order effect; bars: bootstrap 95% "
               "intervals; hatched: flagged estimates.")
    add_figure(section, charts, "5_sensitivity_morris",
               "图5 Morris筛选：每项结果μ*最大的因素；条形为μ*平均绝对效应（影响大小），菱形为σ效应离散度（非线性或交互）；"
               "误差线为自助法95%区间，斜线为带标记的估计；完整排序见表。",
               "Figure 5. Morris screening: the factors with the largest μ* per outcome; bars: μ* mean absolute effect "
               "(influence), diamonds: σ spread of effects (non-linearity or interaction); whiskers: bootstrap 95% "
               "intervals; hatched: flagged estimates; the full ranking is in the table.")
    rows = []
    for method, outcomes in methods_and_outcomes(study.sensitivity):
        for outcome in outcomes:
            for row in ranked_factors(study.sensitivity, method, outcome).itertuples():
                rows.append([method, say(lambda l, o=outcome: metric_name(o, l)),
                             say(lambda l, f=row.factor: lever_name(f, l)), row.index, format_index(row, outcome),
                             row.flag or "", str(row.n)])
    section.blocks.append(Table([Text("方法", "Method"), Text("结果指标", "Outcome"), Text("因素", "Factor"),
                                 Text("指数", "Index"),
                                 Text("估计 [95%区间]（Morris为结果单位，比例为百分点）",
                                      "Estimate [95% interval] (Morris: outcome units, shares in pp)"),
                                 Text("标记", "Flag"), Text("样本数", "n")], rows))
    return section


def _scale_text(study: Study, lang: str) -> str:
    scale = str(study.manifest.get("scale") or study.runs["scale"].iloc[0])
    if scale not in SCALES:
        return scale
    provinces, cities, counties, units = SCALES[scale]
    total = provinces * cities * counties * units
    if lang == "zh":
        return (f"{scale_name(scale, lang)}规模，{provinces}省×{cities}市×{counties}县×每县{units}个基层单位，"
                f"共{total}个基层单位")
    return (f"{scale_name(scale, lang)} scale, {provinces} x {cities} x {counties} x {units} "
            f"(provinces x cities x counties x units per county) = {total} grassroots units")


def method_section(study: Study) -> Section:
    seeds = study.seeds_per_group
    mesa = " " + study.manifest["packages"]["mesa"] if "mesa" in study.manifest.get("packages", {}) else ""
    items = [
        say(lambda l: (f"模型：督查检查政策的主体建模（Mesa{mesa}），基层单位、督查机构与职能部门按周互动，指标按年统计。"
                       if l == "zh" else
                       f"Model: an agent-based model of supervision and inspection (Mesa{mesa}); grassroots units, "
                       "supervision bodies and departments interact week by week; metrics are counted per year.")),
        say(lambda l: ("规模：" if l == "zh" else "Scale: ") + _scale_text(study, l) + ("。" if l == "zh" else ".")),
        say(lambda l: (f"重复：每个{'情景' if study.kind == 'run' else '设计点'}{seeds}个随机种子；所有情景使用相同种子（共同随机数），差异按种子配对。"
                       if l == "zh" else
                       f"Replications: {seeds} seeds per {'scenario' if study.kind == 'run' else 'design point'}; "
                       "every one uses the same seeds (common random numbers), so differences are paired by seed.")),
        _calendar_text(study),
        STATISTICS[study.kind],
    ]
    if study.factors:
        items.append(say(lambda l: (
            f"设计：{len(study.groups)}个设计点，因素为" + _join([lever_name(f, l) for f in study.factors], l) + "。"
            if l == "zh" else
            f"Design: {len(study.groups)} design points over " + _join([lever_name(f, l) for f in study.factors], l)
            + ".")))
    items += [
        say(lambda l: (f"校准：{len(CALIBRATED)}个行为参数（{', '.join(CALIBRATED)}）由 run.py calibrate 按文件基线数据拟合，"
                       "写入 scenarios/baseline.yaml。"
                       if l == "zh" else
                       f"Calibration: {len(CALIBRATED)} behavioural parameters ({', '.join(CALIBRATED)}) are fitted by "
                       "run.py calibrate to the documents' baseline figures and kept in scenarios/baseline.yaml.")),
    ]
    blocks: list = [Bullets(items)]
    if not study.calibration.empty:
        blocks.append(Paragraph(Text("改革前最后一年（预热期）与文件基线数据对比：",
                                     "The last status-quo (burn-in) year against the documents' baseline figures:")))
        blocks.append(Table([Text("指标", "Metric"), Text("文件数据", "Document figure"),
                             Text("模型现状 [95%区间]", "Model status quo [95% interval]"),
                             Text("相对差", "Relative difference")],
                            [[say(lambda l, m=r.metric: metric_name(m, l)), format_value(r.metric, r.document),
                              format_estimate(r.metric, r.mean, r.low, r.high), fixed(100 * r.relative_gap, 0, signed=True) + "%"]
                             for r in study.calibration.itertuples()]))
    return Section(Text("方法说明", "Method"), blocks)


def _calendar_text(study: Study) -> Text:
    """The burn-in and policy years, and the judged year; scenarios with their own start years get
    theirs each, since the years of all of them together overlap (one's burn-in, another's policy)."""
    calendars = {group: tuple(_years(sorted(rows.loc[rows["phase"] == phase, "year"].unique()))
                              for phase in ("burn_in", "policy"))
                 for group, rows in study.runs.groupby("group", sort=False)}
    if len(set(calendars.values())) == 1:
        (burn_in, policy), = set(calendars.values())
        return say(lambda l: (f"时间：{burn_in}为改革前现状（预热期），{policy}为政策期；目标按{study.year_label(l)}评估。"
                              if l == "zh" else
                              f"Years: {burn_in} is the status quo before reform (burn-in), {policy} the "
                              f"policy period; targets are judged in the {study.year_label(l)}."))
    return say(lambda l: (
        "时间（各情景起始年份不同）：" + "；".join(f"{study.group_name(g, l)} 预热期{b}、政策期{p}" for g, (b, p) in
                                          calendars.items()) + f"；目标按{study.year_label(l)}评估。"
        if l == "zh" else
        "Years (the scenarios start in different years): " + "; ".join(
            f"{study.group_name(g, l)} burn-in {b}, policy {p}" for g, (b, p) in calendars.items())
        + f"; targets are judged in the {study.year_label(l)}."))


def _years(years: list) -> str:
    if not years:
        return "—"
    return str(years[0]) if len(years) == 1 else f"{years[0]}-{years[-1]}"


# What the soft metrics are and why two targets are not evaluated, in Chinese (the English is the
# metric's definition in model.metrics and the reason in analysis.comparison).
SOFT_DEFINITIONS_ZH = {
    "grassroots_recognition": "认可督查工作的基层单位占比（由负担、重复督查、督查有用性和问责公平性决定的logit）",
    "public_satisfaction": "群众平均满意度（由政策真实落实情况和重大问题事件决定的logit）",
}
NOT_EVALUATED_ZH = {
    "data_sharing_rate": "由数据共享率杠杆直接设定，不是模型结果",
    "inspection_cycle_reduction": "模型未模拟巡视周期长度",
}


def caveats_section(study: Study) -> Section:
    items = [say(lambda l, m=metric: (
        f"{metric_name(m, l)}（{m}）属于最软的指标之一：{SOFT_DEFINITIONS_ZH[m]}，仅拟合截距；只看方向，不看水平。"
        if l == "zh" else
        f"{metric_name(m, l)} ({m}) is among the softest metrics: {METRICS[m].removeprefix('SOFT: ')}, fitted only by "
        "its intercept; read its direction, not its level.")) for metric in SOFT_METRICS]
    compared = study.kind in ("run", "sweep")
    for metric, reason in NOT_MODEL_OUTCOMES.items() if compared else ():
        items.append(say(lambda l, m=metric, r=reason: f"目标 {m} 未评估：{NOT_EVALUATED_ZH[m]}。" if l == "zh" else
                         f"Target {m} is not evaluated: {r}."))
    items += _fewer_problems_caveats(study) + _judgement_caveats(study)
    seeds = study.seeds_per_group
    if compared and seeds < FEW_SEEDS:
        items.append(say(lambda l: (f"每组只有{seeds}个种子：区间较宽（1个种子时没有区间），达标概率以1/{seeds}为步长变化。"
                                    if l == "zh" else
                                    f"Only {seeds} seed{'s' if seeds > 1 else ''} per group: intervals are wide (none "
                                    f"with one seed) and probabilities move in steps of 1/{seeds}.")))
    if not study.calibration.empty:
        off = study.calibration[study.calibration["relative_gap"].abs() > CALIBRATION_TOLERANCE]
        if len(off):
            items.append(say(lambda l: (
                f"现状与文件数据相差超过{100 * CALIBRATION_TOLERANCE:.0f}%的指标：" if l == "zh" else
                f"The status quo differs from the documents' figure by more than {100 * CALIBRATION_TOLERANCE:.0f}% "
                "for: ") + _join([f"{metric_name(r.metric, l)} ({fixed(100 * r.relative_gap, 0, signed=True)}%)"
                                  for r in off.itertuples()], l) + ("；这些结果的水平需谨慎解读。" if l == "zh" else
                                                                    "; read their levels with care.")))
    # a figure from one county, one province or one case is weak; a national statistic is not
    weak = {name: b for name, b in load_document_figures()["baselines"].items()
            if str(b.get("quality", "")).startswith("single")}
    if weak:
        items.append(say(lambda l: ("部分文件基线数据仅来自单个县、省或案例：" if l == "zh" else
                                    "Some of the documents' baseline figures come from a single county, province or "
                                    "case: ")
                         + _join([f"{name} ({b['quality']})" for name, b in weak.items()], l)
                         + ("。" if l == "zh" else ".")))
    if study.sensitivity is not None:
        flagged = study.sensitivity[study.sensitivity["flag"] != ""]
        if len(flagged):
            items.append(say(lambda l: (
                f"{len(flagged)}个敏感性指数带标记：" if l == "zh" else f"{len(flagged)} sensitivity indices are flagged: ")
                + _join([f"{r.method} {r.index} {r.outcome}/{r.factor}: {r.flag}" for r in flagged.itertuples()], l)
                + ("。" if l == "zh" else ".")))
    items.append(say(lambda l: (
        f"结果取决于代码版本 {study.manifest.get('code_version', '?')} 的模型与校准；重新校准后需重新运行。" if l == "zh" else
        f"Results depend on the model and calibration at code version {study.manifest.get('code_version', '?')}; "
        "re-run after recalibration.")))
    return Section(Text("注意事项", "Caveats"), [Bullets(items)])


STATISTICS = {
    "run": Text("统计：均值及其95% t区间（跨种子）；达标概率为达到目标的种子占比（Wilson 95%区间见表格）；机制效果为与参照情景"
                "（运行了杠杆均为现状值的 baseline 时为现状，否则为第一个情景）的配对差及其95%区间。",
                "Statistics: means with 95% t-intervals over seeds; the probability of meeting a target is the share "
                "of seeds meeting it (Wilson 95% interval in the tables); mechanism effects are paired differences "
                "from the reference (the status quo when a baseline with every lever at its status-quo value was "
                "run, else the first scenario) with 95% intervals."),
    "sweep": Text("统计：每个扫描点的均值及其95% t区间（跨种子）；达标概率为达到目标的种子占比（Wilson 95%区间见表格）。",
                  "Statistics: each sweep point's mean with its 95% t-interval over seeds; the probability of meeting "
                  "a target is the share of seeds meeting it (Wilson 95% interval in the tables)."),
    "sensitivity": Text("统计：敏感性指数由实验模块（SALib）按各设计点的重复均值计算，区间为自助法95%区间；随机噪声占比为重复间方差占设计点均值方差的比例。",
                        "Statistics: the experiments compute the indices (SALib) on each design point's replicate "
                        "mean, with bootstrap 95% intervals; the noise share is the part of the variance of those "
                        "means "
                        "that is replication noise."),
}

PROVENANCE_KEYS = ("kind", "scenarios", "overrides", "method", "outcomes", "scale", "years", "replications", "started",
                   "finished", "code_version", "python", "platform")


def _judgement_caveats(study: Study) -> list[Text]:
    """What the scorecard's figures rest on, said when the results show it: groups cut to a common
    year, seeds left out where a metric is undefined, two targets judged on one number."""
    items, year = [], study.year
    longer = sorted(set(study.runs.loc[study.runs["year"] > year, "group"]))
    if not study.year_is_final:
        items.append(say(lambda l: (
            f"比较与目标评估在{year}年进行（用 --year 指定），而不是在模拟的最后一年（{study.runs['year'].max()}年）。"
            if l == "zh" else
            f"Groups are compared, and targets judged, in {year}, as chosen with --year, not in the last simulated "
            f"year ({study.runs['year'].max()}).")))
    elif longer:
        items.append(say(lambda l: (
            f"各组模拟年数不同：比较与目标评估统一在所有组都模拟到的最后一年（{year}年）；" if l == "zh" else
            f"The groups simulate different numbers of years: they are compared, and targets judged, in {year}, the "
            "last year all of them simulate; the later years of ") + _join([study.group_name(g, l) for g in longer], l)
            + ("之后的年份未纳入。" if l == "zh" else " are not used.")))
    card, seeds = study.scorecard, study.runs.groupby("group")["seed"].nunique()
    short = card[card["n"] < card["group"].map(seeds)] if not card.empty else card
    if len(short):
        items.append(say(lambda l: (
            "以下目标的达标概率只按该指标有定义的种子计算（例如分母为0的比率）：" if l == "zh" else
            "The probability of meeting these targets counts only the seeds where the metric is defined (e.g. a "
            "rate with a zero denominator): ") + _join(
                [f"{study.group_name(r.group, l)} {r.metric} ({r.n}/{seeds[r.group]})" for r in short.itertuples()], l)
            + ("。" if l == "zh" else ".")))
    twins = twin_metrics(study.runs[study.runs["year"] == year])
    pair = ("rectified_within_6_months", "rectification_completion_rate")
    if twins.get(pair[0]) == pair[1] and set(pair) <= set(card.get("metric", ())):
        within, completion = (f"{100 * card.loc[card['metric'] == m, 'target'].iloc[0]:.0f}%" for m in pair)
        items.append(say(lambda l: (
            f"模型中几乎所有通过验收的整改都在26周内完成，因此“6个月内整改”与“整改完成率”是同一个数，两个目标（{within}与"
            f"{completion}）只是门槛不同。" if l == "zh" else
            "In the model nearly every accepted rectification is accepted within 26 weeks, so rectified_within_6_months "
            f"and rectification_completion_rate are one number here: their two targets ({within} and {completion}) "
            "differ only in their thresholds.")))
    return items


def _fewer_problems_caveats(study: Study) -> list[Text]:
    """detection_gain counts leads found: problems and falsified reports. A group that leaves fewer
    problems to find, or fewer falsified reports to catch, can show fewer leads while finding a
    larger share of the problems there are. Said wherever the effects show it, with both stocks
    before and after, so the two detection figures are not read as contradicting each other and the
    reader sees which of the two stocks shrank."""
    if study.effects.empty:
        return []
    shown = []
    for group in dict.fromkeys(study.effects["group"]):
        gain, rate, latent, falsified = (_effect(study, group, m) for m in (
            "detection_gain", "detection_rate", "latent_problems_per_unit", "falsification_rate"))
        if any(e is None for e in (gain, rate, latent, falsified)):
            continue
        if gain["high"] < 0 < rate["low"] and (latent["high"] < 0 or falsified["high"] < 0):
            shown.append((group, latent, falsified))
    if not shown:
        return []

    def before_after(effect: pd.Series, metric: str) -> str:
        return (f"{format_value(metric, effect['reference_mean'])} -> "
                f"{format_value(metric, effect['reference_mean'] + effect['diff'])}")

    def groups(lang: str) -> str:
        return _join([f"{study.group_name(g, lang)} ({_effect_text(study, g, 'detection_gain', lang)}; "
                      f"{_effect_text(study, g, 'detection_rate', lang)}; "
                      f"{before_after(latent, 'latent_problems_per_unit')}; {before_after(falsified, 'falsification_rate')})"
                      for g, latent, falsified in shown], lang)
    return [say(lambda l: (
        "以下情景中，问题线索发现增幅下降而问题发现率上升，二者并不矛盾：线索包括发现的问题和查出的虚报，"
        "待发现的问题或可查出的虚报变少了，线索数随之减少；文件“线索+40%”目标以问题存量不变为前提。"
        "括号内依次为线索增幅变化、发现率变化、每单位潜在问题数、虚报进度的报告占比"
        f"（{study.reference_name(l)} -> 情景）："
        + groups(l) + "。"
        if l == "zh" else
        "Problem leads found fall while the share of problems found rises under the groups below; the two do not "
        "contradict each other: leads are problems found plus falsified reports caught, and fewer problems are "
        "left to find or fewer falsified reports to catch, so fewer leads (the documents' +40% leads target "
        "presumes an unchanged stock of problems). In brackets: change in leads found; change in share found; latent "
        f"problems per unit and the share of reports falsified, {study.reference_name(l)} -> group: "
        + groups(l) + "."))]


def provenance_section(study: Study) -> Section:
    manifest = study.manifest
    rows = [["results", str(study.folder.resolve())]]
    if study.kind in ("run", "sweep"):
        rows.append(["judged year", str(study.year) + ("" if study.year_is_final else " (--year)")])
    for key in PROVENANCE_KEYS:
        if key in manifest and manifest[key] not in (None, [], ""):
            rows.append([key, _compact(manifest[key])])
    seeds = manifest.get("seeds")
    if seeds is not None:
        rows.append(["seeds", _compact(seeds)])
    if manifest.get("factors"):
        rows.append(["factors", ", ".join(str(f.get("name", f)) if isinstance(f, dict) else str(f)
                                          for f in manifest["factors"])])
    if manifest.get("packages"):
        rows.append(["packages", ", ".join(f"{k} {v}" for k, v in manifest["packages"].items())])
    return Section(Text("数据来源", "Provenance"), [
        Paragraph(Text("本简报由结果文件夹自动生成，完整清单见 results_manifest.json。",
                       "Generated from the results folder below; the full manifest is in results_manifest.json.")),
        Table([Text("项", "Field"), Text("值", "Value")], rows)])


def _compact(value) -> str:
    if isinstance(value, list):
        shown = ", ".join(str(v) for v in value[:20])
        return shown + (f", ... ({len(value)} in all)" if len(value) > 20 else "")
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_compact(v)}" for k, v in value.items())
    return str(value)
