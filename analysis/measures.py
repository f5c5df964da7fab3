"""The three headline measures of a supervision regime, and which way is better for a metric.

Burden, detection and formalism each stand for one metric, stated here once so that the charts,
the trade-off analysis and the briefing's definitions cannot drift apart.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from .summary import document_targets


@dataclass(frozen=True)
class Headline:
    metric: str
    lower_is_better: bool
    definition_zh: str
    definition_en: str


HEADLINES: dict[str, Headline] = {
    "burden": Headline(
        "supervision_time_share", True,
        "督查负担 = supervision_time_share：基层单位迎检（含为非现场督查整理数据）与准备材料台账所用时间占工作时间的比例。",
        "Burden = supervision_time_share: the share of grassroots units' working time spent hosting inspections "
        "(incl. compiling data for remote ones) plus preparing supervision materials and ledgers."),
    "detection": Headline(
        "detection_rate", False,
        "问题发现 = detection_rate：全部督查中发现的问题数 / 督查范围内存在的问题数。",
        "Detection = detection_rate: problems found / problems in scope, over all inspections."),
    "formalism": Headline(
        "formalism_index", True,
        "形式主义 = formalism_index：超额材料时间占比、表面整改占比、虚报进度占比与纸面-实际落实差距四项的平均（0-1，越低越好）。",
        "Formalism = formalism_index: the mean of excess material time, surface rectification share, falsified "
        "report share and the documented-minus-true implementation gap (0-1, lower is better)."),
}

HEADLINE_METRICS = tuple(h.metric for h in HEADLINES.values())


def lower_is_better(metric: str) -> bool | None:
    """True or False where the documents' target or the headline definition says; None otherwise."""
    for headline in HEADLINES.values():
        if headline.metric == metric:
            return headline.lower_is_better
    op = _target_operators().get(metric)
    return None if op is None else op in ("<", "<=")


@lru_cache(maxsize=1)
def _target_operators() -> dict[str, str]:
    return {metric: target.op for metric, target in document_targets().items()}
