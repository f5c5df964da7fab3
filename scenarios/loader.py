"""Scenario loading and validation (scenario file -> validated model.Scenario)."""
from __future__ import annotations

import datetime
import math
import re
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

import yaml

from model.errors import UserError
from model.params import BEHAVIOUR, LEVERS, SCALES, WEEKS_PER_YEAR, YEARS_ALLOWED, Scenario, Schedule

SCENARIO_DIR = Path(__file__).resolve().parent
BASELINE = "baseline"
BASELINE_FILE = SCENARIO_DIR / f"{BASELINE}.yaml"  # the one scenario that extends nothing; the others extend it by default
TOP_LEVEL_KEYS = ("name", "description", "extends", "scale", "years", "burn_in_years", "start_year",
                  "levers", "behaviour")
SETTINGS = {"scale": tuple(SCALES), "years": YEARS_ALLOWED, "burn_in_years": (1, 10), "start_year": (1900, 2200)}
DATE = re.compile(r"^(\d{4})-(\d{1,2})$")


class ScenarioError(UserError):
    """A user mistake in a scenario file or an override; the message is one line."""


def _fail(where: str, field: str, problem: str, allowed: str) -> None:
    raise ScenarioError(f"{where}: {field}: {problem}; allowed: {allowed}")


def list_scenarios() -> list[str]:
    return sorted(str(p.relative_to(SCENARIO_DIR).with_suffix("")) for p in SCENARIO_DIR.rglob("*.yaml")
                  if p.name != "document_figures.yaml")


def resolve_named_file(name_or_path: str | Path, folder: Path, kind: str, names: list[str],
                       error: type[UserError], relative_to: Path = Path()) -> Path:
    """A YAML file given by path (relative to `relative_to`), or by name under `folder`; else a
    one-line error listing the names."""
    candidate = relative_to / name_or_path
    if candidate.suffix in (".yaml", ".yml") and candidate.is_file():
        return candidate.resolve()
    named = folder / f"{name_or_path}.yaml"
    if named.is_file():
        return named
    allowed = f"a path to a .yaml file or one of {', '.join(names)}"
    if candidate.is_dir():
        article = "an" if kind[0] in "aeiou" else "a"
        raise error(f"{name_or_path}: {kind}: is a folder, not {article} {kind} file; allowed: {allowed}")
    if candidate.is_file():
        raise error(f"{name_or_path}: {kind}: is not a .yaml file; allowed: {allowed}")
    raise error(f"{name_or_path}: {kind}: no such {kind} file or name; allowed: {allowed}")


def resolve_path(name_or_path: str | Path) -> Path:
    return resolve_named_file(name_or_path, SCENARIO_DIR, "scenario", list_scenarios(), ScenarioError)


class _RepeatedKey(yaml.YAMLError):
    def __init__(self, key, line: int):
        super().__init__(f"{key} repeated")
        self.key, self.line = key, line


class _StrictLoader(yaml.SafeLoader):
    """Safe YAML that refuses a key given twice in one mapping (PyYAML keeps the last one silently,
    so a lever typed twice in a policy file would quietly lose its first value)."""


def _mapping_once_per_key(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str | int | float | bool):
            continue  # a list or mapping as a key: construct_mapping says what is wrong with it
        if key in seen:
            raise _RepeatedKey(key, key_node.start_mark.line + 1)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_once_per_key)
# 1e-2 and 2.5e1 are numbers (YAML 1.2, JSON, Python); PyYAML follows YAML 1.1, which wants a dot and
# a signed exponent (1.0e-2, 2.5e+1), and read them as text, refused as "not a number"
_StrictLoader.add_implicit_resolver("tag:yaml.org,2002:float",
                                    re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)[eE][-+]?[0-9]+$"),
                                    list("-+0123456789."))


def read_yaml_mapping(path: Path, error: type[UserError], keys: tuple[str, ...]) -> tuple[dict, str]:
    """A user's YAML file as a mapping and its text, or a one-line `error` naming the file and what
    is wrong with it. An empty file (or one of comments only) is refused: it would otherwise run as
    the defaults under its own name, as if it said something."""
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.load(text, Loader=_StrictLoader)
    except UnicodeDecodeError:
        raise error(f"{path}: file: not UTF-8 text; allowed: a YAML mapping in UTF-8") from None
    except _RepeatedKey as repeated:
        raise error(f"{path}: {repeated.key}: given twice in one mapping (line {repeated.line}); allowed: "
                    "each key once") from None
    except yaml.YAMLError as problem:
        mark = getattr(problem, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark else ""
        raise error(f"{path}: file: not valid YAML{line}; allowed: a YAML mapping") from None
    if data is None:
        raise error(f"{path}: file: is empty; allowed: a YAML mapping of " + ", ".join(keys))
    if not isinstance(data, dict):
        raise error(f"{path}: file: is not a mapping; allowed: a YAML mapping of " + ", ".join(keys))
    return data, text


def _read_yaml(path: Path) -> dict:
    return read_yaml_mapping(path, ScenarioError, TOP_LEVEL_KEYS)[0]


def _raw_chain(path: Path, seen: tuple[Path, ...] = ()) -> dict:
    """The file's mapping merged over everything it extends."""
    if path in seen:
        _fail(str(path), "extends", "forms a cycle", "a chain of scenarios that ends")
    data = _read_yaml(path)
    unknown = sorted(set(data) - set(TOP_LEVEL_KEYS))
    if unknown:
        _fail(str(path), unknown[0], "unknown field", ", ".join(TOP_LEVEL_KEYS))
    for section in ("levers", "behaviour"):
        if section in data and data[section] is not None and not isinstance(data[section], dict):
            _fail(str(path), section, "is not a mapping", f"a mapping of {section} names to values")
    parent = data.get("extends", None if path == BASELINE_FILE else BASELINE)
    if parent is None:
        merged = {"levers": {}, "behaviour": {}}
    else:
        merged = _raw_chain(_parent_path(path, parent), seen + (path,))
        # a scenario's name and description are its own file's (else the file's stem): inherited,
        # a file extending baseline would be called baseline and pooled with it in comparisons
        merged.pop("name", None)
        merged.pop("description", None)
    origin = merged.setdefault("_origin", {})  # dotted field -> the file that set it, for error messages
    for key, value in data.items():
        if key in ("levers", "behaviour"):
            merged[key] = {**merged.get(key, {}), **(value or {})}
            origin.update({f"{key}.{name}": str(path) for name in (value or {})})
        elif key != "extends":
            merged[key] = value
            origin[key] = str(path)
    return merged


def _parent_path(path: Path, parent: Any) -> Path:
    """`extends:` names a file relative to the extending file's folder, or a scenario under scenarios/."""
    allowed = f"a .yaml path relative to {path.parent}, or one of {', '.join(list_scenarios())}"
    if not isinstance(parent, str):
        _fail(str(path), "extends", f"{parent!r} is not a scenario name or path", allowed)
    try:
        return resolve_named_file(parent, SCENARIO_DIR, "scenario", [], ScenarioError, relative_to=path.parent)
    except ScenarioError:
        _fail(str(path), "extends", f"{parent!r}: no such scenario file or name", allowed)


def _number(where: str, field: str, value: Any, allowed: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        _fail(where, field, f"{value!r} is not a number", allowed)
    return float(value)


def _check_value(where: str, field: str, spec, value: Any) -> float:
    number = _number(where, field, value, spec.allowed())
    if not spec.accepts(number):
        _fail(where, field, f"{value!r} is out of range", spec.allowed())
    return number


def _policy_week(where: str, field: str, when: Any, start_year: int) -> int:
    allowed = f"a week number >= 0 from the policy start, or a date 'YYYY-MM' from {start_year}-01"
    if isinstance(when, int) and not isinstance(when, bool):
        if when < 0:
            _fail(where, field, f"{when} is before the policy start", allowed)
        if when >= SETTINGS["start_year"][0]:  # a run is at most 50 years: this is a calendar year
            _fail(where, field, f"{when} reads as week {when}, past any run: a year is written as a date, e.g. "
                  f"'{when}-01'", allowed)
        return when
    if isinstance(when, datetime.date):  # YAML reads an unquoted 2024-01-01 as a date
        when = f"{when.year:04d}-{when.month:02d}"
    match = DATE.match(str(when))
    if not match or not 1 <= int(match.group(2)) <= 12:
        _fail(where, field, f"{when!r} is not a week or date", allowed)
    year, month = int(match.group(1)), int(match.group(2))
    if year < start_year:
        _fail(where, field, f"{when} is before the policy start", allowed)
    return (year - start_year) * WEEKS_PER_YEAR + round((month - 1) * WEEKS_PER_YEAR / 12)


def _schedule(where: str, name: str, value: Any, start_year: int) -> Schedule:
    spec = LEVERS[name]
    if isinstance(value, dict):
        form = "a number, or {schedule: [{from: 'YYYY-MM' or week, value: number}, ...]}"
        unknown = sorted(map(str, set(value) - {"schedule"}))
        if unknown:
            _fail(where, f"levers.{name}.{unknown[0]}", "unknown key", form)
        if not isinstance(value.get("schedule"), list) or not value["schedule"]:
            _fail(where, f"levers.{name}", "is a mapping without a non-empty schedule list", form)
        steps = []
        for i, step in enumerate(value["schedule"]):
            field = f"levers.{name}.schedule[{i}]"
            if not isinstance(step, dict) or set(step) != {"from", "value"}:
                _fail(where, field, "needs exactly the keys from and value", "{from: 'YYYY-MM' or week, value: number}")
            steps.append((_policy_week(where, field + ".from", step["from"], start_year),
                          _check_value(where, field + ".value", spec, step["value"])))
        weeks = [w for w, _ in steps]
        if weeks != sorted(weeks) or len(set(weeks)) != len(weeks):
            _fail(where, f"levers.{name}.schedule", "steps are not in increasing time order", "increasing from dates")
        if weeks[0] != 0:
            steps.insert(0, (0, status_quo_levers()[name]))
        return Schedule(tuple(steps))
    return Schedule.constant(_check_value(where, f"levers.{name}", spec, value))


def _build(raw: dict, where: str, status_quo: Mapping[str, float] | None) -> Scenario:
    """A Scenario from a merged mapping; a bad value is reported in the file that set it (`_origin`
    of _raw_chain), else in `where`."""
    origin = raw.get("_origin", {})

    def file_of(field: str) -> str:
        return origin.get(field, where)

    settings = {}
    for key, rule in SETTINGS.items():
        if key not in raw:
            continue
        value = raw[key]
        if key == "scale":
            if value not in rule:
                _fail(file_of(key), key, f"{value!r} is not a scale", ", ".join(rule))
            settings[key] = value
        else:
            low, high = rule
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                _fail(file_of(key), key, f"{value!r} is not a whole number in range", f"integer in [{low}, {high}]")
            settings[key] = value
    start_year = settings.get("start_year", 2024)
    levers = {name: Schedule.constant(spec.default) for name, spec in LEVERS.items()}
    if status_quo is not None:
        levers = {name: Schedule.constant(value) for name, value in status_quo.items()}
    for name, value in raw.get("levers", {}).items():
        if name not in LEVERS:
            _fail(file_of(f"levers.{name}"), f"levers.{name}", "unknown lever", ", ".join(LEVERS))
        levers[name] = _schedule(file_of(f"levers.{name}"), name, value, start_year)
    behaviour = {name: spec.default for name, spec in BEHAVIOUR.items()}
    for name, value in raw.get("behaviour", {}).items():
        field = f"behaviour.{name}"
        if name not in BEHAVIOUR:
            _fail(file_of(field), field, "unknown parameter", ", ".join(BEHAVIOUR))
        behaviour[name] = _check_value(file_of(field), field, BEHAVIOUR[name], value)
    name = raw.get("name", Path(where).stem)
    if not isinstance(name, str) or not name:
        _fail(where, "name", f"{name!r} is not a text", "a non-empty name")
    return Scenario(
        name=name, source=where, levers=levers,
        status_quo=dict(status_quo) if status_quo is not None else {n: s.final for n, s in levers.items()},
        behaviour=behaviour, description=str(raw.get("description", "")), **settings)


@lru_cache(maxsize=1)
def _status_quo_cached(mtime: float) -> dict[str, float]:
    baseline = _build(_raw_chain(BASELINE_FILE), str(BASELINE_FILE), None)
    return {name: schedule.final for name, schedule in baseline.levers.items()}


def status_quo_levers() -> dict[str, float]:
    """The status-quo lever values: those of scenarios/baseline.yaml (used in burn-in years)."""
    return _status_quo_cached(BASELINE_FILE.stat().st_mtime)


def load_scenario(name_or_path: str | Path, overrides: Mapping[str, Any] | None = None,
                  where: str = "overrides") -> Scenario:
    """Load a scenario by name (under scenarios/) or path, resolve `extends`, apply overrides
    (`merge_rate`, `levers.merge_rate`, `behaviour.detection_base`, `scale`, `years`), validate.
    `where` is what an error about an override names (the command line passes "--set")."""
    path = resolve_path(name_or_path)
    raw = _raw_chain(path)
    if overrides and "start_year" in overrides:  # before the schedules are resolved: their dates count from it
        raw = {**raw, "start_year": overrides["start_year"], "_origin": {**raw["_origin"], "start_year": where}}
    scenario = _build(raw, str(path), status_quo_levers())
    return apply_overrides(scenario, overrides, where) if overrides else scenario


def override_kind(key: str) -> tuple[str | None, str]:
    """What a dotted override name sets, and the bare name: ("levers", name) for a lever (x or
    levers.x), ("behaviour", name) for behaviour.x or a behavioural parameter's bare name,
    ("settings", name) for scale, years and the like, (None, name) for anything else."""
    section, _, name = key.rpartition(".")
    if section in ("", "levers") and name in LEVERS:
        return "levers", name
    if section == "behaviour" or (section == "" and name in BEHAVIOUR):
        return "behaviour", name
    return ("settings" if section == "" and name in SETTINGS else None), name


def apply_overrides(scenario: Scenario, overrides: Mapping[str, Any], where: str = "--set") -> Scenario:
    """Return the scenario with dotted-name overrides applied and validated."""
    levers, behaviour, settings = dict(scenario.levers), dict(scenario.behaviour), {}
    applied = dict(scenario.overrides)
    for key, value in overrides.items():
        kind, name = override_kind(key)
        if kind == "levers":
            applied[f"levers.{name}"] = _check_value(where, key, LEVERS[name], value)
            levers[name] = Schedule.constant(applied[f"levers.{name}"])
        elif kind == "behaviour":
            if name not in BEHAVIOUR:
                _fail(where, key, "unknown parameter", ", ".join(BEHAVIOUR))
            behaviour[name] = applied[f"behaviour.{name}"] = _check_value(where, key, BEHAVIOUR[name], value)
        elif kind == "settings":
            settings[name] = value
        else:
            _fail(where, key, "unknown lever or parameter",
                  "a lever (" + ", ".join(LEVERS) + "), behaviour.<name>, or " + ", ".join(SETTINGS))
    if settings.get("start_year", scenario.start_year) != scenario.start_year and any(
            len(schedule.steps) > 1 or schedule.steps[0][0] != 0 for schedule in levers.values()):
        _fail(where, "start_year", f"{settings['start_year']!r} would move the scenario's lever steps (counted in weeks "
              f"from {scenario.start_year}, whether written as months or weeks)", "the same start year here; set "
              "start_year when the scenario is loaded (run --set, load_scenario's overrides) or in a file that extends "
              "it, where months stay months")
    if settings:
        current = {k: getattr(scenario, k) for k in SETTINGS}
        checked = _build({**current, **settings, "name": scenario.name}, where, scenario.status_quo)
        applied.update({k: getattr(checked, k) for k in settings})
        settings = {k: getattr(checked, k) for k in SETTINGS}
    return replace(scenario, levers=levers, behaviour=behaviour, overrides=applied, **settings)


def parse_assignment(text: str) -> tuple[str, float | str]:
    """Parse NAME=VALUE from the command line; numbers become floats (or ints), scale stays text."""
    if "=" not in text:
        raise ScenarioError(f"--set: {text!r}: not NAME=VALUE; allowed: e.g. merge_rate=0.6 or "
                            "behaviour.detection_base=0.25")
    name, _, value = text.partition("=")
    name, value = name.strip(), value.strip()
    try:
        number = float(value)
    except ValueError:
        return name, value
    return name, int(number) if number.is_integer() and name.rpartition(".")[2] in ("years", "burn_in_years",
                                                                                  "start_year") else number


def load_document_figures() -> dict:
    """The four documents' baselines, targets and proposed levers (a copy of the shared reference)."""
    return yaml.safe_load((SCENARIO_DIR / "document_figures.yaml").read_text(encoding="utf-8"))
