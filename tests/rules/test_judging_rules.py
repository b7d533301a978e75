"""Guard bands, retest caps, failure modes, alarms and what a judgement records."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from app.domain.results import Judgement, StationResult, Verdict
from app.rules import ProductData, build_spec, guard_band, judge, station_alarms
from tests.rules.factories import (
    HPM_06,
    HPM_12,
    HPS_10,
    NOW,
    FakeCycleExpectations,
    good_result,
    vacuum_pressure,
    with_trace,
    with_values,
)


@pytest.mark.parametrize(
    ("value", "verdict"),
    [
        (2.7, Verdict.PASS),  # inside the limit shrunk by U
        (2.8, Verdict.PASS),  # exactly on the shrunk limit: inclusive
        (2.81, Verdict.RETEST),
        (3.0, Verdict.RETEST),
        (3.2, Verdict.RETEST),  # exactly on the widened limit: not yet outside it
        (3.21, Verdict.FAIL),
    ],
)
def test_upper_limit_is_guard_banded_by_u(value: float, verdict: Verdict) -> None:
    assert guard_band(value=value, low=None, high=3.0, uncertainty=0.2).verdict is verdict


@pytest.mark.parametrize(
    ("value", "verdict"),
    [(9.7, Verdict.FAIL), (9.9, Verdict.RETEST), (10.1, Verdict.RETEST), (10.3, Verdict.PASS)],
)
def test_lower_limit_is_guard_banded_by_u(value: float, verdict: Verdict) -> None:
    assert guard_band(value=value, low=10.0, high=None, uncertainty=0.2).verdict is verdict


def test_a_band_narrower_than_twice_u_can_never_pass() -> None:
    verdicts = {guard_band(value=v / 100, low=1.0, high=1.1, uncertainty=0.06).verdict for v in range(95, 116)}
    assert Verdict.PASS not in verdicts


def test_zero_uncertainty_is_a_plain_inclusive_limit() -> None:
    assert guard_band(value=8.0, low=None, high=8.0, uncertainty=0.0).verdict is Verdict.PASS
    assert guard_band(value=8.0001, low=None, high=8.0, uncertainty=0.0).verdict is Verdict.FAIL


def _judge(code: str, retest_count: int, **changes: object):  # type: ignore[no-untyped-def]
    spec = build_spec(station_type=code, product=HPM_06)
    result = with_values(good_result(code), **changes)  # type: ignore[arg-type]
    return judge(
        station_type=code,
        spec=spec,
        result=result,
        expectations=FakeCycleExpectations(),
        retest_count=retest_count,
        now=NOW,
    )


def test_retest_below_the_cap_stays_a_retest() -> None:
    judgement = _judge("charging", 0, ChargedMass_g=141.7)
    assert judgement.verdict is Verdict.RETEST


def test_retest_at_the_cap_is_a_fail_that_says_so() -> None:
    judgement = _judge("charging", 1, ChargedMass_g=141.7)
    assert judgement.verdict is Verdict.FAIL
    check = next(c for c in judgement.checks if c.name == "charged_mass")
    assert check.rule.endswith("+retest_cap_reached")
    assert "retest cap reached" in check.message
    assert judgement.failure_mode == "charge_mass"


def _judged(code: str, result: StationResult, *, retest_count: int = 0, product: ProductData = HPM_06) -> Judgement:
    """``result`` judged against the default spec: the station's own retest cap."""
    return judge(
        station_type=code,
        spec=build_spec(station_type=code, product=product),
        result=result,
        expectations=FakeCycleExpectations(),
        retest_count=retest_count,
        now=NOW,
    )


#: (station, its retest cap as line.md states it, a result inside one of its guard bands)
RETEST_CAPS: list[tuple[str, int, Callable[[StationResult], StationResult]]] = [
    ("coil_expansion", 0, lambda r: with_values(r, LengthLoss_mm=3.05)),
    ("brazing", 0, lambda r: with_values(r, O2_ppm=51.0)),
    ("sub_base_assembly", 1, lambda r: with_values(r, EarthTestCurrent_A=10.1)),
    ("vacuum_dehydration", 1, lambda r: with_trace(r, vacuum_pressure(hold_pa=52.0, noise_pa=0.1))),
    ("charging", 1, lambda r: with_values(r, ChargedMass_g=141.7)),
    ("leak_test", 2, lambda r: with_values(r, LeakSignal_mbar_l_s=5.1e-5)),  # about 2.9 g/yr of R290
    ("run_in", 1, lambda r: with_values(r, M10_DischargeT_C=92.0)),
]


@pytest.mark.parametrize(("code", "cap", "undecided"), RETEST_CAPS, ids=[f"{c}-cap{n}" for c, n, _ in RETEST_CAPS])
def test_a_retest_at_the_stations_line_md_cap_is_a_fail_retest_cap_reached(
    code: str, cap: int, undecided: Callable[[StationResult], StationResult]
) -> None:
    """line.md: "Retest caps (plant defaults): coil_expansion 0, brazing 0 …, sub_base_assembly 1,
    vacuum_dehydration 1, charging 1, leak_test 2, run_in 1. A RETEST at a station whose cap is reached
    (or is 0) is a FAIL, "retest cap reached"."""
    result = undecided(good_result(code))
    if cap > 0:
        assert _judged(code, result, retest_count=cap - 1).verdict is Verdict.RETEST
    at_cap = _judged(code, result, retest_count=cap)
    assert at_cap.verdict is Verdict.FAIL
    assert any(c.verdict is Verdict.FAIL and "retest cap reached" in c.message for c in at_cap.checks)


def test_a_retest_turned_fail_by_the_cap_no_longer_tells_the_operator_to_measure_again() -> None:
    below = _judge("charging", 0, ChargedMass_g=141.7)
    assert "measure again" in next(c for c in below.checks if c.name == "charged_mass").message
    capped = next(c for c in _judge("charging", 1, ChargedMass_g=141.7).checks if c.name == "charged_mass")
    assert capped.verdict is Verdict.FAIL and "measure again" not in capped.message
    assert capped.message.endswith("— FAIL, retest cap reached: still undecided after 1 of 1 retests")
    never = next(c for c in _judge("coil_expansion", 0, LengthLoss_mm=3.05).checks if c.verdict is Verdict.FAIL)
    assert "measure again" not in never.message and "0 of 0" not in never.message
    assert never.message.endswith("— FAIL, retest cap reached: this station allows no retest (cap 0)")


def test_a_spec_revision_can_change_the_retest_cap() -> None:
    spec = build_spec(station_type="charging", product=HPM_06, overrides={"retest_cap": 3})
    result = with_values(good_result("charging"), ChargedMass_g=141.7)
    judgement = judge(station_type="charging", spec=spec, result=result, expectations=None, retest_count=2, now=NOW)
    assert judgement.verdict is Verdict.RETEST


def test_failure_mode_is_that_of_the_first_failing_check() -> None:
    judgement = _judge("brazing", 0, DewPoint_C=-40.0, BeltSpeed_mm_min=250.0)
    assert judgement.failure_mode == "atmosphere"
    assert _judge("brazing", 0).failure_mode is None


def test_failure_mode_is_none_when_the_failing_check_has_no_specific_mode() -> None:
    judgement = _judge("charging", 0, CylinderLot="")
    assert judgement.verdict is Verdict.FAIL and judgement.failure_mode is None


def test_judgement_records_spec_revision_and_model_version() -> None:
    spec = build_spec(station_type="run_in", product=HPM_06, revision_id=17)
    judgement = judge(
        station_type="run_in",
        spec=spec,
        result=good_result("run_in"),
        expectations=FakeCycleExpectations(),
        retest_count=0,
        now=NOW,
    )
    assert judgement.spec_revision_id == 17
    assert judgement.model_version == "fake-0.1/HPM-06-R290-EVI"
    no_model = judge(
        station_type="brazing",
        spec=build_spec(station_type="brazing", product=HPM_06),
        result=good_result("brazing"),
        expectations=FakeCycleExpectations(),
        retest_count=0,
        now=NOW,
    )
    assert no_model.model_version is None


def test_every_check_result_explains_itself() -> None:
    judgement = _judge("leak_test", 0, LeakSignal_mbar_l_s=6.0e-5)
    check = next(c for c in judgement.checks if c.name == "leak_rate")
    assert check.verdict is Verdict.FAIL
    assert check.measured is not None and check.measured > 3.0
    assert (check.limit_low, check.limit_high, check.uncertainty) == (None, 3.0, 0.2)
    assert check.rule == "guard_band:above_high"
    assert check.message.startswith("leak rate (R290) 3.4") and "exceeds 3 g/yr (U 0.2 g/yr)" in check.message


def test_station_figure_disagreeing_with_the_trace_raises_an_alarm_but_keeps_the_verdict() -> None:
    judgement = _judge("vacuum_dehydration", 0, TimeBelowTarget_s=1700.0)
    assert judgement.verdict is Verdict.PASS
    alarms = station_alarms(judgement)
    assert len(alarms) == 1 and "station reports 1700 s" in alarms[0]
    assert station_alarms(_judge("vacuum_dehydration", 0, TimeBelowTarget_s=1850.0)) == ()


@pytest.mark.parametrize(
    ("station_over_trace", "rule"),
    [
        (0.945, "alarm:station_figure_disagrees"),
        (0.955, "station_figure_agrees"),
        (1.045, "station_figure_agrees"),
        (1.055, "alarm:station_figure_disagrees"),
    ],
)
def test_the_stations_time_below_target_is_cross_checked_at_five_percent_either_way(
    station_over_trace: float, rule: str
) -> None:
    """line.md: the PLC's own TimeBelowTarget_s "is cross-checked (a disagreement over 5 % raises an alarm
    on the station)"."""
    trace_s = next(c for c in _judge("vacuum_dehydration", 0).checks if c.name == "time_below_target").measured
    assert trace_s is not None
    judgement = _judge("vacuum_dehydration", 0, TimeBelowTarget_s=trace_s * station_over_trace)
    cross_check = next(c for c in judgement.checks if c.name == "time_below_target_station_cross_check")
    assert cross_check.rule == rule, cross_check.message
    assert judgement.verdict is Verdict.PASS


def test_rejudging_is_judging_the_same_result_against_another_revision() -> None:
    result = with_values(good_result("brazing"), O2_ppm=40.0)
    default = build_spec(station_type="brazing", product=HPM_06, revision_id=1)
    tighter = build_spec(
        station_type="brazing", product=HPM_06, revision_id=2, overrides={"limits": {"o2_ppm": {"high": 30.0}}}
    )
    before = judge(station_type="brazing", spec=default, result=result, expectations=None, retest_count=0, now=NOW)
    after = judge(station_type="brazing", spec=tighter, result=result, expectations=None, retest_count=0, now=NOW)
    assert (before.verdict, after.verdict) == (Verdict.PASS, Verdict.FAIL)
    assert after.spec_revision_id == 2


def test_the_same_discharge_residual_is_judged_by_the_refrigerants_band() -> None:
    r290 = build_spec(station_type="run_in", product=HPM_06).limits["discharge_temp_residual_k"]
    r32 = build_spec(station_type="run_in", product=HPM_12).limits["discharge_temp_residual_k"]
    assert (r290.low, r290.high, r32.low, r32.high) == (-5.0, 5.0, -8.0, 8.0)


@pytest.mark.parametrize(("product", "discharge_k"), [(HPM_06, 5.0), (HPM_12, 8.0)], ids=["R290", "R32"])
def test_every_residual_band_is_line_mds(product: ProductData, discharge_k: float) -> None:
    """line.md: "evaporating / condensing saturation temperatures ± 1.5 K; discharge temperature ± 5 K
    (R290), ± 8 K (R32); superheat ± 2 K; heating capacity and COP ± 8 %; compressor power ± 6 %"."""
    limits = build_spec(station_type="run_in", product=product).limits
    bands = {name: (lim.low, lim.high) for name, lim in limits.items() if "_residual_" in name}
    assert bands == {
        "evaporating_temp_residual_k": (-1.5, 1.5),
        "condensing_temp_residual_k": (-1.5, 1.5),
        "discharge_temp_residual_k": (-discharge_k, discharge_k),
        "superheat_residual_k": (-2.0, 2.0),
        "capacity_residual_fraction": (-0.08, 0.08),
        "cop_residual_fraction": (-0.08, 0.08),
        "compressor_power_residual_fraction": (-0.06, 0.06),
    }


def test_the_evi_step_is_judged_by_the_products_evi_flag_not_its_construction() -> None:
    """line.md gives EVI a column of its own in the product table ("EVI (EVI units, at -10 °C)"): an EVI
    split is judged on its EVI step, a monobloc without EVI is not."""
    no_evi_monobloc = replace(HPS_10, construction="monobloc")
    judgement = _judged("run_in", good_result("run_in", no_evi_monobloc), product=no_evi_monobloc)
    gain = next(c for c in judgement.checks if c.name == "evi_capacity_gain")
    assert gain.verdict is Verdict.PASS and "not applicable" in gain.message
    evi_split = replace(HPM_06, construction="split")
    stuck = with_values(good_result("run_in", evi_split), M10_EviOn_Capacity_W=4200.0)
    gain = next(c for c in _judged("run_in", stuck, product=evi_split).checks if c.name == "evi_capacity_gain")
    assert gain.verdict is Verdict.FAIL and gain.failure_mode == "evi_valve"


def test_a_value_with_bad_status_cannot_pass() -> None:
    spec = build_spec(station_type="charging", product=HPM_06)
    judgement = judge(
        station_type="charging",
        spec=spec,
        result=good_result("charging"),
        expectations=None,
        retest_count=0,
        now=NOW,
        value_status={"ChargedMass_g": "bad"},
    )
    assert judgement.verdict is Verdict.FAIL
    assert any("measurement not valid" in c.message for c in judgement.checks)


@pytest.mark.parametrize(
    ("status", "verdict", "words"),
    [("bad", Verdict.FAIL, "trace Pressure_Pa not valid (Bad status)"), ("uncertain", Verdict.RETEST, "Uncertain")],
)
def test_a_trace_read_with_bad_or_uncertain_status_cannot_pass(status: str, verdict: Verdict, words: str) -> None:
    """The contract's status rule holds for Result.Traces.* as for Result.Values.*: the checks that use
    the trace (here the vacuum rise) fail on a Bad one and give at best a RETEST on an Uncertain one."""
    spec = build_spec(station_type="vacuum_dehydration", product=HPM_06)

    def judged(value_status: dict[str, str]):
        return judge(
            station_type="vacuum_dehydration",
            spec=spec,
            result=good_result("vacuum_dehydration"),
            expectations=None,
            retest_count=0,
            now=NOW,
            value_status=value_status,  # type: ignore[arg-type]
        )

    assert judged({}).verdict is Verdict.PASS
    assert judged({"Pressure_Pa": status}).verdict is Verdict.PASS  # a value of that name, not the trace
    judgement = judged({"Traces.Pressure_Pa": status})
    assert judgement.verdict is verdict
    using_trace = {c.name: c.verdict for c in judgement.checks if words in c.message}
    assert {"time_below_target", "rise_test"} <= set(using_trace) and set(using_trace.values()) == {verdict}


def test_a_value_with_uncertain_status_gives_at_best_a_retest() -> None:
    spec = build_spec(station_type="charging", product=HPM_06)
    judgement = judge(
        station_type="charging",
        spec=spec,
        result=good_result("charging"),
        expectations=None,
        retest_count=0,
        now=NOW,
        value_status={"ChargedMass_g": "uncertain"},
    )
    assert judgement.verdict is Verdict.RETEST
    by_name = {c.name: c for c in judgement.checks}
    assert by_name["charged_mass"].verdict is Verdict.RETEST
    assert "Uncertain status" in by_name["charged_mass"].message
    assert by_name["cylinder_lot_recorded"].verdict is Verdict.PASS
    capped = judge(
        station_type="charging",
        spec=spec,
        result=good_result("charging"),
        expectations=None,
        retest_count=1,
        now=NOW,
        value_status={"ChargedMass_g": "uncertain"},
    )
    assert capped.verdict is Verdict.FAIL
