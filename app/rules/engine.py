"""judge(): one station result against one specification, as pure data in and out.

Nothing escapes: a check that cannot be decided is a FAIL that says why. A RETEST at a station whose
retest cap is reached becomes a FAIL ("retest cap reached"). Re-judging a stored unit against another
revision is the same call with another :class:`Spec`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from app.domain.expectations import CycleExpectations
from app.domain.results import CheckResult, Judgement, StationResult, Verdict
from stations import StationType, UnknownStationTypeError, get_station_type
from stations import _checks as kinds

from . import checks_basic, checks_model, vacuum
from .context import JudgeContext, NotJudgeable, ValueStatus
from .spec import Limit, Spec

Evaluator = Callable[[Any, JudgeContext], CheckResult | tuple[CheckResult, ...]]

#: Check kind -> evaluator. A new kind is a new dataclass in stations._checks plus one entry here.
EVALUATORS: dict[type[kinds.CheckSpec], Evaluator] = {
    kinds.RangeCheck: checks_basic.range_check,
    kinds.DifferenceCheck: checks_basic.difference_check,
    kinds.TraceEachCheck: checks_basic.trace_each_check,
    kinds.TracePeakCheck: checks_basic.trace_peak_check,
    kinds.PresenceCheck: checks_basic.presence_check,
    kinds.OneOfCheck: checks_basic.one_of_check,
    kinds.FlagCheck: checks_basic.flag_check,
    kinds.SequenceCheck: checks_basic.sequence_check,
    kinds.BomCheck: checks_basic.bom_check,
    kinds.CheckAgeCheck: checks_basic.check_age_check,
    kinds.RatioCheck: checks_basic.ratio_check,
    kinds.TimeBelowCheck: vacuum.time_below_check,
    kinds.RiseTestCheck: vacuum.rise_test_check,
    kinds.LeakRateCheck: checks_model.leak_rate_check,
    kinds.SteadyWindowCheck: checks_model.steady_window_check,
    kinds.ResidualCheck: checks_model.residual_check,
    kinds.EviStepCheck: checks_model.evi_step_check,
    kinds.RecoveryCheck: checks_model.recovery_check,
}

#: Check kinds whose verdict depends on the cycle model: their judgement records its version.
MODEL_KINDS = (kinds.LeakRateCheck, kinds.ResidualCheck, kinds.EviStepCheck)

#: Check kinds judged against one limit of the revision as it stands (its bounds, its U): when one cannot
#: be judged, its FAIL still records the limit and U it would have been judged against. The model-based
#: kinds judge against a band around an expectation, or with a U propagated from the measurements: none.
PLAIN_LIMIT_KINDS = (
    kinds.RangeCheck,
    kinds.DifferenceCheck,
    kinds.TraceEachCheck,
    kinds.TracePeakCheck,
    kinds.CheckAgeCheck,
    kinds.RatioCheck,
)


RULES_VERSION = "rules-7"
"""Recorded with every verdict (migration 0014). Raise it whenever the same result, limits and
expectations could be judged differently. rules-2 (2026-11-29): the steady window's standard deviation
is the trace's own; a gap in the vacuum trace interrupts the time below target; the water outlet must
stay back within its band; a refrigerant tracer must be the unit's own; a reference-leak check exactly
as old as its validity window has expired. rules-3 (2026-11-29): a check against a limit with no bound
FAILs as spec_incomplete instead of passing any value (an optional limit, the market charge cap, only
when a revision's override took its bound away: a market without a cap rule still says so and passes);
the steady window needs both its slope and its standard-deviation limits; a market charge cap that a
revision overrode (before revisions were refused that) is judged by the market rule frozen beside it.
rules-4 (2026-11-29): every rise-test outcome records the tight-rise limit and its U; measured is the rise
in Pa, none when the test gave no valid rise (a test too short recorded its duration). rules-5
(2026-11-29): the time below the vacuum target records its U in seconds (the spread of the times read
at target ∓ the gauge's U, plus the time's own U) and is guard-banded with it; it recorded the gauge's
U in Pa beside a limit in seconds and was decided on the two readings; a leak found at a test pressure
below PS/4 is a "leak" (the test-pressure check comes after the leak rate: the first failing check's
mode routes the unit), not a "test_invalid" to repeat; a run-in plateau's steady window records its
slope and its standard deviation as two rows (<plateau>_steady_window, <plateau>_steady_window_spread),
each with its own limit and U (one row recorded the slope's limit beside a verdict the deviation
decided). rules-6 (2026-11-29): the rise test records, as its expectation, the rise of a tight, dry
circuit of the product's volume over the test (the cycle model's surface and oil outgassing, from the
revision's tight_circuit_* settings); verdicts are unchanged. rules-7 (2026-11-30): a check of a plain-limit
kind (PLAIN_LIMIT_KINDS) that cannot be judged (not measured, Bad status, a broken trace…) records, beside
its FAIL, the limit and U it would have been judged against; verdicts are unchanged. Verdicts before 0014
record none."""


def _evaluate(check: kinds.CheckSpec, ctx: JudgeContext) -> tuple[CheckResult, ...]:
    if check.evi_only and not ctx.spec.product.evi:
        return (
            CheckResult(
                name=check.name,
                verdict=Verdict.PASS,
                rule="not_applicable",
                message=f"{check.label}: not applicable, {ctx.spec.product_model_code} has no EVI",
            ),
        )
    evaluator = EVALUATORS.get(type(check))
    ctx.uncertain_used.clear()
    try:
        if evaluator is None:
            raise NotJudgeable(f"no evaluator for check kind {type(check).__name__}", rule="unknown_check_kind")
        outcome = evaluator(check, ctx)
    except NotJudgeable as problem:
        limit = _limit_in_force(check, ctx)
        return (
            CheckResult(
                name=check.name,
                verdict=Verdict.FAIL,
                rule=problem.rule,
                message=f"{check.label}: {problem.message}",
                limit_low=limit.low if limit else None,
                limit_high=limit.high if limit else None,
                uncertainty=limit.uncertainty if limit else None,
            ),
        )
    except Exception as exc:  # a judging bug must give a FAIL that says so, never a lost result
        return (
            CheckResult(
                name=check.name,
                verdict=Verdict.FAIL,
                rule="internal_error",
                message=f"{check.label}: could not be judged ({type(exc).__name__}: {exc})",
            ),
        )
    outcomes = outcome if isinstance(outcome, tuple) else (outcome,)
    if ctx.uncertain_used:
        # plc-interface.md: a value with Uncertain status gives at best a RETEST.
        names = ", ".join(sorted(ctx.uncertain_used))
        outcomes = tuple(
            replace(
                r,
                verdict=Verdict.RETEST,
                rule=f"{r.rule}+uncertain_status",
                message=f"{r.message} — {names} had Uncertain status: measure again",
            )
            if r.verdict is Verdict.PASS and not r.rule.startswith(("alarm:", "station_figure"))
            else r
            for r in outcomes
        )
    return outcomes


def _limit_in_force(check: kinds.CheckSpec, ctx: JudgeContext) -> Limit | None:
    """The limit a check of a plain-limit kind would have been judged against (None for the other kinds,
    or when the revision gives that limit no bound)."""
    if not isinstance(check, PLAIN_LIMIT_KINDS):
        return None
    limit = ctx.spec.limits.get(check.limit)
    return limit if limit is not None and limit.applies else None


def _completeness(ctx: JudgeContext) -> CheckResult:
    """Every required value of the contract measured with its kind and unit, every trace valid."""
    problems: list[str] = []
    for schema in ctx.station_type.measurements:
        if not schema.required:
            continue
        try:
            ctx.value(schema.name, schema.kind)
        except NotJudgeable as problem:
            problems.append(problem.message)
    for trace in ctx.station_type.traces:
        try:
            ctx.trace(trace.channel)
        except NotJudgeable as problem:
            problems.append(problem.message)
    ctx.uncertain_used.clear()  # presence is all this check asks; the checks using a value judge its status
    if problems:
        return CheckResult(
            name="result_complete",
            verdict=Verdict.FAIL,
            rule="schema:incomplete",
            message="result incomplete: " + "; ".join(problems),
        )
    return CheckResult(
        name="result_complete",
        verdict=Verdict.PASS,
        rule="schema:complete",
        message="every contract value and trace reported",
    )


# What a RETEST's message tells the station to do; a RETEST the cap turns into a FAIL drops it.
_MEASURE_AGAIN = (": measure again", "; repeat the rise test")


def _apply_retest_cap(result: CheckResult, *, retest_count: int, retest_cap: int) -> CheckResult:
    """A RETEST at a station whose retest cap is reached (or is 0) is a FAIL, worded as one.

    Only the message's words change with the cap, not the verdict or the rule: no RULES_VERSION bump
    (a re-derivation of an earlier verdict reports the wording difference and agrees)."""
    if result.verdict is not Verdict.RETEST or retest_count < retest_cap:
        return result
    finding = result.message
    for instruction in _MEASURE_AGAIN:
        finding = finding.replace(instruction, "")
    why = (
        "this station allows no retest (cap 0)"
        if retest_cap == 0
        else f"still undecided after {retest_count} of {retest_cap} retests"
    )
    return replace(
        result,
        verdict=Verdict.FAIL,
        rule=f"{result.rule}+retest_cap_reached",
        message=f"{finding} — FAIL, retest cap reached: {why}",
    )


def _model_version(ctx: JudgeContext, checks: Iterable[kinds.CheckSpec]) -> str | None:
    if ctx.expectations is None or not any(isinstance(c, MODEL_KINDS) for c in checks):
        return None
    try:
        return ctx.expectations.model_version(ctx.spec.product_model_code)
    except Exception:  # the version is a record, not a reason to lose the verdict
        return None


def judge(
    *,
    station_type: StationType | str,
    spec: Spec,
    result: StationResult,
    expectations: CycleExpectations | None,
    retest_count: int,
    now: datetime,
    value_status: Mapping[str, ValueStatus] | None = None,
) -> Judgement:
    """Judge one station result: every check's CheckResult, the worst verdict, the first failure mode.

    ``retest_count`` is how many RETESTs this attempt already had at this station; ``now`` is the
    judging instant (UTC) for time-dependent checks such as an instrument check's age.
    ``value_status`` carries the OPC UA status of result values that were not Good: a "bad" value
    cannot pass (FAIL, "measurement not valid"), an "uncertain" one gives at best a RETEST.
    """
    try:
        st = get_station_type(station_type) if isinstance(station_type, str) else station_type
    except UnknownStationTypeError as exc:
        check = CheckResult(name="station_type", verdict=Verdict.FAIL, rule="unknown_station_type", message=str(exc))
        return Judgement(verdict=Verdict.FAIL, checks=(check,), spec_revision_id=spec.revision_id)
    if spec.station_type != st.code:
        check = CheckResult(
            name="specification",
            verdict=Verdict.FAIL,
            rule="spec_mismatch",
            message=f"the specification is for {spec.station_type}, the result is from {st.code}",
        )
        return Judgement(verdict=Verdict.FAIL, checks=(check,), spec_revision_id=spec.revision_id)
    ctx = JudgeContext(
        station_type=st,
        spec=spec,
        result=result,
        expectations=expectations,
        now=now,
        value_status=value_status or {},
    )
    judged = [
        _apply_retest_cap(r, retest_count=retest_count, retest_cap=spec.retest_cap)
        for check in st.checks
        for r in _evaluate(check, ctx)
    ]
    results = (_completeness(ctx), *judged)
    verdict = Verdict.worst([r.verdict for r in results])
    first_fail = next((r for r in results if r.verdict is Verdict.FAIL), None)
    return Judgement(
        verdict=verdict,
        checks=results,
        failure_mode=first_fail.failure_mode if first_fail else None,
        spec_revision_id=spec.revision_id,
        model_version=_model_version(ctx, st.checks),
        rules_version=RULES_VERSION,
    )


def station_alarms(judgement: Judgement) -> tuple[str, ...]:
    """Alarms for the station raised while judging (e.g. the PLC's own figure disagrees with the trace).

    They never change the unit's verdict; they are carried as PASS checks whose rule starts ``alarm:``.
    """
    return tuple(c.message for c in judgement.checks if c.rule.startswith("alarm:"))
