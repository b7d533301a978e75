"""Evaluators of the general check kinds: ranges, traces, presence, codes, BOM, instrument checks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC

import numpy as np

from app.domain.results import CheckResult, Verdict
from stations._checks import (
    BomCheck,
    CheckAgeCheck,
    CheckSpec,
    DifferenceCheck,
    FlagCheck,
    OneOfCheck,
    PresenceCheck,
    RangeCheck,
    RatioCheck,
    SequenceCheck,
    TraceEachCheck,
    TracePeakCheck,
)

from .context import JudgeContext, NotJudgeable, describe_bounds, fmt, guard_band
from .spec import Limit


def judged(
    check: CheckSpec,
    *,
    value: float,
    limit: Limit,
    subject: str | None = None,
    expected: float | None = None,
    unit: str | None = None,
    uncertainty: float | None = None,
    rule_prefix: str = "",
) -> CheckResult:
    """A guard-banded comparison of ``value`` with ``limit``, worded for the operator.

    A limit without a bound decides nothing: the check FAILs as ``spec_incomplete`` instead of passing
    any value (a range check whose limit may be absent by design says so before it gets here)."""
    if not limit.applies:
        return unbounded(check, limit, measured=value)
    u = limit.uncertainty if uncertainty is None else uncertainty
    gb = guard_band(value=value, low=limit.low, high=limit.high, uncertainty=u)
    unit_text = unit if unit is not None else limit.unit
    unit_text = "" if unit_text in ("", "1") else f" {unit_text}"
    what = subject or check.label
    # U is in the unit of the quantity judged (a unitless one stays so): "exceeds 3 g/yr (U 0.2 g/yr)"
    message = f"{what} {fmt(value)}{unit_text} {gb.relation(unit_text)} (U {fmt(u)}{unit_text})"
    if gb.verdict is Verdict.RETEST:
        message += ": measure again"
    return CheckResult(
        name=check.name,
        verdict=gb.verdict,
        message=message,
        rule=rule_prefix + gb.rule,
        measured=value,
        expected=expected,
        limit_low=limit.low,
        limit_high=limit.high,
        uncertainty=u,
        failure_mode=check.failure_mode if gb.verdict is not Verdict.PASS else None,
    )


def unbounded(check: CheckSpec, limit: Limit, *, measured: float | None = None) -> CheckResult:
    """FAIL: the specification gives ``limit`` neither a low nor a high, so there is nothing to judge against."""
    return CheckResult(
        name=check.name,
        verdict=Verdict.FAIL,
        message=(
            f"{check.label}: the specification sets no bound for limit {limit.name} ({limit.origin}), so it "
            "cannot pass; approve a specification revision that gives it a low or a high"
        ),
        rule="spec_incomplete",
        measured=measured,
        uncertainty=limit.uncertainty,
        failure_mode=check.failure_mode,
    )


def passed(check: CheckSpec, message: str, *, rule: str, measured: float | None = None) -> CheckResult:
    return CheckResult(name=check.name, verdict=Verdict.PASS, message=message, rule=rule, measured=measured)


def failed(check: CheckSpec, message: str, *, rule: str, measured: float | None = None) -> CheckResult:
    return CheckResult(
        name=check.name,
        verdict=Verdict.FAIL,
        message=message,
        rule=rule,
        measured=measured,
        failure_mode=check.failure_mode,
    )


def range_check(check: RangeCheck, ctx: JudgeContext) -> CheckResult:
    limit = ctx.limit(check.limit)
    if not limit.applies:
        product = ctx.spec.product
        message = check.no_limit_message.format(
            model=product.model_code,
            market=product.market,
            refrigerant=product.refrigerant,
            construction=product.construction,
        )
        if check.limit_required:
            return failed(check, f"{check.label}: {message}", rule="no_limit")
        if limit.origin == "revision":  # absent by a revision's override, not by the data: judge nothing
            return unbounded(check, limit)
        return passed(check, f"{check.label}: {message}", rule="no_limit_applies")
    value = ctx.number(check.measurement) + check.offset
    return judged(check, value=value, limit=limit)


def difference_check(check: DifferenceCheck, ctx: JudgeContext) -> CheckResult:
    difference = ctx.number(check.measurement) - ctx.number(check.minus)
    return judged(check, value=difference, limit=ctx.limit(check.limit), subject=f"{check.label}: difference")


def trace_each_check(check: TraceEachCheck, ctx: JudgeContext) -> CheckResult:
    limit = ctx.limit(check.limit)
    _, values = ctx.trace(check.channel)
    # The sample furthest outside (or closest to) the limits decides for all of them.
    margins = np.full(values.shape, np.inf)
    if limit.low is not None:
        margins = np.minimum(margins, values - limit.low)
    if limit.high is not None:
        margins = np.minimum(margins, limit.high - values)
    worst = int(np.argmin(margins))
    subject = f"{check.label} of {check.item} {worst + 1} of {values.size}"
    return judged(check, value=float(values[worst]), limit=limit, subject=subject)


def trace_peak_check(check: TracePeakCheck, ctx: JudgeContext) -> CheckResult:
    t, values = ctx.trace(check.channel)
    subject = f"{check.label}"
    if check.window_start is not None and check.window_duration is not None:
        start = ctx.number(check.window_start)
        end = start + ctx.number(check.window_duration)
        inside = (t >= start) & (t <= end)
        if not inside.any():
            raise NotJudgeable(
                f"trace {check.channel} has no samples between {fmt(start)} s and {fmt(end)} s",
                rule="bad_trace",
            )
        values = values[inside]
    return judged(check, value=float(values.max()), limit=ctx.limit(check.limit), subject=subject)


def presence_check(check: PresenceCheck, ctx: JudgeContext) -> CheckResult:
    if check.measurement is not None:
        schema = ctx.station_type.measurement(check.measurement)
        kind = schema.kind if schema is not None else "string"
        readers: dict[str, Callable[[str], object]] = {
            "string": ctx.text,
            "number": ctx.number,
            "bool": ctx.flag,
            "datetime": ctx.instant,
        }
        reader = readers[kind]
        value = reader(check.measurement)
        return passed(check, f"{check.label} recorded: {value}", rule="present")
    if check.channel is not None:
        _, values = ctx.trace(check.channel)
        return passed(check, f"{check.label} recorded ({values.size} samples)", rule="present")
    raise NotJudgeable(f"{check.name} names nothing to look for", rule="spec_incomplete")


def one_of_check(check: OneOfCheck, ctx: JudgeContext) -> CheckResult:
    value = ctx.text(check.measurement)
    allowed = list(check.allowed)
    if check.or_product_refrigerant:
        allowed.append(ctx.spec.product.refrigerant)
    if value in allowed:
        return passed(check, f"{check.label} {value}", rule="one_of")
    shown = ", ".join(allowed)
    if check.or_product_refrigerant:
        shown += " (the unit's refrigerant)"
    return failed(check, f"{check.label} {value!r} is not one of {shown}", rule="one_of")


def flag_check(check: FlagCheck, ctx: JudgeContext) -> CheckResult:
    value = ctx.flag(check.measurement)
    words = "passed" if value else "failed"
    if value is check.expected:
        return passed(check, f"{check.label} {words}", rule="flag")
    return failed(check, f"{check.label} {words}", rule="flag")


def sequence_check(check: SequenceCheck, ctx: JudgeContext) -> CheckResult:
    seen = tuple(step.strip() for step in ctx.text(check.measurement).split(",") if step.strip())
    if seen == check.expected:
        return passed(check, f"{check.label} in order ({len(seen)} steps)", rule="sequence")
    first_bad = next(
        (i for i, (a, b) in enumerate(zip(seen, check.expected, strict=False)) if a != b),
        min(len(seen), len(check.expected)),
    )
    wanted = check.expected[first_bad] if first_bad < len(check.expected) else "the end"
    got = seen[first_bad] if first_bad < len(seen) else "the end"
    return failed(
        check,
        f"{check.label} out of order: step {first_bad + 1} was {got}, expected {wanted}",
        rule="sequence",
    )


def bom_check(check: BomCheck, ctx: JudgeContext) -> CheckResult:
    bom = ctx.spec.product.bom
    key = check.component.value
    if key not in bom:
        raise NotJudgeable(f"product {ctx.spec.product_model_code} has no BOM entry for {key}", rule="spec_incomplete")
    required = bom[key]
    component = ctx.component(check.component)
    serial = component.identifier if component else ctx.optional_text(check.serial_measurement)
    model = (component.model if component else None) or ctx.optional_text(check.model_measurement)
    if required is None:
        if serial or model:
            return failed(
                check,
                f"{check.label} {model or serial} fitted, but {ctx.spec.product_model_code} has none in its BOM",
                rule="bom",
            )
        return passed(check, f"no {check.label} fitted, none in the BOM", rule="bom")
    if not serial:
        raise NotJudgeable(f"{check.label} serial was not scanned", rule="not_measured")
    if model != required:
        return failed(
            check,
            f"{check.label} {serial} is model {model or 'unknown'}, the BOM requires {required}",
            rule="bom",
        )
    return passed(check, f"{check.label} {serial} is {model} as in the BOM", rule="bom")


def check_age_check(check: CheckAgeCheck, ctx: JudgeContext) -> CheckResult:
    checked_at = ctx.instant(check.checked_at_measurement)
    if checked_at.tzinfo is None:
        checked_at = checked_at.replace(tzinfo=UTC)
    now = ctx.now if ctx.now.tzinfo is not None else ctx.now.replace(tzinfo=UTC)
    age_h = (now - checked_at).total_seconds() / 3600.0
    limit = ctx.limit(check.limit)
    if age_h < -5 / 60:  # more than five minutes of clock skew
        return failed(check, f"{check.label} is dated {checked_at.isoformat()}, in the future", rule="check_age")
    result = judged(check, value=max(age_h, 0.0), limit=limit, subject=f"{check.label} age")
    if result.verdict is Verdict.PASS and limit.high is not None and age_h >= limit.high:
        # line.md: the check must be *younger* than its validity window; at the window's end it has expired
        result = replace(result, verdict=Verdict.FAIL, rule="check_age:expired", failure_mode=check.failure_mode)
        result = replace(result, message=f"{check.label} is {fmt(age_h)} h old, not younger than {fmt(limit.high)} h")
    if result.verdict is Verdict.FAIL:
        message = f"instrument check expired: {result.message}"
        return replace(result, message=message)
    return result


def ratio_check(check: RatioCheck, ctx: JudgeContext) -> CheckResult:
    nominal = ctx.number(check.nominal_measurement)
    reading = ctx.number(check.reading_measurement)
    if nominal <= 0:
        raise NotJudgeable(f"{check.nominal_measurement} must be positive", rule="not_measured")
    limit = ctx.limit(check.limit)
    deviation = reading / nominal - 1.0
    result = judged(check, value=deviation, limit=limit, subject=f"{check.label} deviation from nominal", expected=0.0)
    bounds = describe_bounds(limit.low, limit.high)
    message = (
        f"{check.label} {fmt(reading)} against nominal {fmt(nominal)}: {deviation:+.1%} "
        f"({'within' if result.verdict is Verdict.PASS else 'out of tolerance'} {bounds})"
    )
    return replace(result, message=message)
