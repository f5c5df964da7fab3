"""Benchmarks of the model's speed, memory and parallel scaling (python run.py bench)."""
from .bench import FULL, QUICK, BenchConfig, ScaleRuns, format_table, run_benchmarks

__all__ = ["FULL", "QUICK", "BenchConfig", "ScaleRuns", "format_table", "run_benchmarks"]
