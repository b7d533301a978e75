"""A specification revision cannot take a limit's bounds away, set the market charge cap, or leave a
limit no PASS band; and a limit without a bound (a revision stored before these rules) never passes."""

from __future__ import annotations

from typing import Any

import pytest

from app.domain.results import Verdict
from app.rules import SpecError, build_spec, judge, spec_from_document, spec_to_document
from app.rules.spec import Spec
from tests.rules.factories import (
    HPM_06,
    HPM_12,
    HPS_10,
    NOW,
    FakeCycleExpectations,
    good_result,
    trace,
    with_trace,
    with_values,
)


@pytest.mark.parametrize(
    ("station_type", "product", "limits", "limit"),
    [
        ("leak_test", HPM_06, {"leak_rate_g_per_year": {"high": None}}, "leak_rate_g_per_year"),
        ("sub_base_assembly", HPM_06, {"fastener_torque_nm": {"low": None, "high": None}}, "fastener_torque_nm"),
        ("coil_expansion", HPM_06, {"hairpin_peak_force_kn": {"low": None}}, "hairpin_peak_force_kn"),
        ("vacuum_dehydration", HPM_06, {"target_pressure_pa": {"high": None, "low": 0}}, "target_pressure_pa"),
        # a limit the data leaves without bounds (a split has no nominal charge) cannot be "cleared" either
        ("charging", HPS_10, {"charged_mass_g": {"high": None}}, "charged_mass_g"),
    ],
)
def test_a_revision_cannot_remove_a_limits_bound(
    station_type: str, product: Any, limits: dict[str, Any], limit: str
) -> None:
    with pytest.raises(SpecError, match=limit) as refused:
        build_spec(station_type=station_type, product=product, overrides={"limits": limits})
    assert "bound" in str(refused.value)


def test_a_revision_still_moves_bounds_and_sets_u_on_a_limit_without_bounds_by_design() -> None:
    spec = build_spec(
        station_type="leak_test", product=HPM_06, overrides={"limits": {"leak_rate_g_per_year": {"high": 2.0}}}
    )
    assert spec.limits["leak_rate_g_per_year"].high == 2.0
    split = build_spec(
        station_type="charging", product=HPS_10, overrides={"limits": {"charged_mass_g": {"uncertainty": 0.2}}}
    )
    assert not split.limits["charged_mass_g"].applies


def _stored_with(spec: Spec, **bounds: dict[str, float | None]) -> Spec:
    """``spec`` as an approved revision stored with some limits' bounds set (as a revision approved
    before a revision could no longer clear them)."""
    document = spec_to_document(spec)
    for name, changed in bounds.items():
        document["limits"][name].update(changed, origin="revision")
    return spec_from_document(document, revision_id=7)


def _checks(station_type: str, spec: Spec, result: Any) -> dict[str, Any]:
    judgement = judge(
        station_type=station_type,
        spec=spec,
        result=result,
        expectations=FakeCycleExpectations(),
        retest_count=0,
        now=NOW,
    )
    assert judgement.verdict is Verdict.FAIL
    return {c.name: c for c in judgement.checks}


def test_a_gross_leak_against_a_leak_rate_limit_without_bound_fails_as_spec_incomplete() -> None:
    spec = _stored_with(
        build_spec(station_type="leak_test", product=HPM_06), leak_rate_g_per_year={"low": None, "high": None}
    )
    gross = with_values(good_result("leak_test"), LeakSignal_mbar_l_s=1.0)  # tens of kg/yr of R290
    check = _checks("leak_test", spec, gross)["leak_rate"]
    assert (check.verdict, check.rule) == (Verdict.FAIL, "spec_incomplete")
    assert "no bound for limit leak_rate_g_per_year" in check.message and "within" not in check.message


def test_fasteners_against_a_torque_limit_without_bound_fail_as_spec_incomplete() -> None:
    spec = _stored_with(
        build_spec(station_type="sub_base_assembly", product=HPM_06), fastener_torque_nm={"low": None, "high": None}
    )
    loose = with_trace(good_result("sub_base_assembly"), trace("FastenerTorque_Nm", [0.1, 25.0, 6.0]))
    check = _checks("sub_base_assembly", spec, loose)["fastener_torque"]
    assert (check.verdict, check.rule) == (Verdict.FAIL, "spec_incomplete")


@pytest.mark.parametrize("stored", [{"high": None}, {"high": 500.0}])
def test_a_market_cap_a_revision_cleared_or_raised_is_judged_by_the_market_rule_frozen_beside_it(
    stored: dict[str, float | None],
) -> None:
    """Revisions approved before the cap was refused there keep their document; the cap they judge by
    is the market rule's (150 g for EU R290 sealed units, with its source), frozen in the same document."""
    revised = _stored_with(build_spec(station_type="charging", product=HPM_06), market_cap_g=stored)
    assert (revised.limits["market_cap_g"].high, revised.limits["market_cap_g"].origin) == (150.0, "product")
    check = _checks("charging", revised, with_values(good_result("charging"), ChargedMass_g=400.0))
    assert check["market_charge_cap"].verdict is Verdict.FAIL and "150 g" in check["market_charge_cap"].message


def test_a_market_without_a_cap_rule_says_so_and_passes() -> None:

    no_rule = build_spec(station_type="charging", product=HPM_12)
    judgement = judge(
        station_type="charging",
        spec=no_rule,
        result=good_result("charging", HPM_12),
        expectations=FakeCycleExpectations(),
        retest_count=0,
        now=NOW,
    )
    cap = next(c for c in judgement.checks if c.name == "market_charge_cap")
    assert (cap.verdict, cap.rule) == (Verdict.PASS, "no_limit_applies")
    assert "has no charge-cap rule" in cap.message


@pytest.mark.parametrize(
    "override", [{"high": 500.0}, {"high": None}, {"nominal": 140.0, "tolerance": 300.0}, {"uncertainty": 1.0}]
)
def test_the_market_charge_cap_is_not_set_by_a_revision_but_in_the_market_rules(override: dict[str, Any]) -> None:
    with pytest.raises(SpecError, match="market_cap_g") as refused:
        build_spec(station_type="charging", product=HPM_06, overrides={"limits": {"market_cap_g": override}})
    assert "market rules (PUT /api/v1/market-rules)" in str(refused.value)


def test_the_charged_mass_is_still_set_by_a_revision_and_the_cap_stays_the_market_rules() -> None:
    spec = build_spec(
        station_type="charging",
        product=HPM_06,
        overrides={"limits": {"charged_mass_g": {"nominal": 141.0, "tolerance": 3.0}}},
    )
    assert (spec.limits["charged_mass_g"].low, spec.limits["charged_mass_g"].high) == (138.0, 144.0)
    assert spec.limits["market_cap_g"].high == 150.0 and spec.limits["market_cap_g"].origin == "product"


@pytest.mark.parametrize(
    "override",
    [
        {"uncertainty": 20.0},  # 285…315 mm/min: 2U = 40 ≥ 30
        {"uncertainty": 15.0},  # 2U = width: only 300 exactly would pass
        {"nominal": 300.0, "tolerance": 1.0},  # 299…301 with the default U
    ],
)
def test_an_uncertainty_that_leaves_no_pass_band_is_refused(override: dict[str, float]) -> None:
    with pytest.raises(SpecError, match="belt_speed_mm_min") as refused:
        build_spec(station_type="brazing", product=HPM_06, overrides={"limits": {"belt_speed_mm_min": override}})
    assert "no PASS band" in str(refused.value)


def test_an_uncertainty_under_half_the_limits_width_is_accepted_and_a_good_unit_passes() -> None:
    spec = build_spec(
        station_type="brazing", product=HPM_06, overrides={"limits": {"belt_speed_mm_min": {"uncertainty": 14.0}}}
    )
    judgement = judge(
        station_type="brazing",
        spec=spec,
        result=good_result("brazing"),
        expectations=FakeCycleExpectations(),
        retest_count=0,
        now=NOW,
    )
    assert judgement.verdict is Verdict.PASS
