"""Evaluators that need physics: the leak-rate conversion and the run-in checks against the cycle model."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from app.domain.expectations import CycleExpectations, EviStepExpectation, PlateauExpectation
from app.domain.results import CheckResult, Verdict
from stations._checks import EviStepCheck, LeakRateCheck, RecoveryCheck, ResidualCheck, SteadyWindowCheck

from .checks_basic import failed, judged
from .context import JudgeContext, NotJudgeable, fmt, guard_band

_QUANTITY_WORDS_COOLING = {"capacity_w": "cooling capacity", "cop": "EER"}


def _expectations(ctx: JudgeContext) -> CycleExpectations:
    if ctx.expectations is None:
        raise NotJudgeable("no cycle-model expectations are available for this judgement", rule="no_expectations")
    return ctx.expectations


def _numbers(ctx: JudgeContext) -> dict[str, float | None]:
    """Every numeric result value by contract name (None when not measured), as the cycle model takes them."""
    cached = ctx.cache.get("numbers")
    if cached is None:
        cached = {m.name: ctx.optional_number(m.name) for m in ctx.station_type.measurements if m.kind == "number"}
        ctx.cache["numbers"] = cached
    return cached  # type: ignore[no-any-return]


def leak_rate_check(check: LeakRateCheck, ctx: JudgeContext) -> CheckResult:
    tracer = ctx.text(check.tracer_measurement)
    signal = ctx.number(check.signal_measurement)
    pressure_bar = ctx.number(check.pressure_measurement)
    if signal < 0:
        raise NotJudgeable(f"leak signal {fmt(signal)} mbar·l/s is negative: instrument fault", rule="not_measured")
    refrigerant = ctx.spec.product.refrigerant
    try:
        rate = _expectations(ctx).leak_rate_g_per_year(
            tracer_gas=tracer,
            signal_mbar_l_s=signal,
            test_pressure_bar_abs=pressure_bar,
            refrigerant=refrigerant,
        )
    except ValueError as exc:  # unknown gas, pressure not above atmospheric …: the model says why
        raise NotJudgeable(
            f"cannot convert the {tracer} signal to {refrigerant}: {exc}", rule="conversion_failed"
        ) from exc
    if not math.isfinite(rate):
        raise NotJudgeable(f"the {tracer} signal could not be converted to {refrigerant}", rule="conversion_failed")
    result = judged(check, value=rate, limit=ctx.limit(check.limit), subject=f"leak rate ({refrigerant})")
    return replace(
        result,
        message=f"{result.message}; {tracer} signal {fmt(signal)} mbar·l/s at {fmt(pressure_bar)} bar abs",
    )


def steady_window_check(check: SteadyWindowCheck, ctx: JudgeContext) -> tuple[CheckResult, CheckResult]:
    start = ctx.number(f"{check.plateau}_WindowStart_s")
    end = ctx.number(f"{check.plateau}_WindowEnd_s")
    if end <= start:
        raise NotJudgeable(
            f"{check.plateau} window ends ({fmt(end)} s) before it starts ({fmt(start)} s)", rule="bad_window"
        )
    slope_limit, spread_limit = ctx.limit(check.slope_limit), ctx.limit(check.spread_limit)
    if slope_limit.high is None or spread_limit.high is None:
        raise NotJudgeable(
            "the steady window's slope and standard-deviation limits must both be set", rule="spec_incomplete"
        )
    worst_slope, worst_spread = (0.0, ""), (0.0, "")
    for channel in check.channels:
        t, v = ctx.trace(channel)
        lo, hi = np.searchsorted(t, start, side="left"), np.searchsorted(t, end, side="right")
        if hi - lo < 5:
            raise NotJudgeable(f"trace {channel} has {hi - lo} samples in the {check.plateau} window", rule="bad_trace")
        tw, vw = t[lo:hi], v[lo:hi]
        tw = tw - tw.mean()
        vw = vw - vw.mean()
        stt, stv, svv = float(tw @ tw), float(tw @ vw), float(vw @ vw)
        slope_per_s = stv / stt
        # line.md: a slope *and* a standard deviation under their limits. The deviation is the trace's
        # own over the window (a drift counts in it), not the scatter about its trend.
        spread = math.sqrt(svv / tw.size)
        worst_slope = max(worst_slope, (abs(slope_per_s) * 60.0, channel))
        worst_spread = max(worst_spread, (spread, channel))
    slope_gb = guard_band(value=worst_slope[0], low=None, high=slope_limit.high, uncertainty=slope_limit.uncertainty)
    spread_gb = guard_band(
        value=worst_spread[0], low=None, high=spread_limit.high, uncertainty=spread_limit.uncertainty
    )
    failing = (Verdict.FAIL, Verdict.RETEST)
    # One row per quantity, each with its own limit and U: the recorded row reproduces its verdict.
    slope_row = CheckResult(
        name=check.name,
        verdict=slope_gb.verdict,
        message=f"{check.label}: steepest slope {fmt(worst_slope[0])} K/min ({worst_slope[1]}) "
        f"{slope_gb.relation(' K/min')}",
        rule=f"steady_window:{slope_gb.rule}",
        measured=worst_slope[0],
        limit_high=slope_limit.high,
        uncertainty=slope_limit.uncertainty,
        failure_mode=check.failure_mode if slope_gb.verdict in failing else None,
    )
    spread_row = CheckResult(
        name=f"{check.name}_spread",
        verdict=spread_gb.verdict,
        message=f"{check.label}: largest standard deviation {fmt(worst_spread[0])} K ({worst_spread[1]}) "
        f"{spread_gb.relation(' K')}",
        rule=f"steady_window:{spread_gb.rule}",
        measured=worst_spread[0],
        limit_high=spread_limit.high,
        uncertainty=spread_limit.uncertainty,
        failure_mode=check.failure_mode if spread_gb.verdict in failing else None,
    )
    return slope_row, spread_row


def _plateau_expectation(ctx: JudgeContext, plateau: str) -> PlateauExpectation:
    key = f"plateau:{plateau}"
    if key not in ctx.cache:
        ctx.cache[key] = _expectations(ctx).plateau(
            product_model_code=ctx.spec.product_model_code,
            plateau=plateau,  # type: ignore[arg-type]
            values=_numbers(ctx),
            uncertainties=ctx.spec.settings,
        )
    return ctx.cache[key]  # type: ignore[no-any-return]


def residual_check(check: ResidualCheck, ctx: JudgeContext) -> CheckResult:
    expectation = _plateau_expectation(ctx, check.plateau)
    label = check.label
    if expectation.mode == "cooling":
        label = f"{check.plateau} {_QUANTITY_WORDS_COOLING.get(check.quantity, label.split(' ', 1)[-1])}"
    if not expectation.valid:
        return failed(
            check,
            f"{label}: the cycle model cannot evaluate this plateau: {expectation.reason}",
            rule="model_envelope",
        )
    residual = expectation.quantities.get(check.quantity)
    if residual is None:
        raise NotJudgeable(f"the cycle model gave no {check.quantity} for {check.plateau}", rule="no_expectations")
    if not (math.isfinite(residual.measured) and math.isfinite(residual.expected)):
        raise NotJudgeable(f"{label} is not a finite number", rule="not_measured")
    limit = ctx.limit(check.limit)
    value, u, unit = residual.residual, residual.uncertainty, residual.unit
    if check.relative:
        if residual.expected == 0:
            raise NotJudgeable(f"the model expects zero {check.quantity}: no relative band", rule="model_envelope")
        value, u, unit = value / abs(residual.expected), u / abs(residual.expected), "1"
    result = judged(
        check,
        value=value,
        limit=limit,
        expected=residual.expected,
        uncertainty=u,
        unit=unit,
        rule_prefix="residual:",
    )
    difference_unit = "K" if residual.unit == "°C" else residual.unit  # a temperature difference is in K
    deviation = f"{value:+.1%}" if check.relative else f"{value:+.2f} {difference_unit}"
    band = (
        f"{fmt(limit.low and limit.low * 100)}…{fmt(limit.high and limit.high * 100)} % (U {u:.1%})"
        if check.relative
        else f"{fmt(limit.low)}…{fmt(limit.high)} {difference_unit} (U {fmt(u)} {difference_unit})"
    )
    verdict_words = {
        Verdict.PASS: "within",
        Verdict.FAIL: "outside",
        Verdict.RETEST: "too close to decide for",
    }
    shown_unit = "" if residual.unit in ("", "1") else f" {residual.unit}"
    message = (
        f"{label} {fmt(residual.measured)}{shown_unit} vs model {fmt(residual.expected)}{shown_unit}: "
        f"{deviation} {verdict_words[result.verdict]} {band}"
    )
    return replace(result, message=message, measured=residual.measured)


def evi_step_check(check: EviStepCheck, ctx: JudgeContext) -> CheckResult:
    off = ctx.number(check.off_measurement)
    on = ctx.number(check.on_measurement)
    limit = ctx.limit(check.limit)
    if check.aspect == "discharge":
        change = on - off
        expected = _evi_expectation(ctx).discharge_temp_change_k if ctx.expectations is not None else None
        return judged(
            check,
            value=change,
            limit=limit,
            expected=expected,
            subject=f"discharge temperature change when EVI opens ({fmt(off)} → {fmt(on)} °C)",
        )
    prediction = _evi_expectation(ctx)
    if not prediction.valid:
        return failed(
            check,
            f"{check.label}: the cycle model cannot predict the EVI step: {prediction.reason}",
            rule="model_envelope",
        )
    if off <= 0 or prediction.capacity_gain_fraction <= 0:
        raise NotJudgeable(
            "EVI step needs a positive capacity before the step and a predicted gain", rule="model_envelope"
        )
    gain = (on - off) / off
    share = gain / prediction.capacity_gain_fraction
    # U of the share from U of (measured gain − model gain), propagated by the model; else the limit's own U.
    u_gain = prediction.capacity_gain_uncertainty
    u_share = None if u_gain is None else u_gain / prediction.capacity_gain_fraction
    result = judged(
        check,
        value=share,
        limit=limit,
        expected=1.0,
        uncertainty=u_share,
        subject="EVI capacity gain as share of predicted",
    )
    return replace(
        result,
        message=f"{result.message}; capacity {fmt(off)} → {fmt(on)} W ({gain:+.1%}, "
        f"model {prediction.capacity_gain_fraction:+.1%})",
    )


def _evi_expectation(ctx: JudgeContext) -> EviStepExpectation:
    if "evi" not in ctx.cache:
        ctx.cache["evi"] = _expectations(ctx).evi_step(
            product_model_code=ctx.spec.product_model_code, values=_numbers(ctx), uncertainties=ctx.spec.settings
        )
    return ctx.cache["evi"]  # type: ignore[no-any-return]


def recovery_check(check: RecoveryCheck, ctx: JudgeContext) -> CheckResult:
    t, v = ctx.trace(check.channel)
    start = ctx.number(check.start_measurement)
    end = start + ctx.number(check.duration_measurement)
    band = ctx.limit(check.band_limit).high
    time_limit = ctx.limit(check.time_limit)
    if band is None:
        raise NotJudgeable("the recovery band is not set", rule="spec_incomplete")
    before = v[(t >= start - check.baseline_s) & (t < start)]
    if before.size == 0:
        raise NotJudgeable(
            f"trace {check.channel} has no samples in the {fmt(check.baseline_s)} s before the event",
            rule="bad_trace",
        )
    baseline = float(before.mean())
    back = _first_lasting(t, np.abs(v - baseline) <= band, start_s=end, hold_s=check.hold_s)
    if back is None:
        return failed(
            check,
            f"{check.label}: never back within {fmt(band)} K of {fmt(baseline)} °C for {fmt(check.hold_s)} s "
            "before the trace ends",
            rule="recovery:not_recovered",
        )
    recovery_s = back - end
    result = judged(
        check,
        value=recovery_s,
        limit=time_limit,
        expected=baseline,
        subject=f"{check.label}: back within {fmt(band)} K of {fmt(baseline)} °C after",
    )
    return result


def _first_lasting(t: np.ndarray, inside: np.ndarray, *, start_s: float, hold_s: float) -> float | None:
    """The first moment from ``start_s`` on at which ``inside`` holds for every sample of the next
    ``hold_s`` seconds (the trace reaching that far), or None."""
    first = int(np.searchsorted(t, start_s, side="left"))
    t, inside = t[first:], inside[first:]
    outside = np.flatnonzero(~inside)
    # for each sample, the time of the next sample outside the band at or after it (inf: none)
    nxt = np.searchsorted(outside, np.arange(t.size), side="left")
    next_out_t = np.append(t[outside], np.inf)[nxt]
    lasting = inside & (next_out_t > t + hold_s) & (t + hold_s <= (t[-1] if t.size else -np.inf))
    found = np.flatnonzero(lasting)
    return float(t[found[0]]) if found.size else None
