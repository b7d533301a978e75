"""Bad input never passes and never raises: NaN, missing values, wrong kinds and units, broken traces."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime

import pytest

from app.domain.results import Measurement, MeasurementValue, StationResult, Trace, Verdict
from app.rules import build_spec, judge, validate_result
from app.rules.engine import MODEL_KINDS, PLAIN_LIMIT_KINDS
from stations import all_station_types, get_station_type
from tests.rules.factories import HPM_06, NOW, FakeCycleExpectations, good_result, with_trace, with_values

TYPES = [st for st in all_station_types()]
REQUIRED = [(st.code, m.name) for st in TYPES for m in st.measurements if m.required]
CHANNELS = [(st.code, t.channel) for st in TYPES for t in st.traces]
WRONG_KIND: dict[str, MeasurementValue] = {
    "number": "12.5",
    "string": 12.5,
    "bool": 1.0,
    "datetime": "2026-11-27T10:00:00Z",
}


def _judge(code: str, result: StationResult, *, expectations: FakeCycleExpectations | None = None):  # type: ignore[no-untyped-def]
    spec = build_spec(station_type=code, product=HPM_06)
    return judge(
        station_type=code,
        spec=spec,
        result=result,
        expectations=expectations if expectations is not None else FakeCycleExpectations(),
        retest_count=0,
        now=NOW,
    )


def _not_measured(kind: str) -> MeasurementValue:
    return {"number": math.nan, "datetime": datetime.min}.get(kind)


@pytest.mark.parametrize(("code", "name"), REQUIRED, ids=[f"{c}.{n}" for c, n in REQUIRED])
def test_a_required_value_not_measured_fails(code: str, name: str) -> None:
    kind = get_station_type(code).measurement(name).kind  # type: ignore[union-attr]
    for value in {_not_measured(kind), None}:
        judgement = _judge(code, with_values(good_result(code), **{name: value}))
        assert judgement.verdict is Verdict.FAIL, (name, value)
        assert any("not measured" in c.message for c in judgement.checks if c.verdict is Verdict.FAIL)


def test_a_value_not_measured_fails_with_the_limit_and_u_it_would_have_been_judged_against() -> None:
    """line.md: a verdict records the measured value, the limit and U; a FAIL for a value not measured has
    no value, but its limit and U still say what it would have been held to."""
    judgement = _judge("coil_expansion", with_values(good_result("coil_expansion"), LengthLoss_mm=math.nan))
    check = next(c for c in judgement.checks if c.name == "length_loss")
    limit = build_spec(station_type="coil_expansion", product=HPM_06).limits["length_loss_mm"]
    assert (check.verdict, check.rule, check.measured) == (Verdict.FAIL, "not_measured", None)
    assert (check.limit_low, check.limit_high, check.uncertainty) == (limit.low, limit.high, limit.uncertainty)
    assert check.limit_high == 3.0 and check.uncertainty is not None


def test_every_check_that_cannot_judge_a_value_records_only_a_limit_it_really_uses() -> None:
    """Each required value in turn not measured: a plain-limit check records its revision's limit as it
    stands; a model-based check (a band around an expectation, a U propagated from the measurements) records
    none rather than a figure it would not use. (The rise test records its own limit whatever happens.)"""
    with_limit, without = set(), set()
    for code, name in REQUIRED:
        kind = get_station_type(code).measurement(name).kind  # type: ignore[union-attr]
        spec = build_spec(station_type=code, product=HPM_06)
        specs = {c.name: c for c in get_station_type(code).checks}
        judgement = _judge(code, with_values(good_result(code), **{name: _not_measured(kind)}))
        for check in judgement.checks:
            if check.rule != "not_measured" or check.name not in specs:
                continue
            recorded = (check.limit_low, check.limit_high, check.uncertainty)
            limit = spec.limits.get(getattr(specs[check.name], "limit", ""))
            if isinstance(specs[check.name], PLAIN_LIMIT_KINDS) and limit is not None and limit.applies:
                assert recorded == (limit.low, limit.high, limit.uncertainty), (name, check)
                with_limit.add(type(specs[check.name]).__name__)
            elif isinstance(specs[check.name], MODEL_KINDS):
                assert recorded == (None, None, None), (name, check)
                without.add(type(specs[check.name]).__name__)
    # both sides seen: plain checks of several kinds, and the model-based ones
    assert {"RangeCheck", "DifferenceCheck", "CheckAgeCheck", "RatioCheck"} <= with_limit, with_limit
    assert "LeakRateCheck" in without, without


@pytest.mark.parametrize(("code", "name"), REQUIRED, ids=[f"{c}.{n}" for c, n in REQUIRED])
def test_a_missing_required_value_fails(code: str, name: str) -> None:
    judgement = _judge(code, with_values(good_result(code), **{name: ...}))
    assert judgement.verdict is Verdict.FAIL
    assert any("was not reported" in c.message for c in judgement.checks)


#: The EVI-step values are optional in the contract (a model without EVI has none), so an EVI unit
#: without them is caught by the EVI check that uses them, not by the result's completeness.
EVI_STEP_VALUES = [
    ("evi_capacity_gain", "M10_EviOff_Capacity_W"),
    ("evi_capacity_gain", "M10_EviOn_Capacity_W"),
    ("evi_discharge_change", "M10_EviOff_DischargeT_C"),
    ("evi_discharge_change", "M10_EviOn_DischargeT_C"),
]


@pytest.mark.parametrize(("check", "name"), EVI_STEP_VALUES, ids=[n for _, n in EVI_STEP_VALUES])
def test_an_evi_unit_that_did_not_report_its_evi_step_fails_it(check: str, name: str) -> None:
    """line.md: "EVI (EVI units, at -10 °C): opening the injection valve must raise capacity … a valve
    that does neither is stuck": an EVI step not measured cannot pass as not applicable."""
    for value, words in ((None, "was not measured"), (math.nan, "was not measured"), (..., "was not reported")):
        judgement = _judge("run_in", with_values(good_result("run_in"), **{name: value}))
        evi = next(c for c in judgement.checks if c.name == check)
        assert evi.verdict is Verdict.FAIL and f"{name} {words}" in evi.message, (value, evi.message)
        assert judgement.verdict is Verdict.FAIL


@pytest.mark.parametrize(("code", "name"), REQUIRED, ids=[f"{c}.{n}" for c, n in REQUIRED])
def test_a_value_of_the_wrong_kind_fails_and_is_a_validation_problem(code: str, name: str) -> None:
    kind = get_station_type(code).measurement(name).kind  # type: ignore[union-attr]
    result = with_values(good_result(code), **{name: WRONG_KIND[kind]})
    assert _judge(code, result).verdict is Verdict.FAIL
    problems = validate_result(station_type=get_station_type(code), result=result)
    assert [p.field for p in problems] == [f"measurements.{name}"]


@pytest.mark.parametrize(
    ("code", "name"),
    [(c, n) for c, n in REQUIRED if get_station_type(c).measurement(n).unit],  # type: ignore[union-attr]
)
def test_a_value_in_the_wrong_unit_fails(code: str, name: str) -> None:
    result = good_result(code)
    measurements = tuple(replace(m, unit="furlong") if m.name == name else m for m in result.measurements)
    result = replace(result, measurements=measurements)
    judgement = _judge(code, result)
    assert judgement.verdict is Verdict.FAIL
    assert any("'furlong'" in c.message for c in judgement.checks)
    assert validate_result(station_type=get_station_type(code), result=result)


def test_a_value_in_the_contract_unit_is_accepted() -> None:
    result = good_result("brazing")
    measurements = tuple(replace(m, unit="ppm") if m.name == "O2_ppm" else m for m in result.measurements)
    assert _judge("brazing", replace(result, measurements=measurements)).verdict is Verdict.PASS


def _broken_traces(channel: str, original: Trace) -> dict[str, Trace]:
    t, v = list(original.t_s), list(original.values)
    swapped = t.copy()
    if len(swapped) >= 2:
        swapped[0], swapped[1] = swapped[1], swapped[0]
    else:
        swapped = [0.0, 0.0]
        v = [v[0], v[0]]
    return {
        "empty": Trace(channel=channel, t_s=(), values=()),
        "non_monotonic_time": Trace(channel=channel, t_s=tuple(swapped), values=tuple(v)),
        "repeated_time": Trace(channel=channel, t_s=(0.0, 0.0, *t[2:]), values=tuple(v) if len(v) > 1 else (1, 1)),
        "length_mismatch": Trace(channel=channel, t_s=tuple(t[:-1]), values=tuple(v)),
        "nan_sample": Trace(channel=channel, t_s=tuple(t), values=(math.nan, *v[1:])),
    }


@pytest.mark.parametrize(("code", "channel"), CHANNELS, ids=[f"{c}.{ch}" for c, ch in CHANNELS])
def test_a_broken_or_missing_trace_fails(code: str, channel: str) -> None:
    result = good_result(code)
    original = next(t for t in result.traces if t.channel == channel)
    for how, broken in _broken_traces(channel, original).items():
        judgement = _judge(code, with_trace(result, broken))
        assert judgement.verdict is Verdict.FAIL, how
    judgement = _judge(code, with_trace(result, None, channel=channel))
    assert judgement.verdict is Verdict.FAIL
    assert any(f"trace {channel} is empty or missing" in c.message for c in judgement.checks)


@pytest.mark.parametrize("code", [st.code for st in TYPES])
def test_an_empty_result_fails_without_raising(code: str) -> None:
    judgement = _judge(code, StationResult())
    assert judgement.verdict is Verdict.FAIL
    assert all(c.message for c in judgement.checks)


@pytest.mark.parametrize("code", [st.code for st in TYPES])
def test_garbage_in_every_value_fails_without_raising(code: str) -> None:
    st = get_station_type(code)
    for junk in (math.inf, -1e308, "", True, datetime.min, 0):
        result = StationResult(
            measurements=tuple(Measurement(name=m.name, value=junk) for m in st.measurements),
            traces=tuple(Trace(channel=t.channel, t_s=(1.0,), values=(math.inf,)) for t in st.traces),
        )
        assert _judge(code, result).verdict is Verdict.FAIL, junk


def test_run_in_without_cycle_model_expectations_fails_with_that_reason() -> None:
    spec = build_spec(station_type="run_in", product=HPM_06)
    judgement = judge(
        station_type="run_in", spec=spec, result=good_result("run_in"), expectations=None, retest_count=0, now=NOW
    )
    assert judgement.verdict is Verdict.FAIL
    assert any("no cycle-model expectations" in c.message for c in judgement.checks)
    assert judgement.model_version is None


def test_run_in_outside_the_model_envelope_fails_with_the_models_reason() -> None:
    expectations = FakeCycleExpectations(invalid_plateaus={"P07": "water outlet above the condensing limit"})
    judgement = _judge("run_in", good_result("run_in"), expectations=expectations)
    assert judgement.verdict is Verdict.FAIL
    failing = [c for c in judgement.checks if c.verdict is Verdict.FAIL]
    assert {c.name for c in failing} == {
        f"P07_{q}"
        for q in (
            "evaporating_temp_c",
            "condensing_temp_c",
            "discharge_temp_c",
            "superheat_k",
            "capacity_w",
            "cop",
            "compressor_power_w",
        )
    }
    assert all("water outlet above the condensing limit" in c.message and c.rule == "model_envelope" for c in failing)


def test_a_pressure_ratio_below_one_is_a_model_envelope_fail() -> None:
    result = with_values(good_result("run_in"), M10_DischargeP_bar=1.5, M10_SuctionP_bar=2.0)
    judgement = _judge("run_in", result)
    assert any("pressure ratio ≤ 1" in c.message for c in judgement.checks if c.verdict is Verdict.FAIL)


class _BrokenModel(FakeCycleExpectations):
    def leak_rate_g_per_year(self, **kwargs: object) -> float:  # type: ignore[override]
        raise RuntimeError("CoolProp exploded")

    def model_version(self, product_model_code: str) -> str:
        raise RuntimeError("no version")


def test_an_exception_inside_physics_becomes_a_fail_not_a_crash() -> None:
    judgement = _judge("leak_test", good_result("leak_test"), expectations=_BrokenModel())
    assert judgement.verdict is Verdict.FAIL
    leak_rate = next(c for c in judgement.checks if c.name == "leak_rate")
    assert leak_rate.rule == "internal_error" and "CoolProp exploded" in leak_rate.message


def test_a_test_pressure_not_above_atmosphere_cannot_be_converted_and_fails() -> None:
    judgement = _judge("leak_test", with_values(good_result("leak_test"), TestPressure_bar=0.9))
    leak_rate = next(c for c in judgement.checks if c.name == "leak_rate")
    assert leak_rate.verdict is Verdict.FAIL and leak_rate.rule == "conversion_failed"


def test_a_negative_leak_signal_is_an_instrument_fault_not_a_pass() -> None:
    judgement = _judge("leak_test", with_values(good_result("leak_test"), LeakSignal_mbar_l_s=-1e-6))
    assert judgement.verdict is Verdict.FAIL


def test_a_spec_for_another_station_type_fails() -> None:
    spec = build_spec(station_type="brazing", product=HPM_06)
    judgement = judge(
        station_type="charging", spec=spec, result=good_result("charging"), expectations=None, retest_count=0, now=NOW
    )
    assert judgement.verdict is Verdict.FAIL and judgement.checks[0].rule == "spec_mismatch"


def test_validation_names_unknown_values_and_traces() -> None:
    st = get_station_type("charging")
    result = with_values(good_result("charging"), Mystery_g=3.0)
    result = replace(result, traces=(Trace(channel="Ghost", t_s=(0.0,), values=(1.0,)),))
    fields = [p.field for p in validate_result(station_type=st, result=result)]
    assert fields == ["measurements.Mystery_g", "traces.Ghost"]
    assert validate_result(station_type=st, result=good_result("charging")) == ()


def test_an_unknown_station_type_is_a_fail_not_an_exception() -> None:
    spec = build_spec(station_type="brazing", product=HPM_06)
    judgement = judge(
        station_type="soldering", spec=spec, result=StationResult(), expectations=None, retest_count=0, now=NOW
    )
    assert judgement.verdict is Verdict.FAIL and judgement.checks[0].rule == "unknown_station_type"
