"""Vacuum dehydration: time below target from the trace, and the pressure-rise classifier.

The rise after isolation is fitted as ``p(t) = a + b·t + c·(1 − exp(−t/τ))`` (b, c ≥ 0) over a grid of
τ: the linear part is gas entering through a leak (Q = b·V), the saturating part is water evaporating
until its vapour pressure is reached. The rise is *tight* when it stays under the limit; otherwise it
is a *leak* when the linear part alone would exceed the limit (or when the saturating part levels
off above water's vapour pressure, which only air can do), and *moisture* otherwise. A moisture
rise with τ longer than about a third of the test window looks linear and is reported as a leak.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from app.cyclemodel.vacuum import TightCircuitOutgassing, expected_tight_rise_pa, leak_rate_from_rise_mbar_l_s
from app.domain.results import CheckResult, Verdict
from stations._checks import RiseTestCheck, TimeBelowCheck

from .checks_basic import judged
from .context import FloatArray, JudgeContext, NotJudgeable, fmt, guard_band

RiseShape = Literal["tight", "moisture", "leak"]


@dataclass(frozen=True, slots=True)
class RiseFit:
    """The fitted rise over the test window; leak rate in mbar·l/s from Q = ΔP·V/Δt of the linear part."""

    shape: RiseShape
    total_rise_pa: float
    leak_rise_pa: float
    moisture_rise_pa: float
    leak_rate_mbar_l_s: float
    levels_off_at_pa: float | None
    tau_s: float | None


_Candidate = tuple[float, float, float, float, float | None]  # SSE, offset, slope, amplitude, τ fraction
_TAU_MIN, _TAU_MAX = 0.005, 0.4  # τ as a fraction of the window; longer saturations look linear
_TAU_GRID = np.linspace(np.log(_TAU_MIN), np.log(_TAU_MAX), 16)
_GOLDEN = (np.sqrt(5.0) - 1.0) / 2.0
_REFINE_STEPS = 14


@dataclass(frozen=True, slots=True)
class _Sums:
    """Sums the least-squares fits need; pressures centred (Σp = 0), so the offset drops out."""

    n: float
    sx: float
    sxx: float
    sxp: float
    spp: float

    def candidates(self, *, tau: float, se: float, sxe: float, see: float, sep: float) -> list[_Candidate]:
        """Best physical fits (slope b, amplitude c ≥ 0) with the term 1 − exp(−x/τ), by Cramer's rule."""
        out: list[_Candidate] = []
        a11 = self.sxx - self.sx * self.sx / self.n
        a12 = sxe - self.sx * se / self.n
        a22 = see - se * se / self.n
        det = a11 * a22 - a12 * a12
        if det > 1e-12 * a11 * a22:
            b = (self.sxp * a22 - a12 * sep) / det
            c = (a11 * sep - a12 * self.sxp) / det
            if b >= 0 and c >= 0:
                out.append((self.spp - b * self.sxp - c * sep, -(self.sx * b + se * c) / self.n, b, c, tau))
        if a22 > 0:
            c = sep / a22
            if c >= 0:
                out.append((self.spp - c * sep, -se * c / self.n, 0.0, c, tau))
        return out


def _best_fit(x: FloatArray, pressure_pa: FloatArray) -> tuple[_Candidate, float]:
    """Least squares over the model family: a τ grid, then golden-section refinement of log τ."""
    mean_p = float(pressure_pa.mean())
    p = pressure_pa - mean_p
    sums = _Sums(n=float(x.size), sx=float(x.sum()), sxx=float(x @ x), sxp=float(x @ p), spp=float(p @ p))
    a11 = sums.sxx - sums.sx * sums.sx / sums.n
    slope = sums.sxp / a11 if a11 > 0 else 0.0
    best: _Candidate = (
        (sums.spp - slope * sums.sxp, -slope * sums.sx / sums.n, slope, 0.0, None)
        if slope >= 0
        else (sums.spp, 0.0, 0.0, 0.0, None)
    )

    def score(log_tau: float) -> float:
        nonlocal best
        tau = float(np.exp(log_tau))
        e = 1.0 - np.exp(-x / tau)
        found = sums.candidates(tau=tau, se=float(e.sum()), sxe=float(e @ x), see=float(e @ e), sep=float(e @ p))
        top = min(found, default=None)
        if top is not None and top[0] < best[0]:
            best = top
        return top[0] if top is not None else np.inf

    e_grid = 1.0 - np.exp(-x[None, :] / np.exp(_TAU_GRID)[:, None])
    grid_scores = []
    for k, (se, sxe, see, sep) in enumerate(
        zip(e_grid.sum(axis=1), e_grid @ x, np.einsum("kn,kn->k", e_grid, e_grid), e_grid @ p, strict=True)
    ):
        found = sums.candidates(
            tau=float(np.exp(_TAU_GRID[k])), se=float(se), sxe=float(sxe), see=float(see), sep=float(sep)
        )
        top = min(found, default=None)
        grid_scores.append(top[0] if top is not None else np.inf)
        if top is not None and top[0] < best[0]:
            best = top
    k = int(np.argmin(grid_scores))
    lo, hi = _TAU_GRID[max(k - 1, 0)], _TAU_GRID[min(k + 1, _TAU_GRID.size - 1)]
    a, b = hi - _GOLDEN * (hi - lo), lo + _GOLDEN * (hi - lo)
    fa, fb = score(a), score(b)
    for _ in range(_REFINE_STEPS):
        if fa <= fb:
            hi, b, fb = b, a, fa
            a = hi - _GOLDEN * (hi - lo)
            fa = score(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + _GOLDEN * (hi - lo)
            fb = score(b)
    return best, mean_p


def classify_rise(
    *,
    t_s: FloatArray,
    pressure_pa: FloatArray,
    duration_s: float,
    tight_rise_pa: float,
    vapour_pressure_pa: float,
    circuit_volume_l: float,
) -> RiseFit:
    """Fit and classify a rise test (``t_s`` from isolation, ``0 … duration_s``).

    ``vapour_pressure_pa`` is the highest level a moisture rise can level off at; above it, it is air.
    """
    (_, offset, slope, amplitude, tau_fraction), mean_p = _best_fit(t_s / duration_s, pressure_pa)
    offset += mean_p
    leak_rise = slope  # x runs 0..1 over the window, so the slope is the rise over the window
    moisture_rise = amplitude * (1.0 - np.exp(-1.0 / tau_fraction)) if tau_fraction else 0.0
    total = leak_rise + float(moisture_rise)
    levels_off = offset + amplitude if tau_fraction else None
    if total <= tight_rise_pa:
        shape: RiseShape = "tight"
    elif leak_rise > tight_rise_pa or (levels_off is not None and levels_off > vapour_pressure_pa):
        shape = "leak"
    else:
        shape = "moisture"
    # Q = ΔP·V/Δt of the linear part; of the whole rise when air levelled it off (a gross leak).
    leaking_rise = total if shape == "leak" and leak_rise <= tight_rise_pa else leak_rise
    leak_rate = leak_rate_from_rise_mbar_l_s(rise_pa=leaking_rise, volume_l=circuit_volume_l, duration_s=duration_s)
    return RiseFit(
        shape=shape,
        total_rise_pa=total,
        leak_rise_pa=leak_rise,
        moisture_rise_pa=float(moisture_rise),
        leak_rate_mbar_l_s=leak_rate,
        levels_off_at_pa=levels_off,
        tau_s=tau_fraction * duration_s if tau_fraction else None,
    )


@dataclass(frozen=True, slots=True)
class _Run:
    """Uninterrupted time below a threshold up to a moment, and the gap in the trace that cut it short."""

    seconds: float
    gap: tuple[float, float] | None = None  # (last sample before, first sample after), seconds


def _run_below(t: FloatArray, p: FloatArray, *, end_s: float, threshold: float, max_interval_s: float) -> _Run:
    """Uninterrupted time at or below ``threshold`` that lasts until ``end_s`` (0 if above at the end).

    Samples further apart than ``max_interval_s`` interrupt it, as a sample above the threshold does."""
    last = int(np.searchsorted(t, end_s, side="right")) - 1
    if last < 0:
        return _Run(0.0)
    if end_s - float(t[last]) > max_interval_s:
        return _Run(0.0, (float(t[last]), end_s))
    above = np.flatnonzero(p[: last + 1] > threshold)
    start = int(above[-1]) + 1 if above.size else 0
    if start > last:
        return _Run(0.0)
    gaps = np.flatnonzero(np.diff(t[start : last + 1]) > max_interval_s)
    if gaps.size:
        after = start + int(gaps[-1]) + 1
        return _Run(end_s - float(t[after]), (float(t[after - 1]), float(t[after])))
    return _Run(end_s - float(t[start]))


def time_below_check(check: TimeBelowCheck, ctx: JudgeContext) -> tuple[CheckResult, ...]:
    t, p = ctx.trace(check.channel)
    isolation_s = ctx.number(check.end_measurement)
    if not t[0] <= isolation_s <= t[-1]:
        raise NotJudgeable(
            f"isolation at {fmt(isolation_s)} s lies outside the trace ({fmt(t[0])}…{fmt(t[-1])} s)",
            rule="bad_trace",
        )
    target = ctx.limit(check.threshold_limit)
    duration = ctx.limit(check.duration_limit)
    if target.high is None or duration.low is None:
        raise NotJudgeable("target pressure and minimum time must both be set", rule="spec_incomplete")
    u = target.uncertainty
    runs = [
        _run_below(t, p, end_s=isolation_s, threshold=threshold, max_interval_s=check.max_sample_interval_s)
        for threshold in (target.high, target.high - u, target.high + u)
    ]
    measured, strict, lenient = (run.seconds for run in runs)
    # The gauge's U moves which samples count as "below": the time read at target − U and at target + U
    # brackets the time at target. That spread (the larger side) plus the time's own U is the U of the
    # time, in seconds, and the time is guard-banded with it: the recorded row reproduces the verdict.
    u_time = max(measured - strict, lenient - measured, 0.0) + abs(duration.uncertainty)
    gb = guard_band(value=measured, low=duration.low, high=None, uncertainty=u_time)
    verdict = gb.verdict
    rule = {
        Verdict.PASS: "time_below:pass",
        Verdict.FAIL: "time_below:fail",
        Verdict.RETEST: "time_below:inside_uncertainty",
    }[verdict]
    message = (
        f"{fmt(measured)} s at or below {fmt(target.high)} Pa before isolation "
        f"({fmt(strict)} s below {fmt(target.high - u)} Pa, "
        f"{fmt(lenient)} s below {fmt(target.high + u)} Pa: U of the time {fmt(u_time)} s from the gauge's "
        f"U {fmt(u)} Pa); required ≥ {fmt(duration.low)} s"
    )
    gap = next((run.gap for run in runs if run.gap is not None), None)
    if gap is not None:
        message += (
            f"; the trace has no sample from {fmt(gap[0])} s to {fmt(gap[1])} s, which interrupts the time "
            f"(at most {fmt(check.max_sample_interval_s)} s between samples)"
        )
    main = CheckResult(
        name=check.name,
        verdict=verdict,
        message=message,
        rule=rule,
        measured=measured,
        limit_low=duration.low,
        uncertainty=u_time,
        failure_mode=check.failure_mode if verdict is Verdict.FAIL else None,
    )
    return main, _cross_check(check, ctx, measured_s=measured)


def _cross_check(check: TimeBelowCheck, ctx: JudgeContext, *, measured_s: float) -> CheckResult:
    """The station's own figure against the trace's: a disagreement is an alarm, not a verdict."""
    name = f"{check.name}_station_cross_check"
    tolerance = ctx.limit(check.disagreement_limit).high or 0.0
    station_s = ctx.optional_number(check.station_figure_measurement)
    ctx.uncertain_used.discard(check.station_figure_measurement)  # the verdict does not rest on it
    if station_s is None:
        message = f"ALARM: the station did not report {check.station_figure_measurement}"
        return CheckResult(name=name, verdict=Verdict.PASS, message=message, rule="alarm:station_figure_missing")
    disagreement = abs(station_s - measured_s) / max(measured_s, 1.0)
    words = (
        f"station reports {fmt(station_s)} s below target, the trace shows {fmt(measured_s)} s "
        f"({disagreement:.1%} apart, tolerance {tolerance:.0%})"
    )
    rule = "alarm:station_figure_disagrees" if disagreement > tolerance else "station_figure_agrees"
    return CheckResult(
        name=name,
        verdict=Verdict.PASS,
        message=("ALARM: " if rule.startswith("alarm") else "") + words,
        rule=rule,
        measured=station_s,
        expected=measured_s,
        limit_high=tolerance,
    )


def rise_test_check(check: RiseTestCheck, ctx: JudgeContext) -> CheckResult:
    """Classify the rise after isolation. Every outcome records the tight-rise limit and its U, and
    ``measured`` is always the rise in Pa: None when the test gives no valid rise (too short, a trace
    that does not cover it), never another quantity."""
    rise_limit = ctx.limit(check.rise_limit)
    if rise_limit.high is None:
        raise NotJudgeable("the tight-rise limit is not set", rule="spec_incomplete")

    def no_rise(message: str, *, rule: str, failure_mode: str | None) -> CheckResult:
        return CheckResult(
            name=check.name,
            verdict=Verdict.FAIL,
            message=message,
            rule=rule,
            limit_low=rise_limit.low,
            limit_high=rise_limit.high,
            uncertainty=rise_limit.uncertainty,
            failure_mode=failure_mode,
        )

    try:
        t, p = ctx.trace(check.channel)
        isolation_s = ctx.number(check.isolation_measurement)
        duration_s = ctx.number(check.duration_measurement)
        min_duration = ctx.limit(check.duration_limit)
    except NotJudgeable as problem:  # as the engine words it, with the limit the rise is judged against
        return no_rise(f"{check.label}: {problem.message}", rule=problem.rule, failure_mode=None)
    if min_duration.low is not None and duration_s < min_duration.low:
        return no_rise(
            f"rise test lasted {fmt(duration_s)} s, shorter than {fmt(min_duration.low)} s: test not valid",
            rule="rise_test:too_short",
            failure_mode=check.failure_mode,
        )
    inside = (t >= isolation_s) & (t <= isolation_s + duration_s)
    window_t = t[inside] - isolation_s
    if window_t.size < 10 or window_t[-1] < 0.95 * duration_s:
        message = f"trace {check.channel} does not cover the {fmt(duration_s)} s rise test"
        return no_rise(f"{check.label}: {message}", rule="bad_trace", failure_mode=None)
    fit = classify_rise(
        t_s=window_t,
        pressure_pa=p[inside],
        duration_s=duration_s,
        tight_rise_pa=rise_limit.high,
        vapour_pressure_pa=ctx.limit(check.vapour_pressure_limit).high or np.inf,
        circuit_volume_l=ctx.spec.product.circuit_volume_l,
    )
    tight_pa = _tight_circuit_rise_pa(check, ctx, pumped_for_s=isolation_s - float(t[0]), duration_s=duration_s)
    base = judged(
        check,
        value=fit.total_rise_pa,
        limit=rise_limit,
        subject=f"pressure rise over {fmt(duration_s)} s",
        expected=tight_pa,
    )
    expectation = "" if tight_pa is None else f" (a tight, dry circuit rises {fmt(tight_pa)} Pa)"
    if base.verdict is Verdict.PASS:
        return replace(base, message=f"{base.message}: tight{expectation}", rule="rise_test:tight")
    detail = {
        "leak": f"steady linear rise: leak, Q ≈ {fmt(fit.leak_rate_mbar_l_s)} mbar·l/s "
        f"(V {fmt(ctx.spec.product.circuit_volume_l)} l)",
        "moisture": f"rise levels off (towards {fmt(fit.levels_off_at_pa)} Pa): moisture",
        "tight": "",
    }[fit.shape]
    if base.verdict is Verdict.RETEST:
        detail = "repeat the rise test"
    failure_mode = None if base.verdict is Verdict.RETEST else ("moisture" if fit.shape == "moisture" else "leak")
    message = f"{base.message}{expectation}; {detail}"
    return replace(base, message=message, rule=f"rise_test:{fit.shape}", failure_mode=failure_mode)


def _tight_circuit_rise_pa(
    check: RiseTestCheck, ctx: JudgeContext, *, pumped_for_s: float, duration_s: float
) -> float | None:
    """The rise a tight, dry circuit of the product's volume would show over the test (the cycle model's
    outgassing expectation, from the revision's settings): the check's expectation. None when the trace
    shows no pumping before isolation."""
    if pumped_for_s <= 0:
        return None
    settings = ctx.spec.settings
    outgassing = TightCircuitOutgassing(
        specific_outgassing_1h_mbar_l_s_cm2=settings[check.outgassing_1h_setting],
        surface_per_volume_cm2_per_l=settings[check.surface_per_volume_setting],
        oil_degassing_mbar_l_s=settings[check.oil_degassing_setting],
    )
    return expected_tight_rise_pa(
        volume_l=ctx.spec.product.circuit_volume_l,
        duration_s=duration_s,
        pumped_for_s=pumped_for_s,
        outgassing=outgassing,
    )
