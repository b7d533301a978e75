"""The cycle model obeys the physics it claims (checked against CoolProp directly where possible)."""

from __future__ import annotations

import CoolProp.CoolProp as CP
import numpy as np
import pytest

from app.cyclemodel.cycle import CycleSolution, OperatingPoints, solve_cycle
from app.cyclemodel.fitting import rating_water_flow_l_min
from app.cyclemodel.paramsets import load_shipped
from app.cyclemodel.products import DEMO_PRODUCTS
from app.cyclemodel.properties import COOLPROP_FLUIDS, table_properties
from app.cyclemodel.provider import CoolPropExpectations
from app.cyclemodel.water import heat_flow_w


def _solve(code: str, *, mode: str = "heating", evi_on: bool = False, **conditions: object) -> CycleSolution:
    product = DEMO_PRODUCTS[code]
    params = load_shipped(product_model_code=code).parameters
    base = {"air_temp_c": 7.0, "water_in_c": 30.0, "comp_speed_rps": 60.0,
            "water_flow_l_min": rating_water_flow_l_min(point=product.rating_points[0]),
            "superheat_k": params.superheat_setpoint_k}  # fmt: skip
    base.update(conditions)
    n = max(np.size(v) for v in base.values())
    points = OperatingPoints(**{k: np.broadcast_to(np.asarray(v, float), (n,)) for k, v in base.items()})
    return solve_cycle(props=table_properties(product.refrigerant), params=params, mode=mode,  # type: ignore[arg-type]
                       evi_on=evi_on, points=points)  # fmt: skip


@pytest.mark.parametrize(
    ("code", "mode", "evi_on", "air_c", "water_in_c"),
    [
        ("HPM-06-R290-EVI", "heating", False, 7.0, 30.0),
        ("HPM-06-R290-EVI", "heating", True, -10.0, 40.0),
        ("HPM-12-R32-EVI", "heating", True, -7.0, 30.0),
        ("HPS-10-R32", "heating", False, 2.0, 45.0),
        ("HPS-10-R32", "cooling", False, 35.0, 12.0),
        ("HPM-06-R290-EVI", "cooling", False, 45.0, 12.0),
    ],
)
def test_refrigerant_side_heat_equals_water_side_heat_within_half_percent(
    code: str, mode: str, evi_on: bool, air_c: float, water_in_c: float
) -> None:
    sol = _solve(code, mode=mode, evi_on=evi_on, air_temp_c=air_c, water_in_c=water_in_c)
    assert sol.valid[0]
    fluid = COOLPROP_FLUIDS[DEMO_PRODUCTS[code].refrigerant]
    params = load_shipped(product_model_code=code).parameters
    p_c = sol.discharge_p_bar[0] * 1e5
    # Refrigerant side straight from CoolProp: discharge state and condenser outlet liquid.
    h_2 = CP.PropsSI("H", "P", p_c, "T", sol.discharge_temp_c[0] + 273.15, fluid)
    if mode == "heating":
        h_liquid = CP.PropsSI("H", "P", p_c, "T", sol.condensing_temp_c[0] + 273.15 - params.subcooling_k, fluid)
        refrigerant_heat = sol.mass_flow_kg_s[0] * (h_2 - h_liquid)
    else:
        w_shaft = sol.compressor_power_w[0] * params.motor_inverter_eff
        # Evaporator heat = condenser heat - shaft work (energy balance over the refrigerant loop).
        h_liquid = CP.PropsSI("H", "P", p_c, "T", sol.condensing_temp_c[0] + 273.15 - params.subcooling_k, fluid)
        refrigerant_heat = sol.mass_flow_kg_s[0] * (h_2 - h_liquid) - w_shaft
    flow = rating_water_flow_l_min(point=DEMO_PRODUCTS[code].rating_points[0])
    water_heat = abs(float(heat_flow_w(flow_l_min=flow, water_in_c=water_in_c, water_out_c=sol.water_out_c[0])))
    assert refrigerant_heat == pytest.approx(water_heat, rel=0.005)


def test_cop_falls_as_ambient_falls() -> None:
    sol = _solve("HPS-10-R32", air_temp_c=np.array([15.0, 7.0, 0.0, -7.0, -15.0]))
    assert sol.valid.all()
    assert np.all(np.diff(sol.cop) < 0)


def test_cop_falls_as_flow_temperature_rises() -> None:
    sol = _solve("HPM-06-R290-EVI", water_in_c=np.array([25.0, 30.0, 35.0, 45.0, 55.0]))
    assert sol.valid.all()
    assert np.all(np.diff(sol.cop) < 0)


def test_discharge_temperature_rises_with_pressure_ratio() -> None:
    sol = _solve("HPM-12-R32-EVI", air_temp_c=np.array([15.0, 5.0, 0.0, -5.0, -10.0]),
                 water_in_c=np.array([25.0, 30.0, 35.0, 40.0, 45.0]))  # fmt: skip
    ratio = sol.discharge_p_bar / sol.suction_p_bar
    assert np.all(np.diff(ratio) > 0)
    assert np.all(np.diff(sol.discharge_temp_c) > 0)


def test_r32_runs_at_1_7_to_1_8_times_r290_pressures_and_hotter_discharge() -> None:
    t_k = np.linspace(-10.0, 45.0, 12) + 273.15
    ratio = table_properties("R32").p_sat(t_k) / table_properties("R290").p_sat(t_k)
    assert np.all((ratio > 1.68) & (ratio < 1.84))
    # The same machine (parameters) on both refrigerants at the same conditions.
    params = load_shipped(product_model_code="HPS-10-R32").parameters
    points = OperatingPoints(*(np.array([v]) for v in (7.0, 30.0, 28.7, 60.0, 5.0)))
    r32 = solve_cycle(props=table_properties("R32"), params=params, mode="heating", evi_on=False, points=points)
    r290 = solve_cycle(props=table_properties("R290"), params=params, mode="heating", evi_on=False, points=points)
    # Same saturation temperature, straight from CoolProp: R32's pressures are 1.7-1.8 x R290's.
    for p_bar, t_c in (
        (r32.suction_p_bar[0], r32.evaporating_temp_c[0]),
        (r32.discharge_p_bar[0], r32.condensing_temp_c[0]),
    ):
        r290_p_bar = CP.PropsSI("P", "T", t_c + 273.15, "Q", 1, "Propane") / 1e5
        assert 1.68 < p_bar / r290_p_bar < 1.84
    assert r32.discharge_temp_c[0] > r290.discharge_temp_c[0] + 15.0


EVI_MODELS = ["HPM-06-R290-EVI", "HPM-12-R32-EVI"]


def _evi_step(code: str, *, air_c: float = -10.0, water_in_c: float = 30.0, speed_rps: float = 70.0):  # type: ignore[no-untyped-def]
    flow = rating_water_flow_l_min(point=DEMO_PRODUCTS[code].rating_points[0])
    values = {"M10_AirTemp_C": air_c, "M10_WaterIn_C": water_in_c, "M10_WaterFlow_l_min": flow,
              "M10_CompSpeed_rps": speed_rps}  # fmt: skip
    return CoolPropExpectations().evi_step(product_model_code=code, values=values)


@pytest.mark.parametrize("code", EVI_MODELS)
def test_evi_at_minus_10_raises_capacity_and_cools_the_discharge(code: str) -> None:
    step = _evi_step(code)
    assert step.valid, step.reason
    assert step.capacity_gain_fraction > 0.05
    assert step.discharge_temp_change_k < 0.0
    assert step.intermediate_pressure_bar is not None


@pytest.mark.parametrize("code", EVI_MODELS)
def test_evi_gain_grows_with_the_lift(code: str) -> None:
    """More lift, more flash gas for the economiser to take away: the gain rises with the pressure ratio."""
    by_air = [_evi_step(code, air_c=air).capacity_gain_fraction for air in (7.0, -5.0, -10.0, -15.0)]
    by_water = [_evi_step(code, water_in_c=water).capacity_gain_fraction for water in (25.0, 30.0, 35.0, 40.0)]
    assert np.all(np.diff(by_air) > 0) and np.all(np.diff(by_water) > 0)


@pytest.mark.parametrize("code", EVI_MODELS)
def test_evi_states_obey_the_economiser_balance_at_the_geometric_mean_pressure(code: str) -> None:
    """Checked against CoolProp directly: p_i = √(p_e·p_c); the injected flow is what the economiser's heat
    balance gives with the product's approach and injection superheat; nothing else sets the EVI gain."""
    product = DEMO_PRODUCTS[code]
    params = load_shipped(product_model_code=code).parameters
    assert (params.economiser_approach_k, params.injection_superheat_k) == (
        product.economiser_approach_k,
        product.injection_superheat_k,
    )
    sol = _solve(code, evi_on=True, air_temp_c=-10.0, water_in_c=30.0, comp_speed_rps=70.0)
    assert sol.valid[0]
    p_e, p_c, p_i = (float(a[0]) * 1e5 for a in (sol.suction_p_bar, sol.discharge_p_bar, sol.intermediate_p_bar))
    assert p_i == pytest.approx(np.sqrt(p_e * p_c), rel=1e-6)
    fluid = COOLPROP_FLUIDS[product.refrigerant]
    t_c = sol.condensing_temp_c[0] + 273.15
    t_i = CP.PropsSI("T", "P", p_i, "Q", 1, fluid)
    h_3 = CP.PropsSI("H", "P", p_c, "T", t_c - params.subcooling_k, fluid)
    h_5 = CP.PropsSI("H", "P", p_c, "T", t_i + product.economiser_approach_k, fluid)
    h_inj = CP.PropsSI("H", "P", p_i, "T", t_i + product.injection_superheat_k, fluid)
    m_inj = float(sol.injection_mass_flow_kg_s[0])
    m_main = float(sol.mass_flow_kg_s[0]) - m_inj
    assert m_inj * (h_inj - h_3) == pytest.approx(m_main * (h_3 - h_5), rel=0.005)


@pytest.mark.xfail(
    strict=True,
    reason="documented gap: from stated physics (p_i = √(p_e·p_c), 5 K economiser approach, 5 K injection "
    "superheat, none fitted) the model gives +13.4 % (R290) and +10.6 % (R32) at -10 °C, W30 in, 70 rps, "
    "below line.md's +14–19 %; the acceptance range is not tuned into the model",
)
@pytest.mark.parametrize("code", EVI_MODELS)
def test_evi_gain_at_minus_10_lies_in_line_md_range_of_14_to_19_percent(code: str) -> None:
    step = _evi_step(code)
    assert 0.14 <= step.capacity_gain_fraction <= 0.19


@pytest.mark.parametrize(("air_c", "water_in_c", "speed_rps"), [(10.0, 5.0, 5.0), (10.0, 1.0, 30.0), (15.0, 1.0, 5.0)])
def test_heating_water_colder_than_the_air_is_refused_as_a_pressure_ratio_not_above_1(
    air_c: float, water_in_c: float, speed_rps: float
) -> None:
    """The water would condense the refrigerant below the evaporating temperature: p_c ≤ p_e and the modelled
    shaft power is negative (pitfalls.md). The model says so instead of returning numbers."""
    sol = _solve("HPS-10-R32", air_temp_c=air_c, water_in_c=water_in_c, comp_speed_rps=speed_rps)
    assert sol.condensing_temp_c[0] < sol.evaporating_temp_c[0]
    assert not sol.valid[0]
    assert sol.reason[0] == "the modelled pressure ratio is not above 1: the unit cannot pump heat at these conditions"


@pytest.mark.parametrize(
    ("code", "mode", "evi_on", "air_c", "water_in_c"),
    [
        ("HPM-06-R290-EVI", "heating", True, -10.0, 30.0),
        ("HPM-12-R32-EVI", "heating", True, -10.0, 35.0),
        ("HPM-12-R32-EVI", "heating", False, 7.0, 30.0),
        ("HPS-10-R32", "cooling", False, 35.0, 12.0),
    ],
)
def test_the_adiabatic_compressor_conserves_energy_condenser_heat_is_evaporator_heat_plus_shaft_work(
    code: str, mode: str, evi_on: bool, air_c: float, water_in_c: float
) -> None:
    """Checked against CoolProp directly: the gas leaving the compressor carries the suction gas, the injected
    gas and the shaft work (m_main·h_1 + m_inj·h_inj + W = m_tot·h_2), so over the loop Q_cond = Q_evap + W."""
    product = DEMO_PRODUCTS[code]
    params = load_shipped(product_model_code=code).parameters
    sol = _solve(code, mode=mode, evi_on=evi_on, air_temp_c=air_c, water_in_c=water_in_c, comp_speed_rps=70.0)
    assert sol.valid[0], sol.reason[0]
    fluid = COOLPROP_FLUIDS[product.refrigerant]
    w_shaft = float(sol.compressor_power_w[0]) * params.motor_inverter_eff
    q_cond, q_evap = float(sol.condenser_heat_w[0]), float(sol.evaporator_heat_w[0])
    assert q_cond == pytest.approx(q_evap + w_shaft, rel=1e-6)
    p_e, p_c = sol.suction_p_bar[0] * 1e5, sol.discharge_p_bar[0] * 1e5
    h_1 = CP.PropsSI("H", "P", p_e, "T", sol.suction_temp_c[0] + 273.15, fluid)
    h_2 = CP.PropsSI("H", "P", p_c, "T", sol.discharge_temp_c[0] + 273.15, fluid)
    m_inj = float(sol.injection_mass_flow_kg_s[0])
    m_tot = float(sol.mass_flow_kg_s[0])
    inflow = (m_tot - m_inj) * h_1 + w_shaft
    if evi_on:
        assert m_inj > 0.0
        p_i = sol.intermediate_p_bar[0] * 1e5
        t_i = CP.PropsSI("T", "P", p_i, "Q", 1, fluid)
        inflow += m_inj * CP.PropsSI("H", "P", p_i, "T", t_i + params.injection_superheat_k, fluid)
    else:
        assert m_inj == 0.0
    assert m_tot * h_2 == pytest.approx(inflow, rel=1e-3)
