"""The briefing's charts, drawn from a study's analysis tables (never from the model).

Each function returns (figure, data) where data holds exactly the numbers drawn, in the units
shown, or None when the study has nothing to draw for that chart. Composite texts are built per
language by a function of one language, so `both` shows the Chinese wording, then the English.
"""
from __future__ import annotations

import math
from typing import Callable

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from analysis.labels import (display_scale, format_number, format_plus_minus, format_probability, format_value,
                             lever_name, measure_name, metric_name, metric_unit, phase_name, value_kind)
from analysis.measures import HEADLINES
from analysis.sensitivity import methods_and_outcomes, ranked_factors
from analysis.study import Study
from experiments.sensitivity import NO_EFFECT
from model import SOFT_METRICS

from .style import (BETTER, FORMALISM_COLOURMAP, GRID_COLOUR, PHASE_SHADES, PROBABILITY_COLOURMAP,
                    REFERENCE_COLOUR, SERIES_COLOURS, UNCLEAR, WORSE)

OPERATOR_SIGNS = {"<=": "≤", "<": "<", ">=": "≥", ">": ">"}
VERDICT_COLOURS = {"better": BETTER, "worse": WORSE, "unclear": UNCLEAR, "": UNCLEAR}
MAX_NUMBERED_POINTS = 30
WIDE_INTERVALS = 4          # intervals spanning more than this many times the means' range are cut at the frame
MIN_LABELLED_SPAN = 0.25    # years: shorter visible phases are neither shaded nor labelled
MAX_ANNOTATED_COLUMNS = 20  # wider scorecards print only the probability in each cell
MORRIS_SHOWN_FACTORS = 8     # per outcome; the full ranking is in tables/sensitivity_indices
LABEL_OFFSETS = ((6, 4), (6, -12), (-14, 4), (-14, -12), (-4, 9), (-4, -17), (10, -4), (-20, -4))
# Farther places, drawn with a leader line to the point, for labels a crowd leaves no clear near place.
FAR_LABEL_OFFSETS = ((20, 16), (20, -28), (-30, 16), (-30, -28), (-4, 26), (-4, -34), (28, -4), (-38, -4))


def _say(lang: str, build: Callable[[str], str], separator: str = " / ") -> str:
    """A text in the chart's language; with `both`, the Chinese wording, separator, the English."""
    return f"{build('zh')}{separator}{build('en')}" if lang == "both" else build(lang)


def _zh(lang: str, chinese: str, english: str) -> str:
    """For one language only (never `both`)."""
    return chinese if lang == "zh" else english


def _title(figure, title: str, subtitle: str) -> None:
    """Title and a one-line subtitle saying what is shown and how uncertain it is."""
    figure.text(0.01, 1.0, title, fontsize=13, ha="left", va="bottom", transform=figure.transFigure)
    figure.text(0.01, 0.995, subtitle, fontsize=9, color="#555555", ha="left", va="top",
                transform=figure.transFigure)


def _difference_unit(metric: str, lang: str) -> str:
    kind = value_kind(metric)
    if kind in ("share", "change"):
        return _zh(lang, "百分点", "percentage points")
    if kind == "index":
        return _zh(lang, "指数点", "index points")
    return metric_unit(metric, lang)


def _panel_title(measure: str, metric: str, lang: str) -> str:
    lower = next(h.lower_is_better for h in HEADLINES.values() if h.metric == metric)
    if lang == "zh":
        return f"{measure_name(measure, lang)}（{'越低越好' if lower else '越高越好'}）"
    return f"{measure_name(measure, lang)} ({'lower' if lower else 'higher'} is better)"


def _seeds(study: Study, lang: str) -> str:
    return _zh(lang, f"每组{study.seeds_per_group}个随机种子", f"{study.seeds_per_group} seeds each")


# 1. mechanism effects ------------------------------------------------------------------------

def mechanism_effects_chart(study: Study, lang: str):
    effects = study.effects
    if effects.empty:
        return None
    others = [g for g in study.groups if g != study.reference]
    burden = effects[effects["metric"] == HEADLINES["burden"].metric].set_index("group")["diff"]
    mechanisms = sorted((g for g in others if g not in study.packages), key=lambda g: burden.get(g, 0.0))
    order = mechanisms + [g for g in others if g in study.packages]
    positions = {group: len(order) - 1 - i for i, group in enumerate(order)}
    unit_break = "" if study.reference_is_status_quo else "\n"  # a scenario's name is too long for one line
    languages = 2 if lang == "both" else 1
    label_lines = languages * (2 if unit_break else 1) + languages  # the x labels' and the panel titles' lines
    figure, axes = plt.subplots(1, 3, sharey=True, figsize=(12, 1.2 + 0.34 * len(order) + 0.22 * label_lines))
    rows = []
    for axis, (measure, headline) in zip(axes, HEADLINES.items()):
        chosen = effects[effects["metric"] == headline.metric].set_index("group")
        scale = display_scale(headline.metric)
        for group in order:
            row = chosen.loc[group]
            x, low, high = row["diff"] * scale, row["low"] * scale, row["high"] * scale
            colour = VERDICT_COLOURS[row["verdict"]]
            error = [[x - low], [high - x]] if math.isfinite(low) else None
            axis.errorbar(x, positions[group], xerr=error, fmt="o", color=colour, ecolor=colour, elinewidth=1.6,
                          capsize=3, markersize=5.5)
            rows.append({"scenario": group, "label": study.group_name(group, lang), "measure": measure,
                         "metric": headline.metric, "difference": x, "low": low, "high": high,
                         "unit": _say(lang, lambda l, m=headline.metric: _difference_unit(m, l)),
                         "verdict": row["verdict"], "n": row["n"]})
        axis.axvline(0, color=REFERENCE_COLOUR, linewidth=0.9)
        axis.grid(axis="x", color=GRID_COLOUR)
        axis.xaxis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 5, 10]))  # a third of the width: default ticks collide
        axis.set_axisbelow(True)
        axis.set_title(_say(lang, lambda l, m=measure, h=headline: _panel_title(m, h.metric, l), "\n"))
        axis.set_xlabel(_say(lang, lambda l, h=headline: _zh(l, f"与{study.reference_name(l)}之差{unit_break}（{_difference_unit(h.metric, l)}）",
                                                            f"Change vs {study.reference_name(l).removeprefix('the ')}"
                                                            f"{unit_break or ' '}"
                                                            f"({_difference_unit(h.metric, l)})"),
                             "\n"))
        if study.packages and mechanisms:
            axis.axhline(len(order) - len(mechanisms) - 0.5, color="#BBBBBB", linestyle=":", linewidth=1)
    axes[0].set_yticks(list(positions.values()), [study.group_name(g, lang) for g in positions])
    axes[0].set_ylim(-0.7, len(order) - 0.3)
    legend = [Line2D([], [], marker="o", linestyle="", color=VERDICT_COLOURS[verdict],
                     label=_say(lang, lambda l, zh=zh, en=en: _zh(l, zh, en), " "))
              for verdict, zh, en in (("better", "改善（区间不含0）", "better (interval excludes 0)"),
                                      ("worse", "恶化（区间不含0）", "worse (interval excludes 0)"),
                                      ("unclear", "不确定（区间含0）", "unclear (interval includes 0)"))]
    figure.legend(handles=legend, loc="lower center", ncol=3, frameon=False, bbox_to_anchor=(0.5, -0.02))
    figure.tight_layout(rect=(0, 0.05, 1, 0.94 if lang != "both" else 0.92))
    _title(figure, _say(lang, lambda l: _zh(l, "各项机制对督查负担、问题发现和形式主义的影响",
                                            "Effect of each mechanism on burden, detection and formalism")),
           _say(lang, lambda l: _zh(l, f"{study.year_label(l)}，与{study.reference_name(l)}按种子配对之差：均值与95%区间，"
                                       f"{_seeds(study, l)}",
                                    f"{study.year_label(l).capitalize()}, paired difference from {study.reference_name(l)}: mean and "
                                    f"95% interval, {_seeds(study, l)}"), " | "))
    return figure, pd.DataFrame(rows)


# 2. target scorecard ----------------------------------------------------------------------------

def _target_text(metric: str, op: str, value: float) -> str:
    return f"{OPERATOR_SIGNS[op]} {format_value(metric, value)}"


def _half_width(low: float, high: float) -> float:
    return (high - low) / 2 if math.isfinite(low) and math.isfinite(high) else math.nan


def target_scorecard_chart(study: Study, lang: str):
    card = study.scorecard
    if card.empty:
        return None
    targets = list(dict.fromkeys(card["metric"]))
    groups = study.groups
    table = card.set_index(["metric", "group"])
    probability = np.array([[table.loc[(m, g), "p_met"] for g in groups] for m in targets], dtype=float)
    dense = len(groups) > MAX_ANNOTATED_COLUMNS
    row_height = 0.5 if lang == "both" else 0.4
    width = 4.5 + (0.34 if dense else 0.82) * len(groups)
    figure, axis = plt.subplots(figsize=(width, 2.6 + row_height * len(targets)))
    image = axis.imshow(probability, cmap=PROBABILITY_COLOURMAP, vmin=0, vmax=1, aspect="auto")
    rows = []
    for i, metric in enumerate(targets):
        for j, group in enumerate(groups):
            cell = table.loc[(metric, group)]
            scale = display_scale(metric)
            p = cell["p_met"]
            light_text = math.isfinite(p) and p > 0.85
            if dense:
                axis.text(j, i, f"{100 * p:.0f}" if math.isfinite(p) else "", ha="center", va="center", fontsize=6,
                          color="white" if light_text else "black")
            else:
                axis.text(j, i - 0.14, format_probability(p), ha="center", va="center", fontsize=9.5,
                          color="white" if light_text else "black")
                axis.text(j, i + 0.22, format_plus_minus(metric, cell["mean"], _half_width(cell["low"], cell["high"])),
                          ha="center", va="center", fontsize=6.5, color="white" if light_text else "#333333")
            rows.append({"target_metric": metric, "target": _target_text(metric, cell["op"], cell["target"]),
                         "scenario": group, "label": study.group_name(group, lang), "p_met": p,
                         "p_low": cell["p_low"], "p_high": cell["p_high"], "mean": cell["mean"] * scale,
                         "low": cell["low"] * scale, "high": cell["high"] * scale, "unit": metric_unit(metric, lang),
                         "n": cell["n"]})
    y_labels = [metric_name(m, lang, "\n") + ("†" if m in SOFT_METRICS else "") + "  "
                + _target_text(m, table.loc[(m, groups[0]), "op"], table.loc[(m, groups[0]), "target"])
                for m in targets]
    axis.set_yticks(range(len(targets)), y_labels)
    axis.set_xticks(range(len(groups)), [study.group_name(g, lang, "\n", "\n") for g in groups],
                    rotation=90 if dense else 35, ha="right", rotation_mode="anchor", fontsize=7 if dense else 9)
    axis.set_xticks(np.arange(len(groups) + 1) - 0.5, minor=True)
    axis.set_yticks(np.arange(len(targets) + 1) - 0.5, minor=True)
    axis.grid(which="minor", color="white", linewidth=2)
    axis.tick_params(which="both", length=0)
    for spine in axis.spines.values():
        spine.set_visible(False)
    colourbar = figure.colorbar(image, ax=axis, fraction=0.025, pad=0.01)
    colourbar.set_label(_say(lang, lambda l: _zh(l, "达标概率（达标种子占比）", "P(meet target): share of seeds"), "\n"))
    colourbar.ax.yaxis.set_major_formatter(lambda v, _: f"{100 * v:.0f}%")
    figure.tight_layout(rect=(0, 0.04, 1, 0.94))
    figure.text(0.01, 0.0, _say(lang, lambda l: _zh(
        l, ("格内：达标概率（%）；均值及95%区间见CSV。" if dense else "格内上行：达标概率；下行：均值±95%区间半宽。")
        + "† 最软指标（仅拟合截距的简单logit），只看方向。",
        ("In each cell: probability of meeting the target (%); means and 95% intervals are in the CSV. " if dense else
         "In each cell, top: probability of meeting the target; bottom: mean ± half-width of its 95% interval. ")
        + "† softest metrics (simple logits fitted only by intercept): read direction only."), "\n"),
                fontsize=8, color="#555555", ha="left", va="bottom")
    _title(figure, _say(lang, lambda l: _zh(l, "文件目标达标情况", "Document targets: probability of meeting each one")),
           _say(lang, lambda l: _zh(l, f"{study.year_label(l)}，{_seeds(study, l)}",
                                    f"{study.year_label(l).capitalize()}, {_seeds(study, l)}"), " | "))
    return figure, pd.DataFrame(rows)


# 3. trade-off map ------------------------------------------------------------------------------

def trade_off_chart(study: Study, lang: str):
    table = study.tradeoffs
    if table.empty:
        return None
    drawable = table[list(HEADLINES)].notna().all(axis=1)  # a measure undefined (no inspections): no place
    undrawn = [study.group_name(g, lang) for g in table.loc[~drawable, "group"]]
    table = table[drawable].reset_index(drop=True)
    if len(table) < 2:
        return None
    scales = {m: display_scale(h.metric) for m, h in HEADLINES.items()}
    shown = {m: table[m] * scales[m] for m in HEADLINES}
    low = {m: table[f"{m}_low"] * scales[m] for m in HEADLINES}
    high = {m: table[f"{m}_high"] * scales[m] for m in HEADLINES}
    x, y = shown["burden"], shown["detection"]
    figure = plt.figure(figsize=(11.5, 6.6))
    axis = figure.add_axes((0.08, 0.1, 0.6, 0.78))
    key_axis = figure.add_axes((0.78, 0.1, 0.22, 0.78))
    key_axis.axis("off")
    axis.errorbar(x, y, xerr=[x - low["burden"], high["burden"] - x],
                  yerr=[y - low["detection"], high["detection"] - y], fmt="none", ecolor="#B0B0B0", elinewidth=1, capsize=2, zorder=1)
    best = table["non_dominated"].to_numpy()
    is_reference = (table["group"] == study.reference).to_numpy()
    points = axis.scatter(x, y, c=shown["formalism"], cmap=FORMALISM_COLOURMAP, s=np.where(best, 150, 70),
                          edgecolors=np.where(best, "black", "white"), linewidths=np.where(best, 2.2, 0.8), zorder=3)
    if is_reference.any():
        axis.scatter(x[is_reference], y[is_reference], s=260, marker="s", facecolors="none",
                     edgecolors=REFERENCE_COLOUR, linewidths=1.4, zorder=2)
    numbered = len(table) <= MAX_NUMBERED_POINTS
    numbers = [str(i + 1) if study.kind == "run" else g.removeprefix("P") for i, g in enumerate(table["group"])]
    key_lines, labelled = [], []
    for index, row in enumerate(table.itertuples()):
        if numbered or row.non_dominated:
            labelled.append((index, numbers[index]))
            name = study.group_name(row.group, lang)
            star = "★ " if row.non_dominated else ""
            key_lines.append(f"{star}{numbers[index]:>2}  {name}" if study.kind == "run" else f"{star}{name}")
    if _frame_means(axis, x, y, low, high):
        axis.text(0.01, 0.01, _say(lang, lambda l: _zh(l, "部分95%区间超出图框（种子较少）",
                                                       "some 95% intervals run beyond the frame (few seeds)"), " / "),
                  transform=axis.transAxes, fontsize=7.5, color="#555555", ha="left", va="bottom")
    _place_labels(axis, x.to_numpy(), y.to_numpy(), labelled)
    if undrawn:
        key_lines.append(_say(lang, lambda l: _zh(l, "未绘出（某项指标无定义）：", "Not drawn (a measure undefined):"), "\n"))
        key_lines += undrawn
    key_axis.text(0, 1, _say(lang, lambda l: _zh(l, "编号", "Key")) + "\n" + "\n".join(key_lines), va="top",
                  ha="left", fontsize=8.5 if len(key_lines) <= 18 else 7, linespacing=1.45,
                  transform=key_axis.transAxes)
    colourbar = figure.colorbar(points, ax=axis, fraction=0.04, pad=0.02)
    colourbar.set_label(_say(lang, lambda l: _zh(l, "形式主义指数（越低越好）", "Formalism index (lower is better)"), "\n"))
    axis.set_xlabel(_say(lang, lambda l: _zh(l, "督查负担：督查时间占工作时间%（← 越低越好）",
                                             "Burden: supervision time, % of working time (← lower is better)"), "\n"))
    axis.set_ylabel(_say(lang, lambda l: _zh(l, "问题发现：问题发现率%（越高越好 →）",
                                             "Detection: detection rate, % of problems (higher is better →)"), "\n"))
    axis.grid(color=GRID_COLOUR)
    axis.set_axisbelow(True)
    legend = [Line2D([], [], marker="o", linestyle="", markerfacecolor="#CCCCCC", markeredgecolor="black",
                     markeredgewidth=2, markersize=10,
                     label=_say(lang, lambda l: _zh(l, "★ 非劣解（三项指标无一被全面超越）",
                                                    "★ non-dominated (no other is as good on all three and better on one)"), "\n")),
              Line2D([], [], color="#B0B0B0", label=_say(lang, lambda l: _zh(l, "95%区间", "95% interval"), " "))]
    if is_reference.any():
        legend.insert(1, Line2D([], [], marker="s", linestyle="", markerfacecolor="none",
                                markeredgecolor=REFERENCE_COLOUR, markersize=11,
                                label=_say(lang, lambda l: study.reference_name(l), " ")))
    axis.legend(handles=legend, loc="best", frameon=True, framealpha=0.9, fontsize=8)
    _title(figure, _say(lang, lambda l: _zh(l, "权衡：督查负担、问题发现与形式主义",
                                            "Trade-offs: burden, detection and formalism")),
           _say(lang, lambda l: _zh(l, f"{study.year_label(l)}，各{'情景' if study.kind == 'run' else '扫描点'}均值与95%区间，"
                                       f"{_seeds(study, l)}",
                                    f"{study.year_label(l).capitalize()}, mean and 95% interval of each "
                                    f"{'scenario' if study.kind == 'run' else 'sweep point'}, {_seeds(study, l)}"),
                " | "))
    data = pd.DataFrame({"number": range(1, len(table) + 1), "scenario": table["group"],
                         "label": [study.group_name(g, lang) for g in table["group"]],
                         **{column: values for m in HEADLINES
                            for column, values in ((m, shown[m]), (f"{m}_low", low[m]), (f"{m}_high", high[m]))},
                         "non_dominated": table["non_dominated"]})
    return figure, data


def _frame_means(axis, x, y, low, high) -> bool:
    """Frame the means when intervals are so wide (few seeds) that they would squash the points
    into a corner; True when some intervals then run beyond the frame."""
    clipped = False
    for values, lower, upper, set_limits in ((x, low["burden"], high["burden"], axis.set_xlim),
                                             (y, low["detection"], high["detection"], axis.set_ylim)):
        means_span = float(values.max() - values.min())
        whole = (float(np.nanmin(np.r_[lower, values])), float(np.nanmax(np.r_[upper, values])))
        if means_span > 0 and whole[1] - whole[0] > WIDE_INTERVALS * means_span:
            set_limits(values.min() - 0.5 * means_span, values.max() + 0.5 * means_span)
            clipped = True
    return clipped


def _place_labels(axis, xs: np.ndarray, ys: np.ndarray, labels: list[tuple[int, str]], fontsize: float = 8.5) -> None:
    """Put each point's label where it overlaps the fewest labels and markers placed so far and is
    nearer its own point than any other (else a reader pairs it with the wrong one); a near place if
    one is clear, else a farther one with a leader line."""
    axis.autoscale_view()
    points = axis.transData.transform(np.column_stack([xs, ys]))
    scale = axis.figure.dpi / 72
    taken = [(px - 6 * scale, py - 6 * scale, px + 6 * scale, py + 6 * scale) for px, py in points]
    offsets = LABEL_OFFSETS + FAR_LABEL_OFFSETS
    for index, text in labels:
        px, py = points[index]
        width, height = (0.62 * fontsize * len(text) + 2) * scale, (fontsize + 2) * scale
        candidates = [(px + dx * scale, py + dy * scale, px + dx * scale + width, py + dy * scale + height)
                      for dx, dy in offsets]
        costs = []
        for number, box in enumerate(candidates):
            centre = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])
            nearest = int(np.argmin(np.hypot(*(points - centre).T)))
            costs.append(sum(_overlap(box, other) for other in taken) + (1e6 if nearest != index else 0.0)
                         + (1.0 if number >= len(LABEL_OFFSETS) else 0.0))
        best = int(np.argmin(costs))
        taken.append(candidates[best])
        leader = dict(arrowprops=dict(arrowstyle="-", color="#888888", linewidth=0.6, shrinkA=0, shrinkB=3)) \
            if best >= len(LABEL_OFFSETS) else {}
        axis.annotate(text, (xs[index], ys[index]), xytext=offsets[best], textcoords="offset points",
                      fontsize=fontsize, ha="left", va="bottom", **leader)


def _overlap(a, b) -> float:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    return width * height if width > 0 and height > 0 else 0.0


# 4. time paths --------------------------------------------------------------------------------

def time_paths_chart(study: Study, lang: str):
    groups = study.time_path_groups
    paths = study.time_paths
    if not groups or paths.empty:
        return None
    paths = paths[paths["group"].isin(groups)]
    figure, axes = plt.subplots(1, 3, figsize=(13, 4.8))
    years = sorted(paths["year"].unique())
    # years before every shown group's policy starts (groups may run on different calendars)
    burn_in_years = set.intersection(*(set(rows.loc[rows["phase"] == "burn_in", "year"])
                                       for _, rows in paths.groupby("group")))
    phases = study.document_phases
    rows = []
    for axis, (measure, headline) in zip(axes, HEADLINES.items()):
        scale = display_scale(headline.metric)
        spans = [(name, max(start, years[0]), min(end, years[-1] + 1)) for name, start, end in phases]
        if burn_in_years:
            spans.insert(0, ("burn_in", min(burn_in_years), max(burn_in_years) + 1))
        for name, start, end in spans:
            if end - start < MIN_LABELLED_SPAN:
                continue
            if name in PHASE_SHADES:
                axis.axvspan(start, end, color=PHASE_SHADES[name], zorder=0, linewidth=0)
            axis.text((start + end) / 2, 1.01, phase_name(name, lang, "\n"), transform=axis.get_xaxis_transform(),
                      ha="center", va="bottom", fontsize=7.5, color="#555555")
        for colour, group in zip(SERIES_COLOURS, groups):
            chosen = paths[(paths["group"] == group) & (paths["measure"] == measure)].sort_values("year")
            position = chosen["year"] + 0.5
            axis.fill_between(position, chosen["low"] * scale, chosen["high"] * scale, color=colour, alpha=0.18,
                              linewidth=0)
            axis.plot(position, chosen["mean"] * scale, marker="o", color=colour, linewidth=2,
                      label=study.group_name(group, lang))
            rows += [{"scenario": group, "label": study.group_name(group, lang), "measure": measure,
                      "metric": headline.metric, "year": row.year, "phase": row.phase, "x": row.year + 0.5,
                      "mean": row.mean * scale, "low": row.low * scale, "high": row.high * scale,
                      "unit": metric_unit(headline.metric, lang), "n": row.n} for row in chosen.itertuples()]
        axis.set_xlim(years[0], years[-1] + 1)
        axis.set_xticks([y + 0.5 for y in years], [str(y) for y in years], fontsize=8)
        axis.set_xticks(range(years[0], years[-1] + 2), minor=True)
        axis.tick_params(axis="x", which="major", length=0)
        axis.tick_params(axis="x", which="minor", length=8)
        axis.set_title(_say(lang, lambda l, m=measure, h=headline: _panel_title(m, h.metric, l), "\n"),
                       pad=34 if lang == "both" else 26)
        axis.set_ylabel(metric_unit(headline.metric, lang))
        axis.grid(axis="y", color=GRID_COLOUR)
        axis.set_axisbelow(True)
    handles, labels = axes[0].get_legend_handles_labels()
    handles.append(Patch(color="#999999", alpha=0.3))
    labels.append(_say(lang, lambda l: _zh(l, "95%区间", "95% interval"), " "))
    figure.legend(handles, labels, loc="lower center", ncol=len(labels), frameon=False, bbox_to_anchor=(0.5, -0.02))
    figure.tight_layout(rect=(0, 0.07, 1, 0.9))
    _title(figure, _say(lang, lambda l: _zh(l, "三项核心指标的年度变化", "Year by year: the headline measures")),
           _say(lang, lambda l: _zh(l, f"每年均值与95%区间，{_seeds(study, l)}"
                                    + ("；阴影为文件规定的试点、推广、巩固阶段" if phases else ""),
                                    f"Yearly mean and 95% interval, {_seeds(study, l)}"
                                    + ("; shading: the documents' pilot, rollout and consolidation phases" if phases
                                       else "")), " | "))
    return figure, pd.DataFrame(rows)


# 5. sensitivity -------------------------------------------------------------------------------

def _panel_grid(count: int, width: float, height: float, columns: int = 3):
    columns = min(count, columns)
    rows = math.ceil(count / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(width * columns, height * rows), squeeze=False)
    for extra in axes.flat[count:]:
        extra.axis("off")
    return figure, list(axes.flat[:count])


def _outcome_title(study: Study, outcome: str, lang: str) -> str:
    noise = study.noise
    share = math.nan
    if noise is not None and outcome in set(noise["outcome"]):
        share = float(noise.loc[noise["outcome"] == outcome, "noise_share"].iloc[0])
    name = metric_name(outcome, lang, "\n")
    if not math.isfinite(share):
        return name
    return name + "\n" + _say(lang, lambda l: _zh(l, f"随机噪声占方差{100 * share:.0f}%",
                                                  f"noise {100 * share:.0f}% of variance"), " / ")


def sobol_chart(study: Study, lang: str):
    indices = study.sensitivity
    outcomes = dict(methods_and_outcomes(indices)).get("sobol", []) if indices is not None else []
    if not outcomes:
        return None
    sobol = indices[indices["method"] == "sobol"]
    figure, axes = _panel_grid(len(outcomes), 4.6, 2.4 + 0.3 * sobol["factor"].nunique(), columns=4)
    rows = []
    flagged_any = False
    for axis, outcome in zip(axes, outcomes):
        ranked = ranked_factors(indices, "sobol", outcome)
        factors = list(ranked["factor"])
        positions = np.arange(len(factors))[::-1]
        for offset, index, colour in ((0.19, "ST", "#0072B2"), (-0.19, "S1", "#9CC9E8")):
            table = sobol[(sobol["outcome"] == outcome) & (sobol["index"] == index)].set_index("factor")
            for factor, y in zip(factors, positions):
                if factor not in table.index or not math.isfinite(table.loc[factor, "estimate"]):
                    continue
                row = table.loc[factor]
                flagged = bool(row["flag"])
                flagged_any |= flagged
                axis.barh(y + offset, row["estimate"], height=0.36, color=colour, hatch="///" if flagged else None,
                          edgecolor="#333333" if flagged else "white", linewidth=0.5)
                if math.isfinite(row["low"]) and math.isfinite(row["high"]):
                    axis.errorbar(row["estimate"], y + offset, xerr=[[max(row["estimate"] - row["low"], 0)],
                                                                     [max(row["high"] - row["estimate"], 0)]],
                                  fmt="none", ecolor="#333333", elinewidth=1, capsize=2)
                rows.append({"outcome": outcome, "outcome_label": metric_name(outcome, lang), "factor": factor,
                             "factor_label": lever_name(factor, lang), "index": index, "estimate": row["estimate"],
                             "low": row["low"], "high": row["high"], "flag": row["flag"], "n": row["n"]})
        axis.set_yticks(positions, [lever_name(f, lang) for f in factors])
        axis.axvline(0, color=REFERENCE_COLOUR, linewidth=0.8)
        lowest = np.nanmin(ranked["low"].to_numpy(dtype=float), initial=0.0)
        axis.set_xlim(min(0.0, lowest) - 0.02, 1.0)
        axis.set_xlabel(_say(lang, lambda l: _zh(l, "输出方差占比", "share of output variance")))
        axis.set_title(_outcome_title(study, outcome, lang), fontsize=10)
        axis.grid(axis="x", color=GRID_COLOUR)
        axis.set_axisbelow(True)
    legend = [Patch(color="#0072B2", label=_say(lang, lambda l: _zh(l, "ST 总效应", "ST total effect"), " ")),
              Patch(color="#9CC9E8", label=_say(lang, lambda l: _zh(l, "S1 一阶效应", "S1 first-order effect"), " "))]
    _finish_panels(figure, legend, flagged_any, lang)
    _title(figure, _say(lang, lambda l: _zh(l, "Sobol敏感性指数：哪些因素驱动结果",
                                            "Sobol sensitivity: which factors drive each outcome")),
           _say(lang, lambda l: _zh(l, "估计值与自助法95%区间；按总效应排序",
                                    "Estimate and bootstrap 95% interval; factors ordered by total effect"), " | "))
    return figure, pd.DataFrame(rows)


def morris_chart(study: Study, lang: str):
    """Per outcome, the leading factors' mu* as bars with their intervals and sigma beside them: a
    screening of dozens of factors is read as a ranking, and a scatter of them all is unreadable."""
    indices = study.sensitivity
    outcomes = dict(methods_and_outcomes(indices)).get("morris", []) if indices is not None else []
    if not outcomes:
        return None
    morris = indices[indices["method"] == "morris"]
    shown = min(MORRIS_SHOWN_FACTORS, morris["factor"].nunique())
    figure, axes = _panel_grid(len(outcomes), 5.6, 2.2 + 0.32 * shown, columns=4)
    rows = []
    flagged_any = False
    for axis, outcome in zip(axes, outcomes):
        scale = display_scale(outcome)
        unit = _say(lang, lambda l: _difference_unit(outcome, l))
        chosen = morris[morris["outcome"] == outcome]
        mu = chosen[chosen["index"] == "mu_star"].set_index("factor")
        sigma = chosen[chosen["index"] == "sigma"].set_index("factor")
        ranked = [f for f in ranked_factors(indices, "morris", outcome)["factor"]
                  if f in sigma.index and np.isfinite([mu.loc[f, "estimate"], sigma.loc[f, "estimate"]]).all()]
        leading = [f for f in ranked[:shown] if mu.loc[f, "estimate"] > NO_EFFECT]
        positions = np.arange(len(leading))[::-1]
        for factor, y in zip(leading, positions):
            m, s = mu.loc[factor], sigma.loc[factor]
            flagged = bool(m["flag"])
            flagged_any |= flagged
            axis.barh(y, m["estimate"] * scale, height=0.6, color="#0072B2", hatch="///" if flagged else None,
                      edgecolor="#333333" if flagged else "white", linewidth=0.5)
            axis.errorbar(m["estimate"] * scale, y, xerr=_spread(m, scale), fmt="none", ecolor="#333333",
                          elinewidth=1, capsize=2)
            axis.plot(s["estimate"] * scale, y, marker="D", markersize=5, color="#E69F00",
                      markeredgecolor="#333333", markeredgewidth=0.5, linestyle="none", zorder=3)
            rows += [{"outcome": outcome, "outcome_label": metric_name(outcome, lang), "factor": factor,
                      "factor_label": lever_name(factor, lang), "rank": len(leading) - int(y), "index": index,
                      "estimate": row["estimate"] * scale, "low": row["low"] * scale, "high": row["high"] * scale,
                      "unit": unit, "flag": row["flag"], "n": row["n"]}
                     for index, row in (("mu_star", m), ("sigma", s))]
        axis.set_yticks(positions, [lever_name(f, lang) for f in leading], fontsize=8)
        axis.set_xlim(left=0)
        axis.set_xlabel(unit, fontsize=9)
        title = _outcome_title(study, outcome, lang)
        if len(ranked) > len(leading):
            others, rest = len(ranked) - len(leading), mu.loc[ranked[len(leading)], "estimate"] * scale
            title += "\n" + _say(lang, lambda l: (
                _zh(l, f"其余{others}个因素 μ* ≤ {format_number(rest)}",
                    f"{others} other factors: μ* ≤ {format_number(rest)}") if rest > NO_EFFECT else
                _zh(l, f"其余{others}个因素无影响", f"{others} other factors: no effect")), " / ")
        axis.set_title(title, fontsize=9.5)
        axis.grid(axis="x", color=GRID_COLOUR)
        axis.set_axisbelow(True)
    legend = [Patch(color="#0072B2", label=_say(lang, lambda l: _zh(l, "μ* 平均绝对效应（影响大小）",
                                                                    "μ* mean absolute effect (influence)"), " ")),
              Line2D([], [], marker="D", color="#E69F00", markeredgecolor="#333333", linestyle="none",
                     label=_say(lang, lambda l: _zh(l, "σ 效应离散度（非线性或交互）",
                                                    "σ spread of effects (non-linearity or interaction)"), " "))]
    _finish_panels(figure, legend, flagged_any, lang)
    _title(figure, _say(lang, lambda l: _zh(l, "Morris筛选：影响最大的因素（μ*）及其非线性或交互（σ）",
                                            "Morris screening: the most influential factors (μ*) and their "
                                            "non-linearity or interaction (σ)")),
           _say(lang, lambda l: _zh(l, f"每项结果列出μ*最大的{shown}个因素；误差线为自助法95%区间；单位为结果的单位",
                                    f"The {shown} factors with the largest μ* per outcome; whiskers: bootstrap 95% "
                                    "interval; in the outcome's units"), " | "))
    return figure, pd.DataFrame(rows)


def _finish_panels(figure, legend: list, flagged_any: bool, lang: str) -> None:
    """Lay out a grid of panels under a title band and above a legend, both of fixed height in
    inches: a fraction of a tall figure would leave a gap as high as a panel."""
    if flagged_any:
        legend = [*legend, Patch(facecolor="white", edgecolor="#333333", hatch="///",
                                 label=_say(lang, lambda l: _zh(l, "带标记的估计（见表）", "flagged estimate (see table)"),
                                            " "))]
    height = figure.get_figheight()
    figure.legend(handles=legend, loc="lower center", ncol=len(legend), frameon=False, bbox_to_anchor=(0.5, 0.0))
    figure.tight_layout(rect=(0, 0.45 / height, 1, 1 - 0.6 / height))


def _spread(row, scale: float):
    """Error-bar lengths below and above an estimate; none when the interval is unknown."""
    if not (math.isfinite(row["low"]) and math.isfinite(row["high"])):
        return None
    return [[max(row["estimate"] - row["low"], 0) * scale], [max(row["high"] - row["estimate"], 0) * scale]]


CHARTS = (
    ("1_mechanism_effects", mechanism_effects_chart),
    ("2_target_scorecard", target_scorecard_chart),
    ("3_trade_offs", trade_off_chart),
    ("4_time_paths", time_paths_chart),
    ("5_sensitivity_sobol", sobol_chart),
    ("5_sensitivity_morris", morris_chart),
)
