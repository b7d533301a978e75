"""CoolPropExpectations as the rules engine sees it: residuals, U, and the envelope guard."""

from __future__ import annotations

import math

import pytest

from app.cyclemodel.provider import CoolPropExpectations
from app.domain.expectations import CycleExpectations
from tests.cyclemodel.synthetic import model_unit_values

QUANTITIES = {"evaporating_temp_c", "condensing_temp_c", "discharge_temp_c", "superheat_k", "capacity_w", "cop",
              "compressor_power_w"}  # fmt: skip


@pytest.fixture(scope="module")
def provider() -> CoolPropExpectations:
    return CoolPropExpectations()


def test_provider_implements_the_cycle_expectations_protocol(provider: CoolPropExpectations) -> None:
    implementation: CycleExpectations = provider
    assert implementation.model_version("HPS-10-R32").startswith("cyclemodel-")


@pytest.mark.parametrize("plateau", ["M10", "P07", "P45"])
def test_a_unit_that_behaves_like_its_model_has_residuals_well_inside_u(
    provider: CoolPropExpectations, plateau: str
) -> None:
    values = model_unit_values(product_model_code="HPM-12-R32-EVI", plateau=plateau)
    result = provider.plateau(product_model_code="HPM-12-R32-EVI", plateau=plateau, values=values)  # type: ignore[arg-type]
    assert result.valid, result.reason
    assert result.mode == ("cooling" if plateau == "P45" else "heating")
    assert set(result.quantities) == QUANTITIES
    for name, residual in result.quantities.items():
        assert abs(residual.residual) < 0.01 * residual.uncertainty, name


def test_a_unit_short_of_capacity_shows_a_negative_capacity_residual_beyond_u(
    provider: CoolPropExpectations,
) -> None:
    values = model_unit_values(product_model_code="HPM-06-R290-EVI", plateau="P07")
    # Water heats up 15 % less than the model expects (a refrigerant-short unit).
    values["P07_WaterOut_C"] = values["P07_WaterIn_C"] + 0.85 * (values["P07_WaterOut_C"] - values["P07_WaterIn_C"])  # type: ignore[operator]
    result = provider.plateau(product_model_code="HPM-06-R290-EVI", plateau="P07", values=values)
    capacity = result.quantities["capacity_w"]
    assert capacity.residual < -capacity.uncertainty
    assert capacity.unit == "W"


def test_superheat_is_measured_from_suction_temperature_and_pressure(provider: CoolPropExpectations) -> None:
    values = model_unit_values(product_model_code="HPS-10-R32", plateau="P07")
    values["P07_SuctionT_C"] = values["P07_SuctionT_C"] + 3.0  # type: ignore[operator]
    result = provider.plateau(product_model_code="HPS-10-R32", plateau="P07", values=values)
    assert result.quantities["superheat_k"].residual == pytest.approx(3.0, abs=1e-6)


def test_pressure_ratio_not_above_one_is_outside_the_envelope(provider: CoolPropExpectations) -> None:
    values = model_unit_values(product_model_code="HPS-10-R32", plateau="P07")
    values["P07_DischargeP_bar"] = values["P07_SuctionP_bar"]
    result = provider.plateau(product_model_code="HPS-10-R32", plateau="P07", values=values)
    assert not result.valid
    assert "pressure ratio" in (result.reason or "")
    assert result.quantities == {}


@pytest.mark.parametrize("missing", [None, math.nan])
def test_a_missing_input_is_named_in_words_not_numbers(provider: CoolPropExpectations, missing: object) -> None:
    values = model_unit_values(product_model_code="HPM-06-R290-EVI", plateau="M10")
    values["M10_SuctionP_bar"] = missing  # type: ignore[assignment]
    result = provider.plateau(product_model_code="HPM-06-R290-EVI", plateau="M10", values=values)
    assert not result.valid
    assert result.reason == "not measured: M10_SuctionP_bar"
    assert result.quantities == {}


def test_an_impossible_temperature_is_outside_the_envelope(provider: CoolPropExpectations) -> None:
    values = model_unit_values(product_model_code="HPM-06-R290-EVI", plateau="P45")
    values["P45_WaterIn_C"] = -20.0
    result = provider.plateau(product_model_code="HPM-06-R290-EVI", plateau="P45", values=values)
    assert not result.valid
    assert "physically impossible" in (result.reason or "")


def test_conditions_where_the_model_cannot_run_are_refused_with_the_models_reason(
    provider: CoolPropExpectations,
) -> None:
    values = model_unit_values(product_model_code="HPS-10-R32", plateau="M10")
    # R32 without injection at -12 °C air and 47 °C water: the discharge runs far too hot.
    values.update({"M10_AirTemp_C": -12.1, "M10_WaterIn_C": 47.3, "M10_CompSpeed_rps": 66.0})
    result = provider.plateau(product_model_code="HPS-10-R32", plateau="M10", values=values)
    assert not result.valid
    assert "discharge temperature exceeds 160 °C" in (result.reason or "")
    values.update({"M10_AirTemp_C": -10.0, "M10_WaterIn_C": 58.0, "M10_CompSpeed_rps": 95.0})
    result = provider.plateau(product_model_code="HPS-10-R32", plateau="M10", values=values)
    assert "condensing temperature would exceed" in (result.reason or "")


def test_unknown_product_and_missing_evi_are_reported_not_raised(provider: CoolPropExpectations) -> None:
    values = model_unit_values(product_model_code="HPS-10-R32", plateau="M10")
    assert "no physics data" in (
        provider.plateau(product_model_code="XYZ-1", plateau="M10", values=values).reason or ""
    )
    step = provider.evi_step(product_model_code="HPS-10-R32", values=values)
    assert not step.valid and "no vapour injection" in (step.reason or "")


def test_leak_conversion_is_reachable_through_the_protocol(provider: CoolPropExpectations) -> None:
    g_per_year = provider.leak_rate_g_per_year(
        tracer_gas="R290", signal_mbar_l_s=5.3e-5, test_pressure_bar_abs=8.0, refrigerant="R290"
    )
    assert g_per_year == pytest.approx(3.0, rel=0.02)


def test_m10_window_before_the_evi_step_is_judged_without_injection(provider: CoolPropExpectations) -> None:
    with_injection = model_unit_values(product_model_code="HPM-12-R32-EVI", plateau="M10")
    timing = {"M10_EviStepAt_s": 1000.0, "M10_WindowStart_s": 400.0, "M10_WindowEnd_s": 900.0}
    before_step = provider.plateau(product_model_code="HPM-12-R32-EVI", plateau="M10",
                                   values={**with_injection, **timing})  # fmt: skip
    after_step = provider.plateau(product_model_code="HPM-12-R32-EVI", plateau="M10",
                                  values={**with_injection, **timing, "M10_WindowStart_s": 1100.0,
                                          "M10_WindowEnd_s": 1500.0})  # fmt: skip
    # The simulated unit injected: judged as injecting it matches, judged as not injecting it does not.
    assert after_step.quantities["capacity_w"].residual == pytest.approx(0.0, abs=1.0)
    assert before_step.quantities["capacity_w"].expected < 0.9 * after_step.quantities["capacity_w"].expected


@pytest.mark.parametrize("air_temp_c", [-80.0, 75.0])
def test_an_impossible_air_temperature_is_refused_in_words_before_the_model_runs(
    provider: CoolPropExpectations, air_temp_c: float
) -> None:
    """No climate chamber air is below -40 °C or above +60 °C: that is a broken reading, not a cold plateau."""
    values = model_unit_values(product_model_code="HPM-06-R290-EVI", plateau="M10")
    values["M10_AirTemp_C"] = air_temp_c
    result = provider.plateau(product_model_code="HPM-06-R290-EVI", plateau="M10", values=values)
    assert not result.valid and result.quantities == {}
    assert result.reason == f"M10_AirTemp_C = {air_temp_c:g} is physically impossible (expected -40…60)"
