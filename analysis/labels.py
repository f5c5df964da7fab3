"""The one bilingual label table for metric, lever, scenario and headline-measure names, and the
one way numbers are written; charts, tables and the briefing all use it so they always agree.

Languages: "zh" (Chinese), "en" (English), "both" (Chinese then English).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from model.errors import UserError

LANGS = ("zh", "en", "both")


class LabelError(UserError):
    """An unknown language code."""


@dataclass(frozen=True)
class Label:
    zh: str
    en: str
    unit_zh: str = ""
    unit_en: str = ""
    # how values are written: share (as %), change (relative change, as %), index (3 decimals),
    # number (about 3 significant digits)
    kind: str = "number"


def _share(zh: str, en: str, unit_zh: str = "%", unit_en: str = "%") -> Label:
    return Label(zh, en, unit_zh, unit_en, "share")


METRIC_LABELS: dict[str, Label] = {
    "inspections_per_unit_year": Label("每单位年均接受督查次数", "Inspections per unit", "次/年", "per year"),
    "onsite_inspections_per_unit_year": Label("每单位年均现场督查次数", "On-site inspections per unit", "次/年",
                                              "visits per year"),
    "remote_inspections_per_unit_year": Label("每单位年均非现场督查次数", "Remote inspections per unit", "次/年", "per year"),
    "duplicate_inspection_share": _share("重复督查占比", "Duplicate inspections", "占督查次数%", "% of inspections"),
    "hosting_time_share": _share("迎检时间占比", "Time spent hosting inspections", "占工作时间%", "% of working time"),
    "material_hours_per_week": Label("每周材料台账工时", "Hours on supervision materials", "小时/周", "hours per week"),
    "supervision_time_share": _share("督查负担（迎检+材料）", "Supervision burden (hosting + materials)",
                                     "占工作时间%", "% of working time"),
    "detection_rate": _share("问题发现率", "Problem detection rate", "占应查问题%", "% of problems in scope"),
    "detection_rate_comprehensive": _share("综合督查问题发现率", "Detection rate, comprehensive visits",
                                           "占应查问题%", "% of problems in scope"),
    "detection_rate_special": _share("专项督查问题发现率", "Detection rate, special inspections",
                                     "占应查问题%", "% of problems in scope"),
    "problems_found_per_unit_year": Label("每单位年均发现问题线索", "Problem leads found per unit", "条/年", "per year"),
    "detection_gain": Label("问题线索发现增幅", "Gain in problem leads found", "较现状%", "% vs status quo",
                            "change"),
    "major_problem_miss_rate": _share("重大问题漏查率", "Major problems missed", "%", "%"),
    "rectification_completion_rate": _share("整改完成率", "Rectification completion rate"),
    "rectification_acceptance_pass_rate": _share("整改验收通过率", "Rectification acceptance pass rate"),
    "surface_rectification_share": _share("表面整改、虚假整改占比", "Surface or false rectification"),
    "rebound_rate": _share("问题反弹率", "Problem rebound rate"),
    "rectified_within_6_months": _share("6个月内整改到位率", "Rectified within 6 months"),
    "rectification_days": Label("整改平均天数", "Days to rectify a problem", "天", "days"),
    "task_completion_days": Label("督办事项平均办结天数", "Days to close a supervised task", "天", "days"),
    "accountability_rate": _share("问责转化率", "Accountability rate", "占问题线索%", "% of problem leads"),
    "falsification_rate": _share("虚报进度占比", "Falsified progress reports", "占季度报告%", "% of quarterly reports"),
    "documented_true_gap": _share("纸面与实际落实差距", "Documented minus true implementation"),
    "material_excess_share": _share("超额材料时间占比", "Excess material time", "占工作时间%", "% of working time"),
    "formalism_index": Label("形式主义指数", "Formalism index", "指数（0-1）", "index (0-1)", "index"),
    "policy_implementation_rate": _share("政策落实率", "Policy implementation rate"),
    "data_acquisition_days": Label("数据获取时间", "Days to obtain data", "工作日", "working days"),
    "latent_problems_per_unit": Label("每单位未发现问题数（年末）", "Undetected problems per unit (year end)", "个", "problems"),
    "grassroots_recognition": _share("基层认可度", "Grassroots recognition"),
    "public_satisfaction": _share("群众满意度", "Public satisfaction"),
}

LEVER_LABELS: dict[str, Label] = {
    "joint_inspection_share": _share("联合督查比例", "Joint inspection share"),
    "merge_rate": _share("督查事项合并率", "Item merge rate"),
    "outcome_weight": _share("结果指标权重", "Weight of outcome indicators"),
    "accountability_intensity": _share("问责力度", "Accountability intensity"),
    "sanction_severity": Label("问责严厉程度", "Sanction severity", "倍", "x standard"),
    "tolerance": _share("容错纠错比例", "Tolerance for honest error"),
    "unannounced_share": _share("“四不两直”暗访比例", "Unannounced visits"),
    "remote_share": _share("非现场督查比例", "Off-site inspection share"),
    "data_sharing_rate": _share("数据共享率", "Data sharing rate"),
    "negative_list_share": _share("负面清单执行比例", "Negative list applied"),
    "closed_loop": _share("闭环整改比例", "Closed-loop rectification"),
    "third_party_share": _share("第三方评估比例", "Third-party evaluation share"),
    "material_reduction": _share("材料精简比例", "Material reduction"),
    "escalation_per_level": _share("层层加码幅度", "Layer-by-layer escalation", "每级%", "% per level"),
    "special_inspection_share": _share("专项督查比例", "Special inspection share"),
    "professional_share": _share("专业背景督查人员比例", "Professional inspectors"),
    "responsibility_clarity": _share("责任主体明确比例", "Clear responsibility"),
    "inspection_capacity": Label("督查力量", "Inspection capacity", "相对现状倍数", "x status quo"),
}

# Behavioural parameters as sensitivity studies name them (behaviour.x): short names for charts;
# model/params.py describes each one.
BEHAVIOUR_LABELS: dict[str, Label] = {
    "items_scale": Label("事项数量倍数", "Items issued (multiplier)"),
    "topic_concentration": Label("议题集中度", "Topic concentration"),
    "relay_probability": Label("层层转发概率", "Relay of upper-level items"),
    "hosting_load": Label("迎检负荷", "Hosting load per visit"),
    "unannounced_hosting_factor": Label("暗访迎检负荷系数", "Hosting factor, unannounced"),
    "remote_hosting_factor": Label("非现场迎检负荷系数", "Hosting factor, remote"),
    "remote_data_compilation": Label("非现场数据整理负荷", "Data compilation, remote"),
    "joint_member_load": Label("联合督查成员附加负荷", "Extra load per joint member"),
    "max_hosting_share": Label("迎检时间上限", "Cap on weekly hosting"),
    "ledger_share": Label("台账时间占比", "Ledger time share"),
    "material_demand": Label("材料需求规模", "Material demand scale"),
    "item_load_elasticity": Label("材料需求对事项弹性", "Material elasticity to items"),
    "folded_item_ledger_share": Label("合并事项台账保留比例", "Ledgers kept for folded items"),
    "data_sharing_material_relief": Label("数据共享减材料", "Material relief from data sharing"),
    "minimum_real_work": Label("最低实干时间", "Minimum real work"),
    "adjustment_speed": Label("材料投入调整速度", "Adjustment speed of materials"),
    "productivity": Label("实干产出曲率", "Productivity of real work"),
    "evaluation_stake": Label("考核利害", "Evaluation stake"),
    "embellishment": Label("材料美化程度", "Embellishment by materials"),
    "intrinsic_weight": Label("内在动机权重", "Intrinsic motivation weight"),
    "defensive_weight": Label("避责权重", "Blame-avoidance weight"),
    "material_need": Label("必要材料时间", "Material time needed"),
    "integrity_a": Label("诚信分布参数a", "Integrity Beta a"),
    "integrity_b": Label("诚信分布参数b", "Integrity Beta b"),
    "initial_problems": Label("初始潜在问题数", "Initial latent problems"),
    "problem_arrival": Label("问题产生率", "Problem arrival rate"),
    "arrival_work_sensitivity": Label("问题产生对实干敏感度", "Arrival sensitivity to real work"),
    "reference_real_work": Label("参照实干时间", "Reference real work"),
    "self_fix_rate": Label("自行整改率", "Self-fix rate"),
    "major_share": Label("重大问题比例", "Share of major problems"),
    "major_eruption": Label("重大问题爆发率", "Major problem eruption hazard"),
    "exogenous_share": Label("客观原因问题比例", "Share of exogenous problems"),
    "detection_base": Label("基础发现率", "Base detection"),
    "special_depth": Label("专项督查深度", "Depth of special inspections"),
    "professional_effect": Label("专业化督查效应", "Effect of professional inspectors"),
    "concealment": Label("隐瞒程度", "Concealment"),
    "unannounced_concealment_factor": Label("暗访隐瞒系数", "Concealment factor, unannounced"),
    "data_detection": Label("数据发现率", "Detection from data"),
    "quantifiable_share": Label("可量化问题比例", "Share of quantifiable problems"),
    "major_visibility": Label("重大问题可见度", "Visibility of major problems"),
    "max_depth": Label("最大督查深度", "Maximum visit depth"),
    "falsification_detection": Label("造假发现率", "Falsification detection"),
    "unannounced_falsification_factor": Label("暗访造假发现系数", "Falsification factor, unannounced"),
    "data_falsification_factor": Label("数据造假发现系数", "Falsification factor, data"),
    "genuine_fix_weeks": Label("真整改周数", "Weeks of a genuine fix"),
    "unclear_delay_weeks": Label("责任不清延误周数", "Delay when responsibility unclear"),
    "surface_cost_ratio": Label("真假整改成本比", "Genuine/surface fix cost ratio"),
    "genuine_fix_cost": Label("真整改成本", "Cost of a genuine fix"),
    "choice_noise": Label("选择噪声", "Choice noise"),
    "acceptance_check": Label("验收发现表面整改", "Acceptance catches surface fix"),
    "recheck_catch": Label("回访发现表面整改", "Recheck catches surface fix"),
    "quality_failure": Label("真整改验收不合格率", "Quality failure of genuine fixes"),
    "deadline_weeks": Label("整改期限周数", "Rectification deadline"),
    "rebound_surface": Label("表面整改反弹率", "Rebound after surface fix"),
    "rebound_genuine": Label("真整改反弹率", "Rebound after genuine fix"),
    "surface_sanction_multiplier": Label("表面整改问责倍数", "Sanction multiplier, surface fix"),
    "falsification_sanction_multiplier": Label("造假问责倍数", "Sanction multiplier, falsification"),
    "major_sanction_multiplier": Label("重大问题问责倍数", "Sanction multiplier, major"),
    "sanction_memory_weeks": Label("问责记忆周数", "Sanction memory"),
    "belief_learning_rate": Label("被查预期学习率", "Belief learning rate"),
    "falsification_gain": Label("造假收益", "Gain from falsification"),
    "sanction_cost": Label("问责成本", "Cost of a sanction"),
    "falsification_cost": Label("造假成本", "Cost of falsification"),
    "target_base": Label("基础目标", "Base target"),
    "data_departments": Label("涉数部门数", "Departments holding data"),
    "data_request_days": Label("数据申请天数", "Days per data request"),
    "task_processing_days": Label("任务办理天数", "Task processing days"),
    "task_data_need": Label("任务需跨部门数据比例", "Tasks needing shared data"),
    "recognition_intercept": Label("基层认可截距", "Recognition intercept"),
    "satisfaction_intercept": Label("群众满意截距", "Satisfaction intercept"),
}

SCENARIO_LABELS: dict[str, Label] = {
    "baseline": Label("现状（基线）", "Status quo (baseline)"),
    "accountability": Label("强化问责", "Stronger accountability"),
    "closed_loop": Label("闭环整改", "Closed-loop rectification"),
    "data_sharing": Label("数据共享", "Data sharing"),
    "first_contact_responsibility": Label("首接负责制（1+N）", "First-contact responsibility (1+N)"),
    "joint_inspection": Label("联合督查", "Joint inspection"),
    "material_reduction": Label("精简材料", "Fewer materials"),
    "merge_items": Label("督查事项合并", "Merge inspection items"),
    "negative_list": Label("负面清单", "Negative list"),
    "outcome_weight": Label("结果导向考核", "Outcome-based evaluation"),
    "professional_inspectors": Label("专业化督查队伍", "Professional inspectors"),
    "remote_inspection": Label("非现场督查", "Off-site inspection"),
    "third_party": Label("第三方评估", "Third-party evaluation"),
    "tolerance": Label("容错纠错", "Tolerance for honest error"),
    "unannounced": Label("“四不两直”暗访", "Unannounced visits"),
    "documents_reform": Label("文件改革组合方案", "Documents' reform package"),
}

# The three headline measures every chart and the briefing summarise (see analysis.measures).
MEASURE_LABELS: dict[str, Label] = {
    "burden": Label("督查负担", "Burden"),
    "detection": Label("问题发现", "Detection"),
    "formalism": Label("形式主义", "Formalism"),
}

SCALE_LABELS: dict[str, Label] = {
    "county": Label("县级", "county"),
    "city": Label("市级", "city"),
    "province": Label("省级", "province"),
    "national": Label("全国", "national"),
}

PHASE_LABELS: dict[str, Label] = {
    "burn_in": Label("现状（改革前）", "status quo"),
    "pilot": Label("试点", "pilot"),
    "rollout": Label("推广", "rollout"),
    "consolidation": Label("巩固", "consolidation"),
}


def check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise LabelError(f"--lang: {lang!r} is not a language; allowed: {', '.join(LANGS)}")
    return lang


def pick(zh: str, en: str, lang: str, separator: str = " ") -> str:
    """One text in the report's language; "both" gives Chinese, separator, English."""
    if lang == "zh":
        return zh
    if lang == "en":
        return en
    return f"{zh}{separator}{en}"


def _name(table: dict[str, Label], key: str, lang: str, separator: str) -> str:
    label = table.get(key)
    return key if label is None else pick(label.zh, label.en, lang, separator)


def metric_name(metric: str, lang: str, separator: str = " ") -> str:
    return _name(METRIC_LABELS, metric, lang, separator)


def lever_name(lever: str, lang: str, separator: str = " ") -> str:
    """Levers and other factors (levers.x or x), and behavioural parameters (behaviour.x)."""
    if lever.startswith("behaviour.") and lever.removeprefix("behaviour.") in BEHAVIOUR_LABELS:
        return _name(BEHAVIOUR_LABELS, lever.removeprefix("behaviour."), lang, separator)
    return _name(LEVER_LABELS, lever.removeprefix("levers."), lang, separator)


def scenario_name(scenario: str, lang: str, separator: str = " ") -> str:
    return _name(SCENARIO_LABELS, scenario, lang, separator)


def measure_name(measure: str, lang: str, separator: str = " ") -> str:
    return _name(MEASURE_LABELS, measure, lang, separator)


def scale_name(scale: str, lang: str, separator: str = " ") -> str:
    return _name(SCALE_LABELS, scale, lang, separator)


def phase_name(phase: str, lang: str, separator: str = " ") -> str:
    return _name(PHASE_LABELS, phase, lang, separator)


def metric_unit(metric: str, lang: str, separator: str = " / ") -> str:
    label = METRIC_LABELS.get(metric)
    return "" if label is None else pick(label.unit_zh, label.unit_en, lang, separator)


def value_kind(metric: str) -> str:
    label = METRIC_LABELS.get(metric) or LEVER_LABELS.get(metric.removeprefix("levers."))
    return "number" if label is None else label.kind


def stored_unit(metric: str, lang: str, separator: str = " / ") -> str:
    """The unit of a metric as the results and tables hold it: shares and changes as fractions,
    which the charts and the text show as %."""
    if display_scale(metric) != 1.0:
        return pick("比例（×100为%）", "fraction (x100 for %)", lang, separator)
    return metric_unit(metric, lang, separator)


def display_scale(metric: str) -> float:
    """Factor from model units to the units shown: shares and relative changes are shown in %."""
    return 100.0 if value_kind(metric) in ("share", "change") else 1.0


def fixed(value: float, decimals: int, signed: bool = False) -> str:
    """Fixed-point text. A value that rounds to zero keeps its side: an interval bound of -0.04 is
    '-0.0', so [-0.0, +1.2] does not read as excluding zero. Float noise reads as zero: a difference
    of -1e-15 (float rounding between two equal means) is '+0.000', not '-0.000'."""
    rounded = round(value, decimals) + 0.0  # + 0.0 turns -0.0 into 0.0
    text = f"{rounded:+.{decimals}f}" if signed else f"{rounded:.{decimals}f}"
    if rounded == 0 and value < -NOISE:
        return "-" + text.lstrip("+")
    return text


NOISE = 1e-9  # in the units shown: below it, a difference is float rounding between equal numbers


def format_number(value: float, signed: bool = False) -> str:
    """About three significant digits, fixed-point (values here are far from 1e4 and 1e-3)."""
    def digits(magnitude: float) -> int:
        return 0 if magnitude >= 100 else 1 if magnitude >= 10 else 2 if magnitude >= 1 else 3

    # digits of the value as rounded: 0.9996 is written 1.00 like 1.0, not 1.000
    return fixed(value, digits(round(abs(value), digits(abs(value)))), signed)


def _finite(value) -> bool:
    return value is not None and isinstance(value, (int, float)) and math.isfinite(value)


def format_value(metric: str, value: float | None, signed: bool = False) -> str:
    """A metric value as shown everywhere: shares as %, the formalism index with 3 decimals."""
    if not _finite(value):
        return "n/a"
    kind = value_kind(metric)
    if kind in ("share", "change"):
        return fixed(100 * value, 1, signed or kind == "change") + "%"
    if kind == "index":
        return fixed(value, 3, signed)
    return format_number(value, signed)


def format_difference(metric: str, value: float | None, lang: str) -> str:
    """A paired difference: shares in percentage points, other metrics in their own units."""
    if not _finite(value):
        return "n/a"
    if value_kind(metric) in ("share", "change"):
        return fixed(100 * value, 1, signed=True) + pick("个百分点", " pp", lang)
    return format_value(metric, value, signed=True)


def format_bounds(metric: str, low: float | None, high: float | None, difference: bool = False) -> str:
    """The 95% interval as [low, high], in the same units as the value beside it."""
    if not (_finite(low) and _finite(high)):
        return "[n/a]"
    if difference and value_kind(metric) in ("share", "change"):
        return f"[{fixed(100 * low, 1, signed=True)}, {fixed(100 * high, 1, signed=True)}]"
    return f"[{format_value(metric, low, signed=difference)}, {format_value(metric, high, signed=difference)}]"


def format_estimate(metric: str, value, low, high, lang: str = "en", difference: bool = False) -> str:
    """Value with its 95% interval, e.g. '42.1% [40.3%, 43.9%]' or '-2.1 pp [-2.9, -1.3]'."""
    shown = format_difference(metric, value, lang) if difference else format_value(metric, value)
    return f"{shown} {format_bounds(metric, low, high, difference)}"


def format_plus_minus(metric: str, mean: float | None, half_width: float | None) -> str:
    """Compact mean ± half-width of the 95% interval, both with the mean's decimals (for chart cells)."""
    if not _finite(mean):
        return "n/a"
    if not _finite(half_width):
        return format_value(metric, mean)
    kind = value_kind(metric)
    if kind in ("share", "change"):
        sign = "+" if kind == "change" else ""
        return f"{100 * mean:{sign}.1f}±{100 * half_width:.1f}%"
    if kind == "index":
        return f"{mean:.3f}±{half_width:.3f}"
    decimals = len(format_number(mean).partition(".")[2])
    return f"{mean:.{decimals}f}±{half_width:.{decimals}f}"


def format_probability(p: float | None) -> str:
    return "n/a" if not _finite(p) else f"{100 * p:.0f}%"
