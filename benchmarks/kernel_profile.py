"""Where a run's compiled time goes: CPU cycles per kernel call, statement by statement.

    python -m benchmarks.kernel_profile [--scale province] [--runs 4] [--stack 10] [--format table|json]

pyinstrument and py-spy see a numba kernel as one opaque call. This tool recompiles the kernels
Python calls (the weeks and the year's plan) and the kernels they call, reading the CPU's cycle
counter (llvm.readcyclecounter) around every statement that calls another kernel of the model.
It then runs the baseline scenario (burn-in + 3 policy years, one thread) and prints each
statement's time in nanoseconds per unit-week, nested under the call it belongs to; what is left
is Python (year start and end, model construction, the table). The instrumented copies live only
in this process: the model's files are not touched and the runs draw the same numbers (the
table is checked against an ordinary run of the same seed). Counter reads cost about 10 ns each,
so statements inside per-visit loops are not timed (`UNTIMED`), and the times are corrected for
the counters' own cost. Each timed statement counts its calls; the same runs are timed again
uninstrumented, and the difference, shared equally among all timed calls, is taken out of the
statements each call is nested in (a tight loop calibrates how much of it falls inside the
call's own window). Without the correction, parts that make many small calls, such as a stack's
blocks, looked dearer than they are. It is an estimate from two wall times: with few runs, noise
between them moves it. With --stack K each run is K replications advanced together
(model.ReplicationStack), as studies run county and city; the units counted are all replications'.
"""
from __future__ import annotations

import argparse
import ast
import gc
import importlib
import inspect
import json
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core.extending import intrinsic
from numba.core.registry import CPUDispatcher

# The kernels Python calls: (module, name). Their callees in the model are found from their source.
# (A run of one province plans in _plan_replications; one of several calls the three plan kernels.)
ENTRIES = (("model.schedule", "_run_weeks"), ("model.planning", "_plan_replications"),
           ("model.planning", "_issue_and_sample"), ("model.planning", "_schedule_visits"),
           ("model.planning", "_thin_join_merge"))
# Called per element (per topic cell, per draw): timing each call would cost more than the call.
UNTIMED = {"_lowest_bit", "_popcount", "binomial_prepared", "block_of", "chance", "poisson", "loggam"}


@intrinsic
def _cycles(typingctx):
    def codegen(context, builder, signature, args):
        counter = builder.module.declare_intrinsic("llvm.readcyclecounter", fnty=ir.FunctionType(ir.IntType(64), []))
        return builder.call(counter, [])
    return types.int64(), codegen


@njit
def _read_cycles():
    return _cycles()


def _ns_per_cycle() -> float:
    first, started = _read_cycles(), time.perf_counter()
    time.sleep(0.2)
    return (time.perf_counter() - started) * 1e9 / (_read_cycles() - first)


@njit
def _counter_cost(totals, repeats):
    """Cycles of `repeats` timed empty statements, as a statement around them sees them."""
    started = _cycles()
    for _ in range(repeats):
        start = _cycles()
        totals[0, 0] += _cycles() - start
        totals[1, 0] += 1
    return _cycles() - started


def _share_inside() -> float:
    """Of what a timed call costs the statements around it, the share its own total counts when the
    call does nothing (the counter read inside its window), from the fastest of several loops."""
    repeats, best = 100_000, None
    for _ in range(7):
        totals = np.zeros((2, 1), np.int64)
        around = _counter_cost(totals, repeats) / repeats
        if best is None or around < best[0]:
            best = (around, totals[0, 0] / repeats)
    return min(max(best[1] / best[0], 0.0), 1.0)


@dataclass
class Site:
    """A timed statement: the call `callee` in `function` at `line` of `path`."""

    function: str
    callee: str
    line: int
    path: str


class _Instrumenter:
    """Builds the timed copies: each model kernel reachable from ENTRIES gets an extra last argument
    (the cycle totals), each statement calling a model kernel adds its cycles to its own total."""

    def __init__(self):
        self.sites: list[Site] = []
        self.copies: dict[str, CPUDispatcher] = {}
        self._namespaces: list[dict] = []

    def instrument(self, module_name: str, name: str) -> CPUDispatcher:
        if name in self.copies:
            return self.copies[name]
        module = importlib.import_module(module_name)
        kernel = getattr(module, name)
        lines, first_line = inspect.getsourcelines(kernel.py_func)
        tree = ast.parse(textwrap.dedent("".join(lines)))
        ast.increment_lineno(tree, first_line - 1)  # the file's line numbers, in errors and in the table
        function = tree.body[0]
        function.decorator_list = []
        function.args.args.append(ast.arg(arg="_T"))
        callees = self._callees(function, kernel.py_func.__globals__)
        self.copies[name] = None  # a recursion guard while the callees are built
        for callee_module, callee in callees.values():
            self.instrument(callee_module, callee)
        function.body = self._timed(function.body, name, callees, module.__file__)
        namespace = dict(kernel.py_func.__globals__, _cycles=_cycles)
        exec(compile(ast.fix_missing_locations(tree), module.__file__, "exec"), namespace)
        self.copies[name] = njit(nogil=True)(namespace[name])
        self._namespaces.append(namespace)
        return self.copies[name]

    def link(self) -> None:
        """Point every copy's calls at the other copies (numba resolves them when it compiles)."""
        for namespace in self._namespaces:
            namespace.update({name: copy for name, copy in self.copies.items() if name in namespace})

    @staticmethod
    def _callees(function: ast.FunctionDef, module_globals: dict) -> dict[str, tuple[str, str]]:
        found = {}
        for node in ast.walk(function):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                target = module_globals.get(node.func.id)
                if (isinstance(target, CPUDispatcher) and target.py_func.__module__.startswith("model.")
                        and node.func.id not in UNTIMED):
                    found[node.func.id] = (target.py_func.__module__, target.py_func.__name__)
        return found

    def _timed(self, body: list, function: str, callees: dict, path: str) -> list:
        out = []
        for statement in body:
            if isinstance(statement, (ast.For, ast.While, ast.If)):  # their headers call no kernel here
                statement.body = self._timed(statement.body, function, callees, path)
                statement.orelse = self._timed(statement.orelse, function, callees, path)
                out.append(statement)
                continue
            calls = [node for node in ast.walk(statement) if isinstance(node, ast.Call)
                     and isinstance(node.func, ast.Name) and node.func.id in callees]
            for call in calls:
                call.args.append(ast.Name(id="_T", ctx=ast.Load()))
            if not calls or isinstance(statement, ast.Return):
                out.append(statement)
                continue
            index = len(self.sites)
            self.sites.append(Site(function, calls[0].func.id, statement.lineno, path))
            start = f"_c{index}"
            out.append(ast.parse(f"{start} = _cycles()").body[0])
            out.append(statement)
            out.append(ast.parse(f"_T[0, {index}] += _cycles() - {start}").body[0])
            out.append(ast.parse(f"_T[1, {index}] += 1").body[0])
        return out


def profile(scale: str = "province", runs: int = 4, stack: int = 1) -> dict:
    """Run the baseline scenario `runs` times (after a warm-up run that compiles the copies) and
    return each timed statement's nanoseconds per unit-week, with the run's total. With stack > 1,
    each run is a ReplicationStack of that many seeds (as studies run county and city)."""
    from model.model import ReplicationStack, SupervisionModel
    from model.simulate import release
    from scenarios import load_scenario

    scenario = load_scenario("baseline")
    builder = _Instrumenter()
    entries = {name: builder.instrument(module, name) for module, name in ENTRIES}
    builder.link()
    totals = np.zeros((2, len(builder.sites)), np.int64)  # cycles and calls per timed statement (unchecked bounds)
    modules = {name: importlib.import_module(module) for module, name in ENTRIES}
    originals = {name: getattr(modules[name], name) for name in modules}
    entry_seconds = dict.fromkeys(entries, 0.0)
    entry_calls = dict.fromkeys(entries, 0)

    def timed_entry(name: str):
        def call(*args):
            started = time.perf_counter()
            try:
                return entries[name](*args, totals)
            finally:
                entry_seconds[name] += time.perf_counter() - started
                entry_calls[name] += 1
        return call

    def run(seed: int):
        if stack > 1:
            model = ReplicationStack(scenario, list(range(seed * stack, (seed + 1) * stack)), scale=scale, years=3,
                                     threads=1)
        else:
            model = SupervisionModel(scenario, seed, scale=scale, years=3, threads=1)
        table = model.run()
        release(model)
        return model, table

    plain = run(0)[1]
    try:
        for name, module in modules.items():
            setattr(module, name, timed_entry(name))
        timed = run(0)[1]  # the warm-up, which compiles the copies
        if repr(timed) != repr(plain):  # the yearly rows (of each replication), NaN included
            raise RuntimeError("the instrumented kernels gave another table than the model's own")
        totals[:] = 0
        entry_seconds.update(dict.fromkeys(entries, 0.0))
        entry_calls.update(dict.fromkeys(entries, 0))
        wall, last = _wall_time(run, runs)
    finally:
        for name, module in modules.items():
            setattr(module, name, originals[name])
    plain_wall, _ = _wall_time(run, runs)
    unit_weeks = runs * last.units.work.size * last.total_weeks
    ns_per_cycle = _ns_per_cycle()
    scale_ns = ns_per_cycle / unit_weeks
    calls = totals[1].astype(float)
    around = max(0.0, (wall - plain_wall) * 1e9 / ns_per_cycle / calls.sum()) if calls.sum() else 0.0
    inside = around * _share_inside()
    nested = _nested_calls(builder.sites, calls, entry_calls)
    sites = [{"function": site.function, "callee": site.callee, "where": f"{Path(site.path).name}:{site.line}",
              "calls_per_unit_week": float(calls[i] / unit_weeks),
              "timed_ns_per_unit_week": float(totals[0, i] * scale_ns),
              "ns_per_unit_week": max(0.0, float((totals[0, i] - calls[i] * inside - nested[i] * around) * scale_ns))}
             for i, site in enumerate(builder.sites)]
    entry_nested = {name: nested[len(builder.sites) + k] for k, name in enumerate(entries)}
    return {"scale": scale, "runs": runs, "stack": stack, "units": int(last.units.work.size),
            "timed_ns_per_unit_week": wall * 1e9 / unit_weeks,
            "ns_per_unit_week": wall * 1e9 / unit_weeks - calls.sum() * around * scale_ns,
            "plain_ns_per_unit_week": plain_wall * 1e9 / unit_weeks,
            "counter_ns_per_call": around * ns_per_cycle, "sites": sites,
            "entries": {name: max(0.0, seconds * 1e9 / unit_weeks - entry_nested[name] * around * scale_ns)
                        for name, seconds in entry_seconds.items()},
            "entry_calls": dict(entry_calls)}


def _wall_time(run, runs: int):
    """Wall time of runs 1 to `runs`, and the last model, with the cyclic garbage collector paused.
    Compiling the instrumented copies leaves a heap of the compiler's objects that a study's process
    sets aside (model.simulate freezes it after the first run); here each full pass scanned it, which
    made the uninstrumented runs up to 1.5 times dearer than the instrumented ones, and the counters'
    correction nil."""
    from model.model import collector_paused

    gc.collect()
    with collector_paused():
        started = time.perf_counter()
        for seed in range(1, runs + 1):
            last, _ = run(seed)
        return time.perf_counter() - started, last


def _nested_calls(sites: list[Site], calls: np.ndarray, entry_calls: dict[str, int]) -> np.ndarray:
    """Timed calls made inside each timed statement, then inside each entry's calls from Python. A
    kernel called from several places shares the calls made inside it among them by their calls."""
    callers: dict[str, float] = dict(entry_calls)
    for site, n in zip(sites, calls):
        callers[site.callee] = callers.get(site.callee, 0.0) + n
    inside: dict[str, float] = {}

    def made_inside(function: str) -> float:  # every timed call its statements make, nested ones too
        if function not in inside:
            inside[function] = 0.0  # a recursion guard
            inside[function] = sum(n + share(site, n) for site, n in zip(sites, calls) if site.function == function)
        return inside[function]

    def share(site: Site, n: float) -> float:
        return made_inside(site.callee) * n / callers[site.callee] if n else 0.0

    per_site = [share(site, n) for site, n in zip(sites, calls)]
    per_entry = [made_inside(name) * n / callers[name] if n else 0.0 for name, n in entry_calls.items()]
    return np.array(per_site + per_entry)


def format_table(result: dict) -> str:
    """Each kernel Python calls, then the statements inside it that call other kernels, nested
    under the calls they belong to; the rest of a kernel's time is its own loops."""
    total = result["ns_per_unit_week"]
    by_function: dict[str, list[dict]] = {}
    for site in result["sites"]:
        by_function.setdefault(site["function"], []).append(site)
    plural = "s" if result["runs"] != 1 else ""
    runs = (f"{result['runs']} stack{plural} of {result['stack']} runs" if result["stack"] > 1
            else f"{result['runs']} run{plural}")
    lines = [f"{result['scale']} ({result['units']:,} units), {runs} of burn-in + 3 policy years, "
             f"one thread: {total:.0f} ns per unit-week with the counters' cost taken out "
             f"({result['timed_ns_per_unit_week']:.0f} as timed, {result['counter_ns_per_call']:.0f} ns per timed "
             f"call); the same runs uninstrumented: {result['plain_ns_per_unit_week']:.0f}",
             f"{'':60s} {'ns/unit-week':>12s} {'as timed':>9s} {'share':>6s}"]

    def row(label: str, ns: float, timed: float | None = None) -> None:
        lines.append(f"{label:60s} {ns:12.1f} {'' if timed is None else f'{timed:.1f}':>9s} {ns / total:6.1%}")

    def walk(function: str, depth: int) -> None:
        for site in by_function.get(function, []):  # in the order of the function's source
            row(f"{'  ' * depth}{site['callee']} ({site['where']})", site["ns_per_unit_week"],
                site["timed_ns_per_unit_week"])
            walk(site["callee"], depth + 1)

    for entry, ns in result["entries"].items():
        if not result["entry_calls"][entry]:  # not called from Python at this scale (its statements show under its caller)
            continue
        row(f"{entry} (called from Python, with the hand-over)", ns)
        walk(entry, 1)
    row("Python: year start and end, the plan's set-up, the model, the table", total - sum(result["entries"].values()))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.kernel_profile", description=__doc__.split("\n")[0])
    parser.add_argument("--scale", default="province", choices=("county", "city", "province", "national"))
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--stack", type=int, default=1,
                        help="replications advanced together per run (county, city, province; default 1)")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error(f"--runs: {args.runs} is not allowed; allowed: a whole number of at least 1")
    if args.stack < 1 or (args.stack > 1 and args.scale == "national"):
        parser.error(f"--stack: {args.stack} is not allowed at {args.scale} scale; allowed: 1, or a whole number of "
                     "at least 2 at county, city or province scale")
    result = profile(args.scale, args.runs, args.stack)
    print(json.dumps(result, indent=1) if args.format == "json" else format_table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
