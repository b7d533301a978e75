"""What a rise-test verdict records (line.md: the measured value, the limit, U): every outcome of the
check records the tight-rise limit and its U, and ``measured`` is the rise in Pa, or nothing when the
test gave no valid rise; never the test's duration or another quantity. The time below the target
pressure records its U in seconds, with which the recorded row alone reproduces its verdict."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from app.domain.results import CheckResult, StationResult, Trace, Verdict
from app.rules import build_spec, judge
from tests.rules.factories import (
    HPM_06,
    NOW,
    FakeCycleExpectations,
    good_result,
    vacuum_pressure,
    with_trace,
    with_values,
)

TIGHT_RISE_PA, TIGHT_RISE_U_PA = 30.0, 2.0  # the plant defaults of limit tight_rise_pa


def _check(result: StationResult, name: str, *, value_status: dict[str, str] | None = None) -> CheckResult:
    """The row ``name`` of ``result`` judged at vacuum dehydration (retests allowed: no cap decides)."""
    spec = build_spec(station_type="vacuum_dehydration", product=HPM_06, overrides={"retest_cap": 5})
    judgement = judge(
        station_type="vacuum_dehydration",
        spec=spec,
        result=result,
        expectations=FakeCycleExpectations(),
        retest_count=0,
        now=NOW,
        value_status=value_status,  # type: ignore[arg-type]
    )
    return next(c for c in judgement.checks if c.name == name)


def _rise_test(result: StationResult, *, value_status: dict[str, str] | None = None) -> CheckResult:
    return _check(result, "rise_test", value_status=value_status)


def _with_rise(rise: Callable[[np.ndarray], np.ndarray]) -> StationResult:
    return with_trace(good_result("vacuum_dehydration"), vacuum_pressure(rise=rise))


def _short_trace() -> Trace:
    whole = vacuum_pressure()
    kept = [(t, v) for t, v in zip(whole.t_s, whole.values, strict=True) if t <= 2100.0 + 300.0]
    return Trace(channel=whole.channel, t_s=tuple(t for t, _ in kept), values=tuple(v for _, v in kept))


# (outcome, result, verdict, rise over the window in Pa: None when the test gives none)
VALID = [
    ("tight", _with_rise(lambda t: 0.02 * t), Verdict.PASS, 12.0),
    ("inside U of the limit", _with_rise(lambda t: 0.05 * t), Verdict.RETEST, 30.0),
    ("leak", _with_rise(lambda t: 0.1 * t), Verdict.FAIL, 60.0),
]
NO_RISE = [
    ("too short", with_values(good_result("vacuum_dehydration"), RiseTestDuration_s=300.0), "rise_test:too_short"),
    (
        "trace does not cover the test",
        with_trace(good_result("vacuum_dehydration"), _short_trace()),
        "bad_trace",
    ),
    ("no isolation moment", with_values(good_result("vacuum_dehydration"), IsolationAt_s=...), "not_measured"),
]


@pytest.mark.parametrize(("outcome", "result", "verdict", "rise_pa"), VALID, ids=[v[0] for v in VALID])
def test_every_rise_test_verdict_records_the_rise_in_pa_with_its_limit_and_u(
    outcome: str, result: StationResult, verdict: Verdict, rise_pa: float
) -> None:
    check = _rise_test(result)
    assert check.verdict is verdict, check.message
    assert check.measured == pytest.approx(rise_pa, abs=1.5)
    assert (check.limit_low, check.limit_high, check.uncertainty) == (None, TIGHT_RISE_PA, TIGHT_RISE_U_PA)


@pytest.mark.parametrize(("outcome", "result", "rule"), NO_RISE, ids=[v[0] for v in NO_RISE])
def test_a_rise_test_without_a_valid_rise_measures_nothing_but_records_its_limit_and_u(
    outcome: str, result: StationResult, rule: str
) -> None:
    check = _rise_test(result)
    assert (check.verdict, check.rule) == (Verdict.FAIL, rule), check.message
    assert check.measured is None  # not the duration in s: the SPC chart of the rise is in Pa
    assert (check.limit_low, check.limit_high, check.uncertainty) == (None, TIGHT_RISE_PA, TIGHT_RISE_U_PA)


def _tight_circuit_rise_pa(*, outgassing_1h: float, surface_per_l: float, oil: float) -> float:
    """The expectation written out for HPM-06 (2.5 l), pumped 2,100 s before isolation, a 600 s test:
    surface q_1h·A·1 h·ln((t0 + Δt)/t0) plus the oil's q·Δt, over the volume (1 mbar·l = 100 Pa·l)."""
    area_cm2 = surface_per_l * 2.5
    surface_mbar_l = outgassing_1h * area_cm2 * 3600.0 * np.log((2100.0 + 600.0) / 2100.0)
    return (surface_mbar_l + oil * 600.0) * 100.0 / 2.5


@pytest.mark.parametrize(("outcome", "result", "verdict", "rise_pa"), VALID, ids=[v[0] for v in VALID])
def test_every_valid_rise_test_records_a_tight_dry_circuits_rise_as_its_expectation(
    outcome: str, result: StationResult, verdict: Verdict, rise_pa: float
) -> None:
    """Issue 4: the cycle model's expected rise of a tight, dry circuit of the product's volume, from the
    revision's plant settings (1e-8 mbar·l/(s·cm²) after 1 h, 4,000 cm²/l, oil 5e-5 mbar·l/s)."""
    check = _rise_test(result)
    expected = _tight_circuit_rise_pa(outgassing_1h=1.0e-8, surface_per_l=4000.0, oil=5.0e-5)
    assert check.expected == pytest.approx(expected, rel=1e-9)
    assert f"(a tight, dry circuit rises {expected:.4g} Pa)" in check.message


def test_the_tight_circuit_expectation_follows_the_revisions_settings_and_leaves_the_verdict_to_the_limit() -> None:
    settings = {
        "tight_circuit_outgassing_1h_mbar_l_s_cm2": 3.0e-8,
        "tight_circuit_surface_per_volume_cm2_per_l": 2000.0,
        "tight_circuit_oil_degassing_mbar_l_s": 1.0e-4,
    }
    spec = build_spec(
        station_type="vacuum_dehydration", product=HPM_06, overrides={"retest_cap": 5, "settings": settings}
    )
    judgement = judge(
        station_type="vacuum_dehydration",
        spec=spec,
        result=_with_rise(lambda t: 0.02 * t),
        expectations=FakeCycleExpectations(),
        retest_count=0,
        now=NOW,
    )
    check = next(c for c in judgement.checks if c.name == "rise_test")
    assert check.expected == pytest.approx(
        _tight_circuit_rise_pa(outgassing_1h=3.0e-8, surface_per_l=2000.0, oil=1.0e-4)
    )
    assert (check.verdict, check.rule) == (Verdict.PASS, "rise_test:tight")


@pytest.mark.parametrize(("outcome", "result", "rule"), NO_RISE, ids=[v[0] for v in NO_RISE])
def test_a_rise_test_without_a_valid_rise_records_no_expectation(
    outcome: str, result: StationResult, rule: str
) -> None:
    assert _rise_test(result).expected is None


def test_a_tight_rise_read_with_uncertain_status_keeps_its_limit_and_u() -> None:
    check = _rise_test(_with_rise(lambda t: 0.02 * t), value_status={"RiseTestDuration_s": "uncertain"})
    assert check.verdict is Verdict.RETEST and check.rule == "rise_test:tight+uncertain_status"
    assert (check.limit_high, check.uncertainty) == (TIGHT_RISE_PA, TIGHT_RISE_U_PA)


# --- the time below the target pressure ------------------------------------------------------------
@pytest.mark.parametrize(
    ("hold_pa", "isolation_s", "verdict"),
    [(20.0, 2100.0, Verdict.PASS), (20.0, 1900.0, Verdict.FAIL), (48.5, 2100.0, Verdict.RETEST),
     (52.0, 2100.0, Verdict.RETEST), (54.0, 2100.0, Verdict.FAIL)],
)  # fmt: skip
def test_the_time_below_target_records_its_u_in_seconds_and_the_row_reproduces_its_verdict(
    hold_pa: float, isolation_s: float, verdict: Verdict
) -> None:
    trace = vacuum_pressure(hold_pa=hold_pa, isolation_s=isolation_s, noise_pa=0.1)
    result = with_values(with_trace(good_result("vacuum_dehydration"), trace), IsolationAt_s=isolation_s)
    row = _check(result, "time_below_target")
    assert row.verdict is verdict, row.message
    assert row.limit_low == 1800.0 and row.uncertainty is not None and row.measured is not None
    # ISO 14253-1 on the recorded row alone: PASS inside the limit shrunk by U, FAIL outside it widened
    u = row.uncertainty
    expected = Verdict.PASS if row.measured >= 1800.0 + u else Verdict.FAIL if row.measured < 1800.0 - u else None
    assert (expected or Verdict.RETEST) is row.verdict, (row.measured, u)
    t, p = np.asarray(trace.t_s), np.asarray(trace.values)
    if hold_pa >= 53.0:  # above target + U all along: no time below it on any reading
        assert (row.measured, u) == (0.0, 0.0)
        return
    # the time read at target + the gauge's U 3 Pa: from the first sample after the last one above it
    lenient_s = isolation_s - (t[(t <= isolation_s) & (p > 50.0 + 3.0)].max() + 1.0)
    assert u >= lenient_s - row.measured and "U of the time" in row.message
    if hold_pa < 47.0:  # a clean pump-down: the gauge's U moves the time by the seconds of the crossing
        assert 0.0 < u < 10.0
    else:  # held between 47 and 53 Pa: read at 47 Pa the time is 0 s, so U spans the hold
        assert u >= row.measured
