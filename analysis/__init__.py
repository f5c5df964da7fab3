"""Analysis of tidy results: summaries, target attainment, paired mechanism effects."""
from .comparison import compare, format_table
from .summary import document_targets, mean_interval, paired_differences, summarise, target_attainment

__all__ = ["compare", "document_targets", "format_table", "mean_interval", "paired_differences", "summarise",
           "target_attainment"]
