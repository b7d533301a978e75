"""Spec revisions (overrides, documents), rework routing and nameplate data."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from app.cyclemodel.uncertainty import InstrumentUncertainties, ModelUncertainties, uncertainties_from_settings
from app.domain.results import Judgement, Verdict
from app.domain.routing import (
    REPAIR,
    ReworkAction,
    ReworkRule,
    RouteDef,
    RouteStep,
    Transition,
    UnitStatus,
    UnitView,
    after_verdict,
)
from app.rules import (
    SpecError,
    build_spec,
    judge,
    nameplate_data,
    passed_charge_mass_g,
    spec_from_document,
    spec_to_document,
)
from app.services.master_data import RouteIn, RouteStepIn, station_rework_defaults
from tests.rules.factories import HPM_06, HPM_12, HPS_10, NOW, good_result, with_values


def test_default_spec_takes_product_limits_from_the_product_model() -> None:
    spec = build_spec(station_type="charging", product=HPM_06)
    mass, cap = spec.limits["charged_mass_g"], spec.limits["market_cap_g"]
    assert (mass.low, mass.high, mass.origin) == (138.0, 142.0, "product")
    assert (cap.low, cap.high) == (None, 150.0)
    assert not build_spec(station_type="charging", product=HPM_12).limits["market_cap_g"].applies
    assert build_spec(station_type="leak_test", product=HPM_12).limits["test_pressure_bar_g"].low == 10.5


def test_overrides_change_bounds_u_and_nominals() -> None:
    spec = build_spec(
        station_type="brazing",
        product=HPM_06,
        overrides={
            "limits": {
                "o2_ppm": {"high": 40, "uncertainty": 1.5},
                "belt_speed_mm_min": {"nominal": 320, "tolerance_fraction": 0.05},
            }
        },
        revision_id=4,
    )
    o2, belt = spec.limits["o2_ppm"], spec.limits["belt_speed_mm_min"]
    assert (o2.high, o2.uncertainty, o2.origin) == (40.0, 1.5, "revision")
    assert (belt.low, belt.high) == (304.0, 336.0)
    assert spec.limits["dew_point_c"].origin == "public"
    assert spec.revision_id == 4


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"limits": {"o2": {"high": 1}}}, "has no limit 'o2'"),
        ({"limits": {"o2_ppm": {"hgh": 1}}}, "unknown keys"),
        ({"limits": {"o2_ppm": {"high": "forty"}}}, "finite number"),
        ({"limits": {"o2_ppm": {"high": float("nan")}}}, "finite number"),
        ({"limits": {"o2_ppm": {"uncertainty": -1}}}, "must not be negative"),
        ({"limits": {"belt_speed_mm_min": {"low": 400}}}, "is above high"),
        ({"limits": {"belt_speed_mm_min": {"nominal": 300}}}, "needs a tolerance"),
        ({"limits": {"belt_speed_mm_min": {"tolerance": 3}}}, "needs a nominal"),
        ({"retest_cap": -1}, "retest_cap"),
        ({"retest_cap": True}, "retest_cap"),
        ({"limit": {}}, "unknown keys"),
    ],
)
def test_bad_overrides_are_refused_with_a_message_that_says_what_to_fix(overrides: dict, words: str) -> None:
    with pytest.raises(SpecError, match=words):
        build_spec(station_type="brazing", product=HPM_06, overrides=overrides)


@pytest.mark.parametrize("code", ["charging", "run_in", "sub_base_assembly", "leak_test", "vacuum_dehydration"])
def test_a_spec_document_round_trips_through_json(code: str) -> None:
    spec = build_spec(station_type=code, product=HPM_06, overrides={"retest_cap": 2}, revision_id=9)
    document = json.loads(json.dumps(spec_to_document(spec)))
    again = spec_from_document(document)
    assert again == spec
    result = good_result(code)
    first = judge(station_type=code, spec=spec, result=result, expectations=None, retest_count=0, now=NOW)
    second = judge(station_type=code, spec=again, result=result, expectations=None, retest_count=0, now=NOW)
    assert first == second


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"settings": {"instrument_water_temp": 0.1}}, "run_in has no setting 'instrument_water_temp'"),
        ({"settings": {"instrument_water_temp_k": -0.1}}, "must not be negative"),
        ({"settings": {"instrument_water_temp_k": "0.1"}}, "finite number"),
        ({"settings": [0.1]}, "'settings' must be an object"),
    ],
)
def test_bad_settings_are_refused_with_a_message_that_says_what_to_fix(overrides: dict, words: str) -> None:
    with pytest.raises(SpecError, match=words):
        build_spec(station_type="run_in", product=HPM_06, overrides=overrides)


def test_a_revisions_settings_are_frozen_with_it_and_a_version_1_document_reads_with_the_old_constants() -> None:
    spec = build_spec(station_type="run_in", product=HPM_06, overrides={"settings": {"instrument_air_temp_k": 0.2}})
    document = json.loads(json.dumps(spec_to_document(spec)))
    assert document["version"] == 2 and document["settings"]["instrument_air_temp_k"] == 0.2
    assert spec_from_document(document).settings == spec.settings
    # approved before revisions held settings: judged then with the constants the code had, which the
    # station's defaults keep (changing a default would change how those revisions re-derive)
    old = {
        k: v for k, v in spec_to_document(build_spec(station_type="run_in", product=HPM_06)).items() if k != "settings"
    }
    old["version"] = 1
    assert uncertainties_from_settings(spec_from_document(old).settings) == (
        InstrumentUncertainties(air_temp_k=0.3, water_temp_k=0.1, water_flow_fraction=0.01, comp_speed_rps=0.2,
                                pressure_bar=0.03, pressure_fraction=0.003, suction_temp_k=0.5, discharge_temp_k=1.5,
                                power_w=2.0, power_fraction=0.005),
        ModelUncertainties(saturation_temp_k=0.8, discharge_temp_k=3.0, superheat_k=1.0, capacity_fraction=0.03,
                           cop_fraction=0.03, compressor_power_fraction=0.03, evi_gain_points=0.03),
    )  # fmt: skip
    del document["settings"]["model_cop_fraction"]
    with pytest.raises(SpecError, match="lacks settings"):
        spec_from_document(document)


def test_a_stored_document_missing_a_limit_is_refused() -> None:
    document = spec_to_document(build_spec(station_type="brazing", product=HPM_06))
    del document["limits"]["o2_ppm"]
    with pytest.raises(SpecError, match="o2_ppm"):
        spec_from_document(document)


MONOBLOC_STEPS = (
    "coil_expansion",
    "brazing",
    "sub_base_assembly",
    "vacuum_dehydration",
    "charging",
    "leak_test",
    "run_in",
)


def _route(*extra: ReworkRule, loop_cap: int = 2) -> RouteDef:
    """The monobloc route with the rework rules a route is seeded with (the station types' defaults)."""
    route_in = RouteIn(
        code="MONOBLOC", rework_loop_cap=loop_cap, steps=[RouteStepIn(station_type=t) for t in MONOBLOC_STEPS]
    )
    seeded = tuple(
        ReworkRule(
            failed_at=r.failed_at,
            action=ReworkAction(r.action),
            reenter_at=r.reenter_at,
            failure_mode=r.failure_mode,
            note=r.note,
            counts_as_rework_loop=r.counts_as_rework_loop,
        )
        for r in station_rework_defaults(route_in)
    )
    return RouteDef(
        code="MONOBLOC",
        steps=tuple(RouteStep(i, t) for i, t in enumerate(MONOBLOC_STEPS, 1)),
        rework=extra + seeded,
        loop_cap=loop_cap,
    )


def _fail(route: RouteDef, station: str, mode: str | None, *, loops: int = 0) -> Transition:
    unit = UnitView("HP26-0000001", UnitStatus.IN_PROCESS, station, None, loops)
    return after_verdict(
        route=route, unit=unit, station_type=station, verdict=Verdict.FAIL, failure_mode=mode, summary="x"
    )


def _action(t: Transition) -> tuple[str, str | None]:
    if t.status is UnitStatus.ON_HOLD:
        return ("hold", t.reentry_step)
    if t.next_step == REPAIR:
        return ("repair", t.reentry_step)
    return ("repeat", t.next_step)


@pytest.mark.parametrize(
    ("station", "mode", "action", "reentry"),
    [
        ("coil_expansion", "length_loss", "hold", "coil_expansion"),
        ("brazing", "atmosphere", "repair", "brazing"),
        ("sub_base_assembly", "wrong_part", "repair", "sub_base_assembly"),
        ("vacuum_dehydration", "moisture", "repeat", "vacuum_dehydration"),
        ("vacuum_dehydration", "leak", "repair", "vacuum_dehydration"),
        ("charging", "charge_cap", "repair", "vacuum_dehydration"),
        ("leak_test", "leak", "repair", "vacuum_dehydration"),
        ("leak_test", "instrument", "repeat", "leak_test"),
        ("run_in", "evi_valve", "hold", None),
        ("run_in", None, "hold", None),
    ],
)
def test_a_failure_is_routed_per_the_rework_table(
    station: str, mode: str | None, action: str, reentry: str | None
) -> None:
    transition = _fail(_route(), station, mode)
    assert _action(transition) == (action, reentry)
    assert transition.instruction


@pytest.mark.parametrize(
    ("station", "mode", "instruction"),
    [
        (
            "leak_test",
            "leak",
            "to repair (re-braze the joint; monoblocs: recover the refrigerant first), "
            "then re-enter at vacuum dehydration",
        ),
        ("charging", "charge_mass", "to repair (recover the refrigerant), then re-enter at vacuum dehydration"),
        ("vacuum_dehydration", "moisture", "repeat vacuum dehydration"),
        ("brazing", "atmosphere", "to repair (re-braze), then re-enter at brazing"),
        ("sub_base_assembly", "wrong_part", "to repair (replace the part), then re-enter at sub-base assembly"),
        (
            "leak_test",
            "instrument",
            "test again at leak test (after the reference-leak check, with the unit's refrigerant, He or H2N2 "
            "as tracer): the test was not valid, no rework loop",
        ),
        ("coil_expansion", None, "hold for a quality engineer (quality engineer decides: scrap the coil)"),
    ],
)
def test_the_fail_instruction_tells_the_operator_the_routes_repair_note(
    station: str, mode: str | None, instruction: str
) -> None:
    """In the plant's words: "vacuum dehydration", never the station type's code."""
    assert _fail(_route(), station, mode).instruction == instruction


@pytest.mark.parametrize(
    ("station", "verdict", "instruction"),
    [
        ("sub_base_assembly", Verdict.PASS, "next: vacuum dehydration"),
        ("coil_expansion", Verdict.PASS, "next: brazing"),
        ("leak_test", Verdict.PASS, "next: run-in"),
        ("run_in", Verdict.RETEST, "measure again at run-in"),
        ("leak_test", Verdict.RETEST, "measure again at leak test"),
    ],
)
def test_the_pass_and_retest_instructions_name_stations_in_the_plants_words(
    station: str, verdict: Verdict, instruction: str
) -> None:
    unit = UnitView("HP26-0000001", UnitStatus.IN_PROCESS, station, None, 0)
    transition = after_verdict(
        route=_route(), unit=unit, station_type=station, verdict=verdict, failure_mode=None, summary=None
    )
    assert transition.instruction == instruction


def test_a_hold_after_a_fail_names_the_station_in_the_plants_words() -> None:
    transition = _fail(_route(), "run_in", "evi_valve")
    assert transition.hold_reason == "FAIL at run-in: x (quality engineer decides)"


def test_after_a_repair_the_unit_is_told_to_re_enter_in_the_plants_words() -> None:
    unit = UnitView("HP26-0000001", UnitStatus.IN_PROCESS, REPAIR, "sub_base_assembly", 1)
    transition = after_verdict(
        route=_route(), unit=unit, station_type=REPAIR, verdict=Verdict.PASS, failure_mode=None, summary=None
    )
    assert (transition.next_step, transition.instruction) == ("sub_base_assembly", "re-enter at sub-base assembly")


def test_routing_takes_the_failure_mode_from_the_judgement() -> None:
    result = with_values(good_result("charging"), ChargedMass_g=155.0)
    judgement = judge(
        station_type="charging",
        spec=build_spec(station_type="charging", product=HPM_06),
        result=result,
        expectations=None,
        retest_count=0,
        now=NOW,
    )
    assert judgement.failure_mode == "charge_mass"
    assert _action(_fail(_route(), "charging", judgement.failure_mode)) == ("repair", "vacuum_dehydration")


def test_past_the_loop_cap_a_unit_goes_on_hold() -> None:
    transition = _fail(_route(loop_cap=2), "vacuum_dehydration", "moisture", loops=2)
    assert transition.status is UnitStatus.ON_HOLD
    assert transition.hold_reason and "loop cap" in transition.hold_reason


def test_a_route_specific_rule_overrides_the_catch_all() -> None:
    route = _route(ReworkRule("brazing", ReworkAction.REPEAT, "brazing", failure_mode="belt_speed"))
    assert _action(_fail(route, "brazing", "belt_speed")) == ("repeat", "brazing")
    assert _action(_fail(route, "brazing", "temperature")) == ("repair", "brazing")


def test_a_station_without_a_rule_holds_the_unit() -> None:
    route = _route()
    route = RouteDef(route.code, route.steps, tuple(r for r in route.rework if r.failed_at != "brazing"), 2)
    transition = _fail(route, "brazing", None)
    assert transition.status is UnitStatus.ON_HOLD
    assert transition.hold_reason and "no rework path" in transition.hold_reason


def test_nameplate_of_a_charged_monobloc_carries_mass_and_co2_equivalent() -> None:
    plate = nameplate_data(product=HPM_12, charged_mass_g=1203.0)
    assert plate.charge_status == "factory_charged"
    assert plate.charged_mass_kg == 1.203
    assert plate.co2_equivalent_t == pytest.approx(1.203 * 675 / 1000)
    assert plate.charge_text == "R32 1.203 kg, GWP 675, 0.8120 t CO2e"


def test_nameplate_of_a_split_unit_says_charged_on_site() -> None:
    plate = nameplate_data(product=HPS_10, charged_mass_g=None)
    assert plate.charge_status == "charged_on_site" and plate.charged_mass_kg is None
    assert "charged on site" in plate.charge_text


def test_nameplate_uses_only_a_passed_charge() -> None:
    result = good_result("charging")
    passed = Judgement(verdict=Verdict.PASS)
    failed = replace(passed, verdict=Verdict.FAIL)
    assert passed_charge_mass_g(result=result, judgement=passed) == 140.0
    assert passed_charge_mass_g(result=result, judgement=failed) is None
    assert nameplate_data(product=HPM_06, charged_mass_g=None).charge_status == "not_charged_yet"
    assert nameplate_data(product=HPM_06, charged_mass_g=140.0).ratings == HPM_06.ratings
