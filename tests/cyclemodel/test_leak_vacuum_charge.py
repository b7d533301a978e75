"""Leak-rate conversion, vacuum physics and the CO2 equivalent of a charge."""

from __future__ import annotations

import pytest

from app.cyclemodel import charge, leak, vacuum


@pytest.mark.parametrize(("refrigerant", "anchor_mbar_l_s"), [("R290", 5.3e-5), ("R32", 4.5e-5)])
def test_three_grams_per_year_matches_the_public_anchor_at_20_c(refrigerant: str, anchor_mbar_l_s: float) -> None:
    assert leak.pv_flow_mbar_l_s(gas=refrigerant, mass_rate_g_per_year=3.0) == pytest.approx(anchor_mbar_l_s, rel=0.015)
    assert leak.leak_rate_g_per_year(
        tracer_gas=refrigerant, signal_mbar_l_s=anchor_mbar_l_s, test_pressure_bar_abs=12.0, refrigerant=refrigerant
    ) == pytest.approx(3.0, rel=0.015)


def test_helium_signal_is_scaled_by_viscosity_ratio_and_refrigerant_molar_mass() -> None:
    pressure = 12.0
    mean = 0.5 * (pressure + leak.ATMOSPHERE_BAR)
    he_signal = 1.0e-5
    expected_pv = (
        he_signal
        * leak.viscosity_pa_s(gas="He", pressure_bar_abs=mean)
        / leak.viscosity_pa_s(gas="R32", pressure_bar_abs=mean)
    )
    result = leak.leak_rate_g_per_year(
        tracer_gas="He", signal_mbar_l_s=he_signal, test_pressure_bar_abs=pressure, refrigerant="R32"
    )
    assert result == pytest.approx(leak.mass_rate_g_per_year(gas="R32", pv_flow_mbar_l_s=expected_pv))
    # Helium is ~1.5x as viscous as R32 vapour: the same channel passes more refrigerant (pV).
    assert 1.3 < expected_pv / he_signal < 1.7


def test_forming_gas_is_the_5_percent_hydrogen_mixture_the_instrument_is_calibrated_for() -> None:
    assert leak.molar_mass_kg_mol(gas="H2N2") == pytest.approx(0.05 * 0.002016 + 0.95 * 0.028013, rel=1e-3)
    g = leak.leak_rate_g_per_year(tracer_gas="H2N2", signal_mbar_l_s=5.0e-5, test_pressure_bar_abs=8.0,
                                  refrigerant="R290")  # fmt: skip
    assert 5.0 < g < 7.0  # forming gas is about twice as viscous as propane vapour


def test_unknown_gases_and_impossible_test_pressures_are_refused() -> None:
    with pytest.raises(leak.UnknownGasError):
        leak.leak_rate_g_per_year(tracer_gas="CO2", signal_mbar_l_s=1e-5, test_pressure_bar_abs=10.0, refrigerant="R32")
    with pytest.raises(ValueError, match="above atmospheric"):
        leak.leak_rate_g_per_year(tracer_gas="He", signal_mbar_l_s=1e-5, test_pressure_bar_abs=1.0, refrigerant="R32")


def test_minimum_test_pressure_is_a_quarter_of_ps_gauge_plus_atmosphere() -> None:
    assert leak.minimum_test_pressure_bar_abs(max_allowable_pressure_bar_gauge=42.0) == pytest.approx(11.51325)


def test_leak_rate_from_a_rise_is_delta_p_times_volume_over_time() -> None:
    # 30 Pa in 600 s in 2.5 l: 0.125 Pa·l/s = 1.25e-3 mbar·l/s
    assert vacuum.leak_rate_from_rise_mbar_l_s(rise_pa=30.0, volume_l=2.5, duration_s=600.0) == pytest.approx(1.25e-3)
    assert vacuum.rise_from_leak_pa(leak_mbar_l_s=1.25e-3, volume_l=2.5, duration_s=600.0) == pytest.approx(30.0)


def test_water_vapour_pressure_at_20_c_is_about_2340_pa() -> None:
    assert vacuum.water_vapour_pressure_pa(temp_c=20.0) == pytest.approx(2339.0, rel=0.002)


@pytest.mark.parametrize("volume_l", [2.5, 3.2, 4.0])
def test_a_tight_dry_circuit_rises_well_under_the_30_pa_limit(volume_l: float) -> None:
    rise = vacuum.expected_tight_rise_pa(volume_l=volume_l, duration_s=600.0, pumped_for_s=3600.0)
    assert 0.5 < rise < 15.0


def test_pump_down_time_is_volume_over_speed_times_log_of_pressure_ratio() -> None:
    assert vacuum.pump_down_time_s(volume_l=4.0, pump_speed_l_s=2.0, start_pa=100_000.0, end_pa=50.0) == pytest.approx(
        2.0 * 7.6009, rel=1e-3
    )


def test_co2_equivalent_of_a_charge_is_mass_times_gwp_in_tonnes() -> None:
    assert charge.co2e_tonnes(charge_mass_g=1200.0, gwp=675.0) == pytest.approx(0.81)
    assert charge.co2e_tonnes(charge_mass_g=140.0, gwp=3.0) == pytest.approx(0.00042)


def test_expected_charge_carries_nominal_tolerance_and_co2e_and_none_for_site_charged_splits() -> None:
    from app.cyclemodel.products import DEMO_PRODUCTS

    monobloc = charge.expected_charge(product=DEMO_PRODUCTS["HPM-12-R32-EVI"])
    assert monobloc is not None
    assert (monobloc.nominal_g, monobloc.tolerance_g) == (1200.0, 10.0)
    assert monobloc.co2e_tonnes == pytest.approx(0.81)
    assert charge.expected_charge(product=DEMO_PRODUCTS["HPS-10-R32"]) is None


def test_defrost_expectation_is_the_line_spec_sequence_ending_on_temperature() -> None:
    from app.cyclemodel import defrost

    expected = defrost.expected_defrost()
    assert expected.sequence[:3] == ("compressor_stop", "fan_stop", "valve_reverse")
    assert len(expected.sequence) == 8 and expected.ends_on == "temperature"
    assert defrost.parse_sequence(reported=",".join(expected.sequence)) == expected.sequence
    with pytest.raises(ValueError, match="unknown defrost step"):
        defrost.parse_sequence(reported="compressor_stop,defrost_heater_on")


@pytest.mark.parametrize(("refrigerant", "test_pressure_bar_abs"), [("R290", 30.0), ("R32", 40.0)])
def test_refrigerant_viscosity_stays_the_vapours_at_test_pressures_above_its_saturation_pressure(
    refrigerant: str, test_pressure_bar_abs: float
) -> None:
    """A leak test at PS/4 or more can put the channel's mean pressure above the refrigerant's vapour pressure
    at 20 °C (R290 8.4 bar, R32 14.7 bar); what leaks out is vapour, whose viscosity (about 8e-6 Pa·s for
    propane, 1.3e-5 for R32) barely depends on pressure, not the liquid's (about 10x more)."""
    mean_bar = 0.5 * (test_pressure_bar_abs + leak.ATMOSPHERE_BAR)
    low = leak.viscosity_pa_s(gas=refrigerant, pressure_bar_abs=2.0)
    high = leak.viscosity_pa_s(gas=refrigerant, pressure_bar_abs=mean_bar)
    assert high < 1.5e-5
    assert high == pytest.approx(low, rel=0.05)
    # The same helium signal then converts to (nearly) the same refrigerant leak at either test pressure.
    he = {"tracer_gas": "He", "signal_mbar_l_s": 1e-5, "refrigerant": refrigerant}
    at_12 = leak.leak_rate_g_per_year(test_pressure_bar_abs=12.0, **he)  # type: ignore[arg-type]
    at_high = leak.leak_rate_g_per_year(test_pressure_bar_abs=test_pressure_bar_abs, **he)  # type: ignore[arg-type]
    assert at_high == pytest.approx(at_12, rel=0.05)


def test_a_short_rise_after_one_hour_of_pumping_is_the_1_h_outgassing_rate_of_the_circuits_surface() -> None:
    """Without oil, ΔP = q_1h·A·1 h·ln((t0 + Δt)/t0)/V with A = 4000 cm²/l · V: for Δt ≪ t0 = 1 h the rise
    rate is q_1h·(A/V) = 1e-8 mbar·l/(s·cm²) · 4000 cm²/l = 4e-5 mbar/s = 4e-3 Pa/s, whatever the volume."""
    surface_only = vacuum.TightCircuitOutgassing(oil_degassing_mbar_l_s=0.0)
    for volume_l in (2.5, 4.0):
        rise = vacuum.expected_tight_rise_pa(volume_l=volume_l, duration_s=1.0, pumped_for_s=3600.0,
                                             outgassing=surface_only)  # fmt: skip
        assert rise == pytest.approx(4.0e-3, rel=1e-3)
    # Outgassing falls as 1/t: after two hours of pumping the same short rise is half as large.
    later = vacuum.expected_tight_rise_pa(volume_l=2.5, duration_s=1.0, pumped_for_s=7200.0, outgassing=surface_only)
    assert later == pytest.approx(2.0e-3, rel=1e-3)


def test_a_tight_circuits_expected_rise_is_surface_outgassing_plus_oil_over_the_internal_volume() -> None:
    """HPM-12 (4.0 l), 600 s rise after 1 h of pumping: surface 1e-8·16000 cm²·3600 s·ln(7/6) = 0.0888 mbar·l,
    oil 5e-5 mbar·l/s · 600 s = 0.03 mbar·l; (0.1188 mbar·l = 11.88 Pa·l) / 4.0 l = 2.97 Pa."""
    from app.cyclemodel.products import DEMO_PRODUCTS

    volume_l = DEMO_PRODUCTS["HPM-12-R32-EVI"].internal_volume_l
    rise = vacuum.expected_tight_rise_pa(volume_l=volume_l, duration_s=600.0, pumped_for_s=3600.0)
    surface_mbar_l = 1e-8 * 4000.0 * volume_l * 3600.0 * 0.15415068
    assert rise == pytest.approx((surface_mbar_l + 0.03) * 100.0 / volume_l, rel=1e-6)
    assert rise == pytest.approx(2.97, abs=0.01)
    # The oil's share is fixed per circuit, the surface's grows with it: a larger circuit rises less.
    assert vacuum.expected_tight_rise_pa(volume_l=2.5, duration_s=600.0, pumped_for_s=3600.0) > rise


def test_co2_equivalent_of_an_expected_charge_uses_the_products_own_gwp() -> None:
    from app.cyclemodel.products import DEMO_PRODUCTS

    propane = DEMO_PRODUCTS["HPM-06-R290-EVI"]
    expected = charge.expected_charge(product=propane)
    assert expected is not None and propane.gwp == 3.0
    # 140 g of R290 (GWP 3): 0.00042 t, not the 0.0945 t the same mass of R32 (GWP 675) would be.
    assert expected.co2e_tonnes == pytest.approx(140.0 * 3.0 / 1e6)


def test_defrost_expectation_is_exactly_the_line_spec_sequence_and_signatures() -> None:
    from app.cyclemodel import defrost

    expected = defrost.expected_defrost()
    # line.md, run_in: the eight steps in this order (the compressor stops again before the valve is restored).
    assert expected.sequence == (
        "compressor_stop", "fan_stop", "valve_reverse", "compressor_start",
        "compressor_stop", "valve_restore", "fan_start", "compressor_start",
    )  # fmt: skip
    assert set(expected.sequence) == set(defrost.DEFROST_STEPS)
    assert expected.coil_rises_above_c == 0.0  # the reversed outdoor coil condenses: above the melting point
    assert expected.ends_on == "temperature" and expected.max_duration_s == 600.0  # ≤ 10 min time-out
    assert (expected.water_out_recovery_band_k, expected.water_out_recovery_within_s) == (1.0, 600.0)
    assert expected.suction_stays_below_discharge
