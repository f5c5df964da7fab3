"""Visits, detection, rectification and accountability (brief 3.5-3.7).

A visit finds each in-scope problem with a chance set by its depth, focus, the inspectors'
professionalism, data access and the unit's concealment. Each found problem opens a
rectification case whose course (genuine or surface fix, duration, acceptance, follow-up,
recheck, rebound, sanctions) is drawn when the case opens; the consequences reach the unit's
state at the weeks they happen through an event queue. Rectification metrics belong to the
year the problem was found (a cohort).
"""
from __future__ import annotations

import numpy as np
from numba import njit
from scipy.stats import binom

from .draws import binomial_prepared, block_of, chance, fill_uniforms
from .organisation import N_TOPICS
from .params import WEEKS_PER_YEAR, weekly_columns
from .planning import REMOTE, UNANNOUNCED, _lowest_bit, _stable_order
from .units import MAJOR, WIDTH, falsification_catch_by_mode

RECHECK_WEEKS = 26
REBOUND_WINDOW_WEEKS = 52
DAYS_PER_WEEK = 7


def inspection_tables(levers: dict, behaviour: dict) -> dict[str, np.ndarray]:
    """The year's weekly parameters of visits, detection, cases and tasks (levers as 52 weekly values)."""
    b = behaviour
    share = levers["professional_share"]
    professional = (1 - share) + share * b["professional_effect"]
    return {
        # unit-weeks of hosting a visit imposes, by mode: remote inspections without shared data
        # make the unit compile the data itself
        "load_by_mode": weekly_columns(
            b["hosting_load"] * 1.0, b["hosting_load"] * b["unannounced_hosting_factor"],
            b["hosting_load"] * b["remote_hosting_factor"]
            + b["remote_data_compilation"] * (1 - levers["data_sharing_rate"])),
        "detection": weekly_columns(
            b["special_depth"], professional, b["detection_base"], b["concealment"], b["unannounced_concealment_factor"],
            b["quantifiable_share"] * b["data_detection"] * levers["data_sharing_rate"], b["quantifiable_share"],
            b["major_visibility"]),
        "case_behaviour": weekly_columns(*(b[name] for name in CASE_BEHAVIOUR))[0],
        "case_levers": weekly_columns(
            levers["accountability_intensity"], levers["sanction_severity"], levers["closed_loop"],
            levers["responsibility_clarity"], levers["tolerance"], 1 - (1 - b["acceptance_check"]) ** professional),
        "catch_by_mode": falsification_catch_by_mode(levers, b),
        "falsification_sanction": np.minimum(1.0, b["falsification_sanction_multiplier"]
                                             * np.asarray(levers["accountability_intensity"], dtype=float)),
        "tasks": weekly_columns(
            expected_data_days(b["data_departments"], 1 - levers["data_sharing_rate"], b["data_request_days"]),
            b["reference_real_work"], b["minimum_real_work"], b["task_processing_days"],
            1 - levers["responsibility_clarity"], b["task_data_need"]),
    }


def expected_data_days(departments: int, p_unshared, request_days: float) -> np.ndarray:
    """Mean data acquisition time of an inspection (ODD 7.7): the slowest of the unshared
    departments' exponential request times, whose mean for k departments is request_days times
    the k-th harmonic number; 0.5 day when all are shared. Over k ~ Binomial(departments,
    p_unshared), for each value of p_unshared."""
    k = np.arange(departments + 1)
    days = np.concatenate(([0.5], request_days * np.cumsum(1.0 / k[1:])))
    p = np.asarray(p_unshared, dtype=float)[..., None]
    p = np.where(p < np.finfo(float).tiny, 0.0, p)  # scipy's binomial overflows on subnormal p; the mean is the same
    return binom.pmf(k, departments, p) @ days


# What one week's inspections add to the year's counters (_inspect's totals, in this order).
INSPECTION_TOTALS = (
    "scope_comprehensive", "found_comprehensive", "scope_special", "found_special", "scope_all", "found_all",
    "major_found",  # _detect
    "cases", "surface", "passed", "completed", "within_6_months", "accepted", "rebounded", "days_to_accept",
    "sanctioned",  # _case_courses (and _catch_falsification's sanctions)
    "falsifications_found",  # _catch_falsification
    "data_days", "inspections_with_data", "task_days", "tasks",  # _data_and_task_days
)


@njit(cache=True, error_model="numpy")
def _inspect(streams, block_size, latent, latent_ordinary, materials, integrity, work, sanction_memory, falsified,
             visited, unit, plan_mode, plan_special, plan_depth, plan_n_topics, plan_duplicate, plan_source, plan_mask,
             start, stop, rounds, detection, case_b, case_levers, catch_by_mode, falsification_sanction, tasks, now,
             totals, unit_visits, unit_duplicates, unit_useful, source_found, unit_sanctions, unit_unfair):
    """The week's inspections (plan positions start:stop; `unit` their units, numbered as the unit
    arrays are), with their draws in this order: detection, case courses, falsified reports; then
    the data and task times (expectations, no draws). The units are blocks of `block_size`, block
    b drawing from streams[b] and counting in totals[b] and source_found[b]: each block's draws
    come in the order they would alone. Returns the consequences to schedule (event weeks and
    codes) and the sanctions (weeks and units)."""
    mode = plan_mode[start:stop]
    for u in unit:
        visited[u] = True
    case_cells = _detect(streams, block_size, latent, latent_ordinary, materials, integrity, unit, mode,
                         plan_special[start:stop], plan_depth[start:stop], plan_n_topics[start:stop],
                         plan_duplicate[start:stop], plan_source[start:stop], plan_mask[start:stop], rounds - start,
                         detection, totals, unit_visits, unit_duplicates, unit_useful, source_found)
    if totals.shape[0] > 1:  # the cases block by block, each block's in the order it found them
        case_cells = case_cells[_stable_order(case_cells // (WIDTH * block_size), totals.shape[0])]
    event_week, event_code, sanction_week, sanction_unit = _case_courses(
        streams, block_size, case_cells // WIDTH, case_cells % WIDTH, now, work, integrity, sanction_memory, case_b,
        case_levers, totals, unit_sanctions, unit_unfair)
    caught = _catch_falsification(streams, block_size, falsified, unit, mode, catch_by_mode)
    if caught.size:
        sanctioned = np.empty(caught.size, dtype=np.bool_)
        for i in range(caught.size):
            b = block_of(caught[i], block_size, totals.shape[0])
            sanctioned[i] = chance(streams[b], falsification_sanction)
            totals[b, 16] += 1
            if sanctioned[i]:
                unit_sanctions[caught[i]] += 1
                totals[b, 15] += 1
        caught_sanctioned = caught[sanctioned]
        sanction_week = np.concatenate((sanction_week, np.full(caught_sanctioned.size, now, dtype=np.int64)))
        sanction_unit = np.concatenate((sanction_unit, caught_sanctioned))
    _data_and_task_days(block_size, unit, work, tasks, totals)
    return event_week, event_code, sanction_week, sanction_unit


@njit(cache=True, error_model="numpy")
def _detect(streams, block_size, latent, latent_ordinary, materials, integrity, unit, mode, special, depth, n_topics,
            duplicate, source, mask, rounds, detection, totals, unit_visits, unit_duplicates, unit_useful,
            source_found):
    """Detection, round by round, on the flat problem matrix (cell = unit * WIDTH + column).

    A visit finds each in-scope problem with a chance set by its depth, focus, the inspectors'
    professionalism, data access and the unit's concealment (better prepared with more materials).
    A round draws the hits of each in-scope topic problem (visit by visit, topics ascending), then
    each visit's major problems in scope, then their hits. Adds the week's counts to the year's
    counters (whole numbers: exact in any order); returns one cell per problem found, in order.
    A visit draws from its unit's block's stream (streams[unit // block_size]); a round of
    replications run together draws each one's part in turn, in its own order."""
    special_depth, professional, detection_base, concealment, unannounced_factor, data, quantifiable, \
        major_visibility = detection
    n = unit.size
    d = np.empty(n)
    d_low = np.empty(n)  # min(d, 1 - d): what each binomial draw of d needs
    log_miss = np.log1p(-detection_base)
    for v in range(n):
        intensity = depth[v] * (special_depth if special[v] else 1.0) * professional
        skill = 1.0 - np.exp(intensity * log_miss)  # (1 - detection_base) ** intensity
        preparedness = 0.5 + 0.5 * min(1.0, materials[unit[v]] / 0.3)
        hidden = concealment * (1 - integrity[unit[v]]) * preparedness
        if mode[v] == REMOTE:
            d[v] = data + (1 - quantifiable) * 0.5 * skill * (1 - hidden)
        else:
            d[v] = skill * (1 - hidden * (unannounced_factor if mode[v] == UNANNOUNCED else 1.0))
        d_low[v] = min(d[v], 1.0 - d[v])
    scope = np.zeros(n, dtype=np.int64)
    found = np.zeros(n, dtype=np.int64)
    majors_in_scope = np.zeros(n, dtype=np.int64)
    bound = 0  # problems in scope at the start: no round can find more
    for v in range(n):
        base = np.int64(unit[v]) * WIDTH
        topics = mask[v]
        while topics:
            bound += latent[base + _lowest_bit(topics)]
            topics &= topics - 1
        bound += latent[base + MAJOR]
    cases = np.empty(bound, dtype=np.int64)
    n_cases = 0
    for r in range(rounds.size - 1):
        # a round's visits come block after block (model.planning._stacked_visits); each block's part
        # is drawn from its own stream, the Generator passed to _detect_round as an argument
        first, stop = rounds[r], rounds[r + 1]
        while first < stop:
            block = block_of(unit[first], block_size, totals.shape[0])
            last = _block_end(unit, first, stop, block, block_size, totals.shape[0])
            n_cases, major_hits = _detect_round(streams[block], first, last, latent, latent_ordinary, unit, n_topics,
                                                mask, d, d_low, major_visibility, scope, found, majors_in_scope, cases,
                                                n_cases)
            totals[block, 6] += major_hits
            first = last
    for v in range(n):
        b = block_of(unit[v], block_size, totals.shape[0])
        if mode[v] != REMOTE:
            kind = 1 if special[v] else 0
            totals[b, 2 * kind] += scope[v]
            totals[b, 2 * kind + 1] += found[v]
        totals[b, 4] += scope[v]
        totals[b, 5] += found[v]
        unit_visits[unit[v]] += 1
        unit_duplicates[unit[v]] += duplicate[v]
        unit_useful[unit[v]] += found[v] > 0
        source_found[b, source[v]] += found[v]
    return cases[:n_cases]


@njit(cache=True, error_model="numpy")
def _detect_round(rng, start, stop, latent, latent_ordinary, unit, n_topics, mask, d, d_low, major_visibility, scope,
                  found, majors_in_scope, cases, n_cases):
    """Round visits start:stop, all of one block, drawing from its Generator: the hits of each
    in-scope topic problem (visit by visit, topics ascending), then each visit's major problems
    in scope, then their hits. Returns the number of cases so far and the major problems found."""
    for v in range(start, stop):
        base = np.int64(unit[v]) * WIDTH
        topics = mask[v]  # the visit's topics, ascending (lowest set bit first)
        while topics:
            cell = base + _lowest_bit(topics)
            topics &= topics - 1
            count = latent[cell]
            if count:
                hits = binomial_prepared(rng, count, d[v], d_low[v])
                latent[cell] -= hits
                latent_ordinary[unit[v]] -= hits
                scope[v] += count
                found[v] += hits
                cases[n_cases:n_cases + hits] = cell
                n_cases += hits
    # A binomial with no trials draws nothing, so skipping it leaves the stream as it was.
    for v in range(start, stop):
        majors = latent[np.int64(unit[v]) * WIDTH + MAJOR]
        if majors:
            majors_in_scope[v] = rng.binomial(majors, min(1.0, n_topics[v] / N_TOPICS))
    major_hits = 0
    for v in range(start, stop):
        if majors_in_scope[v] == 0:
            continue
        cell = np.int64(unit[v]) * WIDTH + MAJOR
        hits = rng.binomial(majors_in_scope[v], 1.0 - (1.0 - d[v]) ** major_visibility)
        latent[cell] -= hits
        scope[v] += majors_in_scope[v]
        found[v] += hits
        major_hits += hits
        cases[n_cases:n_cases + hits] = cell
        n_cases += hits
    return n_cases, major_hits


@njit(cache=True, error_model="numpy")
def _catch_falsification(streams, block_size, falsified, unit, mode, catch_by_mode):
    """Visits may uncover a falsified report (chance by mode). No draw unless a visited unit
    lied; then one trial per visit to a liar. Returns the caught units, sorted, each once (kept
    sorted as they are caught: a week catches a few). Replications run together (blocks of
    block_size units) try theirs block by block, each from its own stream in its own order."""
    n_blocks = len(streams)
    liars = np.empty(unit.size, np.int64)  # the visits to a unit whose last report lied, in order
    n_liars = 0
    for v in range(unit.size):
        if falsified[unit[v]]:
            liars[n_liars] = v
            n_liars += 1
    liars = liars[:n_liars]
    if n_blocks > 1:
        liars = liars[_stable_order(unit[liars] // block_size, n_blocks)]
    liar_units = unit[liars]
    caught = np.empty(n_liars, dtype=np.int64)
    n_caught = first = 0
    while first < n_liars:
        block = block_of(liar_units[first], block_size, n_blocks)
        last = _block_end(liar_units, first, n_liars, block, block_size, n_blocks)
        n_caught = _catch_liars(streams[block], unit, mode, catch_by_mode, liars[first:last], caught, n_caught)
        first = last
    for u in caught[:n_caught]:
        falsified[u] = False
    return caught[:n_caught]


@njit(cache=True, error_model="numpy")
def _catch_liars(rng, unit, mode, catch_by_mode, visits, caught, n_caught):
    """One trial per visit (`visits`, of one block), each caught unit inserted into caught[:n_caught]
    in order, once; returns the new count."""
    for v in visits:
        u = unit[v]
        if chance(rng, catch_by_mode[mode[v]]):
            at = n_caught
            while at > 0 and caught[at - 1] > u:
                at -= 1
            if at == 0 or caught[at - 1] != u:
                for k in range(n_caught, at, -1):
                    caught[k] = caught[k - 1]
                caught[at] = u
                n_caught += 1
    return n_caught


@njit(cache=True, error_model="numpy")
def _data_and_task_days(block_size, unit, work, tasks, totals):
    """The week's data acquisition and task closing times, as their expectations given each visit's
    unit (ODD 7.7). Nothing in the model reads them back: they feed two yearly means only, whose
    expectations are the same as with drawn times and whose run-to-run noise is smaller; a draw
    took five uniforms, a binomial and four transcendental functions per visit."""
    data_days, reference_work, minimum_work, processing_days, p_unclear, data_need = tasks
    n_blocks = totals.shape[0]
    for j in range(unit.size):
        scarcity = reference_work / max(work[unit[j]], minimum_work)
        # processing Exp(mean processing_days sqrt(scarcity)), coordination Exp(processing_days)
        # when responsibility is unclear, the data time when the task needs cross-department data
        totals[block_of(unit[j], block_size, n_blocks), 19] += (processing_days * (np.sqrt(scarcity) + p_unclear)
                                                              + data_need * data_days)
    visits = np.full(1, unit.size) if n_blocks == 1 else np.bincount(unit // block_size, minlength=n_blocks)
    for b in range(n_blocks):
        totals[b, 17] += visits[b] * data_days
        totals[b, 18] += visits[b]
        totals[b, 20] += visits[b]


# Course of a found problem (open_cases): the consequences it can have, in this order, with
# their change to latent (+1 returns the problem) and to unresolved (-1 fixes it).
FIXED, GENUINE_REBOUND, DROPPED, SURFACE_REBOUND, RECHECK_FIX = range(5)
CONSEQUENCE_D_LATENT = np.array([0, 1, 1, 1, 0], dtype=np.int64)
CONSEQUENCE_D_UNRESOLVED = np.array([-1, 1, 0, 0, -1], dtype=np.int64)
EVENT_KINDS = 8  # event code = cell * EVENT_KINDS + consequence
EVENT_CODES_PER_UNIT = WIDTH * EVENT_KINDS  # a unit's event codes: unit * EVENT_CODES_PER_UNIT onwards


CASE_BEHAVIOUR = (
    "reference_real_work", "minimum_real_work", "major_sanction_multiplier", "recheck_catch", "surface_cost_ratio",
    "genuine_fix_cost", "surface_sanction_multiplier", "sanction_cost", "intrinsic_weight", "choice_noise",
    "exogenous_share", "genuine_fix_weeks", "unclear_delay_weeks", "deadline_weeks", "quality_failure",
    "rebound_surface", "rebound_genuine")


@njit(cache=True, error_model="numpy")
def _case_courses(streams, block_size, unit, column, now, work, integrity, sanction_memory, b, levers, totals,
                  unit_sanctions, unit_unfair):
    """The course of each case, drawn when it opens: surface or genuine fix (the unit's choice), its
    duration, acceptance, follow-up, recheck, rebound, sanctions. The draws come block by block
    (eight uniforms per case, the durations, the rebounds, the redo times, three sanction
    uniforms per case); the consequences are listed kind by kind, cases in order within each.
    Per-case values wait between blocks in three scratch tables: a county week has one or two
    cases, and an array each cost more than the cases. The cases come replication block by block
    (units of `block_size`), block r drawing each of those blocks from streams[r] and counting in
    totals[r]."""
    (reference_work, minimum_work, major_multiplier, recheck_catch, surface_cost_ratio, genuine_fix_cost,
     surface_multiplier, sanction_cost, intrinsic_weight, choice_noise, exogenous_share, genuine_fix_weeks,
     unclear_delay, deadline, quality_failure, rebound_surface, rebound_genuine) = b
    accountability, severity, closed_loop, clarity, tolerance, catch_at_acceptance = levers
    n = unit.size
    if n == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64)
    n_blocks = totals.shape[0]
    catch_total = 1 - (1 - catch_at_acceptance) * (1 - closed_loop * recheck_catch)
    real = np.empty((13, n))  # rows 0-7 the uniforms, 8-10 the sanction uniforms, scarcity, genuine weeks
    draws, sanction_draws, scarcity, genuine_weeks = real[:8], real[8:11], real[11], real[12]
    whole = np.empty((4, n), dtype=np.int64)
    redo_weeks, check_at, rebound_after, recheck_redo = whole[0], whole[1], whole[2], whole[3]
    flags = np.empty((4, n), dtype=np.bool_)
    surface, passed, caught_surface, hidden = flags[0], flags[1], flags[2], flags[3]

    last = 0
    for r in range(n_blocks):
        rng, first = streams[r], last
        last = _block_end(unit, first, n, r, block_size, n_blocks)
        fill_uniforms(rng, draws[:, first:last])
        for j in range(first, last):
            scarcity[j] = reference_work / max(work[unit[j]], minimum_work)
            major_factor = 1.5 if column[j] == MAJOR else 1.0
            genuine_weeks[j] = rng.gamma(2.0, genuine_fix_weeks * np.sqrt(scarcity[j]) * major_factor / 2.0)
        for j in range(first, last):
            genuine_weeks[j] += (draws[1, j] < 1 - clarity) * rng.exponential(unclear_delay)
        for j in range(first, last):
            redo_weeks[j] = np.int64(np.ceil(rng.gamma(2.0, genuine_fix_weeks / 2.0)))

        for j in range(first, last):
            major = column[j] == MAJOR
            severity_factor = major_multiplier if major else 1.0
            # The unit's choice: a surface fix saves the genuine fix's cost unless it is caught (then it
            # must be redone), against the sanction it expects (raised by its own past sanctions).
            saving = (1 - catch_total) - 1 / surface_cost_ratio
            benefit = genuine_fix_cost * saving * scarcity[j] * (2.0 if major else 1.0)
            expected_sanction = min(1.0, surface_multiplier * severity_factor
                                    * (accountability * (1.0 + sanction_memory[unit[j]])))
            penalty = catch_total * expected_sanction * severity * sanction_cost
            moral = intrinsic_weight * integrity[unit[j]]
            p_surface = 1.0 / (1.0 + np.exp(-(benefit - penalty - moral) / choice_noise))
            surface[j] = draws[0, j] < p_surface
            weeks = genuine_weeks[j] / surface_cost_ratio if surface[j] else genuine_weeks[j]
            on_time = weeks <= deadline
            check_at[j] = np.int64(np.ceil(min(weeks, deadline)))
            caught_surface[j] = surface[j] and on_time and draws[2, j] < catch_at_acceptance
            quality_fail = not surface[j] and on_time and draws[2, j] < quality_failure
            passed[j] = on_time and not caught_surface[j] and not quality_fail
            hidden[j] = surface[j] and passed[j]
            rebound_after[j] = rng.geometric(rebound_surface if hidden[j] else rebound_genuine)
        for j in range(first, last):
            recheck_redo[j] = np.int64(np.ceil(rng.gamma(2.0, genuine_fix_weeks / 2.0)))
        fill_uniforms(rng, sanction_draws[:, first:last])

    event_week = np.full((5, n), -1, dtype=np.int64)  # -1: the case has no such consequence
    sanction_week = np.empty(n, dtype=np.int64)
    sanction_unit = np.empty(n, dtype=np.int64)
    n_sanctioned = n_events = last = 0
    for r in range(n_blocks):
        n_surface = n_passed = completed = within_6_months = accepted_count = rebounded = block_sanctioned = 0
        days_to_accept = 0.0
        first, last = last, _block_end(unit, last, n, r, block_size, n_blocks)
        for j in range(first, last):
            follow_up = not passed[j] and draws[3, j] < closed_loop
            # The follow-up's redo is a genuine fix and meets the same standard: it fails acceptance with
            # quality_failure, and the problem then returns to latent (one follow-up round per case).
            redo_failed = follow_up and draws[7, j] < quality_failure
            accepted = passed[j] or (follow_up and not redo_failed)
            accepted_at = check_at[j] if passed[j] else check_at[j] + redo_weeks[j]
            rechecked = hidden[j] and draws[4, j] < closed_loop
            caught_recheck = rechecked and rebound_after[j] > RECHECK_WEEKS and draws[5, j] < recheck_catch
            # A problem recurring more than a year after acceptance counts as a new problem, not a rebound.
            rebounds = accepted and not caught_recheck and rebound_after[j] <= REBOUND_WINDOW_WEEKS
            # Sanctions: at finding, at a failed acceptance, at a recheck that catches a surface fix.
            severity_factor = major_multiplier if column[j] == MAJOR else 1.0
            exogenous = draws[6, j] < exogenous_share
            surface_sanction = min(1.0, surface_multiplier * accountability * severity_factor)
            waived = 1 - tolerance if exogenous else 1.0
            at_finding = sanction_draws[0, j] < min(1.0, accountability * severity_factor * waived)
            at_check = not passed[j] and sanction_draws[1, j] < (
                surface_sanction if caught_surface[j] else min(1.0, accountability * waived))
            at_recheck = caught_recheck and sanction_draws[2, j] < surface_sanction
            if at_finding or at_check or at_recheck:
                if at_finding:
                    sanction_week[n_sanctioned] = now
                elif at_check:
                    sanction_week[n_sanctioned] = now + check_at[j]
                else:
                    sanction_week[n_sanctioned] = now + accepted_at + RECHECK_WEEKS
                sanction_unit[n_sanctioned] = unit[j]
                n_sanctioned += 1
                block_sanctioned += 1
                unit_sanctions[unit[j]] += 1
                if exogenous and (at_finding or (at_check and not caught_surface[j])):
                    unit_unfair[unit[j]] += 1
            # Consequences for the unit's problem.
            fix_week = now + accepted_at
            fixed = accepted and not hidden[j]
            if fixed:
                event_week[FIXED, j] = fix_week
            if fixed and rebounds:
                event_week[GENUINE_REBOUND, j] = fix_week + rebound_after[j]
            if not accepted:
                event_week[DROPPED, j] = now + (accepted_at if follow_up else check_at[j])
            if hidden[j] and rebounds:
                event_week[SURFACE_REBOUND, j] = fix_week + rebound_after[j]
            if caught_recheck:
                event_week[RECHECK_FIX, j] = fix_week + RECHECK_WEEKS + recheck_redo[j]
            n_events += fixed + (fixed and rebounds) + (not accepted) + (hidden[j] and rebounds) + caught_recheck
            n_surface += surface[j]
            n_passed += passed[j]
            if accepted:
                accepted_count += 1
                days_to_accept += accepted_at * DAYS_PER_WEEK
                completed += accepted_at <= WEEKS_PER_YEAR
                within_6_months += accepted_at <= 26
            rebounded += rebounds
        block_totals = totals[r]
        block_totals[7] += last - first
        block_totals[8] += n_surface
        block_totals[9] += n_passed
        block_totals[10] += completed
        block_totals[11] += within_6_months
        block_totals[12] += accepted_count
        block_totals[13] += rebounded
        block_totals[14] += days_to_accept
        block_totals[15] += block_sanctioned
    weeks = np.empty(n_events, dtype=np.int64)
    codes = np.empty(n_events, dtype=np.int64)
    e = 0
    for kind in range(5):
        for j in range(n):
            if event_week[kind, j] >= 0:
                weeks[e] = event_week[kind, j]
                codes[e] = (np.int64(unit[j]) * WIDTH + column[j]) * EVENT_KINDS + kind
                e += 1
    return weeks, codes, sanction_week[:n_sanctioned], sanction_unit[:n_sanctioned]


@njit(cache=True, error_model="numpy", inline="always")
def _block_end(unit, first, stop, block, block_size, n_blocks):
    """Where block `block`'s run of entries unit[first:stop] ends (entries come block by block)."""
    if n_blocks == 1:
        return stop
    last = first
    while last < stop and unit[last] // block_size == block:
        last += 1
    return last


@njit(cache=True, error_model="numpy")
def _apply_events(latent, latent_ordinary, unresolved, codes):
    for code in codes:
        cell, kind = divmod(code, EVENT_KINDS)
        latent[cell] += CONSEQUENCE_D_LATENT[kind]
        if cell % WIDTH != MAJOR:
            latent_ordinary[cell // WIDTH] += CONSEQUENCE_D_LATENT[kind]
        unresolved[cell] += CONSEQUENCE_D_UNRESOLVED[kind]


@njit(cache=True, error_model="numpy")
def _apply_sanctions(memory, units, severity):
    for u in units:
        memory[u] += severity
